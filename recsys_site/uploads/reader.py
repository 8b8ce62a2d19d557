"""Streaming an upload as chunks of str columns, with the line of each row and the rows that failed to split."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recsys_site.errors import UnsupportedFile, ValidationFailed

from .blocks import gc_paused, iter_blocks
from .csvread import CsvTokenizer, Piece, read_first_record, sniff_delimiter
from .jsonl import JsonlTokenizer
from .layout import ColumnLayout, ColumnRules, build_layout
from .options import ReadOptions, is_index_column, normalize_header
from .report import RowError
from .source import Upload
from .values import STR

_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon", "|": "pipe"}


@dataclass
class RawChunk:
    """Up to chunk_rows rows: `frame` has one str column per field ("" for an empty cell; header names
    normalised, mapped and aliased), `lines` the file line of each row, `errors` the rows rejected while
    splitting (wrong field count, unterminated quote, bad JSON), `sources` field -> column as written."""

    frame: pd.DataFrame
    lines: np.ndarray
    errors: list[RowError]
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def rows_total(self) -> int:
        return len(self.frame) + len(self.errors)

    def source_of(self, field_name: str) -> str:
        return self.sources.get(field_name, field_name)


class ChunkReader:
    """Reads the header (CSV) or the first chunk (JSONL) on construction, so that whole-file problems
    (missing_column, unknown_mapping_column, duplicate_column, column_count_mismatch, malformed_csv in the
    header, unsupported_file for a JSON array) raise before any row is processed. Iterate once."""

    def __init__(
        self,
        upload: Upload,
        options: ReadOptions,
        *,
        required: Collection[str],
        known: Collection[str],
        aliases: Mapping[str, str] | None = None,
        keep_unknown: bool = True,
    ):
        self.options = options
        self.rules = ColumnRules(options.mapping, frozenset(known), dict(aliases or {}), keep_unknown)
        self.notes: list[str] = []
        self.rows_seen = 0
        self.format = _detect_format(upload, options)
        self._blocks = iter_blocks(upload)
        if self.format == "csv":
            self._pieces = self._init_csv(required)
        else:
            self._pieces = self._init_jsonl(required)
        self._note_ignored()

    def __iter__(self) -> Iterator[RawChunk]:
        limit = self.options.chunk_rows
        frames: list[pd.DataFrame] = []
        lines: list[np.ndarray] = []
        errors: list[RowError] = []
        count = 0
        for frame, piece_lines, piece_errors in self._pieces:
            self.rows_seen += len(frame) + len(piece_errors)
            errors.extend(piece_errors)
            start = 0
            while start < len(frame):
                take = min(limit - count, len(frame) - start)
                frames.append(frame.iloc[start : start + take])
                lines.append(piece_lines[start : start + take])
                start += take
                count += take
                if count >= limit:
                    yield self._chunk(frames, lines, errors)
                    frames, lines, errors, count = [], [], [], 0
            if len(errors) >= limit:
                yield self._chunk(frames, lines, errors)
                frames, lines, errors, count = [], [], [], 0
        if frames or errors:
            yield self._chunk(frames, lines, errors)
        if self.rows_seen == 0:
            raise ValidationFailed("The file has a header but no rows.", code="no_rows")

    def _chunk(self, frames: list[pd.DataFrame], lines: list[np.ndarray], errors: list[RowError]) -> RawChunk:
        if not frames:
            frame = pd.DataFrame({name: pd.Series([], dtype=STR) for name in self.layout.fields})
        elif len(frames) == 1:
            frame = frames[0].reset_index(drop=True)
        else:
            frame = pd.concat(frames, ignore_index=True)
        if self.format == "jsonl":
            frame = frame.fillna("")
        all_lines = np.concatenate(lines) if lines else np.zeros(0, dtype=np.int64)
        sources = {column.field: column.source for column in self.layout.columns}
        return RawChunk(frame, all_lines, sorted(errors, key=lambda e: e.line), {**self._extra_sources, **sources})

    def _init_csv(self, required: Collection[str]) -> Iterator[Piece]:
        first = next(self._blocks)
        delimiter = self.options.delimiter
        if delimiter is None:
            delimiter = sniff_delimiter(first.lines[:200])
            if delimiter != ",":
                self.notes.append(f"delimiter detected: {_DELIMITER_NAMES[delimiter]}")
        fields, used = read_first_record(first, delimiter)
        names = self.options.column_names
        if names is not None and len(names) != len(fields):
            raise ValidationFailed(
                f"column_names has {len(names)} names but the first row has {len(fields)} fields.",
                code="column_count_mismatch",
                details={"field": "column_names", "expected": len(fields), "found": len(names)},
            )
        headers = list(names) if names is not None else fields
        rest = first.tail(used) if self.options.has_header else first
        self.layout = build_layout(headers, self.rules, required=required)
        self._extra_sources: dict[str, str] = {}
        tokenizer = CsvTokenizer(
            self._blocks,
            delimiter=delimiter,
            ncols=len(headers),
            keep=[column.position for column in self.layout.columns],
            names=self.layout.fields,
        )
        return tokenizer.pieces(rest, self.options.chunk_rows)

    def _init_jsonl(self, required: Collection[str]) -> Iterator[Piece]:
        tokenizer = JsonlTokenizer(self._blocks, self.rules)
        pieces = tokenizer.pieces(self.options.chunk_rows)
        first = next(pieces, None)
        keys = list(tokenizer.keys_seen.values())
        self.layout = build_layout(keys, self.rules, required=required) if first else ColumnLayout([])
        self._extra_sources = tokenizer.sources

        def frames() -> Iterator[Piece]:
            piece = first
            while piece is not None:
                rows, lines, errors = piece
                columns = list(dict.fromkeys([*self.layout.fields, *tokenizer.sources]))
                with gc_paused():
                    frame = pd.DataFrame(
                        {name: pd.Series([row.get(name, "") for row in rows], dtype=STR) for name in columns}
                    )
                yield frame, np.asarray(lines, dtype=np.int64), errors
                piece = next(pieces, None)

        return frames()

    def _note_ignored(self) -> None:
        index = [
            source
            for source in self.layout.ignored
            if is_index_column(normalize_header(source)) and normalize_header(source) not in self.rules.mapping
        ]
        other = [source for source in self.layout.ignored if source not in index]
        if index:
            self.notes.append(f"ignored index column(s): {', '.join(repr(s) for s in index)}")
        if other:
            self.notes.append(f"ignored column(s): {', '.join(other)}")


def _detect_format(upload: Upload, options: ReadOptions) -> str:
    first = upload.first_byte()
    if first == b"[" and options.format != "csv":
        raise UnsupportedFile(
            "JSON arrays are not supported: upload JSON Lines (one object per line) or CSV.",
            code="unsupported_file",
            details={"detected": "a JSON array"},
        )
    if options.format != "auto":
        return options.format
    if (upload.name or "").lower().endswith(_JSONL_SUFFIXES) or first == b"{":
        return "jsonl"
    return "csv"


def read_chunks(
    stream: Upload,
    options: ReadOptions,
    *,
    required: Collection[str],
    known: Collection[str],
    aliases: Mapping[str, str] | None = None,
    keep_unknown: bool = True,
) -> Iterator[RawChunk]:
    """Stream `stream` as RawChunks of at most options.chunk_rows rows (see ChunkReader)."""
    return iter(
        ChunkReader(stream, options, required=required, known=known, aliases=aliases, keep_unknown=keep_unknown)
    )
