"""What a parse reports: row errors, per-chunk results and the summary of a whole file."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem with one row. `line` is the file's line number (the header is line 1; for JSONL the
    first line is 1); `column` is the column as written in the file, None when the whole row is bad;
    `code` is a stable snake_case kind ("not_a_number", "field_count", ...) for grouping and counting."""

    line: int
    column: str | None
    message: str
    code: str = "invalid"

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "column": self.column, "message": self.message, "code": self.code}


def show(value: object, limit: int = 60) -> str:
    """A value quoted for a message. Long values are cut (the length is given) so that a 10,000-character
    id does not end up in every error report; the text is data, whoever renders it must escape it."""
    text = str(value)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"


class ChunkErrors:
    """Collects the row errors of one chunk from vectorised checks; only failing rows cost Python time."""

    def __init__(self, lines: np.ndarray):
        self.lines = lines
        self.bad = np.zeros(len(lines), dtype=bool)
        self._found: list[tuple[np.ndarray, str | None, str, Callable[[int], str] | str]] = []

    def add(self, mask: np.ndarray | pd.Series, column: str | None, code: str, message: Callable[[int], str] | str):
        """Record `message` (a constant, or a function of the row position) for every row where mask is true;
        the message is prefixed with the column ("ratings: 'Get' is not a number")."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        self.bad |= mask
        self._found.append((np.flatnonzero(mask), column, code, message))

    def to_list(self) -> list[RowError]:
        out: list[RowError] = []
        for rows, column, code, message in self._found:
            lines = self.lines[rows]
            prefix = f"{column}: " if column else ""
            if isinstance(message, str):
                out.extend(RowError(int(line), column, prefix + message, code) for line in lines)
            else:
                out.extend(
                    RowError(int(line), column, prefix + message(int(i)), code)
                    for i, line in zip(rows, lines, strict=True)
                )
        out.sort(key=lambda e: e.line)
        return out


@dataclass
class ParsedChunk:
    """The valid rows of one chunk (`frame`, typed; see each parser for its columns) and the chunk's errors.

    rows_total counts the data rows the chunk covered (valid + rejected); duplicates counts valid rows that
    were dropped because a later row of the same chunk has the same key (the later one is in `frame`)."""

    frame: pd.DataFrame
    errors: list[RowError]
    rows_total: int
    rows_rejected: int
    duplicates: int = 0

    def records(self) -> list[dict[str, Any]]:
        """The rows as dicts of plain Python values, with None (never NaN/NaT/NA) for missing values."""
        if self.frame.empty:
            return []
        frame = self.frame.astype(object)
        return frame.where(self.frame.notna(), None).to_dict("records")


@dataclass
class ImportSummary:
    """Totals for a whole file, complete once the chunks have been consumed.

    rows_total = rows_valid + rows_rejected (blank lines and the header are not rows). duplicates_in_file:
    valid rows superseded by a later row with the same key (catalog: same id; the last one wins).
    columns maps each internal field read to the column it came from; reasons counts rejected cells by
    "column: code"."""

    rows_total: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    duplicates_in_file: int = 0
    notes: list[str] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    stats: dict[str, Any] = field(default_factory=dict)

    def add_chunk(self, chunk: ParsedChunk) -> None:
        self.rows_total += chunk.rows_total
        self.rows_rejected += chunk.rows_rejected
        self.rows_valid += chunk.rows_total - chunk.rows_rejected
        for error in chunk.errors:
            self.reasons[f"{error.column or 'row'}: {error.code}"] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_total": self.rows_total,
            "rows_valid": self.rows_valid,
            "rows_rejected": self.rows_rejected,
            "duplicates_in_file": self.duplicates_in_file,
            "notes": list(self.notes),
            "columns": dict(self.columns),
            "ignored_columns": list(self.ignored_columns),
            "reasons": dict(self.reasons.most_common()),
            "stats": dict(self.stats),
        }
