"""Opening an upload: size limits, gzip, binary and encoding sniffing. Bytes come out, never the whole file."""

from __future__ import annotations

import gzip
import io
import os
import zlib
from typing import IO, Any

from recsys_site.errors import PayloadTooLarge, UnsupportedFile, ValidationFailed

UTF8_BOM = b"\xef\xbb\xbf"
SNIFF_BYTES = 64 * 1024
BINARY_SNIFF_BYTES = 8 * 1024
DECOMPRESSION_RATIO = 10
MAX_LEADING_BLANK = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive (or an Excel .xlsx file)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel/Office file"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PAR1", "a Parquet file"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x28\xb5\x2f\xfd", "a zstd archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "an executable"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class _Counted:
    """Reads from `inner`, raising PayloadTooLarge as soon as more than `limit` bytes have come out."""

    def __init__(self, inner: Any, limit: int, *, code: str, what: str):
        self._inner = inner
        self._limit = limit
        self._code = code
        self._what = what
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        room = self._limit - self.count + 1
        size = room if size is None or size < 0 else min(size, room)
        data = self._inner.read(size)
        self.count += len(data)
        if self.count > self._limit:
            raise PayloadTooLarge(
                f"The {self._what} is larger than the limit of {self._limit:,} bytes.",
                code=self._code,
                details={"max_bytes": self._limit, "size": self.count, "size_is_partial": True},
            )
        return data


class _Prefixed:
    """A reader that first returns `prefix`, then continues with `inner`."""

    def __init__(self, prefix: bytes, inner: Any):
        self._prefix = prefix
        self._inner = inner

    def read(self, size: int = -1) -> bytes:
        if not self._prefix:
            return self._inner.read(size)
        if size is None or size < 0:
            data, self._prefix = self._prefix + self._inner.read(), b""
            return data
        data, self._prefix = self._prefix[:size], self._prefix[size:]
        return data


class _Gunzip:
    """Streaming gzip decompression; a damaged stream becomes a 400 corrupt_gzip where it is found."""

    def __init__(self, raw: Any):
        self._file = gzip.GzipFile(fileobj=raw, mode="rb")
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._file.read(size)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise ValidationFailed(
                f"The gzip file is damaged ({exc}); it could be read up to byte {self.position:,} of its content.",
                code="corrupt_gzip",
                details={"decompressed_offset": self.position},
            ) from None
        self.position += len(data)
        return data


class Upload:
    """An opened upload: `read(n)` returns decompressed bytes (UTF-8 BOM removed). Use as a context manager."""

    def __init__(
        self,
        raw: IO[bytes],
        *,
        name: str | None,
        size: int | None,
        max_bytes: int,
        max_decompressed_bytes: int,
        owns_raw: bool,
    ):
        self.name = name
        self.size = size
        self.max_bytes = max_bytes
        self._raw = raw
        self._owns_raw = owns_raw
        counted = _Counted(raw, max_bytes, code="upload_too_large", what="file")
        head = _read_full(counted, SNIFF_BYTES)
        self.compressed = head.startswith(_GZIP_MAGIC)
        if not self.compressed:
            _reject_binary(head)
        stream: Any = counted
        if self.compressed:
            stream = _Counted(
                _Gunzip(_Prefixed(head, counted)),
                max_decompressed_bytes,
                code="decompressed_too_large",
                what="decompressed file",
            )
            head = _read_full(stream, SNIFF_BYTES)
            _reject_binary(head)
        if head.startswith(_UTF16_BOMS):
            raise ValidationFailed(
                "The file is UTF-16 encoded; save it as UTF-8 and upload it again.",
                code="invalid_encoding",
                details={"line": 1, "byte_offset": 0},
            )
        if head.startswith(UTF8_BOM):
            head = head[len(UTF8_BOM) :]
        while not head.strip():
            more = stream.read(SNIFF_BYTES) if len(head) < MAX_LEADING_BLANK else b""
            if not more:
                blank_start = len(head) >= MAX_LEADING_BLANK
                raise ValidationFailed(
                    "The file starts with 1 MiB of blanks." if blank_start else "The file is empty.", code="empty_file"
                )
            head += more
        self.head = head
        self._stream = _Prefixed(head, stream)

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def first_byte(self) -> bytes:
        """The first non-blank byte of the content (b"" if none in the first 64 KiB)."""
        stripped = self.head.lstrip()
        return stripped[:1]

    def close(self) -> None:
        if self._owns_raw:
            self._raw.close()

    def __enter__(self) -> Upload:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _read_full(stream: Any, size: int) -> bytes:
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        data = stream.read(remaining)
        if not data:
            break
        parts.append(data)
        remaining -= len(data)
    return b"".join(parts)


