"""Training jobs, model versions and their promotion, per tenant."""

from __future__ import annotations

import logging
import os
import platform
import shutil
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from accounts.models import Tenant
from recommendations.freshness import model_activated
from recommendations.tenant_settings import settings_changed
from recsys_site.errors import Conflict, NotFound, ValidationFailed

from . import dataset, schedules
from .models import ModelVersion, TrainingConfig, TrainingJob
from .store import KERAS_FILE, METADATA_FILE, WEIGHTS_FILE, get_model_store, write_json

logger = logging.getLogger(__name__)

PROMOTION_TOLERANCE = 0.01  # a new model may be up to 1% (relative NDCG@10) below the one it replaces: noise
HEARTBEAT_STALE = timedelta(minutes=15)
CONFIG_PARAM_FIELDS = ["embedding_dim", "mlp_layers", "epochs", "batch_size", "learning_rate", "num_negatives", "l2"]
ARCHITECTURE_FIELDS = ["embedding_dim", "mlp_layers"]


# --- Configuration ------------------------------------------------------------------------------


def training_config_get(*, tenant: Tenant) -> TrainingConfig:
    config, created = TrainingConfig.objects.get_or_create(tenant=tenant)
    if created:
        schedules.schedule_sync(config=config)
    return config


def training_config_update(*, tenant: Tenant, data: dict[str, Any]) -> TrainingConfig:
    """Validate and save settings; the tenant's beat entry follows the schedule at once."""
    from training.ncf import NCFParams

    with transaction.atomic():
        config = TrainingConfig.objects.select_for_update().get(pk=training_config_get(tenant=tenant).pk)
        if "event_weights" in data:
            data = {**data, "event_weights": _clean_event_weights({**config.event_weights, **data["event_weights"]})}
        if "retrain_schedule" in data:
            schedules.validate_cron(data["retrain_schedule"])
        for name, value in data.items():
            setattr(config, name, value)
        try:
            NCFParams.from_dict(params_from_config(config))
        except ValueError as exc:
            raise ValidationFailed(str(exc), code="invalid_training_config") from exc
        config.save()
        schedules.schedule_sync(config=config)
        settings_changed(tenant_id=tenant.pk)
    return config


def _clean_event_weights(weights: dict[str, Any]) -> dict[str, float]:
    from interactions.rules import EVENT_TYPES

    errors = {}
    clean = {}
    for name, value in weights.items():
        if name not in EVENT_TYPES:
            errors[name] = ["Unknown event type."]
        elif isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
            errors[name] = ["A weight is a number from 0 to 100 (0 ignores the event type)."]
        else:
            clean[name] = float(value)
    if errors:
        raise ValidationFailed("Invalid event weights.", code="invalid_event_weights", details=errors)
    if not any(clean.values()):
        raise ValidationFailed("At least one event type needs a weight above 0.", code="invalid_event_weights")
    return clean


