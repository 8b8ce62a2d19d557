"""Catalog uploads through HTTP, processed by the task body, checked in the database."""

from __future__ import annotations

import gzip

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.imports import CatalogPipeline, catalog_import_run
from catalog.models import CatalogImport, Item
from tests.datasets import DATASETS

pytestmark = pytest.mark.django_db

AMAZON = DATASETS / "amazon-india-products-2023-trimmed" / "Amazon-Products.csv"
UCI_PRODUCTS = DATASETS / "uci-online-retail" / "derived" / "products.csv"
needs_datasets = pytest.mark.skipif(not AMAZON.exists(), reason="../shared/datasets is not available")


def upload(client, content: bytes, name: str = "catalog.csv", **fields):
    return client.post(
        "/api/v1/catalog/imports", {"file": SimpleUploadedFile(name, content), **fields}, format="multipart"
    )


def upload_and_run(ctx, content: bytes, name: str = "catalog.csv", **fields) -> dict:
    response = upload(ctx.client, content, name, **fields)
    assert response.status_code == 202, response.content
    catalog_import_run(job_id=response.json()["id"])
    return ctx.client.get(f"/api/v1/catalog/imports/{response.json()['id']}").json()


@needs_datasets
def test_amazon_file_imports_as_it_is(tenant_a):
    job = upload_and_run(tenant_a, AMAZON.read_bytes(), "Amazon-Products.csv")
    assert job["status"] == "succeeded"
    assert job["rows_total"] == 10_930
    assert job["rows_rejected"] == 33
    assert job["rows_imported"] == Item.objects.filter(tenant=tenant_a.tenant).count() > 9_000
    assert any("ASIN" in note for note in job["notes"])
    assert any(error["column"] == "ratings" and "'Get'" in error["message"] for error in job["errors"])
    # prices like ₹32,999 and counts like 2,255 are numbers now
    item = tenant_a.client.get("/api/v1/items/B0BRKXTSBT").json()
    assert item["price"] == 32999
    assert item["original_price"] == 58990
    assert item["reviews"] == 2255
    assert item["discount_ratio"] == pytest.approx(1 - 32999 / 58990, abs=1e-3)
    assert item["main_category"] == "appliances"


@needs_datasets
def test_uci_products_with_a_column_mapping(tenant_a):
    job = upload_and_run(
        tenant_a,
        UCI_PRODUCTS.read_bytes(),
        "products.csv",
        mapping='{"stock_code": "id", "description": "name", "median_unit_price": "discount_price"}',
    )
    assert job["status"] == "succeeded", job
    assert job["rows_total"] == 4_070
    # 112 codes have no description, BANK CHARGES has a space in its id
    assert job["rows_rejected"] >= 113
    item = tenant_a.client.get("/api/v1/items/85123A").json()
    assert "HANGING HEART" in item["name"]
    assert item["price"] == pytest.approx(2.55, abs=0.5)
    assert item["attributes"].get("n_lines")


def test_the_same_catalog_twice_is_an_idempotent_upsert(tenant_a):
    content = b"id,name,main_category,actual_price\nSKU1,Mug,kitchen,10\nSKU2,Cup,kitchen,5\n"
    first = upload_and_run(tenant_a, content)
    second = upload_and_run(tenant_a, content)
    assert first["rows_imported"] == second["rows_imported"] == 2
    assert Item.objects.filter(tenant=tenant_a.tenant).count() == 2
    changed = upload_and_run(tenant_a, b"id,name\nSKU1,Big mug\n")
    assert changed["status"] == "succeeded"
    mug = Item.objects.get(tenant=tenant_a.tenant, external_id="SKU1")
    # only the columns in the file change; the price and category stay
    assert (mug.name, mug.main_category, mug.price) == ("Big mug", "kitchen", 10)


def test_duplicated_rows_in_one_file_keep_the_last(tenant_a):
    job = upload_and_run(tenant_a, b"id,name\nA1,first\nA1,second\nB2,other\n")
    assert job["status"] == "succeeded"
    assert Item.objects.get(tenant=tenant_a.tenant, external_id="A1").name == "second"
    assert any("repeat" in note for note in job["notes"])


