"""How to read an upload: format, delimiter, header, column names and the user's column mapping."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from recsys_site.errors import ValidationFailed

FORMATS = ("auto", "csv", "jsonl")
DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
SNIFFED_DELIMITERS = (",", "\t", ";", "|")
MAX_CHUNK_ROWS = 100_000  # bounds an import's working memory, whoever asks for bigger chunks
MAX_COLUMNS = 1_000
_FORBIDDEN_DELIMITERS = {'"', "\r", "\n", "\0"}
_INDEX_COLUMN = re.compile(r"unnamed:_\d+")
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def normalize_header(name: str) -> str:
    """Header names are compared stripped, lowercased, with runs of spaces turned into one underscore."""
    return "_".join(str(name).strip().lower().split())


def is_index_column(name: str) -> bool:
    """A pandas index written to CSV ("Unnamed: 0") or a column with an empty header."""
    return name == "" or _INDEX_COLUMN.fullmatch(name) is not None


def _invalid(field_name: str, message: str, *, code: str = "invalid_option", **details: Any) -> ValidationFailed:
    return ValidationFailed(message, code=code, details={"field": field_name, **details})


@dataclass(frozen=True)
class ReadOptions:
    """Options for reading one upload; validated on construction (raises ValidationFailed).

    delimiter None means "detect among , TAB ; |". column_names is required when has_header is False and
    replaces the header's names when has_header is True. mapping renames columns (source -> target, both
    compared as normalised headers); a target of None drops the column."""

    format: str = "auto"
    delimiter: str | None = None
    has_header: bool = True
    column_names: tuple[str, ...] | None = None
    mapping: Mapping[str, str | None] = field(default_factory=dict)
    chunk_rows: int = 50_000

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise _invalid("format", f"format must be one of {', '.join(FORMATS)}.", value=str(self.format))
        if self.delimiter is not None:
            _check_delimiter(self.delimiter)
        if not isinstance(self.has_header, bool):
            raise _invalid("has_header", "has_header must be true or false.")
        if self.column_names is not None:
            object.__setattr__(self, "column_names", _clean_column_names(self.column_names))
        elif not self.has_header and self.format != "jsonl":
            raise _invalid("column_names", "column_names is required when the file has no header row.")
        object.__setattr__(self, "mapping", _clean_mapping(self.mapping))
        names = [*(self.column_names or ()), *self.mapping, *(v for v in self.mapping.values() if v)]
        if any("\x00" in name for name in names):
            raise _invalid("mapping" if self.mapping else "column_names", "Column names cannot contain NUL characters.")
        if isinstance(self.chunk_rows, bool) or not isinstance(self.chunk_rows, int):
            raise _invalid("chunk_rows", "chunk_rows must be an integer.")
        if not 1 <= self.chunk_rows <= MAX_CHUNK_ROWS:
            raise _invalid("chunk_rows", f"chunk_rows must be between 1 and {MAX_CHUNK_ROWS:,}.")

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ReadOptions:
        """Build options from user-supplied strings (a form or a query string). Unrelated keys are ignored.

        delimiter: a single character, or tab, \\t, comma, semicolon, pipe, space (empty = detect);
        has_header: true/false/1/0/yes/no; column_names: a list or a comma-separated string;
        mapping: a dict or a JSON object string; format: auto, csv, jsonl (or ndjson)."""
        kwargs: dict[str, Any] = {}
        if (value := _param(params, "format")) is not None:
            kwargs["format"] = "jsonl" if str(value).strip().lower() == "ndjson" else str(value).strip().lower()
        if (value := params.get("delimiter")) not in (None, ""):
            kwargs["delimiter"] = _delimiter_from_param(value)
        if (value := _param(params, "has_header")) is not None:
            kwargs["has_header"] = _parse_bool("has_header", value)
        if (value := _param(params, "column_names")) is not None:
            kwargs["column_names"] = value.split(",") if isinstance(value, str) else value
        if (value := _param(params, "mapping")) is not None:
            kwargs["mapping"] = _parse_json_object(value)
        if (value := _param(params, "chunk_rows")) is not None:
            try:
                kwargs["chunk_rows"] = int(str(value).strip())
            except ValueError:
                raise _invalid("chunk_rows", "chunk_rows must be an integer.") from None
        return cls(**kwargs)


def _param(params: Mapping[str, Any], name: str) -> Any:
    value = params.get(name)
    return None if value is None or (isinstance(value, str) and not value.strip()) else value


def _delimiter_from_param(value: object) -> object:
    if not isinstance(value, str) or len(value) == 1:
        return value
    name = value.strip().lower()
    if name in DELIMITER_NAMES:
        return DELIMITER_NAMES[name]
    return name if len(name) == 1 else value


def _check_delimiter(value: object) -> None:
    if not isinstance(value, str) or len(value) != 1:
        raise _invalid(
            "delimiter",
            "delimiter must be a single character, or one of: tab, comma, semicolon, pipe, space.",
            code="invalid_delimiter",
            value=str(value)[:20],
        )
    if value in _FORBIDDEN_DELIMITERS:
        raise _invalid("delimiter", f"{value!r} cannot be used as a delimiter.", code="invalid_delimiter")


def _parse_bool(field_name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _invalid(field_name, f"{field_name} must be true or false.", value=str(value)[:20])


def _parse_json_object(value: object) -> object:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise _invalid("mapping", f"mapping is not valid JSON: {exc}", code="invalid_mapping") from None
    return value


def _clean_column_names(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise _invalid("column_names", "column_names must be a list of names.", code="invalid_column_names")
    if not value or len(value) > MAX_COLUMNS or not all(isinstance(name, str) for name in value):
        raise _invalid("column_names", "column_names must be 1 to 1,000 names.", code="invalid_column_names")
    names = tuple(normalize_header(name) for name in value)
    if "" in names:
        raise _invalid("column_names", "column_names contains an empty name.", code="invalid_column_names")
    if len(set(names)) != len(names):
        duplicated = sorted({name for name in names if names.count(name) > 1})
        raise _invalid(
            "column_names", "column_names has duplicates.", code="invalid_column_names", duplicated=duplicated
        )
    return names


def _clean_mapping(value: object) -> dict[str, str | None]:
    if not isinstance(value, Mapping):
        raise _invalid("mapping", "mapping must be an object of source column -> our column.", code="invalid_mapping")
    if len(value) > MAX_COLUMNS:
        raise _invalid("mapping", "mapping has too many entries.", code="invalid_mapping")
    cleaned: dict[str, str | None] = {}
    for source, target in value.items():
        if not isinstance(source, str) or not normalize_header(source):
            raise _invalid("mapping", "mapping keys must be non-empty column names.", code="invalid_mapping")
        if target is not None and not isinstance(target, str):
            raise _invalid("mapping", f"mapping for {source!r} must be a column name.", code="invalid_mapping")
        name = normalize_header(source)
        if name in cleaned:
            raise _invalid("mapping", f"mapping names the column {source!r} twice.", code="invalid_mapping")
        cleaned[name] = (normalize_header(target) or None) if target is not None else None
    targets = [target for target in cleaned.values() if target is not None]
    if len(set(targets)) != len(targets):
        duplicated = sorted({target for target in targets if targets.count(target) > 1})
        raise _invalid(
            "mapping", "two columns are mapped to the same target.", code="invalid_mapping", targets=duplicated
        )
    return cleaned
