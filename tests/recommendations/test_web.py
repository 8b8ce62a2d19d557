"""The preview pages and the recommendations section of the settings page, through HTTP: HTML in, HTML out."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.utils import timezone

from catalog.models import Item
from interactions.models import Event
from recommendations.associations import compute_associations
from recommendations.freshness import catalog_changed
from recommendations.models import RecommendationSettings
from tests.factories import make_clustered_events
from tests.web import assert_error_beside, browser, field_html

pytestmark = pytest.mark.django_db


def page(client: Client, path: str, status: int = 200, **params) -> str:
    response = client.get(path, params)
    assert response.status_code == status, response.content.decode()[:3000]
    return response.content.decode()


def section(html: str, section_id: str) -> str:
    """The HTML of `<section ... id="section_id">` up to its end."""
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, re.S)
    assert match, f"no section #{section_id}"
    return match.group(0)


def cards(html: str) -> list[str]:
    return re.findall(r'<li class="item">.*?</li>', html, re.S)


def card_ids(html: str) -> list[str]:
    return re.findall(r'<li class="item">\s*<a class="item-link" href="/preview/items/([^"]+)/"', html)


def edit_item(tenant, item_id: str, **fields) -> None:
    """Change an item in the database as an import would (serving sees the new catalog version)."""
    Item.objects.filter(tenant=tenant, external_id=item_id).update(**fields)
    catalog_changed(tenant=tenant)


def buy_together(tenant, pairs: list[tuple[str, str]], repeat: int = 6) -> None:
    """Users who each bought one pair on one day, `repeat` times per pair; then the rules are mined."""
    items = {item.external_id: item for item in Item.objects.filter(tenant=tenant)}
    day = datetime(2024, 6, 1, tzinfo=UTC)
    events = [
        Event(tenant=tenant, user_id=f"buyer{n}-{k}", event_type="purchase", item=items[item_id], timestamp=day)
        for n, pair in enumerate(pairs)
        for k in range(repeat)
        for item_id in pair
    ]
    Event.objects.bulk_create(events)
    assert compute_associations(tenant=tenant) > 0


# --- access and empty states -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/preview/", "/preview/items/i1/", "/preview/items/?item_id=i1", "/settings/recommendations/"]
)
def test_pages_need_a_login(path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_preview_of_a_shop_without_items_points_to_the_catalog(tenant_a):
    html = page(browser(tenant_a), "/preview/")
    assert 'aria-current="page">Preview</a>' in html
    assert "Your catalog has no items yet" in html
    assert 'href="/catalog/#upload"' in html
    assert 'id="no-model"' not in html  # one thing at a time: the catalog comes first
    # any user id still answers, with an empty list and the fallback flag
    results = section(page(browser(tenant_a), "/preview/", user_id="anyone"), "results")
    assert 'id="fallback-flag"' in results
    assert "Nothing to recommend" in results


def test_preview_without_a_model_says_recommendations_are_popular_items(tenant_a):
    make_clustered_events(tenant_a.tenant)
    client = browser(tenant_a)
    html = page(client, "/preview/")
    no_model = section(html, "no-model")
    assert "recommendations are the most popular items until a model is trained" in no_model
    assert 'href="/interactions/#upload"' in no_model
    assert len(cards(section(html, "trending"))) == 10
    results = section(page(client, "/preview/", user_id="u1"), "results")
    assert "strategy: popular" in results
    assert "no model" in results
    assert 'id="fallback-flag"' in results
    assert "No model is serving yet" in results
    assert '<span class="reason">Popular</span>' in results


# --- a user's recommendations --------------------------------------------------------------------------


def test_a_known_user_gets_the_models_recommendations_with_reasons(shop_with_model):
    client = browser(shop_with_model)
    landing = page(client, "/preview/")
    assert 'id="no-model"' not in landing
    # the most active users are offered as examples (all have 8 events here: ties go alphabetically)
    assert 'href="/preview/?user_id=u0"' in section(landing, "user-preview")

    results = section(page(client, "/preview/", user_id="u1"), "results")
    assert "For user <code>u1</code>" in results
    assert "strategy: neumf" in results
    assert "model v1" in results
    assert 'id="fallback-flag"' not in results
    ids = card_ids(results)
    assert len(ids) == 10
    seen = set(
        Event.objects.filter(tenant=shop_with_model.tenant, user_id="u1").values_list("item__external_id", flat=True)
    )
    assert not seen & set(ids)  # seen items are left out
    # u1's cluster is every 4th item from i1 (category group1): the model puts those near the top
    unseen_own = {f"i{i}" for i in range(1, 40, 4)} - seen
    assert ids[0] in unseen_own
    assert unseen_own <= set(ids)
    reasons = re.findall(r'<span class="reason">(.*?)</span>', results)
    assert len(reasons) == 10
    assert all(re.fullmatch(r"Similar to Item \d+, from their recent activity", reason) for reason in reasons), reasons
    first = cards(results)[0]
    assert '<span class="noimg">No picture</span>' in first  # the test catalog has no pictures
    assert "group1" in first
    assert f'href="/preview/items/{ids[0]}/"' in first


def test_category_filter_and_number_of_items(shop_with_model):
    results = section(page(browser(shop_with_model), "/preview/", user_id="u1", category="group2", n=3), "results")
    assert "in group2" in results
    assert len(cards(results)) == 3
    assert all(int(item_id[1:]) % 4 == 2 for item_id in card_ids(results))
    form = page(browser(shop_with_model), "/preview/", user_id="u1", category="group2")
    assert '<option value="group2" selected>group2</option>' in form


def test_an_unknown_user_gets_popular_items_with_the_fallback_flag(shop_with_model):
    results = section(page(browser(shop_with_model), "/preview/", user_id="newcomer"), "results")
    assert "strategy: popular" in results
    assert "model v1" in results
    assert 'id="fallback-flag"' in results
    assert "The model does not know this user" in results
    assert len(cards(results)) == 10
    assert set(re.findall(r'<span class="reason">(.*?)</span>', results)) == {"Popular"}
    in_category = section(page(browser(shop_with_model), "/preview/", user_id="newcomer", category="group3"), "results")
    assert set(re.findall(r'<span class="reason">(.*?)</span>', in_category)) == {"Popular in group3"}


def test_prices_pictures_and_ratings_on_the_cards(shop_with_model):
    edit_item(shop_with_model.tenant, "i0", name="Kettle", image="https://img.example.com/kettle.jpg", price=19.5,
              original_price=25.0, rating=4.2, rating_count=1234, sub_category="Kitchen")  # fmt: skip
    html = page(browser(shop_with_model), "/preview/", user_id="newcomer", n=40)
    kettle = next(card for card in cards(html) if "Kettle" in card)
    assert '<img src="https://img.example.com/kettle.jpg"' in kettle
    assert '19.50 <s class="was" title="Original price">25.00</s>' in kettle
    assert "★ 4.2" in kettle
    assert "(1234)" in kettle
    assert "group0 › Kitchen" in kettle


# --- an item's neighbours ---------------------------------------------------------------------------------


def test_item_page_shows_similar_and_bought_together_items(shop_with_model):
    tenant = shop_with_model.tenant
    buy_together(tenant, [("i1", "i5"), ("i1", "i9")])
    edit_item(tenant, "i1", image="https://img.example.com/i1.png")
    html = page(browser(shop_with_model), "/preview/items/i1/")
    assert "<h1>Item 1</h1>" in html
    item = section(html, "item")
    assert '<img class="picture" src="https://img.example.com/i1.png"' in item
    assert "<code>i1</code>" in item
    assert "group1" in item

    similar = section(html, "similar")
    similar_ids = card_ids(similar)
    assert len(similar_ids) == 12
    assert "i1" not in similar_ids
    assert sum(int(item_id[1:]) % 4 == 1 for item_id in similar_ids[:5]) >= 3
    assert "Similar to Item 1" in similar
    assert f'href="/preview/items/{similar_ids[0]}/"' in similar  # each card leads onward

    together = section(html, "bought-together")
    assert set(card_ids(together)[:2]) == {"i5", "i9"}
    assert "support" in together
    assert "confidence" in together
    assert "lift" in together
    assert re.search(r"confidence</abbr> 0\.\d\d", together)

    assert shop_with_model.client.put("/api/v1/items/new", {"name": "Item new"}, format="json").status_code == 201
    nothing = section(page(browser(shop_with_model), "/preview/items/new/"), "bought-together")
    assert "No item is bought together with this one often enough yet." in nothing


def test_the_item_lookup_form_opens_the_item(shop_with_model):
    response = browser(shop_with_model).get("/preview/items/", {"item_id": " i7 "})
    assert response.status_code == 302
    assert response["Location"] == "/preview/items/i7/"


def test_an_unknown_item_and_another_tenants_item_are_the_same_404(shop_with_model, tenant_b):
    missing = page(browser(shop_with_model), "/preview/items/i999/", status=404)
    others = page(browser(tenant_b), "/preview/items/i1/", status=404)
    assert "There is no item with this id in your catalog." in missing
    assert "There is no item with this id in your catalog." in others
    assert "Item 1" not in others
    # and tenant B's preview knows nothing of tenant A
    results = section(page(browser(tenant_b), "/preview/", user_id="u1"), "results")
    assert "Item " not in results
    assert "model v1" not in results


# --- bad input -------------------------------------------------------------------------------------------


def test_bad_ids_and_numbers_are_shown_beside_their_fields(shop_with_model):
    client = browser(shop_with_model)
    html = page(client, "/preview/", status=400, user_id="not an id!")
    assert_error_beside(html, "user_id", "is not a valid id: use 1 to 64 characters")
    assert 'id="results"' not in html
    assert 'value="not an id!"' in field_html(html, "user_id")  # what was typed stays

    html = page(client, "/preview/", status=400, user_id="u1", n=0, category="no-such-category")
    assert_error_beside(html, "n", "greater than or equal to 1")
    assert_error_beside(html, "category", "Select a valid choice")

    assert_error_beside(page(client, "/preview/", status=400, user_id="  "), "user_id", "This field is required.")
    assert_error_beside(page(client, "/preview/items/", status=400, item_id="a b"), "item_id", "is not a valid id")
    on_item_page = page(client, "/preview/items/bad%20id/", status=400)
    assert_error_beside(on_item_page, "item_id", "is not a valid id")
    assert 'id="similar"' not in on_item_page


def test_the_tenants_own_id_rules_apply(shop_with_model):
    tenant = shop_with_model.tenant
    tenant.user_id_pattern = r"^u[0-9]{1,3}$"
    tenant.item_id_pattern = r"^i[0-9]+$"
    tenant.save()
    client = browser(shop_with_model)
    assert_error_beside(page(client, "/preview/", status=400, user_id="x1"), "user_id", "does not match the id pattern")
    assert_error_beside(page(client, "/preview/items/I-1/", status=400), "item_id", "does not match the id pattern")
    assert "strategy: neumf" in page(client, "/preview/", user_id="u1")


def test_everything_shown_is_escaped(tenant_a):
    tenant = tenant_a.tenant
    evil = Item.objects.create(
        tenant=tenant,
        external_id="evil",
        name='<script>alert("name")</script>',
        main_category="<b>bold</b>",
        image="javascript:alert(1)",
        link="javascript:alert(2)",
        price=1.0,
    )
    Event.objects.create(tenant=tenant, user_id="fan", event_type="purchase", item=evil, timestamp=timezone.now())
    client = browser(tenant_a)
    for html in (page(client, "/preview/", user_id="newcomer"), page(client, "/preview/items/evil/")):
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;" in html
        assert "<b>bold</b>" not in html
        assert "&lt;b&gt;bold&lt;/b&gt;" in html
        assert "javascript:" not in html  # neither a picture nor a link
    bad = page(client, "/preview/", status=400, user_id='"><img src=x onerror=alert(3)>')
    assert "<img src=x" not in bad
    assert "&lt;img src=x onerror=alert(3)&gt;" in bad
    assert "<svg" not in page(client, "/preview/items/%3Csvg%20onload=alert(4)%3E/", status=400)


def test_the_preview_records_no_events(shop_with_model):
    before = Event.objects.count()
    client = browser(shop_with_model)
    page(client, "/preview/", user_id="u1")
    page(client, "/preview/items/i1/")
    assert Event.objects.count() == before


# --- the settings section -------------------------------------------------------------------------------


def settings_form(**changes) -> dict:
    data = {
        "seen_event_types": ["purchase", "add_to_cart"],
        "trending_decay_per_hour": 0.9,
        "similar_embedding_weight": 0.7,
        "result_cache_seconds": 30,
        "home_weight_click": 2,
        "home_weight_search": 1,
        "home_weight_diverse": 1,
        "home_inactive_days": 14,
        "synonyms": "Earbuds: earphones, In-Ear\r\n\r\nlaptop : notebook\r\n",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_settings_page_has_the_recommendations_section_between_training_and_shop(tenant_a):
    html = page(browser(tenant_a), "/settings/")
    assert html.index('id="training"') < html.index('id="recommendations"') < html.index('id="shop"')
    assert '<a href="#recommendations">' in html
    recommendations = section(html, "recommendations")
    assert 'action="/settings/recommendations/"' in recommendations
    for name in ("view", "click", "add_to_cart", "purchase", "rating", "like"):
        assert re.search(rf'<input type="checkbox" name="seen_event_types" value="{name}"[^>]*checked', recommendations)
    assert 'value="search"' not in recommendations
    assert 'name="trending_decay_per_hour" value="0.95"' in recommendations
    assert 'name="home_weight_click" value="0.5"' in recommendations
    assert 'name="home_inactive_days" value="30"' in recommendations
    assert "<textarea" in field_html(recommendations, "synonyms")
    assert browser(tenant_a).get("/settings/recommendations/")["Location"] == "/settings/#recommendations"


def test_recommendation_settings_save_and_take_effect(tenant_a):
    client = browser(tenant_a)
    response = client.post("/settings/recommendations/", settings_form())
    assert response.status_code == 302
    assert response["Location"] == "/settings/#recommendations"
    saved = RecommendationSettings.objects.get(tenant=tenant_a.tenant)
    assert saved.seen_event_types == ["add_to_cart", "purchase"]
    assert saved.trending_decay_per_hour == 0.9
    assert saved.similar_embedding_weight == 0.7
    assert saved.result_cache_seconds == 30
    assert saved.home_inactive_days == 14
    assert saved.home_weights == {"click": 0.5, "search": 0.25, "diverse": 0.25}
    assert saved.synonyms == {"earbuds": ["earphones", "in-ear"], "laptop": ["notebook"]}

    html = client.get("/settings/").content.decode()
    assert "Recommendation settings saved." in html
    assert "earbuds: earphones, in-ear\nlaptop: notebook</textarea>" in html
    assert not re.search(r'name="seen_event_types" value="view"[^>]*checked', html)
    # search uses the synonyms at once
    tenant_a.client.put("/api/v1/items/E1", {"name": "Bluetooth earphones"}, format="json")
    body = tenant_a.client.get("/api/v1/search", {"q": "earbuds"}).json()
    assert "earphones" in body["expanded_terms"]
    assert [item["id"] for item in body["results"]] == ["E1"]

    # nothing ticked: no event type makes an item seen; an empty textarea clears the synonyms
    cleared = client.post("/settings/recommendations/", settings_form(seen_event_types=None, synonyms=""))
    assert cleared.status_code == 302
    saved.refresh_from_db()
    assert (saved.seen_event_types, saved.synonyms) == ([], {})


def test_recommendation_settings_errors_are_shown_beside_their_fields(tenant_a):
    client = browser(tenant_a)
    response = client.post(
        "/settings/recommendations/",
        settings_form(
            trending_decay_per_hour=2,
            similar_embedding_weight=-0.1,
            result_cache_seconds="soon",
            home_inactive_days=0,
            synonyms="earbuds: earphones\nheadphones earphones",
            seen_event_types=["purchase", "search"],
        ),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="training"' in html  # the whole settings page, with the errors in this section
    assert 'id="shop"' in html
    assert_error_beside(html, "trending_decay_per_hour", "less than or equal to 1.0")
    assert_error_beside(html, "similar_embedding_weight", "greater than or equal to 0.0")
    assert_error_beside(html, "result_cache_seconds", "Enter a whole number.")
    assert_error_beside(html, "home_inactive_days", "greater than or equal to 1")
    assert_error_beside(html, "synonyms", "Line 2: write a term, a colon and its synonyms")
    assert 'value="soon"' in html  # what was typed stays
    seen = re.search(
        r'<div class="field has-error">(?:(?!<div class="field).)*?name="seen_event_types"'
        r'(?:(?!<div class="field).)*?<small class="error" role="alert">(.*?)</small>',
        html,
        re.S,
    )
    assert seen
    assert seen.group(1) == "Select a valid choice. search is not one of the available choices."

    repeated = client.post("/settings/recommendations/", settings_form(synonyms="tv: television\nTV: telly"))
    assert_error_beside(repeated.content.decode(), "synonyms", "Line 2: “tv” is already on line 1.")
    empty = client.post("/settings/recommendations/", settings_form(synonyms="tv:"))
    assert_error_beside(empty.content.decode(), "synonyms", "Line 1: “tv” has no synonyms after the colon.")

    zero = client.post(
        "/settings/recommendations/", settings_form(home_weight_click=0, home_weight_search=0, home_weight_diverse=0)
    )
    assert zero.status_code == 400
    home = re.search(r"<legend>Home page</legend>.*?</fieldset>", zero.content.decode(), re.S).group(0)
    assert "At least one home share must be above 0." in home
    assert not RecommendationSettings.objects.filter(tenant=tenant_a.tenant, trending_decay_per_hour=2).exists()
    saved = RecommendationSettings.objects.filter(tenant=tenant_a.tenant).first()
    assert saved is None or saved.synonyms == {}


def test_a_service_refusal_lands_beside_its_field(tenant_a, monkeypatch):
    from recommendations import views
    from recsys_site.errors import ValidationFailed

    def refuse(*, tenant, data):
        raise ValidationFailed("Synonym terms are at most 100 characters, 50 per term.", code="invalid_synonyms")

    monkeypatch.setattr(views, "recommendation_settings_update", refuse)
    response = browser(tenant_a).post("/settings/recommendations/", settings_form())
    assert response.status_code == 400
    assert_error_beside(response.content.decode(), "synonyms", "at most 100 characters")
