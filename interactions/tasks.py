from __future__ import annotations

from celery import shared_task

from .imports import interaction_import_run


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_interaction_import(job_id: int) -> None:
    interaction_import_run(job_id=job_id)