def test_gzip_and_jsonl_are_accepted(tenant_a):
    gz = gzip.compress(b"id,name\nG1,Gzipped\n")
    assert upload_and_run(tenant_a, gz, "c.csv.gz")["status"] == "succeeded"
    jsonl = b'{"id": "J1", "name": "From JSON", "tags": ["a", "b"]}\n{"id": "J2"}\n'
    job = upload_and_run(tenant_a, jsonl, "c.jsonl")
    assert job["status"] == "succeeded"
    assert job["rows_rejected"] == 1  # J2 has no name
    assert Item.objects.get(tenant=tenant_a.tenant, external_id="J1").tags == ["a", "b"]


def test_ids_with_sql_html_unicode_or_spaces_are_rejected_with_reasons(tenant_a):
    content = (
        "id,name\n"
        "OK1,Fine\n"
        "has space,Bad\n"
        "1'; DROP TABLE catalog_item;--,Bad\n"
        "<script>alert(1)</script>,Bad\n"
        "ünïcode,Bad\n"
        f"{'x' * 10_000},Bad\n"
    ).encode()
    job = upload_and_run(tenant_a, content)
    assert job["status"] == "succeeded"
    assert job["rows_imported"] == 1
    assert job["rows_rejected"] == 5
    assert {error["line"] for error in job["errors"]} == {3, 4, 5, 6, 7}
    assert all(len(error["message"]) < 300 for error in job["errors"])


def test_a_permissive_tenant_pattern_keeps_odd_ids_verbatim_and_pages_escape_them(tenant_a):
    tenant_a.tenant.item_id_pattern = "^.{1,255}$"
    tenant_a.tenant.save()
    content = b'id,name\n"1\'; DROP TABLE catalog_item;--",Sneaky\n<b>bold</b>,<script>alert(1)</script>\n'
    job = upload_and_run(tenant_a, content)
    assert job["rows_imported"] == 2
    assert Item.objects.filter(tenant=tenant_a.tenant, external_id="1'; DROP TABLE catalog_item;--").exists()
    item = Item.objects.get(tenant=tenant_a.tenant, external_id="<b>bold</b>")
    assert item.name == "<script>alert(1)</script>"


