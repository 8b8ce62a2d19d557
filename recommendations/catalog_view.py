"""A tenant's catalog as arrays in process memory: what every answer needs to filter and describe items.

Built from one query per catalog version (see `freshness.catalog_changed`), so serving never queries
item rows per request. The text index used by similar items and search is built lazily on top.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings

from catalog.models import Item

from . import freshness
from .local_cache import VersionedLRU

OUTPUT_FIELDS = (
    "name",
    "main_category",
    "sub_category",
    "image",
    "link",
    "price",
    "original_price",
    "rating",
    "reviews",
    "discount_ratio",
)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@dataclass
class CatalogView:
    tenant_id: int
    pks: np.ndarray  # int64, position -> Item pk
    external_ids: list[str]
    position_of_pk: dict[int, int]
    position_of_id: dict[str, int]
    active: np.ndarray  # bool
    price: np.ndarray  # float64, NaN unknown
    discount: np.ndarray  # float64, NaN unknown
    rating: np.ndarray  # float64, NaN unknown
    main_category: np.ndarray  # object, lower-cased
    sub_category: np.ndarray  # object, lower-cased
    category_codes: np.ndarray  # int64: index into `categories` of each item's main category
    categories: list[str]  # distinct lower-cased main categories ("" for none), sorted
    payload: list[dict[str, Any]]  # the item fields of API answers, without score and reason
    texts: list[str]  # name + categories (+ tags, description start) for the text index
    _text_index: Any = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.pks)

    @property
    def nbytes(self) -> int:
        arrays = sum(a.nbytes for a in (self.pks, self.active, self.price, self.discount, self.rating))
        per_item = sum(sys.getsizeof(text) for text in self.texts[:100]) / max(1, min(100, len(self.texts)))
        return int(arrays + len(self.pks) * (per_item * 3 + 600))

    def positions(self, external_ids) -> np.ndarray:
        lookup = self.position_of_id
        return np.array([lookup.get(i, -1) for i in external_ids], dtype=np.int64)

    def positions_of_pks(self, pks) -> np.ndarray:
        """Catalog positions of item primary keys (-1 for unknown ones): `pks` are sorted, so a binary search."""
        wanted = np.asarray(pks, dtype=np.int64).reshape(-1)
        if not len(self.pks) or not len(wanted):
            return np.full(len(wanted), -1, dtype=np.int64)
        found = np.minimum(np.searchsorted(self.pks, wanted), len(self.pks) - 1)
        return np.where(self.pks[found] == wanted, found, -1).astype(np.int64)

    def category_code(self, category: str) -> int:
        """The code of a lower-cased main category, -1 if no item has it."""
        index = int(np.searchsorted(self.categories, category)) if self.categories else 0
        return index if index < len(self.categories) and self.categories[index] == category else -1

    def category_mask(self, category: str) -> np.ndarray:
        wanted = category.strip().lower()
        return (self.main_category == wanted) | (self.sub_category == wanted)

    def item(self, position: int, *, score: float, reason: str) -> dict[str, Any]:
        return {
            "id": self.external_ids[position],
            "score": round(float(score), 6),
            **self.payload[position],
            "reason": reason,
        }

    def text_index(self):
        """TF-IDF over each item's name and categories (built on first use for this catalog version)."""
        if self._text_index is None:
            from .text import TextIndex

            self._text_index = TextIndex.build(self.texts)
        return self._text_index


def _build(tenant_id: int) -> CatalogView:
    rows = list(
        Item.objects.filter(tenant_id=tenant_id)
        .order_by("pk")
        .values_list(
            "pk", "external_id", "name", "main_category", "sub_category", "image", "link", "price",
            "original_price", "rating", "rating_count", "discount_ratio", "is_active", "tags", "description",
        )
    )  # fmt: skip
    n = len(rows)
    pks = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    external_ids = [r[1] for r in rows]
    payload, texts = [], []
    for r in rows:
        payload.append(
            {
                "name": r[2],
                "main_category": r[3],
                "sub_category": r[4],
                "image": r[5],
                "link": r[6],
                "price": _clean(r[7]),
                "original_price": _clean(r[8]),
                "rating": _clean(r[9]),
                "reviews": r[10],
                "discount_ratio": _clean(r[11]),
            }
        )
        tags = " ".join(r[13]) if isinstance(r[13], list) else ""
        texts.append(f"{r[2]} {r[3]} {r[4]} {tags} {(r[14] or '')[:300]}")

    def floats(column: int) -> np.ndarray:
        return np.array([np.nan if r[column] is None else r[column] for r in rows], dtype=np.float64)

    main_category = np.array([(r[3] or "").lower() for r in rows], dtype=object)
    categories, codes = np.unique(main_category, return_inverse=True) if n else (np.array([], dtype=object), [])
    return CatalogView(
        tenant_id=tenant_id,
        pks=pks,
        external_ids=external_ids,
        position_of_pk={int(pk): i for i, pk in enumerate(pks)},
        position_of_id={ext: i for i, ext in enumerate(external_ids)},
        active=np.array([bool(r[12]) for r in rows], dtype=bool),
        price=floats(7),
        discount=floats(11),
        rating=floats(9),
        main_category=main_category,
        sub_category=np.array([(r[4] or "").lower() for r in rows], dtype=object),
        category_codes=np.asarray(codes, dtype=np.int64),
        categories=[str(c) for c in categories],
        payload=payload,
        texts=texts,
    )


_catalogs: VersionedLRU[CatalogView] = VersionedLRU(max_bytes=settings.SERVING_CATALOG_CACHE_BYTES)


def catalog_view(*, tenant_id: int) -> CatalogView:
    return _catalogs.get(
        tenant_id,
        current_version=lambda: freshness.catalog_version(tenant_id=tenant_id),
        build=lambda version: _build(tenant_id),
        size=lambda view: view.nbytes,
    )
