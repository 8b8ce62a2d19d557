from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from catalog.imports import catalog_import_create, catalog_import_run
from recsys_site.commands import add_read_options, print_import, read_params, tenant_from_slug
from recsys_site.errors import ApplicationError


class Command(BaseCommand):
    help = "Import a catalog file for a tenant (the same path as an upload, run here rather than on a worker)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV (optionally .gz) or JSONL")
        parser.add_argument("--tenant", required=True, help="tenant slug")
        add_read_options(parser)

    def handle(self, *args, path: str, tenant: str, **options):
        shop = tenant_from_slug(tenant)
        try:
            with open(path, "rb") as handle:
                job = catalog_import_create(tenant=shop, uploaded=handle, params=read_params(options))
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        job = catalog_import_run(job_id=job.pk) or job
        print_import(self.stdout, job)
        if job.status != job.Status.SUCCEEDED:
            raise CommandError("the import failed")
