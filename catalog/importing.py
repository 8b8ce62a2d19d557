"""Running an import job: the same steps for catalog and interaction files.

1. *Claim* (a short transaction): only a queued job, or a running one whose worker died, is picked up.
2. *Import* (one transaction): parse the stored file chunk by chunk and bulk-write the valid rows. A
   whole-file problem found half-way (bad UTF-8 at byte 50 MB, a corrupt gzip tail) rolls everything
   back, so a failed job changes nothing and a killed one can simply run again.
3. Live progress goes to the cache (the job row stays locked by the import transaction), final counts
   to the row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, Protocol

from django.db import transaction
from django.utils import timezone

from recsys_site.cache import cache_get, cache_incr, cache_set
from recsys_site.errors import ApplicationError
from recsys_site.uploads import ParsedChunk

from .models import ImportJob
from .uploads import discard_upload, upload_path

logger = logging.getLogger(__name__)

PROGRESS_TTL = 6 * 3600


class ImportPipeline(Protocol):
    """How one kind of file is parsed and written."""

    def open(self, fileobj) -> Any:
        """A parsed file: iterable of ParsedChunk with a `summary` (may raise ApplicationError)."""

    def write(self, chunk: ParsedChunk) -> None: ...

    def finish(self) -> dict[str, Any]:
        """Counts and notes once every chunk was written: rows_imported and optional notes."""


READ_OPTION_KEYS = ("format", "delimiter", "has_header", "column_names", "mapping", "chunk_rows")


def stored_options(params, extra_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """The read options as given (already validated), kept on the job so its task reads the file the same way."""
    return {key: params[key] for key in (*READ_OPTION_KEYS, *extra_keys) if params.get(key) not in (None, "")}


def precheck(parsed) -> None:
    """Parse the first chunk of a just-uploaded file the way its task will, then stop.

    Whole-file problems near the start (empty, binary, not UTF-8, missing columns, a header and no rows)
    are then answered at once with a 4xx instead of later as a failed job.
    """
    try:
        next(iter(parsed), None)
    finally:
        parsed.close()


def progress_key(kind: str, job_id: int) -> str:
    return f"import-progress:{kind}:{job_id}"


def import_progress(job: ImportJob) -> dict[str, Any]:
    """Live counts of a running job (empty when unknown)."""
    return cache_get(progress_key(job.kind, job.pk), {}) or {}


def _claim(model: type[ImportJob], job_id: int) -> ImportJob | None:
    with transaction.atomic():
        job = model.objects.select_for_update().select_related("tenant").filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None
        job.status = ImportJob.Status.RUNNING
        job.started_at = timezone.now()
        job.save(update_fields=["status", "started_at", "updated_at"])
    return job


def _fail(model: type[ImportJob], job: ImportJob, message: str, errors: list | None = None) -> None:
    model.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.FAILED,
        error_message=message[:2000],
        errors=errors or [],
        rows_imported=0,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )


def run_import(
    model: type[ImportJob], job_id: int, make_pipeline: Callable[[ImportJob], ImportPipeline]
) -> ImportJob | None:
    """Run an import job to the end (see the module docstring). Returns the job, or None if not ours."""
    job = _claim(model, job_id)
    if job is None:
        return None
    errors: list[dict] = []
    try:
        with transaction.atomic():
            locked = model.objects.select_for_update().get(pk=job.pk)
            if locked.status != ImportJob.Status.RUNNING:
                return None  # finished by another delivery of the same task while we waited
            pipeline = make_pipeline(locked)
            with open(upload_path(locked.file), "rb") as fileobj:
                parsed = pipeline.open(fileobj)
                for chunk in parsed:
                    room = ImportJob.MAX_ERRORS - len(errors)
                    if room > 0:
                        errors.extend(error.as_dict() for error in chunk.errors[:room])
                    pipeline.write(chunk)
                    summary = parsed.summary
                    cache_set(
                        progress_key(locked.kind, locked.pk),
                        {
                            "at": time.time(),
                            "bytes_processed": fileobj.tell(),
                            "rows_total": summary.rows_total,
                            "rows_rejected": summary.rows_rejected,
                            "rows_valid": summary.rows_valid,
                            "errors": errors,  # the first rejected rows, shown while the job runs
                        },
                        PROGRESS_TTL,
                    )
                summary = parsed.summary
                outcome = pipeline.finish()
                size = fileobj.tell()
            notes = [*summary.notes, *outcome.get("notes", [])]
            if outcome["rows_imported"] == 0 and summary.rows_total > 0:
                raise _NothingImported(summary.rows_rejected)
            locked.status = ImportJob.Status.SUCCEEDED
            locked.rows_total = summary.rows_total
            locked.rows_rejected = summary.rows_rejected
            locked.rows_imported = outcome["rows_imported"]
            locked.bytes_processed = size
            locked.errors = errors
            locked.notes = notes
            locked.finished_at = timezone.now()
            locked.save()
            after = outcome.get("after_commit")
            if after is not None:
                transaction.on_commit(after)
    except _NothingImported as exc:
        _fail(model, job, str(exc), errors)
    except ApplicationError as exc:
        _fail(model, job, f"{exc.message} Nothing was imported.", errors)
    except Exception as exc:
        logger.exception("%s import %s failed", model.kind, job_id)
        _fail(model, job, f"Unexpected error ({type(exc).__name__}); nothing was imported. It has been logged.")
        raise
    finally:
        cache_set(progress_key(job.kind, job.pk), None, 1)
    job.refresh_from_db()
    if job.status == ImportJob.Status.SUCCEEDED:
        discard_upload(job.file)
    return job


class _NothingImported(Exception):
    def __init__(self, rejected: int):
        super().__init__(f"No row could be imported: all {rejected:,} rows were rejected (see the errors).")


STALE_AFTER = timedelta(minutes=15)
MAX_ATTEMPTS = 3


def reap_stale_imports(model: type[ImportJob], enqueue: Callable[[int], object]) -> int:
    """Start again the jobs nobody is working on: queued ones whose message was lost, and running ones
    whose worker died (no progress for 15 minutes; their transaction was rolled back, so nothing is
    doubled). A job that stopped its worker three times is failed instead."""
    now = timezone.now()
    restarted = 0
    stale = model.objects.filter(
        status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING], created_at__lt=now - STALE_AFTER
    )
    for job in stale:
        progress = import_progress(job)
        if job.status == ImportJob.Status.RUNNING and progress.get("at", 0) > time.time() - STALE_AFTER.total_seconds():
            continue  # still moving
        attempts = cache_incr(f"import-attempts:{job.kind}:{job.pk}", 7 * 24 * 3600) or 1
        if attempts > MAX_ATTEMPTS:
            _fail(model, job, f"The import stopped {MAX_ATTEMPTS} times without finishing; nothing was imported.")
            continue
        logger.warning("%s import %s looks abandoned (%s); starting it again", job.kind, job.pk, job.status)
        enqueue(job.pk)
        restarted += 1
    return restarted
