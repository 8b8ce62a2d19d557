from django.contrib import admin

from .models import CatalogImport, Item

IMPORT_FIELDS = [
    "tenant",
    "status",
    "original_name",
    "size_bytes",
    "content_sha256",
    "options",
    "bytes_processed",
    "rows_total",
    "rows_imported",
    "rows_rejected",
    "notes",
    "error_message",
    "errors",
    "file",
    "created_by",
    "created_at",
    "started_at",
    "finished_at",
]


class ImportJobAdmin(admin.ModelAdmin):
    """Import jobs are made by uploads and changed by their task: operators read them (and may delete one)."""

    list_display = [
        "id",
        "tenant",
        "status",
        "original_name",
        "rows_total",
        "rows_imported",
        "rows_rejected",
        "created_at",
    ]
    list_filter = ["status", "tenant", "created_at"]
    search_fields = ["original_name", "tenant__name", "tenant__slug", "content_sha256"]
    list_select_related = ["tenant"]
    readonly_fields = IMPORT_FIELDS
    fields = IMPORT_FIELDS
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(CatalogImport)
class CatalogImportAdmin(ImportJobAdmin):
    pass


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = [
        "external_id",
        "name",
        "tenant",
        "main_category",
        "sub_category",
        "price",
        "is_active",
        "updated_at",
    ]
    list_filter = ["tenant", "is_active", "main_category"]
    search_fields = ["external_id", "name"]
    list_select_related = ["tenant"]
    readonly_fields = ["created_at", "updated_at"]
    raw_id_fields = ["tenant"]
    show_full_result_count = False
