"""Interaction files (CSV or JSONL) to validated chunks ready for COPY. Pure: no Django.

Columns: user_id, item_id (required); value from interaction_score, rating or value; timestamp;
event_type; event_id. Other columns are ignored (and named in the summary's notes).

Value rules: finite and |value| <= 1e9. purchase and add_to_cart values are quantities and must be
> 0 (returns and cancellations are not interactions); view, click and like values must be >= 0;
rating values may be negative (e.g. a -1/+1 scale). An empty value is NaN: the caller picks the weight.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from recsys_site.errors import ValidationFailed
from recsys_site.uploads import STR, ChunkErrors, ParsedChunk, RawChunk, ReadOptions, show
from recsys_site.uploads.parsed import DistinctCounter, ParsedFile
from recsys_site.uploads.values import blank, clean, lengths, nullable, to_float

from .rules import (
    ITEM_EVENT_TYPES,
    QUANTITY_EVENTS,
    IdPattern,
    check_ids,
    normalize_event_type,
    parse_timestamps,
    resolve_pattern,
)

COLUMNS = ("user_id", "item_id", "event_type", "value", "timestamp", "event_id", "line")
FIELD_ALIASES = {"interaction_score": "value", "rating": "value"}
KNOWN = frozenset({"user_id", "item_id", "value", "timestamp", "event_type", "event_id", *FIELD_ALIASES})
MAX_VALUE = 1e9
MAX_EVENT_ID_LENGTH = 255
NON_NEGATIVE_EVENTS = ("view", "click", "like")


class InteractionsFile(ParsedFile):
    """Chunks of valid interactions. frame columns: user_id, item_id, event_type, event_id (str; event_id
    NaN when absent), value (float64, NaN when absent), timestamp (datetime64[ns, UTC], NaT when absent),
    line (int64). Rows sharing an event_id within a chunk keep the last one (counted as duplicates)."""

    required = frozenset({"user_id", "item_id"})
    known = KNOWN
    aliases = FIELD_ALIASES
    keep_unknown = False

    def __init__(
        self,
        source: Any,
        options: ReadOptions | None = None,
        *,
        user_pattern: IdPattern = None,
        item_pattern: IdPattern = None,
        default_event_type: str | None = None,
        max_bytes: int,
        now: datetime,
        max_decompressed_bytes: int | None = None,
    ):
        self.user_pattern = resolve_pattern(user_pattern)
        self.item_pattern = resolve_pattern(item_pattern)
        self.explicit_default = _check_default(default_event_type)
        self.now = now
        self._event_ids = DistinctCounter()
        self._event_id_rows = 0
        super().__init__(source, options, max_bytes=max_bytes, max_decompressed_bytes=max_decompressed_bytes)

    def _setup(self) -> None:
        layout = self.reader.layout
        value = layout.column_for("value")
        from_rating = value is not None and value.mapped == "rating"
        self.default_event_type = self.explicit_default or ("rating" if from_rating else "purchase")
        if layout.column_for("event_type") is None:
            self.summary.notes.append(f"no event_type column: every row is a {self.default_event_type} event")
        self.summary.stats.update(default_event_type=self.default_event_type, timestamps_missing=0, event_types={})

    def _parse(self, raw: RawChunk) -> ParsedChunk:
        frame = raw.frame
        errors = ChunkErrors(raw.lines)
        out: dict[str, Any] = {}
        for name, pattern in (("user_id", self.user_pattern), ("item_id", self.item_pattern)):
            values, which, problems = check_ids(clean(frame[name]), pattern)
            errors.add(
                which >= 0, raw.source_of(name), "invalid_id", lambda i, w=which, p=problems, n=name: f"{n} {p[w[i]]}"
            )
            out[name] = values
        events = self._event_types(raw, errors)
        out["event_type"] = events
        out["value"] = self._values(raw, events, errors)
        out["timestamp"] = self._timestamps(raw, errors)
        out["event_id"] = self._event_ids_column(raw, errors)
        out["line"] = raw.lines
        valid = ~errors.bad
        result = pd.DataFrame(out)[list(COLUMNS)][valid].reset_index(drop=True)
        duplicates = 0
        if result["event_id"].notna().any():
            with_id = result["event_id"].notna()
            repeated = with_id & result["event_id"].duplicated(keep="last")
            duplicates = int(repeated.sum())
            result = result[~repeated].reset_index(drop=True)
            self._event_ids.add(result["event_id"].dropna())
            self._event_id_rows += int(with_id.sum())
        self._count(result)
        rejected = int(errors.bad.sum()) + len(raw.errors)
        return ParsedChunk(
            result, sorted([*raw.errors, *errors.to_list()], key=lambda e: e.line), raw.rows_total, rejected, duplicates
        )

    def _event_types(self, raw: RawChunk, errors: ChunkErrors) -> pd.Series:
        n = len(raw.frame)
        if "event_type" not in raw.frame:
            return pd.Series([self.default_event_type] * n, dtype=STR)
        text = clean(raw.frame["event_type"])
        codes, uniques = pd.factorize(text)
        names = [normalize_event_type(u) if u else self.default_event_type for u in uniques]
        events = pd.Series(np.array(names, dtype=object)[codes] if n else [], dtype=STR)
        source = raw.source_of("event_type")
        unknown = events.isna().to_numpy(dtype=bool)
        errors.add(
            unknown,
            source,
            "unknown_event_type",
            lambda i: f"{show(text.iat[i])} is not an event type; use one of {', '.join(ITEM_EVENT_TYPES)}",
        )
        errors.add(
            (events == "search").to_numpy(dtype=bool),
            source,
            "search_event",
            "search events have no item and cannot be imported from a file; send them to the events API",
        )
        return events

    def _values(self, raw: RawChunk, events: pd.Series, errors: ChunkErrors) -> np.ndarray:
        if "value" not in raw.frame:
            return np.full(len(raw.frame), np.nan)
        text = clean(raw.frame["value"])
        values, invalid = to_float(text)
        source = raw.source_of("value")
        errors.add(invalid, source, "not_a_number", lambda i: f"{show(text.iat[i])} is not a finite number")
        with np.errstate(invalid="ignore"):
            huge = np.abs(values) > MAX_VALUE
            quantity = events.isin(QUANTITY_EVENTS).to_numpy(dtype=bool) & (values <= 0)
            negative = events.isin(NON_NEGATIVE_EVENTS).to_numpy(dtype=bool) & (values < 0)
        errors.add(huge, source, "out_of_range", lambda i: f"{values[i]:g} is out of range (at most 1e9 in size)")
        errors.add(
            quantity & ~huge,
            source,
            "out_of_range",
            lambda i: f"{values[i]:g} must be greater than 0 for a {events.iat[i]} (it is a quantity)",
        )
        errors.add(
            negative & ~huge,
            source,
            "out_of_range",
            lambda i: f"{values[i]:g} must not be negative for a {events.iat[i]}",
        )
        return values

    def _timestamps(self, raw: RawChunk, errors: ChunkErrors) -> pd.Series:
        if "timestamp" not in raw.frame:
            return pd.Series(pd.NaT, index=range(len(raw.frame)), dtype="datetime64[ns, UTC]")
        text = clean(raw.frame["timestamp"])
        parsed = parse_timestamps(text, now=self.now)
        errors.add(
            parsed.invalid,
            raw.source_of("timestamp"),
            "invalid_timestamp",
            lambda i: f"{show(text.iat[i])} {parsed.errors.iat[i]}",
        )
        return parsed.values

    def _event_ids_column(self, raw: RawChunk, errors: ChunkErrors) -> pd.Series:
        if "event_id" not in raw.frame:
            return pd.Series(np.nan, index=range(len(raw.frame)), dtype=STR)
        text = clean(raw.frame["event_id"])
        bad = (lengths(text) > MAX_EVENT_ID_LENGTH) | text.str.contains(r"[\x00-\x20\x7f]", regex=True).to_numpy(
            dtype=bool
        )
        errors.add(
            bad & ~blank(text),
            raw.source_of("event_id"),
            "invalid_event_id",
            f"must be 1 to {MAX_EVENT_ID_LENGTH} characters without spaces or control characters",
        )
        return nullable(text)

    def _count(self, result: pd.DataFrame) -> None:
        stats = self.summary.stats
        stats["timestamps_missing"] += int(result["timestamp"].isna().sum())
        for name, count in result["event_type"].value_counts().items():
            stats["event_types"][name] = stats["event_types"].get(name, 0) + int(count)

    def _finish(self) -> None:
        if self._event_id_rows:
            self.summary.duplicates_in_file = self._event_id_rows - len(self._event_ids)
        missing = self.summary.stats["timestamps_missing"]
        if missing:
            self.summary.notes.append(f"{missing:,} valid rows have no timestamp")


def parse_interactions(
    stream: Any,
    options: ReadOptions | None = None,
    *,
    user_pattern: IdPattern = None,
    item_pattern: IdPattern = None,
    default_event_type: str | None = None,
    max_bytes: int,
    now: datetime,
    max_decompressed_bytes: int | None = None,
) -> InteractionsFile:
    """Open and check an interactions upload (a path, bytes, a binary file or an Upload); iterate the
    result for ParsedChunks, then read its summary. See InteractionsFile for the chunk columns."""
    return InteractionsFile(
        stream,
        options,
        user_pattern=user_pattern,
        item_pattern=item_pattern,
        default_event_type=default_event_type,
        max_bytes=max_bytes,
        now=now,
        max_decompressed_bytes=max_decompressed_bytes,
    )


def _check_default(value: str | None) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    event = normalize_event_type(value)
    if event is None or event not in ITEM_EVENT_TYPES:
        raise ValidationFailed(
            f"default_event_type must be one of {', '.join(ITEM_EVENT_TYPES)}.",
            code="invalid_event_type",
            details={"field": "default_event_type"},
        )
    return event
