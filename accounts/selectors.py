"""Reads for accounts, tenants and API keys."""

from __future__ import annotations

import functools
import re

from django.db.models import QuerySet

from .models import ApiKey, Membership, Tenant, User

SESSION_TENANT_KEY = "tenant_id"


def membership_for_user(*, user: User, tenant_slug: str | None = None, tenant_id: int | None = None):
    """The account's membership for the tenant asked for, else its first one; None if it has none."""
    if not user or not user.is_authenticated or not getattr(user, "pk", None):
        return None
    memberships = Membership.objects.select_related("tenant").filter(user=user, tenant__is_active=True)
    if tenant_slug:
        return memberships.filter(tenant__slug=tenant_slug).first()
    if tenant_id:
        chosen = memberships.filter(tenant_id=tenant_id).first()
        if chosen:
            return chosen
    return memberships.first()


def membership_for_request(request) -> Membership | None:
    """The membership a web or JWT request acts through (cached on the request)."""
    if hasattr(request, "_membership"):
        return request._membership
    user = getattr(request, "user", None)
    membership = None
    if user is not None and user.is_authenticated and getattr(user, "pk", None):
        slug = request.headers.get("X-Tenant") if hasattr(request, "headers") else None
        session = getattr(request, "session", None)
        tenant_id = session.get(SESSION_TENANT_KEY) if session is not None else None
        membership = membership_for_user(user=user, tenant_slug=slug, tenant_id=tenant_id)
    request._membership = membership
    return membership


def memberships_of(*, user: User) -> QuerySet[Membership]:
    return Membership.objects.select_related("tenant").filter(user=user, tenant__is_active=True)


def api_key_list(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(tenant=tenant).order_by("-created_at", "-id")


def tenant_usage(*, tenant: Tenant) -> dict:
    """Counts shown on the dashboard and by `GET /api/v1/tenant`."""
    from datetime import timedelta

    from django.utils import timezone

    from catalog.models import Item
    from interactions.models import Event
    from training.selectors import active_model_version

    events = Event.objects.filter(tenant=tenant)
    since = timezone.now() - timedelta(hours=24)
    active = active_model_version(tenant=tenant)
    return {
        "items": Item.objects.filter(tenant=tenant, is_active=True).count(),
        "users": events.values("user_id").distinct().count(),
        "events": events.count(),
        "events_last_24h": events.filter(timestamp__gte=since).count(),
        "active_model": active,
    }


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    from interactions.rules import compile_id_pattern

    return compile_id_pattern(pattern)


def user_id_pattern(tenant: Tenant) -> re.Pattern[str] | None:
    """The tenant's compiled user-id rule; None means the default rule."""
    return _compiled(tenant.user_id_pattern) if tenant.user_id_pattern else None


def item_id_pattern(tenant: Tenant) -> re.Pattern[str] | None:
    return _compiled(tenant.item_id_pattern) if tenant.item_id_pattern else None
