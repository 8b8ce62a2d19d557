"""Personalised top-N: candidates -> NeuMF ranking -> business rules -> popularity fill.

1. Candidates: every item for catalogs up to `SERVING_FULL_SCORING_MAX_ITEMS`; beyond that, the few
   hundred items nearest to the user in the model's embedding space (a dot product), re-ranked exactly.
2. Ranking: the active NeuMF model, from exported weights with NumPy.
3. Rules: inactive items never; the caller's category/price/exclude filters; items the user has seen
   (the tenant chooses which event types count) out when `exclude_seen` is on.
4. Fill: a short list is completed from popularity and flagged `fallback_used`. An unknown user (or
   one erased after the model was trained, or a tenant with no model) gets popular items only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.conf import settings

from interactions.models import UserErasure

from . import freshness
from .catalog_view import CatalogView, catalog_view
from .history import UserHistory, user_history
from .local_cache import VersionedLRU
from .popularity import popularity
from .rules import Filters, eligible, top_positions
from .serving_model import ServingModel, active_model
from .tenant_settings import recommendation_settings_for

RECENT_FOR_REASONS = 5
NO_FILTERS = Filters()


@dataclass(frozen=True)
class Request:
    user_id: str
    n: int = 10
    filters: Filters = NO_FILTERS
    exclude_seen: bool = True


_erasures: VersionedLRU[dict] = VersionedLRU(max_bytes=64 * 1024 * 1024)


def _erased_after_training(tenant_id: int, user_id: str, model: ServingModel) -> bool:
    """True for a user erased after the model's data: the model must not serve them (until retrained)."""
    erased = _erasures.get(
        tenant_id,
        current_version=lambda: freshness.events_version(tenant_id=tenant_id),
        build=lambda version: dict(UserErasure.objects.filter(tenant_id=tenant_id).values_list("user_id", "erased_at")),
        size=lambda value: 200 * len(value) + 100,
    )
    erased_at = erased.get(user_id)
    return erased_at is not None and (model.version.trained_at is None or erased_at >= model.version.trained_at)


def _candidates(model: ServingModel, user: int, to_catalog: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Model item indices worth scoring for this user."""
    usable = np.flatnonzero((to_catalog >= 0) & mask[np.maximum(to_catalog, 0)])
    limit = settings.SERVING_RETRIEVAL_CANDIDATES
    if len(usable) <= settings.SERVING_FULL_SCORING_MAX_ITEMS or len(usable) <= limit:
        return usable
    # Score every item and select after: indexing item_vectors first would copy the whole table (100 MB for
    # 100,000 items x 256 factors) on every request.
    approx = (model.item_vectors @ model.scorer.user_vector(user))[usable]
    return usable[np.argpartition(-approx, limit - 1)[:limit]]


def _reasons(
    model: ServingModel, catalog: CatalogView, to_model: np.ndarray, positions: np.ndarray, history: UserHistory
) -> list[str]:
    """`similar_to_recent:<item>`: the user's recent item closest to each recommendation in embedding space."""
    recent = catalog.positions_of_pks(history.recent_items(RECENT_FOR_REASONS))
    recent = recent[(recent >= 0) & (to_model[np.maximum(recent, 0)] >= 0)] if len(recent) else recent
    if not len(recent):
        return ["personalized"] * len(positions)
    recent_vectors = model.item_vectors[to_model[recent]]
    vectors = model.item_vectors[to_model[positions]]
    closest = np.argmax(vectors @ recent_vectors.T, axis=1)
    return [f"similar_to_recent:{catalog.external_ids[recent[j]]}" for j in closest]


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n highest scores, best first."""
    if len(scores) > n:
        part = np.argpartition(-scores, n - 1)[:n]
        return part[np.argsort(-scores[part], kind="stable")]
    return np.argsort(-scores, kind="stable")


def popular_fill(
    catalog: CatalogView, mask: np.ndarray, n: int, filters: Filters
) -> tuple[np.ndarray, np.ndarray, str]:
    pop = popularity(catalog=catalog).popular
    positions = top_positions(pop, mask, n)
    reason = f"popular_in:{filters.category}" if filters.category else "popular"
    return positions, pop[positions], reason


def recommend(*, tenant_id: int, request: Request) -> dict:
    catalog = catalog_view(tenant_id=tenant_id)
    model = active_model(tenant_id=tenant_id)
    history = user_history(tenant_id=tenant_id, user_id=request.user_id)
    seen = None
    if request.exclude_seen:
        seen = history.seen(recommendation_settings_for(tenant_id=tenant_id).seen_event_types)
    mask = eligible(catalog, request.filters, drop_pks=seen)
    items: list[dict] = []
    strategy = "popular"
    known_user = (
        model is not None
        and request.user_id in model.user_index
        and not _erased_after_training(tenant_id, request.user_id, model)
    )
    if known_user:
        user = model.user_index[request.user_id]
        to_catalog, to_model = model.catalog_maps(catalog)
        candidates = _candidates(model, user, to_catalog, mask)
        if len(candidates):
            if len(candidates) * 2 > len(to_catalog):
                # Most items are candidates: the all-items path (precomputed tables) is the faster one.
                scores = model.scorer.score_items(user)[candidates]
            else:
                scores = model.scorer.score_items(user, candidates)
            best = _top(scores, request.n)
            positions = to_catalog[candidates[best]]
            reasons = _reasons(model, catalog, to_model, positions, history)
            items = [
                catalog.item(p, score=s, reason=r)
                for p, s, r in zip(positions.tolist(), scores[best].tolist(), reasons, strict=True)
            ]
            mask[positions] = False
        strategy = "neumf"
    fallback_used = len(items) < request.n
    if fallback_used:
        positions, scores, reason = popular_fill(catalog, mask, request.n - len(items), request.filters)
        items += [
            catalog.item(p, score=s, reason=reason) for p, s in zip(positions.tolist(), scores.tolist(), strict=True)
        ]
        if strategy == "neumf":
            strategy = "neumf+popular"
    return {
        "user_id": request.user_id,
        "items": items,
        "model_version": model.version.version if model is not None else None,
        "strategy": strategy,
        "fallback_used": fallback_used,
    }
