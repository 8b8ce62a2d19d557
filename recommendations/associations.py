"""Bought together: association rules mined with FP-Growth (mlxtend) over baskets, refreshed daily.

A basket is what one user bought or put in the cart on one day (UTC); a tenant without purchase or
cart events gets baskets of all its item events instead. Rules A -> B keep their support (share of
baskets with both), confidence (P(B | A)) and lift (confidence / P(B)); the 20 most confident per item
are stored and served from the database (one indexed query per request).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import scipy.sparse as sp
from django.db import transaction
from django.db.models.functions import TruncDate

from accounts.models import Tenant
from interactions.models import Event

from .catalog_view import catalog_view
from .models import ItemAssociation
from .rules import Filters, eligible

logger = logging.getLogger(__name__)

BASKET_TYPES = ("purchase", "add_to_cart")
MAX_BASKET = 50
RULES_PER_ITEM = 20
MIN_CONFIDENCE = 0.05


def _baskets(tenant: Tenant, event_types: tuple[str, ...] | None) -> pd.DataFrame:
    events = Event.objects.filter(tenant=tenant, item__isnull=False)
    if event_types:
        events = events.filter(event_type__in=event_types)
    rows = events.annotate(day=TruncDate("timestamp")).values_list("user_id", "day", "item_id").distinct()
    return pd.DataFrame.from_records(list(rows.iterator(chunk_size=20_000)), columns=["user_id", "day", "item"])


def compute_associations(*, tenant: Tenant) -> int:
    """Mine and store the tenant's rules; returns how many were stored."""
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    frame = _baskets(tenant, BASKET_TYPES)
    if frame.groupby(["user_id", "day"]).size().ge(2).sum() < 2:
        frame = _baskets(tenant, None)
    basket_ids, _ = pd.factorize(pd.MultiIndex.from_frame(frame[["user_id", "day"]]))
    sizes = np.bincount(basket_ids) if len(basket_ids) else np.zeros(0, dtype=int)
    keep = (sizes[basket_ids] >= 2) & (sizes[basket_ids] <= MAX_BASKET) if len(basket_ids) else np.zeros(0, bool)
    basket_ids, items = basket_ids[keep], frame["item"].to_numpy()[keep]
    stored: list[ItemAssociation] = []
    if len(basket_ids):
        basket_ids, _ = pd.factorize(basket_ids)
        item_codes, item_pks = pd.factorize(items)
        n_baskets = int(basket_ids.max()) + 1
        matrix = sp.csr_matrix(
            (np.ones(len(basket_ids), dtype=bool), (basket_ids, item_codes)), shape=(n_baskets, len(item_pks))
        )
        onehot = pd.DataFrame.sparse.from_spmatrix(matrix, columns=list(range(len(item_pks))))
        min_support = max(3 / n_baskets, 0.0005)
        frequent = fpgrowth(onehot, min_support=min_support, max_len=2)
        if (frequent["itemsets"].map(len) == 2).any():
            with np.errstate(invalid="ignore", divide="ignore"):  # mlxtend's extra metrics divide by zero
                rules = association_rules(frequent, metric="confidence", min_threshold=MIN_CONFIDENCE)
            rules = rules.assign(
                a=rules["antecedents"].map(lambda s: item_pks[next(iter(s))]),
                b=rules["consequents"].map(lambda s: item_pks[next(iter(s))]),
            ).sort_values(["a", "confidence", "lift"], ascending=[True, False, False])
            rules = rules.groupby("a", sort=False).head(RULES_PER_ITEM)
            stored = [
                ItemAssociation(
                    tenant=tenant,
                    antecedent_id=int(row.a),
                    consequent_id=int(row.b),
                    support=float(row.support),
                    confidence=float(row.confidence),
                    lift=float(row.lift),
                )
                for row in rules.itertuples(index=False)
            ]
    with transaction.atomic():
        ItemAssociation.objects.filter(tenant=tenant).delete()
        ItemAssociation.objects.bulk_create(stored, batch_size=2000)
    logger.info("tenant %s: %d association rules", tenant.slug, len(stored))
    return len(stored)


def bought_together(*, tenant_id: int, item_id: str, n: int) -> dict:
    from recsys_site.errors import NotFound

    catalog = catalog_view(tenant_id=tenant_id)
    position = catalog.position_of_id.get(item_id)
    if position is None:
        raise NotFound(f"No item with id {item_id!r}.", code="item_not_found", details={"item_id": item_id})
    rules = ItemAssociation.objects.filter(tenant_id=tenant_id, antecedent_id=int(catalog.pks[position])).order_by(
        "-confidence", "-lift"
    )
    mask = eligible(catalog, Filters())
    items = []
    for consequent, support, confidence, lift in rules.values_list("consequent_id", "support", "confidence", "lift"):
        other = catalog.position_of_pk.get(consequent)
        if other is None or not mask[other]:
            continue
        entry = catalog.item(other, score=confidence, reason=f"bought_with:{item_id}")
        entry.update(support=round(support, 6), confidence=round(confidence, 6), lift=round(lift, 6))
        items.append(entry)
        if len(items) == n:
            break
    return {"item_id": item_id, "items": items}
