"""The home-page mix: personalized, trending, best value, top categories and diverse picks.

`personalized` blends three sources by the tenant's `home_weights` (click 0.5, search 0.4, diverse 0.1):
- click-based: the model's recommendations for the user (or, if the model does not know them, the items
  most similar to what they recently viewed/clicked/bought);
- search-based: the best matches of the user's recent searches;
- diverse: popular items from categories the other picks do not cover.
A share a source cannot fill goes to the others. `personalized` is empty for a user without events or
whose last event is `home_inactive_days` (30) days old or more.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from django.utils import timezone

from .catalog_view import CatalogView, catalog_view
from .history import user_history
from .personalized import Request, recommend
from .popularity import popularity, trending_scores
from .rules import Filters, eligible, top_positions
from .search import expand, relevance
from .tenant_settings import recommendation_settings_for

TOP_CATEGORIES = 3
PER_CATEGORY = 10


def _shares(limit: int, weights: dict[str, float]) -> dict[str, int]:
    raw = {name: limit * weights.get(name, 0.0) for name in ("click", "search", "diverse")}
    shares = {name: int(value) for name, value in raw.items()}
    for name in sorted(raw, key=lambda k: raw[k] - shares[k], reverse=True)[: limit - sum(shares.values())]:
        shares[name] += 1
    return shares


def _click_based(tenant_id: int, user_id: str, n: int, catalog: CatalogView, mask: np.ndarray) -> list[int]:
    answer = recommend(tenant_id=tenant_id, request=Request(user_id=user_id, n=n * 2))
    if answer["strategy"].startswith("neumf"):
        positions = catalog.positions([item["id"] for item in answer["items"] if item["reason"] != "popular"])
        return [p for p in positions.tolist() if p >= 0 and mask[p]][:n]
    history = user_history(tenant_id=tenant_id, user_id=user_id)
    recent = catalog.positions_of_pks(history.recent_items(5))
    scores = np.zeros(len(catalog))
    index = catalog.text_index()
    for position in recent[recent >= 0].tolist():
        scores += index.similar_to(position)
    return top_positions(scores, mask & (scores > 0), n).tolist()


def _search_based(tenant_id: int, user_id: str, n: int, catalog: CatalogView, mask: np.ndarray) -> list[int]:
    queries = user_history(tenant_id=tenant_id, user_id=user_id).queries[:3]
    if not queries:
        return []
    synonyms = recommendation_settings_for(tenant_id=tenant_id).synonyms
    scores = np.zeros(len(catalog))
    for query in queries:
        scores += relevance(catalog, expand(query, synonyms))
    return top_positions(scores, mask & (scores > 0), n).tolist()


def _diverse(catalog: CatalogView, n: int, mask: np.ndarray, avoid: set[str], pop: np.ndarray) -> list[int]:
    """The most popular eligible item of each category, categories by popularity, skipping `avoid`."""
    codes = catalog.category_codes
    skip = [code for code in (catalog.category_code(c) for c in {*avoid, ""}) if code >= 0]
    eligible = np.flatnonzero(mask & ~np.isin(codes, skip))
    order = eligible[np.lexsort((eligible, -pop[eligible]))]
    _, first = np.unique(codes[order], return_index=True)
    return order[np.sort(first)][:n].tolist()


def _personalized(tenant_id: int, user_id: str, limit: int, catalog: CatalogView, pop: np.ndarray) -> list[dict]:
    settings = recommendation_settings_for(tenant_id=tenant_id)
    history = user_history(tenant_id=tenant_id, user_id=user_id)
    stale = timezone.now() - timedelta(days=settings.home_inactive_days)
    if history.last_event_at is None or history.last_event_at <= stale:
        return []
    mask = eligible(catalog, Filters(), drop_pks=history.seen(settings.seen_event_types))
    shares = _shares(limit, settings.home_weights)
    chosen: list[tuple[int, str]] = []

    def take(positions: list[int], reason: str, n: int) -> None:
        for position in positions[:n]:
            if mask[position]:
                chosen.append((position, reason))
                mask[position] = False

    take(_click_based(tenant_id, user_id, limit, catalog, mask), "click_based", shares["click"])
    take(_search_based(tenant_id, user_id, limit, catalog, mask), "search_based", shares["search"])
    covered = {catalog.main_category[p] for p, _ in chosen}
    take(_diverse(catalog, limit, mask, covered, pop), "diverse", limit - len(chosen) if shares["diverse"] else 0)
    if len(chosen) < limit:  # a source came up short: the others fill in
        take(_click_based(tenant_id, user_id, limit * 2, catalog, mask), "click_based", limit - len(chosen))
        take(_diverse(catalog, limit, mask, set(), pop), "diverse", limit - len(chosen))
    scores = {p: float(limit - rank) / limit for rank, (p, _) in enumerate(chosen)}
    return [catalog.item(p, score=scores[p], reason=reason) for p, reason in chosen]


def home(*, tenant_id: int, user_id: str, limit: int) -> dict:
    catalog = catalog_view(tenant_id=tenant_id)
    pop = popularity(catalog=catalog).popular
    active = eligible(catalog, Filters())
    trending = trending_scores(catalog=catalog)
    value = np.where(np.isnan(catalog.discount), 0.0, catalog.discount) * np.where(
        np.isnan(catalog.rating), 0.8, catalog.rating / 5.0
    )
    sums = np.bincount(catalog.category_codes, weights=pop, minlength=len(catalog.categories))
    ranked = sorted(range(len(sums)), key=lambda code: (-sums[code], catalog.categories[code]))
    top_categories = [catalog.categories[code] for code in ranked if catalog.categories[code]][:TOP_CATEGORIES]
    by_category = {}
    for category in top_categories:
        positions = top_positions(pop, active & (catalog.main_category == category), min(limit, PER_CATEGORY))
        if len(positions):
            display = catalog.payload[positions[0]]["main_category"]
            by_category[display] = [catalog.item(p, score=pop[p], reason=f"popular_in:{display}") for p in positions]
    return {
        "user_id": user_id,
        "personalized": _personalized(tenant_id, user_id, limit, catalog, pop),
        "trending": [
            catalog.item(p, score=trending[p], reason="trending")
            for p in top_positions(trending, active & (trending > 0), limit).tolist()
        ],
        "best_value": [
            catalog.item(p, score=value[p], reason="best_value")
            for p in top_positions(value, active & (value > 0), limit).tolist()
        ],
        "top_categories": by_category,
        "diverse_picks": [
            catalog.item(p, score=pop[p], reason="diverse") for p in _diverse(catalog, limit, active, set(), pop)
        ],
    }
