"""The interactions pages through HTTP: counts, uploads through the form, the import page; two tenants."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase

from interactions.imports import interaction_import_run
from interactions.models import Event, InteractionImport
from tests.web import assert_error_beside, browser
from training.models import TrainingJob

pytestmark = pytest.mark.django_db

EVENTS = b"user_id,item_id,event_type\n" + b"".join(b"u%d,i%d,view\n" % (u, i) for u in range(4) for i in range(3))


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Imports and trainings are run (or not) by the tests; nothing is sent to a broker."""
    monkeypatch.setattr("interactions.imports._enqueue", lambda job_id: None)
    monkeypatch.setattr("training.services._enqueue", lambda job: None)


def upload(client: Client, content: bytes, name: str = "events.csv", **fields):
    data = {"file": SimpleUploadedFile(name, content), "has_header": "on", "train": "on", **fields}
    return client.post("/interactions/", data)


def run(job_id: int) -> None:
    """The import task's body, with its on-commit hooks (the training request) run as after a commit."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        interaction_import_run(job_id=job_id)


@pytest.mark.parametrize("path", ["/interactions/", "/imports/interactions/1/"])
def test_pages_need_a_login(path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_empty_state(tenant_a):
    page = browser(tenant_a).get("/interactions/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "No events yet." in html
    assert "No interaction imports yet." in html
    assert 'name="train"' in html
    assert 'name="allow_duplicate"' in html
    assert 'name="default_event_type"' in html


def test_upload_imports_then_links_the_training_it_queued(tenant_a):
    client = browser(tenant_a)
    response = upload(client, EVENTS)
    job = InteractionImport.objects.get(tenant=tenant_a.tenant)
    assert response.status_code == 302
    assert response["Location"] == f"/imports/interactions/{job.pk}/"
    assert job.train_after
    waiting = client.get(response["Location"]).content.decode()
    assert f'data-poll-import="/api/v1/interactions/imports/{job.pk}"' in waiting
    assert "A training job is queued when the import succeeds." in waiting

    run(job.pk)
    training = TrainingJob.objects.get(tenant=tenant_a.tenant)
    html = client.get(response["Location"]).content.decode()
    assert '<span class="badge succeeded"' in html
    assert f'href="/training/jobs/{training.pk}/"' in html
    assert Event.objects.filter(tenant=tenant_a.tenant).count() == 12

    listing = client.get("/interactions/").content.decode()
    assert 'id="stat-events">12<' in listing
    assert 'id="stat-users">4<' in listing
    assert f"/imports/interactions/{job.pk}/" in listing
    assert f"job #{training.pk}" in listing


def test_options_reach_the_import(tenant_a):
    client = browser(tenant_a)
    response = client.post(
        "/interactions/",
        {
            "file": SimpleUploadedFile("events.tsv", b"u1\ti1\nu2\ti1\n"),
            "delimiter": "tab",
            "column_names": "customer,product",
            "mapping": '{"customer": "user_id", "product": "item_id"}',
            "default_event_type": "like",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    job = InteractionImport.objects.get(tenant=tenant_a.tenant)
    assert not job.train_after  # the box was left unticked
    run(job.pk)
    assert set(Event.objects.filter(tenant=tenant_a.tenant).values_list("event_type", flat=True)) == {"like"}
    assert not TrainingJob.objects.exists()


def test_the_same_file_twice_needs_the_box_ticked(tenant_a):
    client = browser(tenant_a)
    upload(client, EVENTS)
    run(InteractionImport.objects.get().pk)
    again = upload(client, EVENTS)
    assert again.status_code == 400
    assert_error_beside(again.content.decode(), "file", "This file was already imported")
    assert InteractionImport.objects.count() == 1
    assert upload(client, EVENTS, allow_duplicate="on").status_code == 302
    assert InteractionImport.objects.count() == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"user,product\nu1,i1\n", "Required column(s) missing"),
        (b"user_id,item_id\n", "The file has a header but no rows."),
        (b"", "The submitted file is empty."),
    ],
)
def test_a_bad_file_is_refused_beside_the_file_field(tenant_a, content, message):
    response = upload(browser(tenant_a), content)
    assert response.status_code == 400
    assert_error_beside(response.content.decode(), "file", message)
    assert not InteractionImport.objects.exists()


def test_rejected_rows_are_listed_escaped(tenant_a):
    client = browser(tenant_a)
    upload(client, b"user_id,item_id\nu1,i1\n<script>alert(1)</script>,i2\nu3,<b>bold</b>\n", train="")
    job = InteractionImport.objects.get()
    run(job.pk)
    html = client.get(f"/imports/interactions/{job.pk}/").content.decode()
    assert "Rejected rows" in html
    assert '<td class="num">3</td>' in html  # the line of the second bad row
    assert "<script>alert(1)</script>" not in html
    assert "<b>bold</b>" not in html
    assert "&lt;script&gt;" in html
    assert "No training was asked for" in html


def test_tenants_never_see_each_other(tenant_a, tenant_b):
    upload(browser(tenant_a), EVENTS)
    job = InteractionImport.objects.get(tenant=tenant_a.tenant)
    run(job.pk)
    b = browser(tenant_b)
    assert b.get(f"/imports/interactions/{job.pk}/").status_code == 404
    html = b.get("/interactions/").content.decode()
    assert f"/imports/interactions/{job.pk}/" not in html
    assert 'id="stat-events">0<' in html
    assert "No interaction imports yet." in html
