from __future__ import annotations

from celery import shared_task

from .imports import catalog_import_run


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_catalog_import(job_id: int) -> None:
    catalog_import_run(job_id=job_id)


@shared_task
def reap_stale_imports() -> int:
    """Every few minutes (beat): restart catalog and interaction imports whose worker died."""
    from interactions.imports import _enqueue as enqueue_interactions
    from interactions.models import InteractionImport

    from .importing import reap_stale_imports as reap
    from .imports import _enqueue as enqueue_catalog
    from .models import CatalogImport

    return reap(CatalogImport, enqueue_catalog) + reap(InteractionImport, enqueue_interactions)
