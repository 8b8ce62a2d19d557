from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet

from interactions.rules import EVENT_TYPES
from recsys_site.errors import ApplicationError

from . import schedules, services
from .models import ModelVersion, TrainingConfig, TrainingJob


class TrainingConfigAdminForm(forms.ModelForm):
    class Meta:
        model = TrainingConfig
        fields = TrainingConfig.SETTINGS_FIELDS

    def clean_retrain_schedule(self) -> str:
        expression = " ".join(self.cleaned_data["retrain_schedule"].split())
        try:
            schedules.validate_cron(expression)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from None
        return expression

    def clean_event_weights(self) -> dict:
        weights = self.cleaned_data["event_weights"]
        if not isinstance(weights, dict):
            raise forms.ValidationError('An object of event type → weight, e.g. {"view": 1, "purchase": 5}.')
        unknown = sorted(set(weights) - set(EVENT_TYPES))
        if unknown:
            raise forms.ValidationError(f"Unknown event type(s): {', '.join(unknown)}.")
        if any(isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= 100 for w in weights.values()):
            raise forms.ValidationError("A weight is a number from 0 to 100 (0 ignores the event type).")
        return weights

    def _post_clean(self) -> None:
        super()._post_clean()
        if not self.errors:
            try:
                services.resolve_params(self.instance, None)
            except ApplicationError as exc:
                self.add_error(None, exc.message)


@admin.register(TrainingConfig)
class TrainingConfigAdmin(admin.ModelAdmin):
    """Saving follows the tenant's beat entry (django-celery-beat's PeriodicTask) to the new schedule."""

    form = TrainingConfigAdminForm
    list_display = [
        "tenant",
        "algorithm",
        "embedding_dim",
        "epochs",
        "retrain_schedule",
        "schedule_enabled",
        "updated_at",
    ]
    list_filter = ["schedule_enabled", "algorithm"]
    search_fields = ["tenant__name", "tenant__slug"]
    list_select_related = ["tenant"]
    readonly_fields = ["tenant", "periodic_task", "updated_at"]

    def has_add_permission(self, request) -> bool:
        # One per tenant, made on first use (training_config_get).
        return False

    def save_model(self, request, obj: TrainingConfig, form, change) -> None:
        # Through the service, like the API and the settings page: it saves, then moves the beat entry
        # (schedules.schedule_sync) and tells serving processes that the settings changed.
        services.training_config_update(
            tenant=obj.tenant, data={name: form.cleaned_data[name] for name in form.changed_data}
        )


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    """Jobs are made by training requests and changed by their task: operators read them."""

    list_display = ["id", "tenant", "status", "trigger", "fine_tune", "model_version", "created_at", "finished_at"]
    list_filter = ["status", "trigger", "tenant", "created_at"]
    search_fields = ["tenant__name", "tenant__slug", "celery_task_id"]
    list_select_related = ["tenant", "model_version"]
    date_hierarchy = "created_at"
    fields = [
        "tenant",
        "status",
        "trigger",
        "fine_tune",
        "params",
        "progress",
        "result",
        "model_version",
        "error",
        "celery_task_id",
        "requested_by",
        "created_at",
        "started_at",
        "heartbeat_at",
        "finished_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = [
        "tenant",
        "version",
        "status",
        "is_active",
        "hr_at_10",
        "ndcg_at_10",
        "n_interactions",
        "trained_at",
    ]
    list_filter = ["is_active", "status", "tenant"]
    search_fields = ["tenant__name", "tenant__slug"]
    list_select_related = ["tenant"]
    actions = ["activate"]
    fields = [
        "tenant",
        "version",
        "status",
        "is_active",
        "algorithm",
        "params",
        "metrics",
        "promotion",
        "n_users",
        "n_items",
        "n_interactions",
        "data_fingerprint",
        "data_until",
        "artifact_uri",
        "trained_at",
        "training_seconds",
        "activated_at",
        "job",
        "created_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="HR@10")
    def hr_at_10(self, version: ModelVersion) -> str:
        return _metric(version, "hr_at_10")

    @admin.display(description="NDCG@10")
    def ndcg_at_10(self, version: ModelVersion) -> str:
        return _metric(version, "ndcg_at_10")

    @admin.action(description="Activate the selected version (one per tenant)")
    def activate(self, request, queryset: QuerySet[ModelVersion]) -> None:
        versions = list(queryset.select_related("tenant"))
        tenants = [version.tenant_id for version in versions]
        if len(set(tenants)) != len(tenants):
            self.message_user(request, "Select at most one version per tenant: only one can be active.", messages.ERROR)
            return
        for version in versions:
            try:
                services.model_version_activate(tenant=version.tenant, version_id=version.pk)
            except ApplicationError as exc:
                self.message_user(request, f"{version}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, f"{version} is active.", messages.SUCCESS)


def _metric(version: ModelVersion, name: str) -> str:
    model, baseline = version.metrics.get(name), version.metrics.get(f"popularity_{name}")
    if model is None:
        return "-"
    return f"{model:.3f} (pop. {baseline:.3f})" if baseline is not None else f"{model:.3f}"
