"""The import commands (same path as uploads) and the beat task that restarts abandoned imports."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from catalog.importing import reap_stale_imports
from catalog.imports import catalog_import_run
from catalog.models import CatalogImport, Item
from interactions.models import Event, InteractionImport

pytestmark = pytest.mark.django_db


def test_import_catalog_command(tenant_a, tmp_path, capsys):
    path = tmp_path / "products.csv"
    path.write_text("stock_code,description,price\nA1,Mug,3\nA2,,4\n")
    call_command("import_catalog", str(path), "--tenant", tenant_a.tenant.slug,
                 "--mapping", '{"stock_code": "id", "description": "name"}')  # fmt: skip
    out = capsys.readouterr().out
    assert "succeeded" in out
    assert "1 rejected" in out
    assert Item.objects.get(tenant=tenant_a.tenant, external_id="A1").name == "Mug"
    job = CatalogImport.objects.get(tenant=tenant_a.tenant)
    assert job.original_name == "products.csv"


def test_import_interactions_command_without_header(tenant_a, tmp_path):
    path = tmp_path / "u.data"
    path.write_text("1\t10\t5\t881250949\n2\t10\t3\t891717742\n")
    call_command("import_interactions", str(path), "--tenant", tenant_a.tenant.slug, "--delimiter", "tab",
                 "--no-header", "--column-names", "user_id,item_id,rating,timestamp", "--no-train")  # fmt: skip
    assert Event.objects.filter(tenant=tenant_a.tenant, event_type="rating").count() == 2
    assert InteractionImport.objects.get(tenant=tenant_a.tenant).training_job is None


def test_commands_report_errors(tenant_a, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(CommandError, match="empty_file"):
        call_command("import_catalog", str(empty), "--tenant", tenant_a.tenant.slug)
    with pytest.raises(CommandError, match="No tenant"):
        call_command("import_catalog", str(empty), "--tenant", "nobody")
    with pytest.raises(CommandError):
        call_command("import_interactions", str(tmp_path / "missing.csv"), "--tenant", tenant_a.tenant.slug)


def test_an_abandoned_import_is_started_again_then_given_up(tenant_a):
    upload = tenant_a.client.post(
        "/api/v1/catalog/imports", {"file": SimpleUploadedFile("c.csv", b"id,name\nR1,Retry\n")}, format="multipart"
    )
    job_id = upload.json()["id"]
    # the worker that took it died: the row says running, nothing was written, no progress since
    CatalogImport.objects.filter(pk=job_id).update(status="running", created_at=timezone.now() - timedelta(hours=1))
    started = []
    assert reap_stale_imports(CatalogImport, started.append) == 1
    assert started == [job_id]
    catalog_import_run(job_id=job_id)
    assert CatalogImport.objects.get(pk=job_id).status == "succeeded"
    assert Item.objects.filter(tenant=tenant_a.tenant, external_id="R1").count() == 1
    # a job that keeps killing its worker is failed after three attempts
    stuck = CatalogImport.objects.create(tenant=tenant_a.tenant, file="x.csv", status="running")
    CatalogImport.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(hours=1))
    for _ in range(3):
        reap_stale_imports(CatalogImport, started.append)
    assert reap_stale_imports(CatalogImport, started.append) == 0
    stuck.refresh_from_db()
    assert stuck.status == "failed"
    assert "3 times" in stuck.error_message


def test_a_fresh_running_import_is_left_alone(tenant_a):
    CatalogImport.objects.create(tenant=tenant_a.tenant, file="x.csv", status="running")
    assert reap_stale_imports(CatalogImport, lambda job_id: None) == 0
