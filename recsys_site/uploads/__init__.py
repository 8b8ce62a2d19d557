"""Reading uploaded files: pure functions from bytes to chunks of str columns plus row errors.

No Django here: limits and patterns come in as arguments, errors leave as `recsys_site.errors` exceptions
(whole-file problems) or `RowError`s (one bad row; the rest of the file goes on).
"""

from .layout import Column, ColumnLayout
from .options import ReadOptions, is_index_column, normalize_header
from .reader import ChunkReader, RawChunk, read_chunks
from .report import ChunkErrors, ImportSummary, ParsedChunk, RowError, show
from .source import Upload, open_upload
from .values import STR

__all__ = [
    "STR",
    "ChunkErrors",
    "ChunkReader",
    "Column",
    "ColumnLayout",
    "ImportSummary",
    "ParsedChunk",
    "RawChunk",
    "ReadOptions",
    "RowError",
    "Upload",
    "is_index_column",
    "normalize_header",
    "open_upload",
    "read_chunks",
    "show",
]
