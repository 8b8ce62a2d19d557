"""Reads for training configs, jobs and model versions."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts.models import Tenant

from .models import ModelVersion, TrainingJob


def active_model_version(*, tenant: Tenant) -> ModelVersion | None:
    return ModelVersion.objects.filter(tenant=tenant, is_active=True).first()


def model_version_list(*, tenant: Tenant) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.filter(tenant=tenant).order_by("-version")


def training_job_list(*, tenant: Tenant) -> QuerySet[TrainingJob]:
    return TrainingJob.objects.filter(tenant=tenant).order_by("-created_at", "-id")
