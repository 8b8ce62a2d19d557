"""Catalog files (CSV or JSONL) to validated, typed chunks ready for an upsert on external_id. Pure: no Django.

Columns, as the API names them (our internal names are accepted too): id (external_id), name (required),
main_category, sub_category, description, tags, image, link, ratings (rating), no_of_ratings
(rating_count), discount_price (price), actual_price (original_price), discount_ratio, is_active;
`attributes` may hold a JSON object; every other column goes into attributes. Without an id column the
id is the Amazon ASIN in `link`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from interactions.rules import IdPattern, check_ids, resolve_pattern
from recsys_site.errors import ValidationFailed
from recsys_site.uploads import ChunkErrors, ParsedChunk, RawChunk, ReadOptions
from recsys_site.uploads.parsed import DistinctCounter, ParsedFile
from recsys_site.uploads.values import blank, clean, nullable

from .fields import (
    ASIN,
    FIELD_ALIASES,
    FIELDS,
    KNOWN,
    MAX_COUNT,
    MAX_PRICE,
    attributes_field,
    bool_field,
    number_field,
    tags_field,
    text_field,
    url_field,
)

COLUMNS = (*FIELDS, "line")


class CatalogFile(ParsedFile):
    """Chunks of valid items, deduplicated on external_id within the chunk (the last row wins).

    frame columns: external_id, name (str); main_category, sub_category, description, image, link (str,
    NaN when empty); tags (object: list[str], [] when none); rating, price, original_price,
    discount_ratio (float64, NaN when unknown); rating_count (Int64, <NA> when unknown); is_active
    (bool, default True); attributes (object: dict[str, str], {} when none); line (int64).
    `fields_present` lists the fields the file provides (the others should be left alone on update)."""

    required = frozenset({"name"})
    known = KNOWN
    aliases = FIELD_ALIASES
    keep_unknown = True

    def __init__(
        self,
        source: Any,
        options: ReadOptions | None = None,
        *,
        item_pattern: IdPattern = None,
        max_bytes: int,
        max_decompressed_bytes: int | None = None,
    ):
        self.item_pattern = resolve_pattern(item_pattern)
        self._distinct = DistinctCounter()
        super().__init__(source, options, max_bytes=max_bytes, max_decompressed_bytes=max_decompressed_bytes)

    def _setup(self) -> None:
        layout = self.reader.layout
        fields = {column.field for column in layout.columns if column.known}
        if "external_id" not in fields:
            if "link" not in fields:
                raise ValidationFailed(
                    "Required column missing: id (or a link holding an Amazon ASIN).",
                    code="missing_column",
                    details={"missing": ["id"], "found": layout.headers},
                )
            self.summary.notes.append("no id column: ids were taken from the ASIN in link")
        present = fields | {"external_id", "is_active"}
        if "original_price" in present:
            present.add("price")
        if {"price", "original_price"} <= present:
            present.add("discount_ratio")
        if layout.unknown_fields() or self.reader.format == "jsonl":
            present.add("attributes")
        self.fields_present = sorted(present & set(FIELDS))
        self.summary.stats["fields_present"] = self.fields_present

    def _parse(self, raw: RawChunk) -> ParsedChunk:
        frame = raw.frame
        errors = ChunkErrors(raw.lines)
        out: dict[str, Any] = {"external_id": self._ids(raw, errors)}
        out["name"] = text_field(raw, "name", errors, required=True)
        for name in ("main_category", "sub_category", "description"):
            out[name] = nullable(text_field(raw, name, errors)) if name in frame else _missing_text(frame)
        out["tags"] = tags_field(raw, errors)
        for name in ("image", "link"):
            out[name] = nullable(url_field(raw, name, errors)) if name in frame else _missing_text(frame)
        out.update(self._numbers(raw, errors))
        out["is_active"] = (
            bool_field(raw, "is_active", errors, default=True)
            if "is_active" in frame
            else (np.ones(len(frame), dtype=bool))
        )
        unknown = [name for name in frame.columns if name not in KNOWN]
        out["attributes"] = attributes_field(raw, unknown, errors)
        out["line"] = raw.lines
        result = pd.DataFrame(out, columns=list(COLUMNS))[~errors.bad]
        repeated = result["external_id"].duplicated(keep="last").to_numpy(dtype=bool)
        result = result[~repeated].reset_index(drop=True)
        self._distinct.add(result["external_id"])
        rejected = int(errors.bad.sum()) + len(raw.errors)
        return ParsedChunk(
            result,
            sorted([*raw.errors, *errors.to_list()], key=lambda e: e.line),
            raw.rows_total,
            rejected,
            int(repeated.sum()),
        )

    def _ids(self, raw: RawChunk, errors: ChunkErrors) -> pd.Series:
        if "external_id" in raw.frame:
            ids, source, missing = clean(raw.frame["external_id"]), raw.source_of("external_id"), None
        else:
            ids = raw.frame["link"].str.extract(ASIN, expand=False).fillna("")
            source, missing = raw.source_of("link"), blank(ids)
            errors.add(
                missing, source, "missing_id", "no id: there is no id column and the link has no ASIN (/dp/XXXXXXXXXX)"
            )
        ids, which, problems = check_ids(ids, self.item_pattern)
        bad = which >= 0 if missing is None else (which >= 0) & ~missing
        errors.add(bad, source, "invalid_id", lambda i: f"id {problems[which[i]]}")
        return ids

    def _numbers(self, raw: RawChunk, errors: ChunkErrors) -> dict[str, Any]:
        frame = raw.frame
        n = len(frame)
        nan = np.full(n, np.nan)
        rating = number_field(raw, "rating", errors, low=0, high=5) if "rating" in frame else nan
        count = (
            number_field(raw, "rating_count", errors, low=0, high=MAX_COUNT, grouping=True, integer=True)
            if "rating_count" in frame
            else nan
        )
        price = number_field(raw, "price", errors, low=0, high=MAX_PRICE, money=True) if "price" in frame else nan
        original = (
            number_field(raw, "original_price", errors, low=0, high=MAX_PRICE, money=True)
            if "original_price" in frame
            else nan
        )
        price = np.where(np.isnan(price), original, price)
        if "discount_ratio" in frame:
            ratio = number_field(raw, "discount_ratio", errors, low=0, high=1, percent=True)
        else:
            ratio = nan
        with np.errstate(invalid="ignore", divide="ignore"):
            computed = np.clip(1.0 - price / original, 0.0, 1.0).round(4)
        computable = np.isnan(ratio) & ~np.isnan(price) & (original > 0)
        ratio = np.where(computable, computed, ratio)
        counts = pd.array(np.where(np.isnan(count) | errors.bad, np.nan, count), dtype="Float64")
        return {
            "rating": rating,
            "rating_count": counts.round().astype("Int64"),
            "price": price,
            "original_price": original,
            "discount_ratio": ratio,
        }

    def _finish(self) -> None:
        distinct = len(self._distinct)
        self.summary.duplicates_in_file = self.summary.rows_valid - distinct
        self.summary.stats["distinct_ids"] = distinct
        if self.summary.duplicates_in_file:
            self.summary.notes.append(
                f"{self.summary.duplicates_in_file:,} rows repeat an id from an earlier row; "
                "the last row for each id wins"
            )


def _missing_text(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(np.nan, index=frame.index, dtype="str")


def parse_catalog(
    stream: Any,
    options: ReadOptions | None = None,
    *,
    item_pattern: IdPattern = None,
    max_bytes: int,
    max_decompressed_bytes: int | None = None,
) -> CatalogFile:
    """Open and check a catalog upload (a path, bytes, a binary file or an Upload); iterate the result for
    ParsedChunks, then read its summary. See CatalogFile for the chunk columns."""
    return CatalogFile(
        stream, options, item_pattern=item_pattern, max_bytes=max_bytes, max_decompressed_bytes=max_decompressed_bytes
    )
