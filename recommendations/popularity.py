"""Popular and trending items.

*Popular*: every event of an item, weighted by the tenant's event weights (all time).
*Trending*: the same counts decayed by `trending_decay_per_hour` (0.95 by default) for each hour of age,
measured from the tenant's newest event (so a shop whose data stops, or a historical import, still has
a trend). A snapshot is computed hourly by beat and after each import; events newer than the snapshot
are added when read (re-read at most every 30 seconds), so a new event moves trending within a minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max
from django.db.models.functions import TruncHour
from django.utils import timezone

from accounts.models import Tenant
from interactions.models import Event
from recsys_site import hotcache

from . import freshness
from .catalog_view import CatalogView
from .local_cache import VersionedLRU
from .models import PopularitySnapshot
from .tenant_settings import event_weights_for, recommendation_settings_for

TRENDING_WINDOW = timedelta(days=14)


def compute_snapshot(*, tenant: Tenant) -> PopularitySnapshot:
    weights = event_weights_for(tenant_id=tenant.pk)
    decay = recommendation_settings_for(tenant_id=tenant.pk).trending_decay_per_hour
    events = Event.objects.filter(tenant=tenant, item__isnull=False)
    stats = events.aggregate(anchor=Max("timestamp"), last=Max("id"))
    popular: dict[int, float] = {}
    for item_pk, event_type, count in events.values_list("item_id", "event_type").annotate(n=Count("id")).order_by():
        popular[item_pk] = popular.get(item_pk, 0.0) + weights.get(event_type, 0.0) * count
    trending: dict[int, float] = {}
    anchor = stats["anchor"]
    if anchor is not None:
        recent = (
            events.filter(timestamp__gte=anchor - TRENDING_WINDOW)
            .annotate(hour=TruncHour("timestamp"))
            .values_list("item_id", "event_type", "hour")
            .annotate(n=Count("id"))
            .order_by()
        )
        for item_pk, event_type, hour, count in recent:
            age = max(0.0, (anchor - hour).total_seconds() / 3600.0)
            trending[item_pk] = trending.get(item_pk, 0.0) + weights.get(event_type, 0.0) * count * decay**age
    pks = sorted(pk for pk, score in popular.items() if score > 0)
    with transaction.atomic():
        snapshot, _ = PopularitySnapshot.objects.update_or_create(
            tenant=tenant,
            defaults={
                "computed_at": timezone.now(),
                "anchor": anchor,
                "last_event_id": stats["last"] or 0,
                "item_pks": pks,
                "popular": [round(popular[pk], 6) for pk in pks],
                "trending": [round(trending.get(pk, 0.0), 6) for pk in pks],
            },
        )
        transaction.on_commit(lambda: freshness.popularity_refreshed(tenant_id=tenant.pk))
    return snapshot


@dataclass
class Popularity:
    """Scores aligned with catalog positions (0 for items without events)."""

    popular: np.ndarray
    trending: np.ndarray
    snapshot_id: int | None
    anchor: object
    last_event_id: int
    catalog_size: int


def _snapshot(tenant_id: int) -> PopularitySnapshot | None:
    snapshot = PopularitySnapshot.objects.filter(tenant_id=tenant_id).first()
    if snapshot is None and Event.objects.filter(tenant_id=tenant_id).exists():
        snapshot = compute_snapshot(tenant=Tenant.objects.get(pk=tenant_id))
    return snapshot


def _build(tenant_id: int, catalog: CatalogView) -> Popularity:
    snapshot = _snapshot(tenant_id)
    popular = np.zeros(len(catalog), dtype=np.float64)
    trending = np.zeros(len(catalog), dtype=np.float64)
    if snapshot is None:
        return Popularity(popular, trending, None, None, 0, len(catalog))
    positions = catalog.positions_of_pks(snapshot.item_pks)
    known = positions >= 0
    popular[positions[known]] = np.asarray(snapshot.popular, dtype=np.float64)[known]
    trending[positions[known]] = np.asarray(snapshot.trending, dtype=np.float64)[known]
    return Popularity(popular, trending, snapshot.pk, snapshot.anchor, snapshot.last_event_id, len(catalog))


_views: VersionedLRU[Popularity] = VersionedLRU(max_bytes=256 * 1024 * 1024)


def popularity(*, catalog: CatalogView) -> Popularity:
    tenant_id = catalog.tenant_id
    return _views.get(
        tenant_id,
        current_version=lambda: (freshness.popularity_version(tenant_id=tenant_id), len(catalog)),
        build=lambda version: _build(tenant_id, catalog),
        size=lambda view: view.popular.nbytes * 2,
    )


def _live_events(tenant_id: int, pop: Popularity) -> list[tuple[int, str, float]]:
    """(item pk, event type, epoch seconds) of events newer than the snapshot, cached for 30 s."""
    cache_key = f"trending-live:{tenant_id}:{pop.snapshot_id}"
    rows = hotcache.get(cache_key) if settings.SERVING_TRENDING_LIVE_SECONDS else None
    if rows is None:
        rows = [
            (item_pk, event_type, ts.timestamp())
            for item_pk, event_type, ts in Event.objects.filter(
                tenant_id=tenant_id, item__isnull=False, id__gt=pop.last_event_id, timestamp__gt=pop.anchor
            ).values_list("item_id", "event_type", "timestamp")[:100_000]
        ]
        hotcache.set_value(cache_key, rows, settings.SERVING_TRENDING_LIVE_SECONDS)
    return rows


def trending_scores(*, catalog: CatalogView) -> np.ndarray:
    """Trending score per catalog position, the snapshot plus events since."""
    pop = popularity(catalog=catalog)
    if pop.anchor is None:
        return pop.trending
    live = _live_events(catalog.tenant_id, pop)
    if not live:
        return pop.trending
    weights = event_weights_for(tenant_id=catalog.tenant_id)
    decay = recommendation_settings_for(tenant_id=catalog.tenant_id).trending_decay_per_hour
    anchor = pop.anchor.timestamp()
    newest = max(anchor, max(ts for _, _, ts in live))
    # Everything is re-anchored at the newest event: the snapshot ages by the time elapsed since its anchor.
    scores = pop.trending * decay ** ((newest - anchor) / 3600.0)
    positions = catalog.positions_of_pks([pk for pk, _, _ in live])
    for position, (_, event_type, ts) in zip(positions.tolist(), live, strict=True):
        if position >= 0:
            scores[position] += weights.get(event_type, 0.0) * decay ** ((newest - ts) / 3600.0)
    return scores


def trending(*, tenant_id: int, n: int, category: str | None = None) -> dict:
    """The trending endpoint's answer; filled from all-time popularity when too few items trend."""
    from .catalog_view import catalog_view
    from .rules import Filters, eligible, top_positions
    from .tenant_settings import recommendation_settings_for

    catalog = catalog_view(tenant_id=tenant_id)
    scores = trending_scores(catalog=catalog)
    mask = eligible(catalog, Filters(category=category))
    positions = top_positions(scores, mask & (scores > 0), n)
    items = [catalog.item(p, score=scores[p], reason="trending") for p in positions.tolist()]
    fallback_used = len(items) < n
    if fallback_used:
        mask[positions] = False
        pop = popularity(catalog=catalog).popular
        reason = f"popular_in:{category}" if category else "popular"
        more = top_positions(pop, mask, n - len(items))
        items += [catalog.item(p, score=0.0, reason=reason) for p in more.tolist()]
    return {
        "category": category,
        "decay_per_hour": recommendation_settings_for(tenant_id=tenant_id).trending_decay_per_hour,
        "items": items,
        "fallback_used": fallback_used,
    }
