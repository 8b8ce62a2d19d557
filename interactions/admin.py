from django.contrib import admin

from catalog.admin import IMPORT_FIELDS, ImportJobAdmin

from .models import Event, InteractionImport, UserErasure


@admin.register(InteractionImport)
class InteractionImportAdmin(ImportJobAdmin):
    list_display = [*ImportJobAdmin.list_display, "train_after", "training_job"]
    readonly_fields = [*IMPORT_FIELDS, "train_after", "training_job"]
    fields = readonly_fields
    list_select_related = ["tenant", "training_job"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """Read-only: events arrive through the API or imports, and leave only through a user erasure."""

    list_display = ["timestamp", "tenant", "user_id", "event_type", "item", "query", "value"]
    list_filter = ["tenant", "event_type", "timestamp"]
    search_fields = ["=user_id"]
    list_select_related = ["tenant", "item"]
    ordering = ["-timestamp"]
    show_full_result_count = False
    fields = ["tenant", "user_id", "event_type", "item", "query", "value", "timestamp", "event_id", "source_import"]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting events here would skip the erasure record that keeps older models from serving the user.
        return False


@admin.register(UserErasure)
class UserErasureAdmin(admin.ModelAdmin):
    """Erasures are made by `DELETE /api/v1/users/{user_id}`; this is their record."""

    list_display = ["user_id", "tenant", "erased_at"]
    list_filter = ["tenant", "erased_at"]
    search_fields = ["=user_id"]
    list_select_related = ["tenant"]
    readonly_fields = ["tenant", "user_id", "erased_at", "created_at"]
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
