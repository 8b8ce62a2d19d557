"""What users did: events streamed live or loaded from interaction files."""

from __future__ import annotations

from django.db import models

from accounts.models import TenantModel
from catalog.models import ImportJob, Item


class EventType(models.TextChoices):
    VIEW = "view"
    CLICK = "click"
    ADD_TO_CART = "add_to_cart"
    PURCHASE = "purchase"
    RATING = "rating"
    LIKE = "like"
    SEARCH = "search"


class InteractionImport(ImportJob):
    kind = "interactions"
    train_after = models.BooleanField(default=True, help_text="Queue a training job when the import succeeds.")
    training_job = models.ForeignKey(
        "training.TrainingJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(ImportJob.Meta):
        indexes = [
            models.Index(fields=["tenant", "created_at"], name="interimport_tenant_created"),
            models.Index(fields=["tenant", "content_sha256"], name="interimport_tenant_sha"),
        ]

    def __str__(self) -> str:
        return f"interactions import {self.pk} ({self.status})"


class Event(TenantModel):
    """One thing a user did. `user_id` is the shop's own id for the person (we keep no user table)."""

    # The composite indexes below all start with the tenant: a separate tenant index would only slow writes.
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False)
    user_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=20, choices=EventType.choices)
    item = models.ForeignKey(Item, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False)
    query = models.CharField(max_length=255, blank=True)
    value = models.FloatField(null=True, blank=True)
    timestamp = models.DateTimeField()
    event_id = models.CharField(max_length=255, null=True, blank=True, help_text="Client id for idempotent retries.")
    # No database constraint: checking it cost a quarter of a bulk import's time at COMMIT (bench/ingest.py),
    # and imports are only ever deleted with their tenant, whose events go too.
    source_import = models.ForeignKey(
        InteractionImport,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "event_id"], condition=models.Q(event_id__isnull=False), name="event_unique_client_id"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "user_id", "timestamp"], name="event_tenant_user_time"),
            models.Index(fields=["tenant", "item"], name="event_tenant_item"),
            models.Index(fields=["tenant", "timestamp"], name="event_tenant_time"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.event_type} {self.item_id or self.query}"


class UserErasure(TenantModel):
    """A user whose data was erased on request: models trained before `erased_at` must not serve them."""

    user_id = models.CharField(max_length=255)
    erased_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user_id"], name="usererasure_unique_tenant_user")]

    def __str__(self) -> str:
        return f"{self.user_id} erased {self.erased_at:%Y-%m-%d}"
