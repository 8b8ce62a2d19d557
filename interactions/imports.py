"""Interaction imports: create the job for an upload, and the pipeline its task runs.

On PostgreSQL the valid rows of each chunk are `COPY`-ed into a temporary table; at the end two set-based
statements create the items the catalog does not have yet and insert the events (client `event_id`s that
already exist are skipped). On SQLite, each chunk is bulk-inserted. Either way it all happens inside the
import's one transaction.

Uploading the same file again: a file whose SHA-256 equals that of an earlier successful import of the
tenant is refused with 409 `duplicate_upload` (pass `allow_duplicate=true` to load it again, e.g. after
erasing data). Rows that carry an `event_id` are idempotent whatever the file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Tenant
from accounts.selectors import item_id_pattern, user_id_pattern
from catalog.importing import precheck, run_import, stored_options
from catalog.models import Item
from catalog.services import items_ensure
from catalog.uploads import discard_upload, store_upload
from recsys_site.api import parse_bool
from recsys_site.errors import ApplicationError, Conflict
from recsys_site.uploads import ParsedChunk, ReadOptions

from .models import Event, InteractionImport
from .parsers import parse_interactions

STAGING_COLUMNS = ["user_id", "item_id", "event_type", "value", "timestamp", "event_id"]


def _iso_utc(values: pd.Series) -> pa.Array:
    """ISO 8601 UTC text at the column's full precision ("2001-01-06T23:37:48.000000000Z"), null where missing."""
    if values.dt.tz is not None:
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    raw = values.to_numpy()
    return pa.array(np.datetime_as_string(raw, timezone="UTC"), mask=np.isnat(raw))


def _copy_csv(frame: pd.DataFrame) -> bytes:
    """The staging columns as CSV for `COPY ... WITH (FORMAT csv)`.

    Written by pyarrow: `DataFrame.to_csv` spent most of the worker's CPU time formatting datetimes one by
    one. Same values as to_csv gave PostgreSQL: missing values and empty strings unquoted (NULL), floats
    shortest round-trip, timestamps with every digit they have (PostgreSQL rounds them to microseconds).
    """
    columns = []
    for name in STAGING_COLUMNS:
        if name == "timestamp":
            columns.append(_iso_utc(frame[name]))
            continue
        array = pa.array(frame[name], from_pandas=True)
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
            array = pc.if_else(pc.equal(array, ""), pa.scalar(None, array.type), array)
        columns.append(array)
    sink = pa.BufferOutputStream()
    pacsv.write_csv(
        pa.table(columns, names=STAGING_COLUMNS), sink, write_options=pacsv.WriteOptions(include_header=False)
    )
    return sink.getvalue().to_pybytes()


class _PostgresWriter:
    def __init__(self, job: InteractionImport):
        self.job = job
        self.staged = 0
        self.raw = connection.connection  # the psycopg connection, inside the import's transaction
        self.table = f"import_events_{job.pk}"
        with self.raw.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE {self.table} (seq bigserial, user_id text, item_ext text, event_type text, "
                "value double precision, ts timestamptz, event_id text) ON COMMIT DROP"
            )

    def write(self, frame: pd.DataFrame) -> None:
        data = _copy_csv(frame)
        with (
            self.raw.cursor() as cursor,
            cursor.copy(
                f"COPY {self.table} (user_id, item_ext, event_type, value, ts, event_id) FROM STDIN WITH (FORMAT csv)"
            ) as copy,
        ):
            copy.write(data)
        self.staged += len(frame)

    def finish(self, fill_time) -> int:
        with self.raw.cursor() as cursor:
            cursor.execute(f"SELECT DISTINCT item_ext FROM {self.table}")  # noqa: S608 - our own table name
            items_ensure(tenant=self.job.tenant, external_ids=[row[0] for row in cursor.fetchall()])
            cursor.execute(
                f"""
                INSERT INTO {Event._meta.db_table}
                    (tenant_id, user_id, event_type, item_id, query, value, "timestamp", event_id,
                     source_import_id, created_at, updated_at)
                SELECT %(tenant)s, s.user_id, s.event_type, i.id, '', s.value, COALESCE(s.ts, %(fill)s),
                       s.event_id, %(job)s, %(now)s, %(now)s
                FROM {self.table} s
                JOIN {Item._meta.db_table} i ON i.tenant_id = %(tenant)s AND i.external_id = s.item_ext
                ORDER BY s.seq
                ON CONFLICT (tenant_id, event_id) WHERE event_id IS NOT NULL DO NOTHING
                """,  # noqa: S608 - table names come from model metadata, values are bound parameters
                {"tenant": self.job.tenant_id, "fill": fill_time, "job": self.job.pk, "now": timezone.now()},
            )
            inserted = cursor.rowcount
            cursor.execute(f"DROP TABLE {self.table}")
            return inserted