def params_from_config(config: TrainingConfig, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    params = {name: getattr(config, name) for name in CONFIG_PARAM_FIELDS}
    params.update(overrides or {})
    return params


def resolve_params(config: TrainingConfig, overrides: dict[str, Any] | None):
    """NCFParams from the config plus per-job overrides; a bad override is a 400 naming it."""
    from training.ncf import NCFParams

    try:
        return NCFParams.from_dict(params_from_config(config, overrides))
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValidationFailed(f"Invalid training params: {exc}", code="invalid_params") from exc


MIN_STEPS_PER_EPOCH = 100
MIN_BATCH = 64


def fit_batch_size(params, n_interactions: int):
    """`batch_size` is an upper bound: a small tenant gets batches small enough for at least 100 steps an
    epoch (a batch of 8,192 suits a million interactions, but would leave 20,000 with a handful of steps)."""
    examples = n_interactions * (1 + params.num_negatives)
    fitted = max(MIN_BATCH, min(params.batch_size, examples // MIN_STEPS_PER_EPOCH))
    return params if fitted == params.batch_size else params.replace(batch_size=int(fitted))


# --- Requests and the job lifecycle ---------------------------------------------------------------


def training_request(
    *,
    tenant: Tenant,
    trigger: str,
    fine_tune: bool = False,
    params: dict[str, Any] | None = None,
    requested_by=None,
) -> TrainingJob:
    """Ask for a training. Requests coalesce: while a job is queued, further requests return it; while one
    runs, one follow-up is queued and starts when the running one ends."""
    config = training_config_get(tenant=tenant)
    resolve_params(config, params)  # validate now: a bad request is a 400, not a failed job
    if fine_tune and not ModelVersion.objects.filter(tenant=tenant, is_active=True).exists():
        raise Conflict("Fine-tuning needs an active model; train one from scratch first.", code="no_active_model")
    with transaction.atomic():
        TrainingConfig.objects.select_for_update().filter(pk=config.pk).first()  # serialise requests per tenant
        queued = TrainingJob.objects.filter(tenant=tenant, status=TrainingJob.Status.QUEUED).first()
        if queued is not None:
            return queued
        job = TrainingJob.objects.create(
            tenant=tenant, trigger=trigger, fine_tune=fine_tune, params=params or {}, requested_by=requested_by
        )
        running = TrainingJob.objects.filter(tenant=tenant, status=TrainingJob.Status.RUNNING).exists()
        if not running:
            transaction.on_commit(lambda: _enqueue(job))
    return job


def _enqueue(job: TrainingJob) -> None:
    from .tasks import run_training_job

    result = run_training_job.delay(job.pk)
    TrainingJob.objects.filter(pk=job.pk).update(celery_task_id=result.id or "")


def _enqueue_next(tenant: Tenant) -> None:
    nxt = TrainingJob.objects.filter(tenant=tenant, status=TrainingJob.Status.QUEUED).order_by("created_at").first()
    if nxt is not None:
        transaction.on_commit(lambda: _enqueue(nxt))


def _claim(job_id: int) -> TrainingJob | None:
    """Move a queued job to running; None if it is not ours to run (done, running elsewhere, or waiting)."""
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().select_related("tenant").filter(pk=job_id).first()
        if job is None or job.status != TrainingJob.Status.QUEUED:
            return None
        # The tenant's config row serialises claims: two queued jobs of one tenant never both start.
        TrainingConfig.objects.select_for_update().filter(tenant=job.tenant).first()
        if TrainingJob.objects.filter(tenant=job.tenant, status=TrainingJob.Status.RUNNING).exclude(pk=job.pk).exists():
            return None  # it starts when the running one finishes
        now = timezone.now()
        job.status, job.started_at, job.heartbeat_at = TrainingJob.Status.RUNNING, now, now
        job.progress = {"epoch": 0, "epochs": 0, "loss": None, "stage": "loading data"}
        job.save(update_fields=["status", "started_at", "heartbeat_at", "progress", "updated_at"])
    return job


def _progress(job: TrainingJob, **fields) -> None:
    job.progress = {**job.progress, **fields}
    TrainingJob.objects.filter(pk=job.pk).update(
        progress=job.progress, heartbeat_at=timezone.now(), updated_at=timezone.now()
    )


HEARTBEAT_SECONDS = 30


def _heartbeat(job: TrainingJob) -> Callable[[], bool]:
    """The trainer's `should_stop` (polled every 64 steps): refreshes the job's heartbeat every 30 s, and
    stops the training if the job is no longer running (the reaper gave up on it, so a follow-up may
    already be training this tenant)."""
    last = time.monotonic()

    def should_stop() -> bool:
        nonlocal last
        if time.monotonic() - last < HEARTBEAT_SECONDS:
            return False
        last = time.monotonic()
        alive = TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.RUNNING)
        return alive.update(heartbeat_at=timezone.now()) == 0

    return should_stop


def _finish(job: TrainingJob, *, status: str, error: str = "", result: dict | None = None, version=None) -> None:
    with transaction.atomic():
        TrainingConfig.objects.select_for_update().filter(tenant=job.tenant).first()  # see training_request
        TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.RUNNING).update(
            status=status,
            error=error,
            result=result or {},
            model_version=version,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
            progress=job.progress,
        )
        _enqueue_next(job.tenant)


def training_job_run(*, job_id: int, data_path: str | None = None, data_options=None, echo=None) -> TrainingJob | None:
    """Run a queued job to the end. Safe to call twice: only a queued job is picked up.

    Any failure marks the job failed and leaves the active model serving.
    """
    job = _claim(job_id)
    if job is None:
        return None
    say = echo or (lambda message: logger.info("training job %s: %s", job_id, message))
    try:
        with warnings.catch_warnings():
            # Keras 3 on NumPy 2 warns about `__array__(copy=...)` for every saved tensor; it is not ours to fix.
            warnings.filterwarnings("ignore", message=".*__array__ implementation doesn't accept a copy keyword")
            outcome = _train(job, data_path=data_path, data_options=data_options, say=say)
    except Exception as exc:
        from training.ncf import TrainingCancelled

        from .pipeline import InsufficientData

        if isinstance(exc, TrainingCancelled):
            logger.warning("training job %s stopped: it was failed while it ran (see its error)", job_id)
        elif isinstance(exc, InsufficientData):
            say(f"not enough data: {exc}")
            _finish(job, status=TrainingJob.Status.FAILED, error=str(exc), result={"reason": "insufficient_data"})
        else:
            logger.exception("training job %s failed", job_id)
            _finish(job, status=TrainingJob.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
    else:
        version, result = outcome
        _finish(job, status=TrainingJob.Status.SUCCEEDED, result=result, version=version)
    job.refresh_from_db()
    return job


def _library_versions() -> dict[str, str]:
    import django

    from training.ncf import framework_versions  # TensorFlow's and Keras', from the one module that imports them

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        **framework_versions(),
        "django": django.get_version(),
    }


def _warm_start(active: ModelVersion, data: dataset.TrainingData):
    from training.ncf import WarmStart

    model = load_active_model(active)
    old_users = {uid: j for j, uid in enumerate(model.user_ids)}
    old_items = {iid: j for j, iid in enumerate(model.item_ids)}
    return WarmStart(
        weights=model.weights,
        user_old_index=np.array([old_users.get(u, -1) for u in data.user_ids], dtype=np.int64),
        item_old_index=np.array([old_items.get(i, -1) for i in data.item_ids], dtype=np.int64),
    ), model


def load_active_model(version: ModelVersion):
    """The exported weights and id lists of a stored version."""
    from .pipeline import ActiveModel
    from .store import read_metadata

    store = get_model_store()
    with np.load(store.local_path(version.artifact_uri) / WEIGHTS_FILE) as npz:
        weights = {name: npz[name] for name in npz.files}
    metadata = read_metadata(version.artifact_uri)
    return ActiveModel(
        version=version.version,
        weights=weights,
        user_ids=metadata["user_ids"],
        item_ids=metadata["item_ids"],
        data_until=version.data_until.timestamp() if version.data_until else None,
    )


def _train(job: TrainingJob, *, data_path: str | None, data_options, say) -> tuple[ModelVersion, dict]:
    from training.ncf import save_model

    from . import pipeline

    tenant = job.tenant
    config = training_config_get(tenant=tenant)
    params = resolve_params(config, job.params)
    started = time.monotonic()
    fingerprint = dataset.data_fingerprint(tenant=tenant)
    if data_path:
        events = dataset.load_events_file(data_path, tenant=tenant, options=data_options)
        data = dataset.build_training_data(events, config.event_weights, tenant=tenant, items_from_file=True)
        fingerprint = f"file:{os.path.basename(data_path)}:{dataset.file_fingerprint(data_path)}"
    else:
        data = dataset.build_training_data(dataset.load_events(tenant=tenant), config.event_weights, tenant=tenant)
    _progress(job, data_fingerprint=fingerprint)  # what a scheduled retrain compares with (see below)
    say(f"{data.n_events} events -> {data.n_interactions} interactions of {data.n_users} users x {data.n_items} items")
    if data.n_interactions < config.min_interactions:
        raise pipeline.InsufficientData(
            f"{data.n_interactions} interactions (distinct user-item pairs); this tenant's minimum is "
            f"{config.min_interactions}. Recommendations stay popularity-based until there is more data."
        )

    active = ModelVersion.objects.filter(tenant=tenant, is_active=True).first()
    warm_start, active_model = None, None
    if active is not None and active.artifact_uri and get_model_store().exists(active.artifact_uri):
        if job.fine_tune:
            arch = {name: active.params.get(name) for name in ARCHITECTURE_FIELDS}
            params = params.replace(**arch)
            warm_start, active_model = _warm_start(active, data)
        else:
            active_model = load_active_model(active)

    def on_epoch(epoch: int, epochs: int, loss: float, val_hr: float | None) -> None:
        history = [*job.progress.get("history", []), {"epoch": epoch, "loss": loss, "val_hr": val_hr}]
        _progress(job, epoch=epoch, epochs=epochs, loss=loss, val_hr=val_hr, stage="training", history=history)
        say(f"epoch {epoch}/{epochs} loss={loss:.4f}" + (f" val_hr@10={val_hr:.4f}" if val_hr is not None else ""))

    params = fit_batch_size(params, data.n_interactions)
    _progress(job, stage="training", epochs=params.epochs)
    run = pipeline.run(
        user_idx=data.user_idx,
        item_idx=data.item_idx,
        weights=data.weights,
        order=data.order,
        n_users=data.n_users,
        n_items=data.n_items,
        params=params,
        on_epoch=on_epoch,
        should_stop=_heartbeat(job),
        warm_start=warm_start,
        active=active_model,
        user_ids=data.user_ids,
        item_ids=data.item_ids,
        first_at=data.first_at,
    )
    _progress(job, stage="saving")
    metrics = {**run.metrics, "best_epoch": run.best_epoch}
    store = get_model_store()
    staging = store.staging_dir()
    try:
        save_model(run.keras_model, staging / KERAS_FILE)
        np.savez(staging / WEIGHTS_FILE, **run.weights)
        with transaction.atomic():
            # Numbering is per tenant; the config row lock keeps two jobs from taking the same number.
            TrainingConfig.objects.select_for_update().filter(tenant=tenant).first()
            last = ModelVersion.objects.filter(tenant=tenant).order_by("-version").first()
            number = (last.version if last else 0) + 1
            write_json(
                staging / METADATA_FILE,
                {
                    "tenant": tenant.slug,
                    "version": number,
                    "algorithm": config.algorithm,
                    "params": run.params.to_dict(),
                    "metrics": metrics,
                    "history": run.history,
                    "user_ids": data.user_ids.tolist(),
                    "item_ids": data.item_ids.tolist(),
                    "data_fingerprint": fingerprint,
                    "libraries": _library_versions(),
                    "trained_at": timezone.now().isoformat(),
                },
            )
            uri = store.publish(staging, tenant_id=tenant.pk, version=number)
            version = ModelVersion.objects.create(
                tenant=tenant,
                version=number,
                algorithm=config.algorithm,
                params=run.params.to_dict(),
                metrics=metrics,
                n_users=data.n_users,
                n_items=data.n_items,
                n_interactions=data.n_interactions,
                data_fingerprint=fingerprint,
                data_until=datetime.fromtimestamp(data.last_event_at, tz=UTC) if data.last_event_at else None,
                artifact_uri=uri,
                trained_at=timezone.now(),
                training_seconds=round(time.monotonic() - started, 2),
                job=job,
            )
            promotion = _promotion_decision(metrics, run.active_metrics, active)
            version.promotion = promotion
            version.save(update_fields=["promotion"])
            if promotion["activated"]:
                _activate(version)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    say(
        f"v{version.version}: HR@10={metrics['hr_at_10']:.4f} NDCG@10={metrics['ndcg_at_10']:.4f} "
        f"(popularity {metrics['popularity_hr_at_10']:.4f} / {metrics['popularity_ndcg_at_10']:.4f}); "
        f"{promotion['reason']}"
    )
    result = {"version": version.version, "activated": promotion["activated"], "reason": promotion["reason"]}
    if run.notes:
        result["notes"] = run.notes
    return version, result


def _promotion_decision(metrics: dict, active_metrics: dict | None, active: ModelVersion | None) -> dict[str, Any]:
    if active is not None and active_metrics is not None and "ndcg_at_10" not in active_metrics:
        # No held-out interaction is new to the active model (retrained on the same events): it keeps serving.
        return {
            "activated": False,
            "compared_with": f"active v{active.version}",
            "compared_users": active_metrics.get("compared_users", 0),
            "candidate_ndcg_at_10": metrics["ndcg_at_10"],
            "reason": (
                f"kept inactive: no interactions newer than v{active.version}'s data to compare the two on "
                f"(v{active.version} has seen the holdout); v{active.version} keeps serving, activate by hand to switch"
            ),
        }
    new = metrics["ndcg_at_10"]
    compared_users = metrics["holdout_users"]
    if active is not None and active_metrics is not None:
        # Both scored on the held-out interactions that are new to the active model (see pipeline.run).
        baseline_name, baseline = f"active v{active.version}", active_metrics["ndcg_at_10"]
        new = active_metrics.get("candidate_ndcg_at_10", new)
        compared_users = active_metrics.get("compared_users", compared_users)
    else:
        baseline_name, baseline = "popularity", metrics["popularity_ndcg_at_10"]
    activated = new >= baseline * (1 - PROMOTION_TOLERANCE)
    verdict = "activated: not worse than" if activated else "kept inactive: worse than"
    return {
        "activated": activated,
        "compared_with": baseline_name,
        "baseline_ndcg_at_10": baseline,
        "candidate_ndcg_at_10": new,
        "baseline_hr_at_10": active_metrics["hr_at_10"] if active_metrics else metrics["popularity_hr_at_10"],
        "compared_users": compared_users,
        "reason": f"{verdict} {baseline_name} (NDCG@10 {new:.4f} vs {baseline:.4f}) on the same holdout",
    }


def _activate(version: ModelVersion) -> None:
    now = timezone.now()
    ModelVersion.objects.filter(tenant=version.tenant, is_active=True).exclude(pk=version.pk).update(is_active=False)
    version.is_active, version.activated_at = True, now
    version.save(update_fields=["is_active", "activated_at", "updated_at"])
    model_activated(tenant=version.tenant)


@transaction.atomic
def model_version_activate(*, tenant: Tenant, version_id: int) -> ModelVersion:
    """Activate a version by hand (roll back or forward), whatever its metrics."""
    TrainingConfig.objects.select_for_update().filter(tenant=tenant).first()
    version = ModelVersion.objects.select_for_update().filter(tenant=tenant, pk=version_id).first()
    if version is None:
        raise NotFound("No such model version.", code="model_not_found")
    if version.status != ModelVersion.Status.READY or not get_model_store().exists(version.artifact_uri):
        raise Conflict(f"v{version.version}'s artifacts were pruned; it cannot serve again.", code="model_pruned")
    if not version.is_active:
        _activate(version)
        version.promotion = {**version.promotion, "manual_activation_at": timezone.now().isoformat()}
        version.save(update_fields=["promotion"])
    return version


# --- Housekeeping -------------------------------------------------------------------------------


def stale_jobs_reap(*, now=None) -> int:
    """Fail running jobs whose worker stopped sending heartbeats (it died); start their follow-ups."""
    now = now or timezone.now()
    reaped = 0
    stale = TrainingJob.objects.filter(status=TrainingJob.Status.RUNNING, heartbeat_at__lt=now - HEARTBEAT_STALE)
    for job in stale.select_related("tenant"):
        with transaction.atomic():
            updated = TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.RUNNING).update(
                status=TrainingJob.Status.FAILED,
                error=f"The worker stopped responding (no progress since {job.heartbeat_at:%Y-%m-%d %H:%M} UTC).",
                finished_at=now,
            )
            if updated:
                reaped += 1
                _enqueue_next(job.tenant)
    # A queued job nobody is working on (its message was lost, or it waited behind a reaped job).
    for tenant_id in (
        TrainingJob.objects.filter(status=TrainingJob.Status.QUEUED, created_at__lt=now - HEARTBEAT_STALE)
        .values_list("tenant_id", flat=True)
        .distinct()
    ):
        if not TrainingJob.objects.filter(tenant_id=tenant_id, status=TrainingJob.Status.RUNNING).exists():
            with transaction.atomic():
                _enqueue_next(Tenant.objects.get(pk=tenant_id))
    return reaped