@pytest.mark.parametrize(
    ("content", "name", "fields", "status", "code"),
    [
        (b"", "empty.csv", {}, 400, "empty_file"),
        (b"id,name\n", "header.csv", {}, 400, "no_rows"),
        (b"sku,title\nA,B\n", "cols.csv", {}, 400, "missing_column"),
        (b"id,name\nA,B\n", "delim.csv", {"delimiter": "::"}, 400, None),
        (b"id,name\nA,\xff\xfe bad\n", "latin.csv", {}, 400, "invalid_encoding"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image.csv", {}, 415, "unsupported_file"),
        (b"\x1f\x8b\x08\x00garbage-not-gzip", "broken.csv.gz", {}, 400, "corrupt_gzip"),
        (b"id,name\nA,B\n", "map.csv", {"mapping": '{"nope": "id"}'}, 400, None),
        (b"id,name\nA,B\n", "map.csv", {"mapping": "{not json"}, 400, None),
    ],
)
def test_bad_files_get_a_clear_4xx_and_leave_nothing(tenant_a, content, name, fields, status, code):
    response = upload(tenant_a.client, content, name, **fields)
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["message"]
    if code:
        assert error["code"] == code
    assert not CatalogImport.objects.filter(tenant=tenant_a.tenant).exists()
    assert not Item.objects.filter(tenant=tenant_a.tenant).exists()


def test_file_over_the_size_limit_is_413(tenant_a, settings):
    settings.MAX_UPLOAD_BYTES = 100
    response = upload(tenant_a.client, b"id,name\n" + b"A,B\n" * 100)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "upload_too_large"


def test_missing_file_field_is_400(tenant_a):
    response = tenant_a.client.post("/api/v1/catalog/imports", {"delimiter": ","}, format="multipart")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_file"


def test_bad_rows_are_reported_and_good_rows_import(tenant_a):
    content = (
        b"id,name,actual_price,ratings\n"
        b"A1,Good,10,4.5\n"
        b"A2,Too many,1,2,3\n"
        b"A3\n"
        b"A4,Negative,-5,4\n"
        b"A5,NaN price,NaN,4\n"
        b"A6,Huge,1e300,4\n"
        b"A7,Bad rating,10,9\n"
        b"A8,Fine too,3,\n"
    )
    job = upload_and_run(tenant_a, content)
    assert job["status"] == "succeeded"
    assert sorted(Item.objects.filter(tenant=tenant_a.tenant).values_list("external_id", flat=True)) == ["A1", "A8"]
    assert {error["line"] for error in job["errors"]} == {3, 4, 5, 6, 7, 8}


def test_quote_left_open_is_a_row_error_or_a_failed_job_with_nothing_written(tenant_a):
    job = upload_and_run(tenant_a, b'id,name\nA1,Good\nA2,"never closed\nA3,Fine\n')
    assert job["status"] in {"succeeded", "failed"}
    if job["status"] == "failed":
        assert not Item.objects.filter(tenant=tenant_a.tenant).exists()
    else:
        assert any(error["line"] == 3 for error in job["errors"])


def test_a_problem_found_half_way_fails_the_job_and_changes_nothing(tenant_a):
    # Past the first megabyte, so the upload's quick check does not see it: the job finds it half-way.
    good_rows = b"".join(b"ID%06d,Item %d %s\n" % (i, i, b"x" * 400) for i in range(3_000))
    content = b"id,name\n" + good_rows + b"BAD,\xff\xfe\n"
    job = upload_and_run(tenant_a, content, chunk_rows="1000")
    assert job["status"] == "failed"
    assert "Nothing was imported" in job["error_message"] or "nothing was imported" in job["error_message"]
    assert not Item.objects.filter(tenant=tenant_a.tenant).exists()


def test_a_job_killed_mid_way_can_be_retried_without_duplicates(tenant_a, monkeypatch):
    content = b"id,name\n" + b"".join(b"K%06d,Item\n" % i for i in range(3_000))
    response = upload(tenant_a.client, content, chunk_rows="1000")
    job_id = response.json()["id"]
    original = CatalogPipeline.write
    calls = {"n": 0}

    def dies_after_first_chunk(self, chunk):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("worker killed")  # not an Exception: nothing marks the job failed
        original(self, chunk)

    monkeypatch.setattr(CatalogPipeline, "write", dies_after_first_chunk)
    with pytest.raises(KeyboardInterrupt):
        catalog_import_run(job_id=job_id)
    assert CatalogImport.objects.get(pk=job_id).status == "running"
    assert not Item.objects.filter(tenant=tenant_a.tenant).exists()

    monkeypatch.setattr(CatalogPipeline, "write", original)
    catalog_import_run(job_id=job_id)
    assert CatalogImport.objects.get(pk=job_id).status == "succeeded"
    assert Item.objects.filter(tenant=tenant_a.tenant).count() == 3_000
    # running the finished job again does nothing
    assert catalog_import_run(job_id=job_id) is None


def test_imports_and_items_are_per_tenant(tenant_a, tenant_b):
    job = upload_and_run(tenant_a, b"id,name\nONLYA,Alpha's\n")
    assert tenant_b.client.get(f"/api/v1/catalog/imports/{job['id']}").status_code == 404
    assert tenant_b.client.get("/api/v1/catalog/imports").json()["count"] == 0
    assert tenant_b.client.get("/api/v1/items/ONLYA").status_code == 404
    same = upload_and_run(tenant_b, b"id,name\nONLYA,Beta's own\n")
    assert same["status"] == "succeeded"
    assert Item.objects.get(tenant=tenant_a.tenant, external_id="ONLYA").name == "Alpha's"


def test_upload_needs_ingest_scope(tenant_a):
    from tests.factories import make_api_key

    reader = tenant_a.client_with(make_api_key(tenant_a.tenant, scopes=["recommend"]))
    response = upload(reader, b"id,name\nA,B\n")
    assert response.status_code == 403
