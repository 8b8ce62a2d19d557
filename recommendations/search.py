"""Search over the catalog: synonym expansion, TF-IDF relevance, popularity, and the user's history.

score = relevance * (1 + 0.3 * popularity + 0.2 * affinity), where relevance is the TF-IDF cosine of the
expanded query with the item's name and categories, popularity is the item's log-scaled popularity in
[0, 1], and affinity (only with `user_id`) is the share of the user's recent items in the item's main
category. Synonyms are the tenant's list, applied both ways (earbuds -> earphones and back). No match
falls back to trending items with `fallback_reason: "no_search_matches"`.
"""

from __future__ import annotations

import numpy as np

from interactions.rules import validate_query

from .catalog_view import CatalogView, catalog_view
from .history import user_history
from .popularity import popularity, trending_scores
from .rules import Filters, eligible, top_positions
from .tenant_settings import recommendation_settings_for
from .text import fold, tokenize

POPULARITY_BOOST = 0.3
AFFINITY_BOOST = 0.2


def expand(query: str, synonyms: dict[str, list[str]]) -> list[str]:
    """The query, then synonyms of the whole query and of each word (both directions), without repeats."""
    both: dict[str, set[str]] = {}
    for term, alternatives in synonyms.items():
        for alternative in alternatives:
            both.setdefault(term, set()).add(alternative)
            both.setdefault(alternative, set()).add(term)
    folded = {fold(key): values for key, values in both.items()}
    terms = [query.lower()]
    for word in [query.lower(), *query.lower().split(), *tokenize(query)]:
        for alternative in sorted(both.get(word, set()) | folded.get(fold(word), set())):
            if alternative not in terms:
                terms.append(alternative)
    return terms


def _normalised(values: np.ndarray) -> np.ndarray:
    logged = np.log1p(np.maximum(values, 0))
    top = logged.max() if len(logged) else 0
    return logged / top if top > 0 else logged


def _affinity(catalog: CatalogView, tenant_id: int, user_id: str) -> np.ndarray:
    history = user_history(tenant_id=tenant_id, user_id=user_id)
    recent = catalog.positions_of_pks(history.recent_items(50))
    recent = recent[recent >= 0]
    affinity = np.zeros(len(catalog), dtype=np.float64)
    if not len(recent):
        return affinity
    categories, counts = np.unique(catalog.main_category[recent], return_counts=True)
    for category, count in zip(categories.tolist(), counts.tolist(), strict=True):
        if category:
            affinity[catalog.main_category == category] = count / len(recent)
    return affinity


def relevance(catalog: CatalogView, terms: list[str]) -> np.ndarray:
    """TF-IDF cosine of the terms with each item (above 0 exactly for items sharing a word with them)."""
    return catalog.text_index().query(terms).astype(np.float64)


def search(*, tenant_id: int, q: str, limit: int, user_id: str | None = None) -> dict:
    query = validate_query(q)
    catalog = catalog_view(tenant_id=tenant_id)
    terms = expand(query, recommendation_settings_for(tenant_id=tenant_id).synonyms)
    scores = relevance(catalog, terms)
    mask = eligible(catalog, Filters()) & (scores > 0)
    body: dict = {"query": query, "expanded_terms": terms}
    if mask.any():
        boost = 1 + POPULARITY_BOOST * _normalised(popularity(catalog=catalog).popular)
        if user_id:
            boost += AFFINITY_BOOST * _affinity(catalog, tenant_id, user_id)
        scores = scores * boost
        positions = top_positions(scores, mask, limit)
        body["results"] = [catalog.item(p, score=scores[p], reason=f"matches:{query}") for p in positions.tolist()]
        return body
    trending = trending_scores(catalog=catalog)
    positions = top_positions(trending, eligible(catalog, Filters()), limit)
    body["results"] = [catalog.item(p, score=trending[p], reason="trending") for p in positions.tolist()]
    body["fallback_reason"] = "no_search_matches"
    return body
