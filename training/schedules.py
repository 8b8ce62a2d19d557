"""Each tenant's retrain schedule as a django-celery-beat entry, kept in step with its training config."""

from __future__ import annotations

import json

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from recsys_site.errors import ValidationFailed

from .models import TrainingConfig

TASK_NAME = "training.tasks.scheduled_retrain"


def validate_cron(expression: str) -> list[str]:
    """Five cron fields (minute hour day-of-month month day-of-week), checked by Celery's own parser."""
    from celery.schedules import ParseException, crontab

    fields = (expression or "").split()
    if len(fields) != 5:
        raise ValidationFailed(
            "A schedule is five cron fields: minute hour day-of-month month day-of-week (e.g. '0 3 * * *').",
            code="invalid_schedule",
            details={"retrain_schedule": [expression]},
        )
    minute, hour, day_of_month, month, day_of_week = fields
    try:
        crontab(minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month, day_of_week=day_of_week)
    except (ValueError, TypeError, ParseException) as exc:  # ParseException is neither
        raise ValidationFailed(
            f"Invalid cron expression: {exc}", code="invalid_schedule", details={"retrain_schedule": [expression]}
        ) from exc
    return fields


def task_name_for(config: TrainingConfig) -> str:
    return f"retrain tenant {config.tenant.slug} (#{config.tenant_id})"


@transaction.atomic
def schedule_sync(*, config: TrainingConfig) -> PeriodicTask:
    """Create or update the tenant's beat entry; disabled with the config (or with the tenant)."""
    minute, hour, day_of_month, month, day_of_week = validate_cron(config.retrain_schedule)
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month, day_of_week=day_of_week,
        timezone="UTC",
    )  # fmt: skip
    enabled = config.schedule_enabled and config.tenant.is_active
    task = config.periodic_task
    if task is None:
        task = PeriodicTask(name=task_name_for(config), task=TASK_NAME)
    task.crontab = crontab
    task.interval = None
    task.args = json.dumps([config.tenant_id])
    task.queue = None  # routed by CELERY_TASK_ROUTES
    task.enabled = enabled
    task.description = "Retrains the tenant's model when new events arrived (managed by its training config)."
    task.save()
    if config.periodic_task_id != task.pk:
        TrainingConfig.objects.filter(pk=config.pk).update(periodic_task=task)
        config.periodic_task = task
    return task


def schedule_remove(*, tenant_id: int) -> int:
    """Delete a tenant's beat entry (the tenant is being deleted; its config goes with it)."""
    deleted, _ = PeriodicTask.objects.filter(task=TASK_NAME, args=json.dumps([tenant_id])).delete()
    return deleted


def schedules_ensure() -> int:
    """Give every tenant its config and beat entry, and keep `enabled` in step with the tenant's own flag.

    Tenants made by the service get theirs at creation; this catches the rest (the admin, a shell, tenants
    from before schedules existed) and tenants switched off or on. Returns how many entries it changed."""
    from accounts.models import Tenant

    changed = 0
    for tenant in Tenant.objects.filter(training_config__isnull=True):
        schedule_sync(config=TrainingConfig.objects.get_or_create(tenant=tenant)[0])
        changed += 1
    for config in TrainingConfig.objects.select_related("tenant", "periodic_task"):
        task = config.periodic_task
        if task is None or task.enabled != (config.schedule_enabled and config.tenant.is_active):
            schedule_sync(config=config)
            changed += 1
    return changed
