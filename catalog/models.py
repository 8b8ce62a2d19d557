"""The tenant's catalog, and the import jobs that load it (and interactions) from files."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from accounts.models import TenantModel


class Item(TenantModel):
    """A product. `external_id` is the shop's own id; it is unique within the tenant."""

    external_id = models.CharField(max_length=255)
    name = models.CharField(max_length=500, blank=True)
    main_category = models.CharField(max_length=255, blank=True)
    sub_category = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    tags = models.JSONField(default=list, blank=True)
    image = models.TextField(blank=True)
    link = models.TextField(blank=True)
    rating = models.FloatField(null=True, blank=True)
    rating_count = models.PositiveIntegerField(null=True, blank=True)
    price = models.FloatField(null=True, blank=True)
    original_price = models.FloatField(null=True, blank=True)
    discount_ratio = models.FloatField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "external_id"], name="item_unique_tenant_external_id")]
        indexes = [
            models.Index(fields=["tenant", "main_category"], name="item_tenant_category"),
            models.Index(fields=["tenant", "is_active"], name="item_tenant_active"),
        ]
        ordering = ["external_id"]

    def __str__(self) -> str:
        return f"{self.external_id} {self.name}".strip()


class ImportJob(TenantModel):
    """A file being loaded in the background: one row per upload, updated by the worker."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    MAX_ERRORS = 100

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    file = models.CharField(max_length=500, help_text="Path of the stored upload, relative to UPLOADS_DIR.")
    original_name = models.CharField(max_length=255, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    content_sha256 = models.CharField(max_length=64, blank=True)
    options = models.JSONField(default=dict, blank=True)
    bytes_processed = models.BigIntegerField(default=0)
    rows_total = models.PositiveIntegerField(default=0)
    rows_imported = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    notes = models.JSONField(default=list, blank=True)
    error_message = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.SUCCEEDED, self.Status.FAILED}

    @property
    def progress_percent(self) -> int:
        if self.is_finished:
            return 100
        if not self.size_bytes:
            return 0
        return min(99, int(100 * self.bytes_processed / self.size_bytes))


class CatalogImport(ImportJob):
    kind = "catalog"

    class Meta(ImportJob.Meta):
        indexes = [models.Index(fields=["tenant", "created_at"], name="catalogimport_tenant_created")]

    def __str__(self) -> str:
        return f"catalog import {self.pk} ({self.status})"
