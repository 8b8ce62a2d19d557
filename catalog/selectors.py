"""Reads of the catalog."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import Tenant
from recsys_site.errors import NotFound

from .models import CatalogImport, Item


def item_list(
    *, tenant: Tenant, category: str | None = None, search: str | None = None, include_inactive: bool = False
) -> QuerySet[Item]:
    items = Item.objects.filter(tenant=tenant)
    if not include_inactive:
        items = items.filter(is_active=True)
    if category:
        items = items.filter(Q(main_category__iexact=category) | Q(sub_category__iexact=category))
    if search:
        items = items.filter(Q(name__icontains=search) | Q(external_id__iexact=search))
    return items.order_by("external_id")


def item_get(*, tenant: Tenant, external_id: str) -> Item:
    item = Item.objects.filter(tenant=tenant, external_id=external_id).first()
    if item is None:
        raise NotFound(f"No item with id {external_id!r}.", code="item_not_found", details={"item_id": external_id})
    return item


def catalog_import_get(*, tenant: Tenant, import_id: int) -> CatalogImport:
    job = CatalogImport.objects.filter(tenant=tenant, pk=import_id).first()
    if job is None:
        raise NotFound("No such catalog import.", code="import_not_found")
    return job


def catalog_import_list(*, tenant: Tenant) -> QuerySet[CatalogImport]:
    return CatalogImport.objects.filter(tenant=tenant).order_by("-created_at", "-id")
