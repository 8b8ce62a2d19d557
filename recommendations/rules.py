"""Business rules every answer applies: only active items, the caller's filters, seen items out."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .catalog_view import CatalogView


@dataclass(frozen=True)
class Filters:
    category: str | None = None
    min_price: float | None = None
    max_price: float | None = None
    exclude: tuple[str, ...] = field(default_factory=tuple)

    def cache_key(self) -> str:
        return f"{self.category}|{self.min_price}|{self.max_price}|{','.join(sorted(self.exclude))}"


def eligible(catalog: CatalogView, filters: Filters, *, drop_pks: np.ndarray | None = None) -> np.ndarray:
    """Items that may be shown: active, in the category and price range, not excluded, not in `drop_pks`."""
    mask = catalog.active.copy()
    if filters.category:
        mask &= catalog.category_mask(filters.category)
    if filters.min_price is not None:
        mask &= catalog.price >= filters.min_price  # unknown prices (NaN) fail a price filter
    if filters.max_price is not None:
        mask &= catalog.price <= filters.max_price
    if filters.exclude:
        positions = catalog.positions(filters.exclude)
        mask[positions[positions >= 0]] = False
    if drop_pks is not None and len(drop_pks):
        positions = catalog.positions_of_pks(drop_pks)
        mask[positions[positions >= 0]] = False
    return mask


def top_positions(scores: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Positions of the n best eligible scores, best first (ties by position)."""
    candidates = np.flatnonzero(mask)
    if not len(candidates) or n <= 0:
        return candidates[:0]
    values = scores[candidates]
    if len(candidates) > n:
        part = np.argpartition(-values, n - 1)[:n]
        candidates, values = candidates[part], values[part]
    order = np.lexsort((candidates, -values))
    return candidates[order]
