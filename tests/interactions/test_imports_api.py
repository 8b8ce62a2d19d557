"""Interaction uploads through HTTP, processed by the task body, checked in PostgreSQL."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Item
from interactions.imports import InteractionPipeline, interaction_import_run
from interactions.models import Event, InteractionImport
from tests.datasets import DATASETS
from training.models import TrainingJob

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Training requests made after an import are recorded as jobs; no task is sent to a broker here."""
    monkeypatch.setattr("training.services._enqueue", lambda job: None)


def run(job_id: int) -> None:
    """The import task's body, with its on-commit hooks (the training request) run as after a commit."""
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        interaction_import_run(job_id=job_id)


U_DATA = DATASETS / "ml-100k" / "u.data"
UCI = DATASETS / "uci-online-retail" / "derived" / "interactions_purchases.csv"
needs_datasets = pytest.mark.skipif(not U_DATA.exists(), reason="../shared/datasets is not available")


def upload(client, content: bytes, name: str = "events.csv", path: str = "/api/v1/interactions/imports", **fields):
    return client.post(path, {"file": SimpleUploadedFile(name, content), **fields}, format="multipart")


def upload_and_run(ctx, content: bytes, name: str = "events.csv", **fields) -> dict:
    response = upload(ctx.client, content, name, **fields)
    assert response.status_code == 202, response.content
    run(response.json()["id"])
    return ctx.client.get(f"/api/v1/interactions/imports/{response.json()['id']}").json()


@needs_datasets
def test_movielens_u_data_without_header(tenant_a):
    job = upload_and_run(
        tenant_a,
        U_DATA.read_bytes(),
        "u.data",
        delimiter="tab",
        has_header="false",
        column_names="user_id,item_id,rating,timestamp",
        train="false",
    )
    assert job["status"] == "succeeded", job
    assert job["rows_total"] == job["rows_imported"] == 100_000
    events = Event.objects.filter(tenant=tenant_a.tenant)
    assert events.count() == 100_000
    assert events.values("user_id").distinct().count() == 943
    assert Item.objects.filter(tenant=tenant_a.tenant).count() == 1_682  # created as bare items
    first = events.get(user_id="196", item__external_id="242")
    assert (first.event_type, first.value, first.timestamp.year) == ("rating", 3.0, 1997)


@needs_datasets
def test_uci_purchases_with_a_column_mapping(tenant_a):
    head = b"".join(UCI.read_bytes().splitlines(keepends=True)[:2001])
    job = upload_and_run(
        tenant_a,
        head,
        "interactions_purchases.csv",
        mapping='{"customer_id": "user_id", "stock_code": "item_id", "quantity": "value", "event": "event_type"}',
        train="false",
    )
    assert job["status"] == "succeeded", job
    assert job["rows_imported"] == 2000
    event = Event.objects.filter(tenant=tenant_a.tenant, user_id="17850").first()
    assert event.event_type == "purchase"
    assert event.value > 0


def test_the_same_file_twice_is_refused_unless_asked(tenant_a):
    content = b"user_id,item_id,timestamp\nu1,i1,2024-01-01T10:00:00Z\nu2,i1,2024-01-02\n"
    assert upload_and_run(tenant_a, content, train="false")["rows_imported"] == 2
    again = upload(tenant_a.client, content, train="false")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "duplicate_upload"
    assert Event.objects.filter(tenant=tenant_a.tenant).count() == 2
    forced = upload_and_run(tenant_a, content, train="false", allow_duplicate="true")
    assert forced["rows_imported"] == 2
    assert Event.objects.filter(tenant=tenant_a.tenant).count() == 4


def test_rows_with_event_ids_are_idempotent(tenant_a):
    content = b"user_id,item_id,event_id\nu1,i1,e1\nu1,i2,e2\n"
    upload_and_run(tenant_a, content, train="false")
    again = upload_and_run(tenant_a, content + b"u1,i3,e3\n", train="false")
    assert again["rows_imported"] == 1
    assert any("already imported" in note for note in again["notes"])
    assert Event.objects.filter(tenant=tenant_a.tenant).count() == 3


