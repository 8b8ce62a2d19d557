"""CSV tokenising with exact line numbers and row errors.

Two paths give the same result. Blocks without quotes, NULs, bare carriage returns or blank lines are
split by pyarrow (one physical line is one record there, so line numbers are a range); if pyarrow finds
a row with the wrong number of fields the block is redone by the slow path. Every other block goes
through Python's C `csv` module in strict mode, which also follows quoted fields across blocks. When a
quote is left open, the record runs on over the following lines: the row where it started is reported
and reading restarts on the next line.
"""

from __future__ import annotations

import csv
import itertools
from collections import Counter
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from recsys_site.errors import ValidationFailed

from .blocks import Block, gc_paused
from .options import SNIFFED_DELIMITERS
from .report import RowError
from .values import STR

MAX_RESYNCS = 100
SNIFF_LINES = 20
_CSV_MESSAGES = {
    "unexpected end of data": ("a quoted field is never closed", "unterminated_quote"),
    "line contains NUL": ("the line contains a NUL byte", "nul_byte"),
    "new-line character seen in unquoted field": ("a bare carriage return (\\r) in an unquoted field", "bare_cr"),
}

Piece = tuple[pd.DataFrame, np.ndarray, list[RowError]]


def sniff_delimiter(lines: Sequence[str]) -> str:
    """The candidate that splits the first non-blank lines into the same number (> 1) of fields most often;
    ties go to more fields, then to the order , TAB ; |. One-column files get ","."""
    sample = [line for line in lines if line.strip()][:SNIFF_LINES]
    best, best_score = ",", (0.0, 0)
    for delimiter in SNIFFED_DELIMITERS:
        counts = [len(row) for row in csv.reader(sample, delimiter=delimiter, strict=False)]
        if not counts:
            continue
        fields, times = Counter(counts).most_common(1)[0]
        score = (times / len(counts), fields)
        if fields > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


def read_first_record(block: Block, delimiter: str) -> tuple[list[str], int]:
    """The first non-blank record of the file and the number of lines it and any blank lines before it use."""
    reader = csv.reader(iter(block.lines), delimiter=delimiter, strict=True)
    try:
        for fields in reader:
            if fields and (len(fields) > 1 or fields[0].strip()):
                return fields, reader.line_num
    except csv.Error as exc:
        line = block.first_line + max(reader.line_num, 1) - 1
        raise ValidationFailed(
            f"The first row (line {line}) cannot be read as CSV: {exc}.", code="malformed_csv", details={"line": line}
        ) from None
    raise ValidationFailed("The file is empty.", code="empty_file")


