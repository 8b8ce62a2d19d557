from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from interactions.imports import interaction_import_create, interaction_import_run
from recsys_site.commands import add_read_options, print_import, read_params, tenant_from_slug
from recsys_site.errors import ApplicationError


class Command(BaseCommand):
    help = "Import an interactions file for a tenant (the same path as an upload, run here)."

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV (optionally .gz) or JSONL")
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("--default-event-type", help="event type of rows without one")
        parser.add_argument("--no-train", action="store_true", help="do not queue a training afterwards")
        parser.add_argument("--allow-duplicate", action="store_true", help="import a file imported before")
        add_read_options(parser)

    def handle(self, *args, path: str, tenant: str, **options):
        shop = tenant_from_slug(tenant)
        params = read_params(options)
        if options.get("default_event_type"):
            params["default_event_type"] = options["default_event_type"]
        params["train"] = "false" if options["no_train"] else "true"
        params["allow_duplicate"] = "true" if options["allow_duplicate"] else "false"
        try:
            with open(path, "rb") as handle:
                job = interaction_import_create(tenant=shop, uploaded=handle, params=params)
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        except ApplicationError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        job = interaction_import_run(job_id=job.pk) or job
        print_import(self.stdout, job)
        if job.status != job.Status.SUCCEEDED:
            raise CommandError("the import failed")
