"""Live events, a user's interactions and erasure, through HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from catalog.models import Item
from interactions.models import Event, UserErasure

pytestmark = pytest.mark.django_db


def post(ctx, body):
    return ctx.client.post("/api/v1/events", body, format="json")


def test_one_event_is_stored_and_an_unknown_item_is_created_bare(tenant_a):
    response = post(tenant_a, {"user_id": "u1", "event_type": "purchase", "item_id": "NEW-1", "value": 2})
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    event = Event.objects.get(tenant=tenant_a.tenant)
    assert (event.user_id, event.event_type, event.item.external_id, event.value) == ("u1", "purchase", "NEW-1", 2.0)
    item = Item.objects.get(tenant=tenant_a.tenant, external_id="NEW-1")
    assert item.name == ""
    assert item.is_active


def test_one_invalid_event_is_a_400_with_each_problem(tenant_a):
    response = post(tenant_a, {"user_id": "has space", "event_type": "teleport", "value": "x", "colour": "red"})
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert set(details) == {"user_id", "event_type", "value", "colour"}
    assert not Event.objects.exists()


def test_a_mixed_batch_keeps_the_good_events(tenant_a):
    events = [
        {"user_id": "u1", "event_type": "view", "item_id": "i1"},
        {"user_id": "u1", "event_type": "view"},  # no item
        {"user_id": "u2", "event_type": "search", "query": "  red shoes  "},
        {"user_id": "u2", "event_type": "search", "query": "   "},
        {"user_id": "u3", "event_type": "product_click", "item_id": "i2", "timestamp": "2024-03-01T12:00:00+02:00"},
        {"user_id": "u3", "event_type": "search_query", "query": "x" * 256},
        "not an object",
        {"user_id": "u4", "event_type": "like", "item_id": "i3", "timestamp": "yesterday-ish"},
        {"user_id": "u5", "event_type": "rating", "item_id": "i3", "value": 4.5, "timestamp": 1_700_000_000},
        {"user_id": "u6", "event_type": "view", "item_id": "i1", "query": "only for search"},
    ]
    response = post(tenant_a, {"events": events})
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == 4
    assert [r["index"] for r in body["rejected"]] == [1, 3, 5, 6, 7, 9]
    assert "item_id" in body["rejected"][0]["errors"]
    stored = Event.objects.filter(tenant=tenant_a.tenant)
    search = stored.get(event_type="search")
    assert search.query == "red shoes"
    click = stored.get(user_id="u3")
    assert click.event_type == "click"
    assert click.timestamp == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert stored.get(user_id="u5").timestamp == datetime.fromtimestamp(1_700_000_000, tz=UTC)


def test_hostile_values_are_rejected_per_event_and_the_good_ones_kept(tenant_a):
    nul = chr(0)
    events = [
        {"user_id": "u1", "event_type": "view", "item_id": "i1"},
        {"user_id": "u2", "event_type": "purchase", "item_id": "i1", "value": 10**400},  # valid JSON, no float
        {"user_id": "u3", "event_type": "view", "item_id": "i1", "timestamp": 10**400},
        {"user_id": "u4", "event_type": "view", "item_id": "i1", "event_id": "e\\u0000"},  # a backslash: fine
        {"user_id": "u4", "event_type": "view", "item_id": "i1", "event_id": f"e{nul}"},
        {"user_id": f"u{nul}", "event_type": "view", "item_id": "i1"},
        {"user_id": "u5", "event_type": "search", "query": f"red{nul}shoes"},
        {"user_id": "u6", "event_type": "purchase", "item_id": "i1", "value": -2},
        {"user_id": "u6", "event_type": "add_to_cart", "item_id": "i1", "value": 0},
        {"user_id": "u7", "event_type": "rating", "item_id": "i1", "value": -1},  # not a quantity
    ]
    raw = json.dumps({"events": events})  # NULs travel as \u0000 escapes
    response = tenant_a.client.post("/api/v1/events", raw, content_type="application/json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert [r["index"] for r in body["rejected"]] == [1, 2, 4, 5, 6, 7, 8]
    fields = [set(r["errors"]) for r in body["rejected"]]
    assert fields == [{"value"}, {"timestamp"}, {"event_id"}, {"user_id"}, {"query"}, {"value"}, {"value"}]
    assert body["accepted"] == 3
    assert set(Event.objects.filter(tenant=tenant_a.tenant).values_list("user_id", flat=True)) == {"u1", "u4", "u7"}
    assert Event.objects.get(user_id="u4").event_id == "e\\u0000"


def test_a_batch_of_1001_is_refused(tenant_a):
    events = [{"user_id": "u1", "event_type": "view", "item_id": "i1"}] * 1001
    response = post(tenant_a, {"events": events})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "batch_too_large"
    assert not Event.objects.exists()
    assert post(tenant_a, {"events": events[:1000]}).json()["accepted"] == 1000


def test_event_id_makes_retries_idempotent(tenant_a):
    event = {"user_id": "u1", "event_type": "purchase", "item_id": "i1", "event_id": "order-77"}
    assert post(tenant_a, event).json()["accepted"] == 1
    retry = post(tenant_a, {"events": [event, event, {**event, "event_id": "order-78"}]}).json()
    assert retry == {"accepted": 1, "duplicates": 2, "rejected": []}
    assert Event.objects.filter(tenant=tenant_a.tenant).count() == 2


def test_event_ids_are_per_tenant(tenant_a, tenant_b):
    event = {"user_id": "u1", "event_type": "purchase", "item_id": "i1", "event_id": "order-1"}
    assert post(tenant_a, event).json()["accepted"] == 1
    assert post(tenant_b, event).json()["accepted"] == 1


def test_tenant_id_patterns_apply(tenant_a):
    tenant_a.tenant.user_id_pattern = r"^[a-zA-Z0-9]{1,50}$"
    tenant_a.tenant.item_id_pattern = r"^[A-Z0-9]{10}$"
    tenant_a.tenant.save()
    bad = post(tenant_a, {"user_id": "user_1", "event_type": "view", "item_id": "B0BRKXTSBT"})
    assert bad.status_code == 400
    assert "user_id" in bad.json()["error"]["details"]
    ok = post(tenant_a, {"user_id": "user1", "event_type": "view", "item_id": "B0BRKXTSBT"})
    assert ok.status_code == 202


@pytest.mark.parametrize("body", ["[not json", '{"events": "nope"}', "[]", '{"events": []}'])
def test_malformed_bodies_are_400(tenant_a, body):
    response = tenant_a.client.post("/api/v1/events", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"]


def test_events_need_the_ingest_scope(tenant_a):
    from tests.factories import make_api_key

    reader = tenant_a.client_with(make_api_key(tenant_a.tenant, scopes=["recommend"]))
    response = reader.post("/api/v1/events", {"user_id": "u", "event_type": "view", "item_id": "i"}, format="json")
    assert response.status_code == 403


def test_user_interactions_newest_first_within_days(tenant_a, tenant_b):
    now = datetime.now(tz=UTC)
    events = [
        {"user_id": "u1", "event_type": "view", "item_id": "old", "timestamp": (now - timedelta(days=40)).isoformat()},
        {"user_id": "u1", "event_type": "view", "item_id": "mid", "timestamp": (now - timedelta(days=5)).isoformat()},
        {"user_id": "u1", "event_type": "purchase", "item_id": "new", "timestamp": now.isoformat()},
        {"user_id": "u2", "event_type": "view", "item_id": "other"},
    ]
    post(tenant_a, {"events": events})
    post(tenant_b, {"events": [{"user_id": "u1", "event_type": "view", "item_id": "b-item"}]})
    body = tenant_a.client.get("/api/v1/users/u1/interactions").json()
    assert [row["item_id"] for row in body["results"]] == ["new", "mid"]
    wide = tenant_a.client.get("/api/v1/users/u1/interactions?days=60").json()
    assert [row["item_id"] for row in wide["results"]] == ["new", "mid", "old"]
    assert tenant_a.client.get("/api/v1/users/u1/interactions?days=abc").status_code == 400
    assert tenant_a.client.get("/api/v1/users/bad%20id/interactions").status_code == 400


def test_erasing_a_user_removes_only_their_events_in_this_tenant(tenant_a, tenant_b):
    for ctx in (tenant_a, tenant_b):
        post(ctx, {"events": [{"user_id": "gone", "event_type": "view", "item_id": "i1"},
                              {"user_id": "stays", "event_type": "view", "item_id": "i1"}]})  # fmt: skip
    response = tenant_a.client.delete("/api/v1/users/gone")
    assert response.status_code == 204
    assert not Event.objects.filter(tenant=tenant_a.tenant, user_id="gone").exists()
    assert Event.objects.filter(tenant=tenant_a.tenant, user_id="stays").exists()
    assert Event.objects.filter(tenant=tenant_b.tenant, user_id="gone").exists()
    assert UserErasure.objects.filter(tenant=tenant_a.tenant, user_id="gone").exists()
    assert tenant_a.client.get("/api/v1/users/gone/interactions").json()["count"] == 0