def test_bad_rows_are_rejected_with_line_column_and_reason(tenant_a):
    content = (
        b"user_id,item_id,rating,timestamp,event_type\n"
        b"u1,i1,4,2024-01-01 10:00:00,rating\n"
        b"u 2,i1,4,2024-01-01,rating\n"
        b"u3,<script>,4,2024-01-01,rating\n"
        b"u4,i1,NaN,2024-01-01,rating\n"
        b"u5,i1,4,not a date,rating\n"
        b"u6,i1,4,1700000000,teleport\n"
        b"u7,i1,4,1700000000000,purchase\n"
        b"u8,i1,4,12/1/2010 8:26,click\n"
        b"u9,i1,1e30,2024-01-01,rating\n"
    )
    job = upload_and_run(tenant_a, content, train="false")
    assert job["status"] == "succeeded"
    assert sorted(Event.objects.filter(tenant=tenant_a.tenant).values_list("user_id", flat=True)) == ["u1", "u7", "u8"]
    by_line = {error["line"]: error for error in job["errors"]}
    assert set(by_line) == {3, 4, 5, 6, 7, 10}
    assert by_line[6]["column"] == "timestamp"
    assert by_line[7]["column"] == "event_type"


def test_successful_import_queues_training(tenant_a):
    content = b"user_id,item_id\n" + b"".join(b"u%d,i%d\n" % (u, i) for u in range(5) for i in range(4))
    job = upload_and_run(tenant_a, content)
    assert job["status"] == "succeeded"
    training = TrainingJob.objects.get(tenant=tenant_a.tenant)
    assert job["training_job"] == training.pk
    assert (training.status, training.trigger) == ("queued", "upload")
    no_train = upload_and_run(tenant_a, content + b"u9,i9\n", train="false")
    assert no_train["training_job"] is None


def test_train_endpoint_uploads_and_queues_training(tenant_a):
    content = b"user_id,item_id\nu1,i1\nu2,i2\n"
    response = upload(tenant_a.client, content, path="/api/v1/train")
    assert response.status_code == 202, response.content
    run(response.json()["id"])
    assert InteractionImport.objects.get(pk=response.json()["id"]).training_job is not None


def test_failed_import_changes_nothing_and_a_killed_one_retries_cleanly(tenant_a, monkeypatch):
    content = b"user_id,item_id\n" + b"".join(b"u%d,i%d\n" % (n % 50, n) for n in range(3_000))
    response = upload(tenant_a.client, content, train="false", chunk_rows="1000")
    job_id = response.json()["id"]
    original = InteractionPipeline.write
    calls = {"n": 0}

    def dies_on_second_chunk(self, chunk):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("worker killed")
        original(self, chunk)

    monkeypatch.setattr(InteractionPipeline, "write", dies_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        interaction_import_run(job_id=job_id)
    assert not Event.objects.filter(tenant=tenant_a.tenant).exists()
    assert not Item.objects.filter(tenant=tenant_a.tenant).exists()
    monkeypatch.setattr(InteractionPipeline, "write", original)
    interaction_import_run(job_id=job_id)
    assert Event.objects.filter(tenant=tenant_a.tenant).count() == 3_000


@pytest.mark.parametrize(
    ("content", "fields", "status", "code"),
    [
        (b"", {}, 400, "empty_file"),
        (b"user_id,item_id\n", {}, 400, "no_rows"),
        (b"user,product\nu1,i1\n", {}, 400, "missing_column"),
        (b"\x00\x01\x02binary" * 100, {}, 415, "unsupported_file"),
        (b"u1\ti1\n", {"has_header": "false"}, 400, None),  # column names are required then
        (b"user_id,item_id\nu1,i1\n", {"default_event_type": "teleport"}, 400, None),
    ],
)
def test_bad_interaction_files_are_4xx(tenant_a, content, fields, status, code):
    response = upload(tenant_a.client, content, **fields)
    assert response.status_code == status, response.content
    if code:
        assert response.json()["error"]["code"] == code
    assert not InteractionImport.objects.filter(tenant=tenant_a.tenant).exists()


def test_interaction_imports_are_per_tenant(tenant_a, tenant_b):
    job = upload_and_run(tenant_a, b"user_id,item_id\nshared_user,i1\n", train="false")
    assert tenant_b.client.get(f"/api/v1/interactions/imports/{job['id']}").status_code == 404
    # the same file is not a "duplicate" for another tenant
    other = upload(tenant_b.client, b"user_id,item_id\nshared_user,i1\n", train="false")
    assert other.status_code == 202
    run(other.json()["id"])
    assert Event.objects.filter(tenant=tenant_a.tenant).count() == 1
    assert Event.objects.filter(tenant=tenant_b.tenant).count() == 1
    assert (
        Event.objects.get(tenant=tenant_a.tenant).item.tenant_id
        != Event.objects.get(tenant=tenant_b.tenant).item.tenant_id
    )
