"""The items API through HTTP: upsert, partial update, replace, deactivate, filters, bad input, two tenants."""

from __future__ import annotations

import pytest

from catalog.models import Item
from tests.test_errors_and_ops import assert_envelope

pytestmark = pytest.mark.django_db

MUG = {"name": "Blue mug", "main_category": "kitchen", "sub_category": "mugs", "price": 8.5, "original_price": 10}


def test_put_creates_then_replaces(tenant_a):
    created = tenant_a.client.put("/api/v1/items/MUG-1", MUG, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["id"] == "MUG-1"
    assert body["discount_ratio"] == pytest.approx(0.15)
    replaced = tenant_a.client.put("/api/v1/items/MUG-1", {"name": "Green mug"}, format="json")
    assert replaced.status_code == 200
    # PUT replaces: what the body leaves out goes back to its default.
    assert replaced.json()["name"] == "Green mug"
    assert replaced.json()["price"] is None
    assert replaced.json()["main_category"] == ""
    assert Item.objects.filter(tenant=tenant_a.tenant).count() == 1


def test_patch_changes_only_the_given_fields_and_needs_the_item(tenant_a):
    tenant_a.client.put("/api/v1/items/MUG-1", MUG, format="json")
    patched = tenant_a.client.patch("/api/v1/items/MUG-1", {"price": 7}, format="json")
    assert patched.status_code == 200
    assert patched.json()["price"] == 7
    assert patched.json()["name"] == "Blue mug"
    assert_envelope(tenant_a.client.patch("/api/v1/items/NOPE", {"price": 1}, format="json"), 404, "item_not_found")
    assert not Item.objects.filter(tenant=tenant_a.tenant, external_id="NOPE").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"price": "NaN"},
        {"price": "Infinity"},
        {"price": -1},
        {"rating": 6},
        {"discount_ratio": 1.5},
        {"price": 10**400},
        {"reviews": -3},
        {"image": "javascript:alert(1)"},
        {"tags": "not-a-list"},
        {"attributes": {"colour": "bl\u0000ue"}},
        {"name": "x" * 501},
    ],
)
def test_bad_fields_are_400_and_change_nothing(tenant_a, body):
    tenant_a.client.put("/api/v1/items/MUG-1", MUG, format="json")
    response = tenant_a.client.patch("/api/v1/items/MUG-1", body, format="json")
    assert response.status_code == 400, response.content
    assert set(response.json()["error"]) == {"code", "message", "details"}
    item = tenant_a.client.get("/api/v1/items/MUG-1").json()
    assert item["name"] == "Blue mug"
    assert item["price"] == 8.5
    assert item["attributes"] == {}


def test_bad_item_id_in_the_path(tenant_a):
    assert_envelope(tenant_a.client.put("/api/v1/items/has space", MUG, format="json"), 400, "invalid_id")
    assert_envelope(tenant_a.client.get("/api/v1/items/bad%00id"), 400, "invalid_parameter")
    assert_envelope(tenant_a.client.delete("/api/v1/items/bad%00id"), 400, "invalid_parameter")
    assert not Item.objects.exists()


def test_nul_characters_in_parameters_and_bodies_are_400(tenant_a):
    tenant_a.client.put("/api/v1/items/MUG-1", MUG, format="json")
    for params in ({"search": "mu\x00g"}, {"category": "\x00"}):
        assert_envelope(tenant_a.client.get("/api/v1/items", params), 400, "invalid_parameter")
    raw = '{"name": "bad \\u0000 name"}'
    response = tenant_a.client.patch("/api/v1/items/MUG-1", raw, content_type="application/json")
    assert_envelope(response, 400, "malformed_request")
    assert tenant_a.client.get("/api/v1/items/MUG-1").json()["name"] == "Blue mug"


def test_delete_deactivates_and_the_list_hides_it(tenant_a):
    for sku in ("A", "B"):
        tenant_a.client.put(f"/api/v1/items/{sku}", {**MUG, "name": f"Mug {sku}"}, format="json")
    assert tenant_a.client.delete("/api/v1/items/A").status_code == 204
    assert tenant_a.client.delete("/api/v1/items/A").status_code == 204  # idempotent
    assert_envelope(tenant_a.client.delete("/api/v1/items/NOPE"), 404, "item_not_found")
    listed = tenant_a.client.get("/api/v1/items").json()
    assert [row["id"] for row in listed["results"]] == ["B"]
    everything = tenant_a.client.get("/api/v1/items", {"include_inactive": "true"}).json()
    assert {row["id"]: row["is_active"] for row in everything["results"]} == {"A": False, "B": True}
    assert tenant_a.client.get("/api/v1/items/A").json()["is_active"] is False


def test_filters(tenant_a):
    tenant_a.client.put("/api/v1/items/M1", MUG, format="json")
    tenant_a.client.put(
        "/api/v1/items/T1", {"name": "Teapot", "main_category": "Kitchen", "sub_category": "tea"}, format="json"
    )
    tenant_a.client.put("/api/v1/items/B1", {"name": "Novel", "main_category": "books"}, format="json")

    def ids(**params):
        return sorted(row["id"] for row in tenant_a.client.get("/api/v1/items", params).json()["results"])

    assert ids(category="kitchen") == ["M1", "T1"]  # main category, case-insensitive
    assert ids(category="MUGS") == ["M1"]  # or sub-category
    assert ids(search="pot") == ["T1"]  # part of the name
    assert ids(search="b1") == ["B1"]  # or an exact id, case-insensitive
    assert ids(category="garden") == []


def test_scopes_for_reads_and_writes(tenant_a):
    from tests.factories import make_api_key

    reader = tenant_a.client_with(make_api_key(tenant_a.tenant, scopes=["recommend"]))
    assert_envelope(reader.put("/api/v1/items/MUG-1", MUG, format="json"), 403)
    tenant_a.client.put("/api/v1/items/MUG-1", MUG, format="json")
    assert reader.get("/api/v1/items/MUG-1").status_code == 200
    assert_envelope(reader.delete("/api/v1/items/MUG-1"), 403)


def test_two_tenants_never_see_or_change_each_others_items(tenant_a, tenant_b):
    tenant_a.client.put("/api/v1/items/SAME", MUG, format="json")
    assert_envelope(tenant_b.client.get("/api/v1/items/SAME"), 404, "item_not_found")
    assert_envelope(tenant_b.client.patch("/api/v1/items/SAME", {"price": 1}, format="json"), 404)
    assert_envelope(tenant_b.client.delete("/api/v1/items/SAME"), 404)
    assert tenant_b.client.get("/api/v1/items").json()["count"] == 0
    # The same id in the other shop is another item.
    assert tenant_b.client.put("/api/v1/items/SAME", {"name": "B's"}, format="json").status_code == 201
    assert tenant_a.client.get("/api/v1/items/SAME").json()["name"] == "Blue mug"
    assert tenant_a.client.get("/api/v1/items/SAME").json()["is_active"] is True