def artifacts_prune() -> int:
    """Delete artifacts beyond each tenant's newest `keep_versions` (never the active version's)."""
    store = get_model_store()
    pruned = 0
    for config in TrainingConfig.objects.select_related("tenant"):
        versions = ModelVersion.objects.filter(tenant=config.tenant, status=ModelVersion.Status.READY)
        for version in versions.order_by("-version")[config.keep_versions :]:
            if version.is_active:
                continue
            store.delete(version.artifact_uri)
            ModelVersion.objects.filter(pk=version.pk).update(status=ModelVersion.Status.PRUNED)
            pruned += 1
    return pruned


def scheduled_retrain(*, tenant: Tenant) -> TrainingJob | None:
    """The beat entry's work: train again only when events changed since the last training that read them.

    That is the active version's data, or the newest finished job's (one whose model was kept inactive, or
    that found too little data): retraining on the same events would only give the same answer."""
    current = dataset.data_fingerprint(tenant=tenant)
    active = ModelVersion.objects.filter(tenant=tenant, is_active=True).first()
    if active is not None and active.data_fingerprint == current:
        logger.info("scheduled retrain of %s skipped: no new data since v%s", tenant.slug, active.version)
        return None
    finished = (TrainingJob.Status.SUCCEEDED, TrainingJob.Status.FAILED)
    last = TrainingJob.objects.filter(tenant=tenant, status__in=finished).order_by("-finished_at", "-pk").first()
    if last is not None and last.progress.get("data_fingerprint") == current:
        logger.info("scheduled retrain of %s skipped: job %s already trained on these events", tenant.slug, last.pk)
        return None
    return training_request(tenant=tenant, trigger=TrainingJob.Trigger.SCHEDULE)
