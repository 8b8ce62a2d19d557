"""Celery tasks of training: thin wrappers that load ids and call services."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from accounts.models import Tenant

from . import schedules, services


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=settings.TRAINING_TIME_LIMIT_SECONDS + 60,
    soft_time_limit=settings.TRAINING_TIME_LIMIT_SECONDS,
)
def run_training_job(job_id: int) -> None:
    services.training_job_run(job_id=job_id)


@shared_task
def scheduled_retrain(tenant_id: int) -> None:
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is not None:
        services.scheduled_retrain(tenant=tenant)


@shared_task
def reap_stale_jobs() -> int:
    return services.stale_jobs_reap()


@shared_task
def ensure_schedules() -> int:
    return schedules.schedules_ensure()


@shared_task
def prune_model_artifacts() -> int:
    return services.artifacts_prune()
