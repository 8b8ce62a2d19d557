"""Catalog columns: names, aliases, limits and the per-field conversions (vectorised where it pays)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from recsys_site.uploads import ChunkErrors, RawChunk, show
from recsys_site.uploads.jsonl import to_text
from recsys_site.uploads.values import blank, clean, http_url, lengths, to_bool, to_float

FIELD_ALIASES = {
    "id": "external_id",
    "ratings": "rating",
    "no_of_ratings": "rating_count",
    "discount_price": "price",
    "actual_price": "original_price",
}
"""API column names -> internal fields. The internal names themselves are accepted as columns too."""
FIELDS = (
    "external_id",
    "name",
    "main_category",
    "sub_category",
    "description",
    "tags",
    "image",
    "link",
    "rating",
    "rating_count",
    "price",
    "original_price",
    "discount_ratio",
    "is_active",
    "attributes",
)
KNOWN = frozenset({*FIELDS, *FIELD_ALIASES})
TEXT_LIMITS = {"name": 500, "description": 10_000, "main_category": 255, "sub_category": 255}
MAX_URL_LENGTH = 2048
MAX_TAGS = 100
MAX_TAG_LENGTH = 100
MAX_ATTRIBUTE_LENGTH = 10_000
MAX_PRICE = 1e12
MAX_COUNT = 1e9
ASIN = r"/(?:dp|gp/product|gp/aw/d)/([A-Z0-9]{10})(?:[/?#]|$)"
_TAG_SEPARATORS = re.compile(r"[,|;]")


def text_field(raw: RawChunk, name: str, errors: ChunkErrors, *, required: bool = False) -> pd.Series:
    values = clean(raw.frame[name])
    source = raw.source_of(name)
    if required:
        errors.add(blank(values), source, "required", f"{name} is required")
    limit = TEXT_LIMITS[name]
    size = lengths(values)
    errors.add(
        size > limit, source, "too_long", lambda i: f"{name} is {size[i]:,} characters long; the limit is {limit:,}"
    )
    return values


def url_field(raw: RawChunk, name: str, errors: ChunkErrors) -> pd.Series:
    values = clean(raw.frame[name])
    source = raw.source_of(name)
    bad = ~blank(values) & ~http_url(values)
    errors.add(bad, source, "invalid_url", lambda i: f"{show(values.iat[i])} is not an http(s) URL")
    size = lengths(values)
    errors.add(
        size > MAX_URL_LENGTH,
        source,
        "too_long",
        lambda i: f"the URL is {size[i]:,} characters long; the limit is {MAX_URL_LENGTH:,}",
    )
    return values


def number_field(
    raw: RawChunk,
    name: str,
    errors: ChunkErrors,
    *,
    low: float,
    high: float,
    money: bool = False,
    grouping: bool = False,
    percent: bool = False,
    integer: bool = False,
) -> np.ndarray:
    """float64 with NaN for an empty cell; a present value that is not a number in [low, high] is an error."""
    text = clean(raw.frame[name])
    source = raw.source_of(name)
    values, invalid = to_float(text, money=money, grouping=grouping, percent=percent)
    errors.add(invalid, source, "not_a_number", lambda i: f"{show(text.iat[i])} is not a number")
    with np.errstate(invalid="ignore"):
        outside = (values < low) | (values > high)
        fractional = (~np.isnan(values) & (values != np.floor(values))) if integer else np.zeros(len(values), bool)
    errors.add(outside, source, "out_of_range", lambda i: f"{show(text.iat[i])} is out of range ({low:g} to {high:g})")
    errors.add(fractional & ~outside, source, "not_an_integer", lambda i: f"{show(text.iat[i])} is not a whole number")
    return values


def bool_field(raw: RawChunk, name: str, errors: ChunkErrors, *, default: bool) -> np.ndarray:
    text = clean(raw.frame[name])
    values, invalid = to_bool(text, default)
    errors.add(
        invalid,
        raw.source_of(name),
        "not_a_boolean",
        lambda i: f"{show(text.iat[i])} is not one of true, false, 1, 0, yes, no",
    )
    return values


def parse_tags(text: str) -> list[str] | str:
    """A list of tags from "a, b | c" (separators , | ;) or a JSON list; or the reason it is not one."""
    if not text:
        return []
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            return "is not a valid JSON list"
        if not isinstance(value, list) or not all(
            isinstance(t, str | int | float) and not isinstance(t, bool) for t in value
        ):
            return "must be a list of strings"
        items = [str(t).strip() for t in value]
    else:
        items = [t.strip() for t in _TAG_SEPARATORS.split(text)]
    tags = list(dict.fromkeys(t for t in items if t))
    if len(tags) > MAX_TAGS:
        return f"has {len(tags)} tags; the limit is {MAX_TAGS}"
    if any(len(t) > MAX_TAG_LENGTH for t in tags):
        return f"has a tag longer than {MAX_TAG_LENGTH} characters"
    return tags


def tags_field(raw: RawChunk, errors: ChunkErrors) -> list[list[str]]:
    n = len(raw.frame)
    if "tags" not in raw.frame:
        return [[] for _ in range(n)]
    text = clean(raw.frame["tags"])
    codes, uniques = pd.factorize(text)
    parsed = [parse_tags(u) for u in uniques]
    problems = np.fromiter((isinstance(p, str) for p in parsed), dtype=bool, count=len(parsed))
    errors.add(
        problems[codes] if n else np.zeros(0, dtype=bool),
        raw.source_of("tags"),
        "invalid_tags",
        lambda i: f"tags {parsed[codes[i]]}",
    )
    return [list(p) if isinstance(p := parsed[c], list) else [] for c in codes]


def attributes_field(raw: RawChunk, unknown: list[str], errors: ChunkErrors) -> list[dict[str, str]]:
    """Per row: the non-empty cells of the unknown columns (as strings), over the keys of an `attributes`
    column holding a JSON object. Empty attributes are dropped."""
    n = len(raw.frame)
    rows: list[dict[str, str]] = [{} for _ in range(n)]
    if "attributes" in raw.frame:
        text = clean(raw.frame["attributes"])
        codes, uniques = pd.factorize(text)
        parsed = [_attributes_object(u) for u in uniques]
        bad = np.fromiter((isinstance(p, str) for p in parsed), dtype=bool, count=len(parsed))
        errors.add(
            bad[codes] if n else np.zeros(0, dtype=bool),
            raw.source_of("attributes"),
            "invalid_attributes",
            lambda i: f"attributes {parsed[codes[i]]}",
        )
        for i, code in enumerate(codes):
            if isinstance(value := parsed[code], dict):
                rows[i].update(value)
    for name in unknown:
        values = clean(raw.frame[name])
        size = lengths(values)
        errors.add(
            size > MAX_ATTRIBUTE_LENGTH,
            raw.source_of(name),
            "too_long",
            lambda i, s=size: f"the value is {s[i]:,} characters long; the limit is {MAX_ATTRIBUTE_LENGTH:,}",
        )
        for i in np.flatnonzero(~blank(values)):
            rows[i][name] = values.iat[i]
    return rows


def _attributes_object(text: str) -> dict[str, str] | str:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return "is not valid JSON"
    if not isinstance(value, dict):
        return "must be a JSON object"
    attributes = {str(k).strip(): to_text(v) for k, v in value.items() if str(k).strip() and to_text(v).strip()}
    if any("\x00" in key or "\x00" in val for key, val in attributes.items()):
        return "contains a NUL character, which cannot be stored"
    return attributes