def _reject_binary(head: bytes) -> None:
    for magic, what in _MAGIC:
        if head.startswith(magic):
            raise UnsupportedFile(
                f"This looks like {what}, not a CSV or JSON Lines file.",
                code="unsupported_file",
                details={"detected": what},
            )
    if head.startswith(b"BZh") and head[4:10] == b"1AY&SY":
        raise UnsupportedFile(
            "bzip2 files are not supported; use gzip or no compression.",
            code="unsupported_file",
            details={"detected": "a bzip2 archive"},
        )
    if head.startswith(_UTF16_BOMS):
        return
    if b"\x00" in head[:BINARY_SNIFF_BYTES]:
        raise UnsupportedFile(
            "This is a binary file, not a CSV or JSON Lines file.",
            code="unsupported_file",
            details={"detected": "binary data"},
        )


def open_upload(fileobj_or_path: Any, *, max_bytes: int, max_decompressed_bytes: int | None = None) -> Upload:
    """Open a path, bytes, or a binary file object (e.g. a Django UploadedFile) for reading.

    Raises 413 upload_too_large at once when the size is known and over `max_bytes`, otherwise while
    reading. A gzip stream (recognised by its magic bytes) is decompressed on the fly, up to
    `max_decompressed_bytes` (default 10x max_bytes: 413 decompressed_too_large). Binary files are a 415,
    UTF-16 a 400 invalid_encoding, a blank file a 400 empty_file."""
    if max_bytes <= 0:
        raise ValueError("max_bytes must be positive")
    limit = max_decompressed_bytes or max_bytes * DECOMPRESSION_RATIO
    owns = False
    if isinstance(fileobj_or_path, str | os.PathLike):
        path = os.fspath(fileobj_or_path)
        size = os.stat(path).st_size
        _check_size(size, max_bytes)
        raw: Any = open(path, "rb")  # noqa: SIM115 - closed by Upload.close()
        name: str | None = os.path.basename(path)
        owns = True
    elif isinstance(fileobj_or_path, bytes | bytearray | memoryview):
        raw = io.BytesIO(fileobj_or_path)
        size, name = len(raw.getbuffer()), None
    elif hasattr(fileobj_or_path, "read"):
        if isinstance(fileobj_or_path, io.TextIOBase):
            raise TypeError("open the upload in binary mode")
        raw = fileobj_or_path
        size = _size_of(raw)
        name = getattr(raw, "name", None)
        name = os.path.basename(name) if isinstance(name, str) else None
    else:
        raise TypeError(f"cannot read an upload from {type(fileobj_or_path).__name__}")
    try:
        _check_size(size, max_bytes)
        return Upload(raw, name=name, size=size, max_bytes=max_bytes, max_decompressed_bytes=limit, owns_raw=owns)
    except BaseException:
        if owns:
            raw.close()
        raise


def _size_of(raw: Any) -> int | None:
    size = getattr(raw, "size", None)
    if isinstance(size, int) and not isinstance(size, bool):
        return size
    seekable = getattr(raw, "seekable", None)
    if seekable is not None and seekable():
        position = raw.tell()
        end = raw.seek(0, io.SEEK_END)
        raw.seek(position)
        return end - position
    return None


def _check_size(size: int | None, max_bytes: int) -> None:
    if size is not None and size > max_bytes:
        raise PayloadTooLarge(
            f"The file is {size:,} bytes; the limit is {max_bytes:,} bytes.",
            code="upload_too_large",
            details={"max_bytes": max_bytes, "size": size},
        )
