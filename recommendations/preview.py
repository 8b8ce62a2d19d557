"""What the preview pages show: a user's recommendations, an item's neighbours and trending, ready to display.

The pages call the same services as the API, without its result cache (a preview shows what would be
served now), and add what a person reads: the reason in words, the category path, whether the price
is discounted. Nothing here records an event.
"""

from __future__ import annotations

from typing import Any

from accounts.models import Tenant
from interactions.selectors import most_active_users
from recsys_site.errors import NotFound
from training.selectors import active_model_version

from . import associations, personalized, popularity, similar
from .catalog_view import CatalogView, catalog_view
from .rules import Filters

EXAMPLE_USERS = 6
TRENDING = 10
SIMILAR = 12
BOUGHT_TOGETHER = 8
MAX_CATEGORIES = 300


def _name_of(catalog: CatalogView, item_id: str) -> str:
    position = catalog.position_of_id.get(item_id)
    if position is None:
        return item_id
    return catalog.payload[position]["name"] or item_id


def reason_in_words(reason: str, *, catalog: CatalogView) -> str:
    """`similar_to_recent:i3` -> "Similar to Blue kettle, from their recent activity".

    Unknown reasons are shown as they are."""
    kind, _, subject = reason.partition(":")
    if kind == "similar_to_recent":
        return f"Similar to {_name_of(catalog, subject)}, from their recent activity"
    if kind == "similar_items":
        return f"Similar to {_name_of(catalog, subject)}"
    if kind == "similar_text":
        return f"Similar to {_name_of(catalog, subject)} by name and category"
    if kind == "bought_with":
        return f"Bought together with {_name_of(catalog, subject)}"
    if kind == "popular_in":
        return f"Popular in {subject}"
    if kind == "matches":
        return f"Matches “{subject}”"
    words = {
        "personalized": "Picked for this user by the model",
        "popular": "Popular",
        "trending": "Trending now",
        "best_value": "Good value",
        "diverse": "Something different",
    }
    return words.get(reason, reason)


def _http_url(value: Any) -> str:
    """Only http(s) addresses become pictures and links (never `javascript:` and the like)."""
    return value if isinstance(value, str) and value.lower().startswith(("http://", "https://")) else ""


def for_display(item: dict[str, Any], *, catalog: CatalogView) -> dict[str, Any]:
    """An item of a service answer with what the item cards show besides its fields."""
    price, original = item.get("price"), item.get("original_price")
    categories = [part for part in (item.get("main_category"), item.get("sub_category")) if part]
    return {
        **item,
        "image": _http_url(item.get("image")),
        "link": _http_url(item.get("link")),
        "category": " › ".join(categories),
        "discounted": price is not None and original is not None and original > price,
        "reason_text": reason_in_words(item.get("reason") or "", catalog=catalog),
    }


def categories(*, catalog: CatalogView) -> list[str]:
    """Display names of the categories of active items, alphabetically (at most MAX_CATEGORIES)."""
    names = {
        item["main_category"] or item["sub_category"]
        for item, active in zip(catalog.payload, catalog.active.tolist(), strict=True)
        if active
    }
    return sorted((name for name in names if name), key=str.lower)[:MAX_CATEGORIES]


def preview_overview(*, tenant: Tenant) -> dict[str, Any]:
    """The preview landing: trending items, example users, the category filter's choices, the empty states."""
    catalog = catalog_view(tenant_id=tenant.pk)
    answer = popularity.trending(tenant_id=tenant.pk, n=TRENDING) if len(catalog) else {"items": []}
    return {
        "items_total": int(catalog.active.sum()),
        "active_model": active_model_version(tenant=tenant),
        "categories": categories(catalog=catalog),
        "example_users": most_active_users(tenant=tenant, limit=EXAMPLE_USERS),
        "trending": [for_display(item, catalog=catalog) for item in answer["items"]],
    }


def user_recommendations(*, tenant: Tenant, user_id: str, n: int, category: str | None = None) -> dict[str, Any]:
    """`personalized.recommend` as the API answers it (seen items left out), with its items ready to display."""
    answer = personalized.recommend(
        tenant_id=tenant.pk,
        request=personalized.Request(user_id=user_id, n=n, filters=Filters(category=category or None)),
    )
    catalog = catalog_view(tenant_id=tenant.pk)
    return {**answer, "category": category, "items": [for_display(item, catalog=catalog) for item in answer["items"]]}


def item_neighbours(*, tenant: Tenant, item_id: str) -> dict[str, Any]:
    """One item, its similar items and its bought-together items (with support, confidence and lift).

    Raises NotFound for an id that is not in the tenant's catalog (another tenant's included).
    """
    catalog = catalog_view(tenant_id=tenant.pk)
    position = catalog.position_of_id.get(item_id)
    if position is None:
        raise NotFound(f"No item with id {item_id!r}.", code="item_not_found", details={"item_id": item_id})
    item = for_display(catalog.item(position, score=0.0, reason=""), catalog=catalog)
    item["is_active"] = bool(catalog.active[position])
    similar_answer = similar.similar_items(tenant_id=tenant.pk, item_id=item_id, n=SIMILAR)
    together = associations.bought_together(tenant_id=tenant.pk, item_id=item_id, n=BOUGHT_TOGETHER)
    return {
        "item": item,
        "similar": [for_display(entry, catalog=catalog) for entry in similar_answer["similar"]],
        "bought_together": [for_display(entry, catalog=catalog) for entry in together["items"]],
        "active_model": active_model_version(tenant=tenant),
    }
