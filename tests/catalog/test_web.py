"""The catalog pages through HTTP: items, uploads through the form, the import page; two tenants."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from catalog.imports import catalog_import_run
from catalog.models import CatalogImport, Item
from tests.web import assert_error_beside, browser

pytestmark = pytest.mark.django_db

CATALOG = (
    b"id,name,main_category,sub_category,image,actual_price,discount_price\n"
    b"P1,Blue kettle,kitchen,kettles,https://img.example/p1.jpg,30,25\n"
    b"P2,Red toaster,kitchen,toasters,,40,35\n"
    b"<script>alert(1)</script>,Evil,kitchen,,,1,1\n"
)


@pytest.fixture(autouse=True)
def _no_broker(monkeypatch):
    """Imports are run here by calling the task body; nothing is sent to a broker."""
    monkeypatch.setattr("catalog.imports._enqueue", lambda job_id: None)


def upload(client: Client, content: bytes, name: str = "catalog.csv", **fields):
    data = {"file": SimpleUploadedFile(name, content), "format": "auto", "has_header": "on", **fields}
    return client.post("/catalog/", data)


@pytest.mark.parametrize("path", ["/catalog/", "/imports/catalog/1/"])
def test_pages_need_a_login(path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_empty_catalog_guides_to_the_upload(tenant_a):
    page = browser(tenant_a).get("/catalog/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Your catalog is empty" in html
    assert "No catalog imports yet." in html
    assert 'enctype="multipart/form-data"' in html


def test_upload_through_the_form_then_the_import_page_reports_it(tenant_a):
    client = browser(tenant_a)
    response = upload(client, CATALOG)
    job = CatalogImport.objects.get(tenant=tenant_a.tenant)
    assert response.status_code == 302
    assert response["Location"] == f"/imports/catalog/{job.pk}/"
    assert job.created_by == tenant_a.owner

    queued = client.get(response["Location"]).content.decode()
    assert "queued" in queued
    assert f'data-poll-import="/api/v1/catalog/imports/{job.pk}"' in queued  # live status while it runs

    catalog_import_run(job_id=job.pk)
    html = client.get(response["Location"]).content.decode()
    assert "data-poll-import" not in html
    assert '<span class="badge succeeded"' in html
    assert "Rejected rows" in html
    # the bad id is shown as text, never as markup
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    # and the live status the page polls is the session-authenticated API
    assert client.get(f"/api/v1/catalog/imports/{job.pk}").json()["rows_imported"] == 2

    items = client.get("/catalog/").content.decode()
    assert "Blue kettle" in items
    assert "Red toaster" in items
    assert 'src="https://img.example/p1.jpg"' in items
    assert '<span class="badge succeeded">succeeded</span>' in items


def test_a_running_import_shows_its_rejected_rows_as_they_are_found(tenant_a):
    from catalog.importing import progress_key
    from recsys_site.cache import cache_set

    client = browser(tenant_a)
    upload(client, CATALOG)
    job = CatalogImport.objects.get(tenant=tenant_a.tenant)
    CatalogImport.objects.filter(pk=job.pk).update(status=CatalogImport.Status.RUNNING)
    found = [{"line": 3, "column": "id", "message": "<b>bad</b> id"}]
    live = {"at": 0, "bytes_processed": 10, "rows_total": 2, "rows_rejected": 1, "rows_valid": 1, "errors": found}
    cache_set(progress_key("catalog", job.pk), live, 60)
    status = client.get(f"/api/v1/catalog/imports/{job.pk}").json()
    assert (status["status"], status["rows_rejected"], status["errors"]) == ("running", 1, found)
    html = client.get(f"/imports/catalog/{job.pk}/").content.decode()
    # the page has the (still empty) table that its script fills from the status it polls
    assert '<section class="card" id="row-errors" hidden>' in html
    assert 'data-field="errors"' in html


def test_read_options_are_passed_to_the_import(tenant_a):
    client = browser(tenant_a)
    content = b"P9;Green mug;kitchen\n"
    response = client.post(
        "/catalog/",
        {
            "file": SimpleUploadedFile("mugs.csv", content),
            "delimiter": ";",
            "column_names": "sku,title,main_category",
            "mapping": '{"sku": "id", "title": "name"}',
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    job = CatalogImport.objects.get(tenant=tenant_a.tenant)
    catalog_import_run(job_id=job.pk)
    assert Item.objects.get(tenant=tenant_a.tenant, external_id="P9").name == "Green mug"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The submitted file is empty."),
        (b"sku,title\nP1,Kettle\n", "Required column(s) missing"),
        (b"\x00\x01\x02binary" * 100, "This is a binary file"),
        (b"id,name\n", "The file has a header but no rows."),
    ],
)
def test_a_bad_file_is_refused_beside_the_file_field(tenant_a, content, message):
    response = upload(browser(tenant_a), content)
    assert response.status_code == 400
    assert_error_beside(response.content.decode(), "file", message)
    assert not CatalogImport.objects.exists()


def test_bad_read_options_are_refused_beside_their_field(tenant_a):
    client = browser(tenant_a)
    response = upload(client, CATALOG, mapping="{not json")
    assert response.status_code == 400
    assert_error_beside(response.content.decode(), "mapping", "not valid JSON")
    no_header = client.post("/catalog/", {"file": SimpleUploadedFile("c.csv", b"P1,Kettle\n")})
    assert no_header.status_code == 400
    assert_error_beside(no_header.content.decode(), "column_names", "column_names is required")
    assert not CatalogImport.objects.exists()


def test_item_search_and_pages(tenant_a):
    Item.objects.bulk_create(
        [
            Item(tenant=tenant_a.tenant, external_id=f"S{n:03d}", name=f"Sock {n}", main_category="socks")
            for n in range(30)
        ]
        + [Item(tenant=tenant_a.tenant, external_id="H1", name="Hat", main_category="hats", is_active=False)]
    )
    client = browser(tenant_a)
    first = client.get("/catalog/").content.decode()
    assert "Page 1 of 2" in first
    assert 'id="stat-items">31<' in first
    assert 'id="stat-active">30<' in first
    second = client.get("/catalog/?page=2").content.decode()
    assert "S029" in second
    assert "S000" not in second
    found = client.get("/catalog/?q=hat").content.decode()
    assert "Hat" in found
    assert "Sock" not in found
    assert "inactive" in found
    by_category = client.get("/catalog/?category=socks&page=2").content.decode()
    assert "S029" in by_category
    assert "category=socks" in by_category
    assert "No item matches" in client.get("/catalog/?q=umbrella").content.decode()
    assert client.get("/catalog/?page=abc").status_code == 200


def test_tenants_never_see_each_other(tenant_a, tenant_b):
    upload(browser(tenant_a), CATALOG)
    job = CatalogImport.objects.get(tenant=tenant_a.tenant)
    catalog_import_run(job_id=job.pk)
    b = browser(tenant_b)
    assert b.get(f"/imports/catalog/{job.pk}/").status_code == 404
    html = b.get("/catalog/").content.decode()
    assert "Blue kettle" not in html
    assert f"/imports/catalog/{job.pk}/" not in html
    assert "Your catalog is empty" in html
    assert b.get("/catalog/?q=P1").content.decode().count("Blue kettle") == 0
