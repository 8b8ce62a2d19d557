"""Pieces shared by the management commands."""

from __future__ import annotations

import json

from django.core.management.base import CommandError

from accounts.models import Tenant


def tenant_from_slug(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        raise CommandError(f"No tenant with slug {slug!r}.")
    return tenant


def add_read_options(parser) -> None:
    """The options of an upload, as command-line flags."""
    parser.add_argument("--delimiter", help="',' ';' 'tab' '|' (default: detected)")
    parser.add_argument("--no-header", action="store_true", help="the first line is data")
    parser.add_argument("--column-names", help="comma-separated names, with --no-header")
    parser.add_argument("--mapping", help='JSON {"their_column": "our_column"}')
    parser.add_argument("--format", choices=["auto", "csv", "jsonl"])


def read_params(options: dict) -> dict:
    params = {}
    if options.get("delimiter"):
        params["delimiter"] = options["delimiter"]
    if options.get("no_header"):
        params["has_header"] = "false"
    if options.get("column_names"):
        params["column_names"] = options["column_names"]
    if options.get("mapping"):
        try:
            json.loads(options["mapping"])
        except ValueError as exc:
            raise CommandError(f"--mapping is not JSON: {exc}") from exc
        params["mapping"] = options["mapping"]
    if options.get("format"):
        params["format"] = options["format"]
    return params


def print_import(stdout, job) -> None:
    stdout.write(
        f"import {job.pk}: {job.status}; {job.rows_total:,} rows, {job.rows_imported:,} imported, "
        f"{job.rows_rejected:,} rejected"
    )
    for note in job.notes:
        stdout.write(f"  note: {note}")
    for error in job.errors[:10]:
        stdout.write(f"  line {error['line']} {error.get('column') or ''}: {error['message']}")
    if job.error_message:
        stdout.write(f"  error: {job.error_message}")
