"""Load the demo sample into a tenant through the ordinary upload path, then train its first model.

Safe to run again: the catalog is an upsert, the purchases are only imported once, and a model is only
trained when the tenant has none yet (a kept-inactive first model is not retrained at every start).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.db.models import F, Max
from django.utils import timezone

from accounts.models import Tenant

HERE = Path(__file__).resolve().parent
PRODUCTS = HERE / "products.csv"
PURCHASES = HERE / "purchases.csv"


def load_demo_data(tenant: Tenant, *, say: Callable[[str], object] = print) -> None:
    from catalog.imports import catalog_import_create, catalog_import_run
    from interactions.imports import interaction_import_create, interaction_import_run
    from interactions.models import Event, InteractionImport
    from recommendations.associations import compute_associations
    from recommendations.freshness import events_changed
    from recommendations.popularity import compute_snapshot
    from training.models import ModelVersion, TrainingJob
    from training.services import training_job_run

    with open(PRODUCTS, "rb") as handle:
        job = catalog_import_create(tenant=tenant, uploaded=handle, params={})
    job = catalog_import_run(job_id=job.pk)
    say(f"demo catalog: {job.rows_imported} items ({job.status})")

    if not InteractionImport.objects.filter(tenant=tenant, status=InteractionImport.Status.SUCCEEDED).exists():
        with open(PURCHASES, "rb") as handle:
            job = interaction_import_create(tenant=tenant, uploaded=handle, params={"train": "false"})
        job = interaction_import_run(job_id=job.pk)
        say(f"demo purchases: {job.rows_imported} events ({job.status})")
        # The sample is from 2010-2011: move it forward so its newest purchase is an hour old.
        newest = Event.objects.filter(tenant=tenant).aggregate(newest=Max("timestamp"))["newest"]
        if newest is not None:
            shift = timezone.now() - timedelta(hours=1) - newest
            Event.objects.filter(tenant=tenant).update(timestamp=F("timestamp") + shift)
        events_changed(tenant=tenant)
        compute_snapshot(tenant=tenant)
        say(f"demo bought-together rules: {compute_associations(tenant=tenant)}")

    if not ModelVersion.objects.filter(tenant=tenant).exists():
        say("training the demo model (a minute or two)...")
        training = TrainingJob.objects.create(tenant=tenant, trigger=TrainingJob.Trigger.CLI)
        done = training_job_run(job_id=training.pk, echo=lambda line: say(f"  {line}"))
        if done is None or done.status != TrainingJob.Status.SUCCEEDED:
            say(f"demo training did not succeed: {done.error if done else 'another training is running'}")
            say("the preview serves popular items until a model is active")
            return
        version = ModelVersion.objects.filter(job=done).first()
        if version is None:
            say(f"demo training made no model: {(done.result or {}).get('reason', 'see the training job')}")
        elif version.is_active:
            say(f"demo model v{version.version} is active: the preview shows its recommendations")
        else:
            # Promotion is the same rule as for every shop; the demo says so instead of forcing it.
            say(
                f"demo model v{version.version} was kept inactive ({version.promotion.get('reason', '')}); the "
                "preview serves popular items; activate it on the Models page to see it anyway"
            )
