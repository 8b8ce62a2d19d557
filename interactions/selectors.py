"""Reads of interaction data."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Tenant
from recsys_site.errors import NotFound

from .models import Event, InteractionImport


def user_events(*, tenant: Tenant, user_id: str, days: int) -> QuerySet[Event]:
    since = timezone.now() - timedelta(days=days)
    return (
        Event.objects.filter(tenant=tenant, user_id=user_id, timestamp__gte=since)
        .select_related("item")
        .order_by("-timestamp", "-id")
    )


def most_active_users(*, tenant: Tenant, limit: int = 6, recent_events: int = 20_000) -> list[tuple[str, int]]:
    """The users with the most events among the tenant's latest `recent_events`, as (user_id, events), busiest first.

    Looking at recent events only keeps this one index scan of bounded size, whatever the tenant's history.
    """
    latest = (
        Event.objects.filter(tenant=tenant).order_by("-timestamp").values_list("user_id", flat=True)[:recent_events]
    )
    counts = Counter(latest)
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:limit]


def interaction_import_list(*, tenant: Tenant) -> QuerySet[InteractionImport]:
    return InteractionImport.objects.filter(tenant=tenant).order_by("-created_at", "-id")


def interaction_import_get(*, tenant: Tenant, import_id: int) -> InteractionImport:
    job = InteractionImport.objects.filter(tenant=tenant, pk=import_id).first()
    if job is None:
        raise NotFound("No such interactions import.", code="import_not_found")
    return job
