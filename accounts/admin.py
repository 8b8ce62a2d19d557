from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from recsys_site import hotcache

from . import services
from .models import ApiKey, Membership, Tenant, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "rate_limit_per_minute", "items", "events", "created_at"]
    list_filter = ["is_active", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at", "updated_at", "usage"]
    inlines = [MembershipInline]

    @admin.display(description="Items")
    def items(self, tenant: Tenant) -> int:
        from catalog.models import Item

        return Item.objects.filter(tenant=tenant).count()

    @admin.display(description="Events")
    def events(self, tenant: Tenant) -> int:
        from interactions.models import Event

        return Event.objects.filter(tenant=tenant).count()

    @admin.display(description="Usage")
    def usage(self, tenant: Tenant) -> str:
        from .selectors import tenant_usage

        usage = tenant_usage(tenant=tenant)
        model = usage["active_model"]
        return (
            f"{usage['items']} items, {usage['users']} users, {usage['events']} events "
            f"({usage['events_last_24h']} in 24 h); active model: {f'v{model.version}' if model else 'none'}"
        )

    def save_model(self, request, obj, form, change):
        from training.schedules import schedule_sync
        from training.services import training_config_get

        super().save_model(request, obj, form, change)
        services.tenant_cache_invalidate(tenant=obj)
        schedule_sync(config=training_config_get(tenant=obj))  # a switched-off shop is not retrained

    def delete_model(self, request, obj):
        from training.schedules import schedule_remove

        schedule_remove(tenant_id=obj.pk)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        from training.schedules import schedule_remove

        for tenant_id in queryset.values_list("pk", flat=True):
            schedule_remove(tenant_id=tenant_id)
        super().delete_queryset(request, queryset)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active"]
    search_fields = ["email"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "masked", "tenant", "scopes", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["tenant", "revoked_at", "created_at"]
    search_fields = ["name", "prefix", "tenant__name", "tenant__slug"]
    readonly_fields = ["prefix", "hashed_key", "last_four", "created_by", "created_at", "last_used_at", "revoked_at"]
    fields = ["tenant", "name", "scopes", *readonly_fields]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        # A key's secret must be shown to its owner once; keys are made from the dashboard or the API.
        return False

    def get_readonly_fields(self, request, obj=None):
        # A key never moves to another shop: its hash, prefix and tenant are fixed when it is made.
        return ["tenant", *self.readonly_fields] if obj is not None else self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        # Processes keep a copy of each key's record (scopes, tenant); an edit must reach them at once.
        hotcache.delete([services.api_key_cache_key(obj.hashed_key)])

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for api_key in queryset:
            services.api_key_revoke(tenant=api_key.tenant, key_id=api_key.pk)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)
