"""Similar items, bought together, trending, home and search, through HTTP with two tenants."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from catalog.models import Item
from interactions.models import Event
from recommendations.associations import compute_associations
from recommendations.popularity import compute_snapshot
from recommendations.tenant_settings import recommendation_settings_update

pytestmark = pytest.mark.django_db


def get(ctx, path: str, **params):
    response = ctx.client.get(path, params)
    assert response.status_code == 200, response.content
    return response.json()


def put_items(ctx, rows: list[dict]) -> None:
    for row in rows:
        item_id = row.pop("id")
        assert ctx.client.put(f"/api/v1/items/{item_id}", row, format="json").status_code in {200, 201}


# --- similar items --------------------------------------------------------------------------------


def test_similar_items_blend_embeddings_and_text(shop_with_model):
    body = get(shop_with_model, "/api/v1/items/i1/similar", n=5)
    assert body["item_id"] == "i1"
    ids = [item["id"] for item in body["similar"]]
    assert "i1" not in ids
    assert len(ids) == 5
    # the learned half puts i1's group (every 4th item) first
    assert sum(int(item_id[1:]) % 4 == 1 for item_id in ids) >= 3
    assert body["similar"][0]["reason"] == "similar_items:i1"


def test_a_new_item_without_interactions_has_text_neighbours_at_once(shop_with_model):
    ctx = shop_with_model
    put_items(ctx, [{"id": "NEW-EARBUDS", "name": "Wireless earbuds with case", "main_category": "audio"},
                    {"id": "OLD-EARBUDS", "name": "Earbuds wired", "main_category": "audio"}])  # fmt: skip
    body = get(ctx, "/api/v1/items/NEW-EARBUDS/similar", n=3)
    assert body["similar"][0]["id"] == "OLD-EARBUDS"


def test_similar_unknown_item_is_404_and_n_is_clamped(shop_with_model, tenant_b):
    response = shop_with_model.client.get("/api/v1/items/nope/similar")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "item_not_found"
    assert len(get(shop_with_model, "/api/v1/items/i1/similar", n=500)["similar"]) <= 60
    assert shop_with_model.client.get("/api/v1/items/i1/similar?n=x").status_code == 400
    # another tenant's item is unknown here
    assert tenant_b.client.get("/api/v1/items/i1/similar").status_code == 404


# --- bought together -------------------------------------------------------------------------------


def test_bought_together_from_fp_growth_rules(tenant_a, tenant_b):
    put_items(tenant_a, [{"id": name, "name": name} for name in ("tea", "mug", "spoon", "sofa")])
    now = datetime(2024, 5, 1, tzinfo=UTC)
    events = []
    for user in range(30):
        day = (now + timedelta(days=user % 5)).isoformat()
        basket = ["tea", "mug"] + (["spoon"] if user % 3 == 0 else [])
        if user % 10 == 0:
            basket = ["sofa", "tea"]
        events += [{"user_id": f"u{user}", "event_type": "purchase", "item_id": i, "timestamp": day} for i in basket]
    assert tenant_a.client.post("/api/v1/events", {"events": events}, format="json").json()["accepted"] == len(events)
    assert compute_associations(tenant=tenant_a.tenant) > 0
    body = get(tenant_a, "/api/v1/items/mug/bought-together", n=5)
    assert body["items"][0]["id"] == "tea"
    first = body["items"][0]
    assert first["confidence"] == pytest.approx(1.0)
    assert 0 < first["support"] <= 1
    assert first["lift"] > 0
    assert tenant_a.client.get("/api/v1/items/unknown/bought-together").status_code == 404
    assert tenant_b.client.get("/api/v1/items/mug/bought-together").status_code == 404
    # a deactivated item is never suggested
    tenant_a.client.delete("/api/v1/items/tea")
    assert "tea" not in [item["id"] for item in get(tenant_a, "/api/v1/items/mug/bought-together")["items"]]


# --- trending ------------------------------------------------------------------------------------------


def test_trending_decays_with_age_and_moves_with_new_events(tenant_a):
    items = (("old", "a"), ("new", "a"), ("b1", "b"))
    put_items(tenant_a, [{"id": i, "name": i, "main_category": c} for i, c in items])
    now = timezone.now()
    three_days_ago = (now - timedelta(hours=72)).isoformat()
    old = [{"user_id": f"o{k}", "event_type": "view", "item_id": "old", "timestamp": three_days_ago} for k in range(10)]
    new = [{"user_id": f"n{k}", "event_type": "view", "item_id": "new", "timestamp": now.isoformat()} for k in range(3)]
    tenant_a.client.post("/api/v1/events", {"events": old + new}, format="json")
    compute_snapshot(tenant=tenant_a.tenant)
    body = get(tenant_a, "/api/v1/trending", n=5)
    # 10 views three days ago weigh 10 * 0.95^72 = 0.25 < 3 views now
    assert [item["id"] for item in body["items"]][:2] == ["new", "old"]
    assert body["decay_per_hour"] == 0.95
    # a burst of new events moves b1 up without a new snapshot
    burst = [{"user_id": f"b{k}", "event_type": "purchase", "item_id": "b1"} for k in range(5)]
    tenant_a.client.post("/api/v1/events", {"events": burst}, format="json")
    assert get(tenant_a, "/api/v1/trending", n=5)["items"][0]["id"] == "b1"
    per_category = get(tenant_a, "/api/v1/trending", n=5, category="a")
    assert {item["id"] for item in per_category["items"]} == {"new", "old"}


def test_a_shop_read_before_its_first_events_starts_trending_with_them(
    tenant_a, monkeypatch, django_capture_on_commit_callbacks
):
    from recommendations import tasks

    queued = []
    monkeypatch.setattr(tasks.refresh_popularity, "delay", lambda tenant_id: queued.append(tenant_id))
    put_items(tenant_a, [{"id": i, "name": i, "main_category": "a"} for i in ("x", "y", "z")])
    assert get(tenant_a, "/api/v1/trending", n=3)["fallback_used"] is True  # read with no events at all
    views = [{"user_id": f"u{k}", "event_type": "view", "item_id": "y"} for k in range(4)]
    tenant_a.client.post("/api/v1/events", {"events": views}, format="json")
    tenant_a.client.post("/api/v1/events", {"user_id": "u9", "event_type": "view", "item_id": "z"}, format="json")
    assert queued == [tenant_a.tenant.pk]  # the first events queue the first snapshot, once
    with django_capture_on_commit_callbacks(execute=True):
        tasks.refresh_popularity(*queued)  # what the worker does with it
    body = get(tenant_a, "/api/v1/trending", n=3)
    assert [item["id"] for item in body["items"]][:2] == ["y", "z"]
    assert body["items"][0]["reason"] == "trending"
    tenant_a.client.post("/api/v1/events", {"user_id": "u9", "event_type": "view", "item_id": "x"}, format="json")
    assert queued == [tenant_a.tenant.pk]  # a snapshot exists now: live events are read on top of it


def test_trending_of_a_tenant_without_events_is_empty_and_per_tenant(tenant_a, tenant_b):
    put_items(tenant_b, [{"id": "bx", "name": "x"}])
    tenant_b.client.post("/api/v1/events", {"user_id": "u", "event_type": "view", "item_id": "bx"}, format="json")
    assert get(tenant_a, "/api/v1/trending")["items"] == []
    assert [item["id"] for item in get(tenant_b, "/api/v1/trending")["items"]] == ["bx"]


# --- home ------------------------------------------------------------------------------------------------


def test_home_has_five_sections_and_personalizes_active_users(shop_with_model):
    ctx = shop_with_model
    Item.objects.filter(tenant=ctx.tenant, external_id="i3").update(discount_ratio=0.5, rating=4.5)
    Event.objects.filter(tenant=ctx.tenant, user_id="u1").update(timestamp=timezone.now() - timedelta(days=1))
    ctx.client.post("/api/v1/events", {"user_id": "u1", "event_type": "search", "query": "item 7"}, format="json")
    body = get(ctx, "/api/v1/home/u1", limit=10)
    assert set(body) == {"user_id", "personalized", "trending", "best_value", "top_categories", "diverse_picks"}
    assert len(body["personalized"]) == 10
    reasons = {item["reason"] for item in body["personalized"]}
    assert {"click_based", "search_based"} <= reasons
    assert body["best_value"][0]["id"] == "i3"
    assert len(body["top_categories"]) == 3
    assert len({item["main_category"] for item in body["diverse_picks"]}) == len(body["diverse_picks"])


def test_home_personalized_is_empty_for_new_and_inactive_users(shop_with_model):
    ctx = shop_with_model
    assert get(ctx, "/api/v1/home/brand-new")["personalized"] == []
    Event.objects.filter(tenant=ctx.tenant, user_id="u2").update(timestamp=timezone.now() - timedelta(days=31))
    stale = get(ctx, "/api/v1/home/u2", limit=5)
    assert stale["personalized"] == []
    assert stale["trending"] or stale["diverse_picks"]
    assert ctx.client.get("/api/v1/home/u2?limit=abc").status_code == 400


def test_home_weights_are_a_tenant_setting(shop_with_model):
    ctx = shop_with_model
    Event.objects.filter(tenant=ctx.tenant, user_id="u1").update(timestamp=timezone.now())
    recommendation_settings_update(tenant=ctx.tenant, data={"home_weights": {"click": 0, "search": 0, "diverse": 1}})
    body = get(ctx, "/api/v1/home/u1", limit=4)
    assert {item["reason"] for item in body["personalized"]} == {"diverse"}


# --- search ----------------------------------------------------------------------------------------------


def test_search_expands_synonyms_and_ranks_matches(tenant_a):
    put_items(tenant_a, [
        {"id": "E1", "name": "Bluetooth earphones black", "main_category": "audio"},
        {"id": "E2", "name": "Sports earphones", "main_category": "audio"},
        {"id": "K1", "name": "Kettle", "main_category": "kitchen"},
    ])  # fmt: skip
    recommendation_settings_update(tenant=tenant_a.tenant, data={"synonyms": {"earbuds": ["earphones"]}})
    body = get(tenant_a, "/api/v1/search", q="  earbuds ")
    assert body["query"] == "earbuds"
    assert "earphones" in body["expanded_terms"]
    assert {item["id"] for item in body["results"]} == {"E1", "E2"}
    assert "fallback_reason" not in body


def test_search_personalizes_with_the_users_history(tenant_a):
    put_items(tenant_a, [
        {"id": "A1", "name": "Red mug", "main_category": "kitchen"},
        {"id": "A2", "name": "Red shirt", "main_category": "fashion"},
        {"id": "A3", "name": "Blue shirt", "main_category": "fashion"},
    ])  # fmt: skip
    tenant_a.client.post("/api/v1/events", {"user_id": "fan", "event_type": "view", "item_id": "A3"}, format="json")
    plain = [item["id"] for item in get(tenant_a, "/api/v1/search", q="red")["results"]]
    personal = [item["id"] for item in get(tenant_a, "/api/v1/search", q="red", user_id="fan")["results"]]
    assert set(plain) == set(personal) == {"A1", "A2"}
    assert personal[0] == "A2"


def test_search_without_matches_falls_back_to_trending(shop_with_model):
    body = get(shop_with_model, "/api/v1/search", q="zzzz-nothing")
    assert body["fallback_reason"] == "no_search_matches"
    assert body["results"]


def test_search_validates_and_clamps(shop_with_model, tenant_b):
    ctx = shop_with_model
    for q in ("", "   "):
        response = ctx.client.get("/api/v1/search", {"q": q})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_query"
    assert ctx.client.get("/api/v1/search").status_code == 400
    assert ctx.client.get("/api/v1/search", {"q": "x" * 300}).status_code == 400
    assert len(get(ctx, "/api/v1/search", q="item", limit=99999)["results"]) == 40
    assert ctx.client.get("/api/v1/search", {"q": "item", "limit": "lots"}).status_code == 400
    # the other tenant's catalog is not searched
    assert get(tenant_b, "/api/v1/search", q="item")["results"] == []


def test_a_newly_imported_item_is_searchable_at_once(shop_with_model):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from catalog.imports import catalog_import_run

    ctx = shop_with_model
    assert get(ctx, "/api/v1/search", q="zeppelin").get("fallback_reason") == "no_search_matches"
    upload = ctx.client.post(
        "/api/v1/catalog/imports",
        {"file": SimpleUploadedFile("c.csv", b"id,name\nZ1,Model zeppelin kit\n")},
        format="multipart",
    )
    catalog_import_run(job_id=upload.json()["id"])
    assert [item["id"] for item in get(ctx, "/api/v1/search", q="zeppelin")["results"]] == ["Z1"]
    assert get(ctx, "/api/v1/items/Z1/similar")["item_id"] == "Z1"


# --- serving never loads TensorFlow -------------------------------------------------------------------


def test_serving_modules_do_not_import_tensorflow():
    code = (
        "import django, os, sys; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'recsys_site.settings'); "
        "django.setup(); import recsys_site.urls, recommendations.apis, recommendations.personalized; "
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert out.stdout.strip() == "False False"


# --- limits, empty categories, deactivated items, tenants ------------------------------------------------


@pytest.mark.parametrize(
    ("path", "param", "maximum"),
    [("/api/v1/trending", "n", 100), ("/api/v1/items/i1/bought-together", "n", 50), ("/api/v1/home/u1", "limit", 60)],
)
def test_limits_are_clamped_and_non_integers_are_400(shop_with_model, path, param, maximum):
    ctx = shop_with_model
    for bad in ("abc", "1.5", ""):
        response = ctx.client.get(path, {param: bad})
        if bad == "":
            assert response.status_code == 200  # empty means the default
        else:
            assert response.status_code == 400
            assert response.json()["error"]["code"] == "invalid_parameter"
    big = get(ctx, path, **{param: 10_000})
    small = get(ctx, path, **{param: -5})
    if "items" in big:
        assert len(big["items"]) <= maximum
        assert len(small["items"]) <= 1
    else:
        assert all(len(big[section]) <= maximum for section in ("trending", "best_value", "diverse_picks"))
        assert all(len(small[section]) <= 1 for section in ("trending", "best_value", "diverse_picks"))


def test_trending_for_a_category_with_no_items_is_empty(shop_with_model):
    compute_snapshot(tenant=shop_with_model.tenant)
    body = get(shop_with_model, "/api/v1/trending", n=5, category="no-such-category")
    assert body["items"] == []
    assert body["fallback_used"] is True
    assert body["category"] == "no-such-category"


def test_a_deactivated_item_is_never_shown_anywhere(shop_with_model):
    ctx = shop_with_model
    compute_snapshot(tenant=ctx.tenant)
    Event.objects.filter(tenant=ctx.tenant, user_id="u1").update(timestamp=timezone.now())
    top_trending = get(ctx, "/api/v1/trending", n=1)["items"][0]["id"]
    top_similar = get(ctx, "/api/v1/items/i1/similar", n=1)["similar"][0]["id"]
    top_search = get(ctx, "/api/v1/search", q="item")["results"][0]["id"]
    gone = {top_trending, top_similar, top_search}
    for item_id in gone:
        assert ctx.client.delete(f"/api/v1/items/{item_id}").status_code == 204

    def shown(body) -> set[str]:
        lists = [v for v in body.values() if isinstance(v, list)]
        return {item["id"] for items in lists for item in items if isinstance(item, dict) and "id" in item}

    assert not gone & shown(get(ctx, "/api/v1/trending", n=100))
    assert not gone & shown(get(ctx, "/api/v1/items/i1/similar", n=60))
    assert not gone & shown(get(ctx, "/api/v1/search", q="item", limit=100))
    assert not gone & shown(get(ctx, "/api/v1/home/u1", limit=60))
    # a deactivated item's own page of neighbours is still answered (it may be linked from old pages)
    assert ctx.client.get(f"/api/v1/items/{top_similar}/similar").status_code == 200


def test_home_is_per_tenant(shop_with_model, tenant_b):
    from tests.factories import make_clustered_events

    make_clustered_events(tenant_b.tenant, n_users=10, n_items=12, user_prefix="u", item_prefix="b")
    Event.objects.filter(tenant=tenant_b.tenant, user_id="u1").update(timestamp=timezone.now())
    compute_snapshot(tenant=tenant_b.tenant)
    compute_snapshot(tenant=shop_with_model.tenant)
    theirs = get(tenant_b, "/api/v1/home/u1", limit=20)
    ids = {item["id"] for section, items in theirs.items() if isinstance(items, list) for item in items}
    assert ids
    assert all(item_id.startswith("b") for item_id in ids)
    mine = get(shop_with_model, "/api/v1/home/u1", limit=20)
    mine_ids = {item["id"] for section, items in mine.items() if isinstance(items, list) for item in items}
    assert mine_ids
    assert not any(item_id.startswith("b") for item_id in mine_ids)
