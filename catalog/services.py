"""Writes to the catalog: single items from the API, batches from imports and events."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Tenant
from accounts.selectors import item_id_pattern
from interactions.rules import validate_id
from recommendations.freshness import catalog_changed
from recsys_site.errors import NotFound, ValidationFailed

from .models import Item
from .parsers.fields import FIELDS

# Fields an import or the API may set; `external_id` and `tenant` are the key.
ITEM_FIELDS = [name for name in FIELDS if name != "external_id"]


def clean_item_id(*, tenant: Tenant, value: Any, field: str = "item_id") -> str:
    """The item id if it follows the tenant's rule, else a 400 naming the field."""
    return validate_id(value, item_id_pattern(tenant), field=field)


def _derived_discount(fields: dict[str, Any]) -> None:
    price, original = fields.get("price"), fields.get("original_price")
    if fields.get("discount_ratio") is None and price is not None and original:
        fields["discount_ratio"] = round(max(0.0, 1.0 - price / original), 4)


@transaction.atomic
def item_upsert(*, tenant: Tenant, external_id: str, fields: dict[str, Any], partial: bool) -> tuple[Item, bool]:
    """Create or update one item. `partial` (PATCH) needs the item to exist and changes only given fields."""
    external_id = clean_item_id(tenant=tenant, value=external_id)
    item = Item.objects.select_for_update().filter(tenant=tenant, external_id=external_id).first()
    if item is None and partial:
        raise NotFound(f"No item with id {external_id!r}.", code="item_not_found", details={"item_id": external_id})
    created = item is None
    if created:
        item = Item(tenant=tenant, external_id=external_id)
    elif not partial:
        # PUT replaces: fields left out go back to their defaults.
        for name in ITEM_FIELDS:
            default = Item._meta.get_field(name).get_default()
            setattr(item, name, default)
    _derived_discount(fields)
    for name, value in fields.items():
        setattr(item, name, value)
    item.save()
    catalog_changed(tenant=tenant)
    return item, created


@transaction.atomic
def item_deactivate(*, tenant: Tenant, external_id: str) -> Item:
    item = Item.objects.select_for_update().filter(tenant=tenant, external_id=external_id).first()
    if item is None:
        raise NotFound(f"No item with id {external_id!r}.", code="item_not_found", details={"item_id": external_id})
    if item.is_active:
        item.is_active = False
        item.save(update_fields=["is_active", "updated_at"])
        catalog_changed(tenant=tenant)
    return item


def items_ensure(*, tenant: Tenant, external_ids: Iterable[str]) -> dict[str, int]:
    """Primary keys of the given items, creating bare (nameless) items for ids not in the catalog yet."""
    wanted = set(external_ids)
    if not wanted:
        return {}
    known = dict(Item.objects.filter(tenant=tenant, external_id__in=wanted).values_list("external_id", "pk").iterator())
    missing = wanted - known.keys()
    if missing:
        now = timezone.now()
        Item.objects.bulk_create(
            [Item(tenant=tenant, external_id=ext, created_at=now, updated_at=now) for ext in sorted(missing)],
            ignore_conflicts=True,
            batch_size=1000,
        )
        known.update(Item.objects.filter(tenant=tenant, external_id__in=missing).values_list("external_id", "pk"))
        catalog_changed(tenant=tenant)
    return known


def _none_if_nan(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    return value


def items_upsert_rows(*, tenant: Tenant, rows: list[dict[str, Any]], columns: Iterable[str]) -> tuple[int, int]:
    """Upsert a batch of parsed catalog rows (unique ids); only `columns` are written on existing items.

    Returns (created, updated).
    """
    if not rows:
        return 0, 0
    update_fields = [name for name in ITEM_FIELDS if name in set(columns)]
    ids = [row["external_id"] for row in rows]
    if len(set(ids)) != len(ids):
        raise ValueError("items_upsert_rows needs unique external ids within one batch")
    existing = Item.objects.filter(tenant=tenant, external_id__in=ids).count()
    now = timezone.now()
    objects = []
    for row in rows:
        fields = {name: _none_if_nan(row.get(name)) for name in update_fields}
        for name in ("tags", "attributes", "name", "main_category", "sub_category", "description", "image", "link"):
            if name in fields and fields[name] is None:
                fields[name] = Item._meta.get_field(name).get_default()
        if "is_active" in fields and fields["is_active"] is None:
            fields["is_active"] = True
        objects.append(Item(tenant=tenant, external_id=row["external_id"], created_at=now, updated_at=now, **fields))
    Item.objects.bulk_create(
        objects,
        update_conflicts=True,
        unique_fields=["tenant", "external_id"],
        update_fields=[*update_fields, "updated_at"],
        batch_size=1000,
    )
    return len(rows) - existing, existing


def item_fields_from_input(data: dict[str, Any]) -> dict[str, Any]:
    """Map the API's item fields (`reviews`) to model fields (`rating_count`)."""
    fields = dict(data)
    if "reviews" in fields:
        fields["rating_count"] = fields.pop("reviews")
    unknown = set(fields) - set(ITEM_FIELDS)
    if unknown:
        raise ValidationFailed("Unknown item fields.", details={name: ["Unknown field."] for name in sorted(unknown)})
    return fields