class _OrmWriter:
    def __init__(self, job: InteractionImport):
        self.job = job
        self.staged = 0
        self.before = Event.objects.filter(tenant=job.tenant).count()
        self.fill_time = job.created_at

    def write(self, frame: pd.DataFrame) -> None:
        pks = items_ensure(tenant=self.job.tenant, external_ids=frame["item_id"].unique().tolist())
        now = timezone.now()
        events = []
        for row in frame[STAGING_COLUMNS].itertuples(index=False):
            events.append(
                Event(
                    tenant=self.job.tenant,
                    user_id=row.user_id,
                    event_type=row.event_type,
                    item_id=pks[row.item_id],
                    value=None if pd.isna(row.value) else float(row.value),
                    timestamp=self.fill_time if pd.isna(row.timestamp) else row.timestamp.to_pydatetime(),
                    event_id=None if pd.isna(row.event_id) else row.event_id,
                    source_import=self.job,
                    created_at=now,
                    updated_at=now,
                )
            )
        Event.objects.bulk_create(events, ignore_conflicts=True, batch_size=1000)
        self.staged += len(frame)

    def finish(self, fill_time) -> int:
        return Event.objects.filter(tenant=self.job.tenant).count() - self.before


class InteractionPipeline:
    def __init__(self, job: InteractionImport):
        self.job = job
        self.writer = _PostgresWriter(job) if connection.vendor == "postgresql" else _OrmWriter(job)

    def open(self, fileobj):
        return parse_interactions(
            fileobj,
            ReadOptions.from_params(self.job.options),
            user_pattern=user_id_pattern(self.job.tenant),
            item_pattern=item_id_pattern(self.job.tenant),
            default_event_type=self.job.options.get("default_event_type"),
            max_bytes=settings.MAX_UPLOAD_BYTES,
            now=self.job.created_at,
        )

    def write(self, chunk: ParsedChunk) -> None:
        if len(chunk.frame):
            self.writer.write(chunk.frame)

    def finish(self) -> dict[str, Any]:
        inserted = self.writer.finish(self.job.created_at)
        notes = []
        skipped = self.writer.staged - inserted
        if skipped:
            notes.append(f"{skipped:,} rows skipped: their event_id was already imported")
        job, tenant = self.job, self.job.tenant
        return {"rows_imported": inserted, "notes": notes, "after_commit": lambda: _after_import(job, tenant)}


def _after_import(job: InteractionImport, tenant: Tenant) -> None:
    from recommendations.freshness import events_changed
    from recommendations.tasks import refresh_associations, refresh_popularity
    from training.models import TrainingJob
    from training.services import training_request

    events_changed(tenant=tenant)
    refresh_popularity.delay(tenant.pk)
    refresh_associations.delay(tenant.pk)
    if job.train_after:
        training = training_request(tenant=tenant, trigger=TrainingJob.Trigger.UPLOAD)
        InteractionImport.objects.filter(pk=job.pk).update(training_job=training)


def interaction_import_create(
    *, tenant: Tenant, uploaded, params: dict[str, Any], created_by=None
) -> InteractionImport:
    options = ReadOptions.from_params(params)
    train_after = parse_bool(params, "train", default=True)
    allow_duplicate = parse_bool(params, "allow_duplicate", default=False)
    stored = store_upload(tenant=tenant, kind="interactions", uploaded=uploaded)
    try:
        earlier = InteractionImport.objects.filter(
            tenant=tenant, content_sha256=stored.sha256, status=InteractionImport.Status.SUCCEEDED
        ).first()
        if earlier is not None and not allow_duplicate:
            raise Conflict(
                f"This file was already imported (import {earlier.pk}); its events are stored. "
                "Send allow_duplicate=true to import it again.",
                code="duplicate_upload",
                details={"import_id": earlier.pk},
            )
        job_options = stored_options(params, ("default_event_type",))
        precheck(
            parse_interactions(
                stored.path,
                options,
                user_pattern=user_id_pattern(tenant),
                item_pattern=item_id_pattern(tenant),
                default_event_type=job_options.get("default_event_type"),
                max_bytes=settings.MAX_UPLOAD_BYTES,
                now=timezone.now(),
            )
        )
        with transaction.atomic():
            job = InteractionImport.objects.create(
                tenant=tenant,
                file=stored.relative_path,
                original_name=stored.original_name,
                size_bytes=stored.size,
                content_sha256=stored.sha256,
                options=job_options,
                train_after=train_after,
                created_by=created_by,
            )
            transaction.on_commit(lambda: _enqueue(job.pk))
    except ApplicationError:
        discard_upload(stored.relative_path)
        raise
    return job


def _enqueue(job_id: int) -> None:
    from .tasks import run_interaction_import

    run_interaction_import.delay(job_id)


def interaction_import_run(*, job_id: int) -> InteractionImport | None:
    return run_import(InteractionImport, job_id, InteractionPipeline)