class CsvTokenizer:
    """Turns blocks into pieces: (str DataFrame of the kept columns, line of each row, row errors)."""

    def __init__(
        self, blocks: Iterator[Block], *, delimiter: str, ncols: int, keep: Sequence[int], names: Sequence[str]
    ):
        self._blocks = blocks
        self._delimiter = delimiter
        self._ncols = ncols
        self._keep = list(keep)
        self._names = list(names)
        self._reader: Iterator[list[str]] | None = None
        self._source: Iterator[str] = iter(())
        self._store: list[Block] = []
        self._base = 0
        self._last = 0
        self._resyncs = 0
        self._fast_ok = ncols > 1 and delimiter.isascii()

    def pieces(self, first: Block | None, piece_rows: int) -> Iterator[Piece]:
        blocks = itertools.chain([first], self._blocks) if first is not None else self._blocks
        for block in blocks:
            if not block.n_lines:
                continue
            piece = self._fast(block) if self._fast_ok else None
            if piece is not None:
                yield piece
                continue
            self._open_span(block)
            while self._reader is not None:
                yield self._collect(piece_rows)

    # -- fast path -------------------------------------------------------------------------------
    def _fast(self, block: Block) -> Piece | None:
        data = block.data
        if (
            b'"' in data
            or b"\x00" in data
            or b"\n\n" in data
            or b"\n\r\n" in data
            or data.startswith((b"\n", b"\r\n"))
            or data.count(b"\r") != data.count(b"\r\n")
        ):
            return None
        invalid: list[int] = []

        def on_invalid(row: object) -> str:
            invalid.append(1)
            return "skip"

        columns = [f"c{i}" for i in range(self._ncols)]
        wanted = [columns[i] for i in self._keep]
        try:
            table = pacsv.read_csv(
                pa.BufferReader(data),
                read_options=pacsv.ReadOptions(column_names=columns, use_threads=False, block_size=len(data) + 1),
                parse_options=pacsv.ParseOptions(
                    delimiter=self._delimiter,
                    quote_char=False,
                    double_quote=False,
                    escape_char=False,
                    newlines_in_values=False,
                    ignore_empty_lines=False,
                    invalid_row_handler=on_invalid,
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(wanted, pa.string()),
                    include_columns=wanted,
                    strings_can_be_null=False,
                    check_utf8=False,
                ),
            )
        except pa.ArrowInvalid:
            return None
        if invalid or table.num_rows != block.n_lines:
            return None
        frame = pd.DataFrame({name: pd.Series(table.column(i), dtype=STR) for i, name in enumerate(self._names)})
        lines = np.arange(block.first_line, block.first_line + block.n_lines, dtype=np.int64)
        return frame, lines, []

    # -- exact path ------------------------------------------------------------------------------
    def _open_span(self, block: Block) -> None:
        self._store = [block]
        self._last = block.last_line
        self._base = block.first_line - 1
        self._source = itertools.chain(block.lines, self._feed())
        self._reader = csv.reader(self._source, delimiter=self._delimiter, strict=True)

    def _feed(self) -> Iterator[str]:
        """Lines of the following blocks, pulled only when a quoted field runs past the current block."""
        for block in self._blocks:
            self._store.append(block)
            self._last = block.last_line
            yield from block.lines

    def _collect(self, limit: int) -> Piece:
        rows: list[list[str]] = []
        lines: list[int] = []
        errors: list[RowError] = []
        ncols = self._ncols
        reader = self._reader
        with gc_paused():
            while len(rows) < limit and reader is not None:
                before = reader.line_num
                try:
                    fields = next(reader)
                except StopIteration:
                    self._reader = None
                    break
                except csv.Error as exc:
                    start, end = self._base + before + 1, self._base + reader.line_num
                    errors.append(self._csv_error(start, end, exc))
                    reader = self._reader
                else:
                    n = len(fields)
                    if n == ncols and (n > 1 or fields[0].strip()):
                        rows.append(fields)
                        lines.append(self._base + before + 1)
                    elif n > 1 or (n == 1 and fields[0].strip()):
                        errors.append(self._count_error(self._base + before + 1, self._base + reader.line_num, n))
                        reader = self._reader
                if self._base + reader.line_num == self._last:
                    self._reader = reader = None
        self._prune()
        return self._frame(rows), np.asarray(lines, dtype=np.int64), errors

    def _frame(self, rows: list[list[str]]) -> pd.DataFrame:
        if not rows:
            return pd.DataFrame({name: pd.Series([], dtype=STR) for name in self._names})
        with gc_paused():
            columns = list(zip(*rows, strict=True))
        return pd.DataFrame(
            {
                name: pd.Series(pa.array(columns[i], type=pa.large_string()), dtype=STR)
                for i, name in zip(self._keep, self._names, strict=True)
            }
        )

    def _csv_error(self, start: int, end: int, exc: csv.Error) -> RowError:
        text = str(exc)
        message, code = next(
            ((m, c) for key, (m, c) in _CSV_MESSAGES.items() if text.startswith(key)),
            (f"malformed CSV: {text}", "malformed_row"),
        )
        if text.startswith("field larger than field limit"):
            message, code = f"a field is longer than {csv.field_size_limit():,} characters", "field_too_long"
        if end > start:
            self._resync(start, end)
            return RowError(
                start,
                None,
                f"{message}; a quote opened on this line runs on to line {end}. "
                "The row is skipped and reading goes on with the next line.",
                "unterminated_quote",
            )
        return RowError(start, None, message, code)

    def _count_error(self, start: int, end: int, found: int) -> RowError:
        message = f"expected {self._ncols} fields, found {found}"
        if end > start:
            self._resync(start, end)
            return RowError(
                start,
                None,
                f"{message} in a record that runs on to line {end}: probably a quote "
                "that is not closed. Reading goes on with the next line.",
                "unterminated_quote",
            )
        return RowError(start, None, message, "field_count")

    def _resync(self, start: int, end: int) -> None:
        """Read again from the line after `start`, which opened a quote that swallowed the following lines."""
        self._resyncs += 1
        if self._resyncs > MAX_RESYNCS:
            raise ValidationFailed(
                f"The file cannot be read as CSV: quotes are unbalanced on too many rows (the last at line {start}).",
                code="malformed_csv",
                details={"line": start},
            )
        again: list[str] = []
        for block in self._store:
            low, high = max(start + 1, block.first_line), min(end, block.last_line)
            if low <= high:
                again.extend(block.lines[low - block.first_line : high - block.first_line + 1])
        self._base = start
        self._source = itertools.chain(again, self._source)
        self._reader = csv.reader(self._source, delimiter=self._delimiter, strict=True)

    def _prune(self) -> None:
        if self._reader is None:
            self._store = []
            return
        consumed = self._base + self._reader.line_num
        self._store = [block for block in self._store if block.last_line > consumed]
