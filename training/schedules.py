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
    from celery.schedules import crontab

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
    except (ValueError, TypeError) as exc:
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
