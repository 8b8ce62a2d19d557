"""Cutting a byte stream into UTF-8-checked blocks of whole lines, with exact line numbers."""

from __future__ import annotations

import gc
import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from recsys_site.errors import ApplicationError, ValidationFailed

BLOCK_BYTES = 1 << 20
MAX_LINE_BYTES = 16 << 20


class Block:
    """Consecutive whole lines of the file; `first_line` is the 1-based line number of the first one."""

    __slots__ = ("first_line", "data", "text", "n_lines", "_lines")

    def __init__(self, first_line: int, data: bytes, text: str):
        self.first_line = first_line
        self.data = data
        self.text = text
        self.n_lines = data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)
        self._lines: list[str] | None = None

    @property
    def last_line(self) -> int:
        return self.first_line + self.n_lines - 1

    @property
    def lines(self) -> list[str]:
        """The lines with their line endings; only "\\n" ends a line, as in the line numbers we report."""
        if self._lines is None:
            self._lines = list(io.StringIO(self.text, newline="\n"))
        return self._lines

    def tail(self, skip_lines: int) -> Block:
        """The same block without its first `skip_lines` lines."""
        kept = self.lines[skip_lines:]
        offset = sum(len(line.encode()) for line in self.lines[:skip_lines])
        block = Block(self.first_line + skip_lines, self.data[offset:], "".join(kept))
        block._lines = kept
        return block


def iter_blocks(upload: Any, *, block_bytes: int | None = None) -> Iterator[Block]:
    """Blocks of about `block_bytes` (default BLOCK_BYTES), cut after a newline. Invalid UTF-8 is a 400
    invalid_encoding naming the line and byte offset; an error raised by the stream (corrupt gzip) gets the
    line it was reached at."""
    block_bytes = block_bytes or BLOCK_BYTES
    pending = b""
    line = 1
    offset = 0
    while True:
        try:
            data = upload.read(block_bytes)
        except ApplicationError as exc:
            exc.details.setdefault("line", line + pending.count(b"\n"))
            raise
        buffer = pending + data if pending else data
        if data:
            cut = buffer.rfind(b"\n") + 1
            if cut == 0:
                if len(buffer) > MAX_LINE_BYTES:
                    raise ValidationFailed(
                        f"Line {line} is longer than {MAX_LINE_BYTES:,} bytes.",
                        code="line_too_long",
                        details={"line": line},
                    )
                pending = buffer
                continue
        else:
            cut = len(buffer)
        chunk, pending = buffer[:cut], buffer[cut:]
        if chunk:
            block = Block(line, chunk, _decode(chunk, line, offset))
            yield block
            line += block.n_lines
            offset += len(chunk)
        if not data:
            return


def _decode(chunk: bytes, line: int, offset: int) -> str:
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad_line = line + chunk.count(b"\n", 0, exc.start)
        line_start = chunk.rfind(b"\n", 0, exc.start) + 1
        raise ValidationFailed(
            f"The file is not valid UTF-8: byte 0x{chunk[exc.start]:02x} on line {bad_line} "
            f"(byte {offset + exc.start:,} of the file). Save the file as UTF-8 and upload it again.",
            code="invalid_encoding",
            details={"line": bad_line, "byte_offset": offset + exc.start, "column_byte": exc.start - line_start + 1},
        ) from None


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small containers (one list per CSV row,
    one dict per JSON line). These are not cycles; without the pause the collector's repeated scans of
    the growing chunk cost more than the parsing itself (about 3x slower on ML-1M)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
