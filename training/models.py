"""Per-tenant model settings, training jobs and the model versions they produce."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from accounts.models import Tenant, TenantModel
from training.ncf.params import NCFParams


def default_event_weights() -> dict[str, float]:
    return {"view": 1.0, "click": 2.0, "add_to_cart": 3.0, "like": 3.0, "purchase": 5.0, "rating": 4.0, "search": 0.0}


def default_mlp_layers() -> list[int]:
    return list(NCFParams.mlp_layers)


class TrainingConfig(models.Model):
    """The tenant's model settings; one row per tenant, created on first use.

    The NeuMF settings default to :class:`NCFParams`' (the ones measured by ``bench/ncf_ml1m.py``)."""

    class Algorithm(models.TextChoices):
        NEUMF = "neumf", "NeuMF (GMF + MLP)"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="training_config")
    algorithm = models.CharField(max_length=20, choices=Algorithm.choices, default=Algorithm.NEUMF)
    embedding_dim = models.PositiveIntegerField(default=NCFParams.embedding_dim)
    mlp_layers = models.JSONField(default=default_mlp_layers)
    epochs = models.PositiveIntegerField(
        default=NCFParams.epochs, help_text="Most epochs; early stopping usually ends sooner."
    )
    batch_size = models.PositiveIntegerField(default=NCFParams.batch_size)
    learning_rate = models.FloatField(default=NCFParams.learning_rate)
    num_negatives = models.PositiveIntegerField(default=NCFParams.num_negatives)
    l2 = models.FloatField(default=NCFParams.l2)
    event_weights = models.JSONField(default=default_event_weights)
    retrain_schedule = models.CharField(max_length=100, default="0 3 * * *", help_text="Cron, UTC.")
    schedule_enabled = models.BooleanField(default=True)
    min_interactions = models.PositiveIntegerField(default=50)
    keep_versions = models.PositiveIntegerField(default=5, help_text="Artifacts kept for the newest N versions.")
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    # What a shop sees and edits (API, settings page, admin).
    SETTINGS_FIELDS = [
        "algorithm",
        "embedding_dim",
        "mlp_layers",
        "epochs",
        "batch_size",
        "learning_rate",
        "num_negatives",
        "l2",
        "event_weights",
        "retrain_schedule",
        "schedule_enabled",
        "min_interactions",
        "keep_versions",
    ]

    def __str__(self) -> str:
        return f"training config of {self.tenant}"


class TrainingJob(TenantModel):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    class Trigger(models.TextChoices):
        UPLOAD = "upload"
        API = "api"
        SCHEDULE = "schedule"
        CLI = "cli"
        WEB = "web"

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.API)
    fine_tune = models.BooleanField(default=False)
    params = models.JSONField(default=dict, blank=True, help_text="Overrides of the tenant's training config.")
    progress = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    model_version = models.ForeignKey(
        "ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    error = models.TextField(blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status"], name="trainingjob_tenant_status")]

    def __str__(self) -> str:
        return f"training job {self.pk} of {self.tenant} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}


class ModelVersion(TenantModel):
    class Status(models.TextChoices):
        READY = "ready"
        PRUNED = "pruned"

    version = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.READY)
    is_active = models.BooleanField(default=False)
    algorithm = models.CharField(max_length=20, default=TrainingConfig.Algorithm.NEUMF)
    params = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)
    n_users = models.PositiveIntegerField(default=0)
    n_items = models.PositiveIntegerField(default=0)
    n_interactions = models.PositiveIntegerField(default=0)
    data_fingerprint = models.CharField(max_length=64, blank=True)
    data_until = models.DateTimeField(null=True, blank=True, help_text="Newest event the model was trained on.")
    artifact_uri = models.CharField(max_length=500, blank=True)
    trained_at = models.DateTimeField(null=True, blank=True)
    training_seconds = models.FloatField(default=0.0)
    activated_at = models.DateTimeField(null=True, blank=True)
    promotion = models.JSONField(default=dict, blank=True, help_text="Why it was or was not activated.")
    job = models.ForeignKey(TrainingJob, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "version"], name="modelversion_unique_tenant_version"),
            models.UniqueConstraint(
                fields=["tenant"], condition=models.Q(is_active=True), name="modelversion_one_active_per_tenant"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant} v{self.version}"
