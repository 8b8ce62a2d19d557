"""Beat and post-import refreshes of what serving precomputes."""

from __future__ import annotations

from celery import shared_task

from accounts.models import Tenant

from .associations import compute_associations
from .popularity import compute_snapshot


def _active_tenants():
    return Tenant.objects.filter(is_active=True)


@shared_task
def refresh_popularity(tenant_id: int) -> None:
    tenant = _active_tenants().filter(pk=tenant_id).first()
    if tenant is not None:
        compute_snapshot(tenant=tenant)


@shared_task
def refresh_associations(tenant_id: int) -> None:
    tenant = _active_tenants().filter(pk=tenant_id).first()
    if tenant is not None:
        compute_associations(tenant=tenant)


@shared_task
def refresh_all_popularity() -> None:
    """Hourly: one task per tenant that has events, so a big tenant does not hold up the others."""
    from interactions.models import Event

    for tenant_id in _active_tenants().values_list("pk", flat=True):
        if Event.objects.filter(tenant_id=tenant_id).exists():
            refresh_popularity.delay(tenant_id)


@shared_task
def refresh_all_associations() -> None:
    from interactions.models import Event

    for tenant_id in _active_tenants().values_list("pk", flat=True):
        if Event.objects.filter(tenant_id=tenant_id).exists():
            refresh_associations.delay(tenant_id)
