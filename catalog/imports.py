"""Catalog imports: create the job for an upload, and the pipeline its task runs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.models import Tenant
from accounts.selectors import item_id_pattern
from recsys_site.errors import ApplicationError
from recsys_site.uploads import ParsedChunk, ReadOptions

from .importing import precheck, run_import, stored_options
from .models import CatalogImport
from .parsers import parse_catalog
from .services import items_upsert_rows
from .uploads import discard_upload, store_upload


class CatalogPipeline:
    def __init__(self, job: CatalogImport):
        self.job = job
        self.created = 0
        self.updated = 0
        self.columns: list[str] = []

    def open(self, fileobj):
        parsed = parse_catalog(
            fileobj,
            ReadOptions.from_params(self.job.options),
            item_pattern=item_id_pattern(self.job.tenant),
            max_bytes=settings.MAX_UPLOAD_BYTES,
        )
        self.columns = parsed.fields_present
        return parsed

    def write(self, chunk: ParsedChunk) -> None:
        created, updated = items_upsert_rows(tenant=self.job.tenant, rows=chunk.records(), columns=self.columns)
        self.created += created
        self.updated += updated

    def finish(self) -> dict[str, Any]:
        from recommendations.freshness import catalog_changed

        catalog_changed(tenant=self.job.tenant)
        return {
            "rows_imported": self.created + self.updated,
            "notes": [f"{self.created:,} items created, {self.updated:,} updated"],
        }


def catalog_import_create(*, tenant: Tenant, uploaded, params: dict[str, Any], created_by=None) -> CatalogImport:
    options = ReadOptions.from_params(params)
    stored = store_upload(tenant=tenant, kind="catalog", uploaded=uploaded)
    try:
        precheck(
            parse_catalog(
                stored.path, options, item_pattern=item_id_pattern(tenant), max_bytes=settings.MAX_UPLOAD_BYTES
            )
        )
        with transaction.atomic():
            job = CatalogImport.objects.create(
                tenant=tenant,
                file=stored.relative_path,
                original_name=stored.original_name,
                size_bytes=stored.size,
                content_sha256=stored.sha256,
                options=stored_options(params),
                created_by=created_by,
            )
            transaction.on_commit(lambda: _enqueue(job.pk))
    except ApplicationError:
        discard_upload(stored.relative_path)
        raise
    return job


def _enqueue(job_id: int) -> None:
    from .tasks import run_catalog_import

    run_catalog_import.delay(job_id)


def catalog_import_run(*, job_id: int) -> CatalogImport | None:
    return run_import(CatalogImport, job_id, CatalogPipeline)
