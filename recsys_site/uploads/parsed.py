"""The frame shared by the file parsers: open, read the header, stream typed chunks, total a summary."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .options import ReadOptions
from .reader import ChunkReader, RawChunk
from .report import ImportSummary, ParsedChunk
from .source import Upload, open_upload


class ParsedFile:
    """Iterate for ParsedChunks (once); `summary` is complete when the iteration ends. Whole-file errors
    in the header or options raise from the constructor; damage found further on (invalid UTF-8, corrupt
    gzip, malformed CSV) raises from the iteration, after earlier chunks were yielded, so the caller must
    treat the import as failed then (a transaction or a staging table). Closes the upload when the
    iteration ends; use as a context manager (or call close()) when it may not run to the end."""

    required: ClassVar[frozenset[str]] = frozenset()
    known: ClassVar[frozenset[str]] = frozenset()
    aliases: ClassVar[dict[str, str]] = {}
    keep_unknown: ClassVar[bool] = True

    def __init__(
        self, source: Any, options: ReadOptions | None, *, max_bytes: int, max_decompressed_bytes: int | None = None
    ):
        self.options = options or ReadOptions()
        if isinstance(source, Upload):
            self.upload = source
        else:
            self.upload = open_upload(source, max_bytes=max_bytes, max_decompressed_bytes=max_decompressed_bytes)
        try:
            self.reader = ChunkReader(
                self.upload,
                self.options,
                required=self.required,
                known=self.known,
                aliases=self.aliases,
                keep_unknown=self.keep_unknown,
            )
            layout = self.reader.layout
            self.summary = ImportSummary(
                notes=list(self.reader.notes),
                ignored_columns=list(layout.ignored),
                columns={c.field: c.source for c in layout.columns if c.known},
            )
            self.summary.stats["format"] = self.reader.format
            self._setup()
        except BaseException:
            self.close()
            raise

    def _setup(self) -> None:
        """Checks that need the layout (e.g. alternatives to a required column)."""

    def _parse(self, raw: RawChunk) -> ParsedChunk:
        raise NotImplementedError

    def _finish(self) -> None:
        """Summary notes once every chunk has been read."""

    def __iter__(self) -> Iterator[ParsedChunk]:
        try:
            for raw in self.reader:
                chunk = self._parse(raw)
                self.summary.add_chunk(chunk)
                yield chunk
            self._finish()
        finally:
            self.close()

    def close(self) -> None:
        self.upload.close()

    def __enter__(self) -> ParsedFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class DistinctCounter:
    """Counts distinct keys across a whole file in 8 bytes per key (64-bit hashes; a collision among a
    million keys has a probability of about 3e-8, and would only undercount duplicates by one)."""

    def __init__(self) -> None:
        self._seen = np.zeros(0, dtype=np.uint64)
        self._pending: list[np.ndarray] = []
        self._pending_size = 0

    def add(self, keys: pd.Series) -> None:
        if len(keys):
            hashes = pd.util.hash_pandas_object(keys, index=False).to_numpy()
            self._pending.append(np.unique(hashes))
            self._pending_size += len(self._pending[-1])
            if self._pending_size > max(1_000_000, len(self._seen)):
                self._merge()

    def _merge(self) -> None:
        if self._pending:
            self._seen = np.unique(np.concatenate([self._seen, *self._pending]))
            self._pending, self._pending_size = [], 0

    def __len__(self) -> int:
        self._merge()
        return len(self._seen)
