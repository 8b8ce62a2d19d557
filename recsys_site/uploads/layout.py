"""Which file column feeds which field: normalised headers, the user's mapping, aliases, index columns."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from recsys_site.errors import ValidationFailed

from .options import is_index_column, normalize_header


@dataclass(frozen=True)
class Column:
    position: int
    source: str
    """The header as written in the file (stripped); used in row errors."""
    mapped: str
    """The name after the user's mapping (the normalised header when the column is not mapped)."""
    field: str
    """The internal field (after aliases), or the mapped name of an unknown column."""
    known: bool


@dataclass
class ColumnRules:
    """How names resolve: mapping (normalised source -> target or None), known names, aliases to fields."""

    mapping: Mapping[str, str | None]
    known: Collection[str]
    aliases: Mapping[str, str]
    keep_unknown: bool

    def resolve(self, name: str) -> tuple[str, str, bool] | None:
        """(mapped name, field, known) for a normalised header, or None when the column is dropped."""
        if name in self.mapping:
            mapped = self.mapping[name]
            if mapped is None:
                return None
        elif is_index_column(name):
            return None
        else:
            mapped = name
        if mapped in self.known:
            return mapped, self.aliases.get(mapped, mapped), True
        return (mapped, mapped, False) if self.keep_unknown else None


@dataclass
class ColumnLayout:
    columns: list[Column]
    ignored: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)

    @property
    def fields(self) -> list[str]:
        return [column.field for column in self.columns]

    def column_for(self, field_name: str) -> Column | None:
        return next((column for column in self.columns if column.field == field_name), None)

    def source_of(self, field_name: str) -> str:
        column = self.column_for(field_name)
        return column.source if column is not None else field_name

    def unknown_fields(self) -> list[str]:
        return [column.field for column in self.columns if not column.known]


def build_layout(headers: Sequence[str], rules: ColumnRules, *, required: Collection[str]) -> ColumnLayout:
    """Resolve the header row. 400s: unknown_mapping_column (a mapped source is not in the file),
    invalid_mapping (a target we do not know), duplicate_column (two columns with one name, or two columns
    resolving to one field), missing_column (a required field is not provided)."""
    sources = [str(header).strip() for header in headers]
    names = [normalize_header(header) for header in headers]
    not_found = [source for source in rules.mapping if source not in names]
    if not_found:
        raise ValidationFailed(
            f"The mapping names column(s) the file does not have: {', '.join(not_found)}.",
            code="unknown_mapping_column",
            details={"field": "mapping", "columns": not_found, "found": sources},
        )
    unknown_targets = sorted({t for t in rules.mapping.values() if t is not None and t not in rules.known})
    if unknown_targets:
        raise ValidationFailed(
            f"The mapping targets unknown column(s): {', '.join(unknown_targets)}.",
            code="invalid_mapping",
            details={"field": "mapping", "targets": unknown_targets, "allowed": sorted(rules.known)},
        )
    repeated = sorted({name for name in names if name and names.count(name) > 1 and not is_index_column(name)})
    if repeated:
        raise ValidationFailed(
            f"The header has repeated column names: {', '.join(repeated)}.",
            code="duplicate_column",
            details={"columns": repeated},
        )
    columns: list[Column] = []
    ignored: list[str] = []
    by_field: dict[str, Column] = {}
    for position, (source, name) in enumerate(zip(sources, names, strict=True)):
        resolved = rules.resolve(name)
        if resolved is None:
            ignored.append(source)
            continue
        mapped, field_name, known = resolved
        column = Column(position, source, mapped, field_name, known)
        if field_name in by_field:
            other = by_field[field_name].source
            raise ValidationFailed(
                f"Columns {other!r} and {source!r} both provide {field_name}; keep one or map one elsewhere.",
                code="duplicate_column",
                details={"columns": [other, source], "field": field_name},
            )
        by_field[field_name] = column
        columns.append(column)
    missing = sorted(set(required) - set(by_field))
    if missing:
        raise ValidationFailed(
            f"Required column(s) missing: {', '.join(missing)}.",
            code="missing_column",
            details={"missing": missing, "found": sources},
        )
    return ColumnLayout(columns, ignored, sources)
