"""JSON Lines: one object per line; values become strings so both formats share one validation path."""

from __future__ import annotations

import json
from collections.abc import Iterator

from .blocks import Block, gc_paused
from .layout import ColumnRules
from .options import MAX_COLUMNS, normalize_header
from .report import RowError

JsonPiece = tuple[list[dict[str, str]], list[int], list[RowError]]
_UNSEEN = object()
_TOO_MANY = object()
_decode = json.JSONDecoder().decode


def to_text(value: object) -> str:
    """A JSON value as the string a CSV cell would hold: null -> "", true -> "true", lists/objects as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


class JsonlTokenizer:
    """Turns blocks into pieces: (rows as {field: text}, line of each row, row errors). Keys are resolved
    (normalised, mapped, aliased) once per distinct key; at most MAX_COLUMNS distinct fields per file."""

    def __init__(self, blocks: Iterator[Block], rules: ColumnRules):
        self._blocks = blocks
        self._rules = rules
        self._field_of: dict[str, str | None] = {}
        self._fields: set[str] = set()
        self.keys_seen: dict[str, str] = {}
        """Normalised key -> the key as first written, for every key met so far."""
        self.sources: dict[str, str] = {}
        """Field -> the key it was first read from."""

    def pieces(self, piece_rows: int) -> Iterator[JsonPiece]:
        rows: list[dict[str, str]] = []
        lines: list[int] = []
        errors: list[RowError] = []
        for block in self._blocks:
            with gc_paused():
                for number, text in enumerate(block.lines, start=block.first_line):
                    if text.isspace():
                        continue
                    row = self._row(text, number, errors)
                    if row is not None:
                        rows.append(row)
                        lines.append(number)
            if len(rows) + len(errors) >= piece_rows:
                yield rows, lines, errors
                rows, lines, errors = [], [], []
        if rows or errors:
            yield rows, lines, errors

    def _row(self, text: str, number: int, errors: list[RowError]) -> dict[str, str] | None:
        try:
            value = _decode(text)
        except ValueError as exc:
            message = getattr(exc, "msg", str(exc))
            errors.append(RowError(number, None, f"not valid JSON: {message}", "invalid_json"))
            return None
        if type(value) is not dict:
            kind = "a list" if isinstance(value, list) else f"{type(value).__name__}"
            errors.append(RowError(number, None, f"expected a JSON object, found {kind}", "not_an_object"))
            return None
        field_of = self._field_of
        row: dict[str, str] = {}
        for key, item in value.items():
            field_name = field_of.get(key, _UNSEEN)
            if field_name is _UNSEEN:
                field_name = self._first_sight(key)
                if field_name is _TOO_MANY:
                    errors.append(
                        RowError(number, key, f"more than {MAX_COLUMNS:,} different keys in the file", "too_many_keys")
                    )
                    return None
            if field_name is None:
                continue
            if field_name in row:
                errors.append(RowError(number, key, f"the object gives {field_name} twice", "duplicate_field"))
                return None
            row[field_name] = item if type(item) is str else to_text(item)
        if "\\u0000" in text and any("\x00" in cell for cell in row.values()):
            errors.append(RowError(number, None, "a value contains a NUL character", "nul_byte"))
            return None
        return row

    def _first_sight(self, key: str) -> object:
        """Resolve a key met for the first time (the field name, None to drop it, or _TOO_MANY)."""
        name = normalize_header(key)
        resolved = self._rules.resolve(name)
        field_name = None if resolved is None else resolved[1]
        if field_name is not None and field_name not in self._fields:
            if len(self._fields) >= MAX_COLUMNS:
                return _TOO_MANY
            self._fields.add(field_name)
            self.sources.setdefault(field_name, key.strip())
        if len(self._field_of) >= 10 * MAX_COLUMNS:
            return _TOO_MANY
        self._field_of[key] = field_name
        self.keys_seen.setdefault(name, key.strip())
        return field_name
