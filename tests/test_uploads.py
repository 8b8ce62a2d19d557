"""recsys_site.uploads: opening, limits, encodings, CSV/JSONL splitting, options. No database."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pytest

from recsys_site.errors import ApplicationError, PayloadTooLarge, UnsupportedFile, ValidationFailed
from recsys_site.uploads import ChunkReader, ReadOptions, RowError, open_upload, read_chunks
from recsys_site.uploads.blocks import BLOCK_BYTES

KNOWN = {"id", "name", "value", "user_id", "item_id", "rating"}
MB = 1 << 20


def read(
    data: bytes,
    options: ReadOptions | None = None,
    *,
    required=("id",),
    known=KNOWN,
    max_bytes=10 * MB,
    keep_unknown=True,
    name: str | None = None,
):
    """All rows as (frame of every chunk concatenated, lines, errors)."""
    source = io.BytesIO(data)
    if name:
        source.name = name
    upload = open_upload(source, max_bytes=max_bytes)
    frames, lines, errors = [], [], []
    for chunk in read_chunks(
        upload, options or ReadOptions(), required=set(required), known=known, keep_unknown=keep_unknown
    ):
        frames.append(chunk.frame)
        lines.extend(chunk.lines.tolist())
        errors.extend(chunk.errors)
    import pandas as pd

    return pd.concat(frames, ignore_index=True), lines, errors


def raises(exc_type: type[ApplicationError], code: str, func, *args, **kwargs) -> ApplicationError:
    with pytest.raises(exc_type) as info:
        func(*args, **kwargs)
    assert info.value.code == code, info.value.message
    return info.value


# -- options -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("\t", "\t"),
        ("\\t", "\t"),
        ("tab", "\t"),
        ("TAB", "\t"),
        ("comma", ","),
        ("semicolon", ";"),
        ("pipe", "|"),
        (";", ";"),
        ("", None),
    ],
)
def test_from_params_delimiter_names(given, expected):
    assert ReadOptions.from_params({"delimiter": given}).delimiter == expected


def test_unknown_delimiter_option_is_a_400():
    error = raises(ValidationFailed, "invalid_delimiter", ReadOptions.from_params, {"delimiter": "colon-ish"})
    assert error.details["field"] == "delimiter"


def test_multi_character_delimiter_in_code_is_a_400():
    raises(ValidationFailed, "invalid_delimiter", ReadOptions, delimiter="::")


def test_quote_as_delimiter_is_a_400():
    raises(ValidationFailed, "invalid_delimiter", ReadOptions, delimiter='"')


@pytest.mark.parametrize(("given", "expected"), [("false", False), ("0", False), ("no", False), ("True", True)])
def test_from_params_has_header(given, expected):
    options = ReadOptions.from_params({"has_header": given, "column_names": "a,b"})
    assert options.has_header is expected


def test_from_params_bad_has_header_names_the_field():
    error = raises(ValidationFailed, "invalid_option", ReadOptions.from_params, {"has_header": "maybe"})
    assert error.details["field"] == "has_header"


def test_no_header_requires_column_names():
    error = raises(ValidationFailed, "invalid_option", ReadOptions.from_params, {"has_header": "false"})
    assert error.details["field"] == "column_names"


def test_from_params_column_names_and_mapping_strings():
    options = ReadOptions.from_params(
        {
            "has_header": "0",
            "column_names": "User ID, item_id,rating",
            "mapping": '{"Customer ID": "user_id", "junk": null}',
            "chunk_rows": "10",
        }
    )
    assert options.column_names == ("user_id", "item_id", "rating")
    assert options.mapping == {"customer_id": "user_id", "junk": None}
    assert options.chunk_rows == 10


def test_mapping_that_is_not_json_is_a_400():
    error = raises(ValidationFailed, "invalid_mapping", ReadOptions.from_params, {"mapping": "{customer_id: user_id"})
    assert error.details["field"] == "mapping"


def test_mapping_two_sources_to_one_target_is_a_400():
    raises(ValidationFailed, "invalid_mapping", ReadOptions, mapping={"a": "user_id", "b": "user_id"})


def test_duplicate_column_names_option_is_a_400():
    raises(ValidationFailed, "invalid_column_names", ReadOptions, has_header=False, column_names=("a", "A"))


def test_bad_chunk_rows_is_a_400():
    error = raises(ValidationFailed, "invalid_option", ReadOptions.from_params, {"chunk_rows": "lots"})
    assert error.details["field"] == "chunk_rows"
    # A client cannot make an import hold a million rows in memory at once.
    error = raises(ValidationFailed, "invalid_option", ReadOptions.from_params, {"chunk_rows": "1000000"})
    assert "100,000" in error.message


def test_nul_in_column_names_or_mapping_is_a_400():
    raises(ValidationFailed, "invalid_option", ReadOptions, has_header=False, column_names=("a", "b\x00"))
    raises(ValidationFailed, "invalid_option", ReadOptions.from_params, {"mapping": '{"a\\u0000": "item_id"}'})


# -- opening: size, binary, gzip, encoding ----------------------------------------------------------------------


def test_empty_file():
    raises(ValidationFailed, "empty_file", open_upload, b"", max_bytes=100)


def test_blank_file_counts_as_empty():
    raises(ValidationFailed, "empty_file", open_upload, b"\xef\xbb\xbf \n\r\n\n", max_bytes=100)


def test_file_over_the_size_limit_is_rejected_before_reading(tmp_path: Path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"id,name\n" + b"1,a\n" * 100)
    error = raises(PayloadTooLarge, "upload_too_large", open_upload, path, max_bytes=50)
    assert error.details == {"max_bytes": 50, "size": path.stat().st_size}
    assert PayloadTooLarge.status_code == 413


class _Stream:
    """A non-seekable stream of unknown size (like a request body)."""

    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(size)


def test_size_limit_when_size_is_unknown_is_checked_while_reading():
    data = b"id,name\n" + b"1,a\n" * 100_000
    upload = open_upload(_Stream(data), max_bytes=200_000)
    assert upload.size is None
    error = raises(
        PayloadTooLarge,
        "upload_too_large",
        lambda: list(read_chunks(upload, ReadOptions(), required={"id"}, known=KNOWN)),
    )
    assert error.details["max_bytes"] == 200_000
    assert error.details["size"] > 200_000


def test_binary_file_renamed_csv(tmp_path: Path):
    path = tmp_path / "items.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    error = raises(UnsupportedFile, "unsupported_file", open_upload, path, max_bytes=MB)
    assert "PNG" in error.message
    assert UnsupportedFile.status_code == 415


def test_excel_file_is_unsupported():
    raises(UnsupportedFile, "unsupported_file", open_upload, b"PK\x03\x04" + b"\x00" * 100, max_bytes=MB)


def test_nul_bytes_mean_binary():
    raises(UnsupportedFile, "unsupported_file", open_upload, b"id,name\n1,a\x00b\n", max_bytes=MB)


def test_gzipped_binary_is_unsupported():
    raises(UnsupportedFile, "unsupported_file", open_upload, gzip.compress(b"%PDF-1.7\n" + b"\x00" * 50), max_bytes=MB)


def test_valid_gzip_is_read_by_magic_not_name():
    data = gzip.compress(b"id,name\n1,a\n2,b\n")
    frame, lines, errors = read(data, name="items.csv")
    assert frame["id"].tolist() == ["1", "2"]
    assert lines == [2, 3]
    assert errors == []


def test_corrupt_gzip_header():
    raises(ValidationFailed, "corrupt_gzip", open_upload, b"\x1f\x8b\x08\x00garbage-not-deflate" * 3, max_bytes=MB)


def test_corrupt_gzip_found_midway_names_the_point():
    body = b"id,name\n" + b"".join(b"%d,item number %d\n" % (i, i * 7919 % 1000) for i in range(300_000))
    data = gzip.compress(body)
    truncated = data[: len(data) // 2]
    upload = open_upload(truncated, max_bytes=10 * MB)
    chunks = read_chunks(upload, ReadOptions(), required={"id"}, known=KNOWN)
    first = next(chunks)
    assert len(first.frame) == 50_000
    with pytest.raises(ValidationFailed) as info:
        list(chunks)
    assert info.value.code == "corrupt_gzip"
    assert info.value.details["line"] > 1000
    assert info.value.details["decompressed_offset"] > 0


def test_gzip_bomb_is_stopped():
    data = gzip.compress(b"id,name\n" + b"1,aaaaaaaaaaaaaaaaaaaa\n" * 200_000)
    assert len(data) < 100_000
    upload = open_upload(data, max_bytes=100_000)
    raises(
        PayloadTooLarge,
        "decompressed_too_large",
        lambda: list(read_chunks(upload, ReadOptions(), required={"id"}, known=KNOWN)),
    )


def test_non_utf8_bytes_give_the_line_and_byte():
    data = b"id,name\n1,caf\xc3\xa9\n2,caf\xe9\n"
    upload = open_upload(data, max_bytes=MB)
    error = raises(
        ValidationFailed,
        "invalid_encoding",
        lambda: list(read_chunks(upload, ReadOptions(), required={"id"}, known=KNOWN)),
    )
    assert error.details["line"] == 3
    assert error.details["byte_offset"] == data.index(b"\xe9\n")


def test_utf8_bom_is_stripped():
    frame, _, _ = read(b"\xef\xbb\xbfid,name\n1,caf\xc3\xa9\n")
    assert list(frame.columns) == ["id", "name"]
    assert frame["name"].tolist() == ["café"]


def test_utf16_is_an_encoding_error():
    raises(ValidationFailed, "invalid_encoding", open_upload, "id,name\n1,a\n".encode("utf-16"), max_bytes=MB)


# -- CSV ------------------------------------------------------------------------------------------------------


def test_header_only():
    raises(ValidationFailed, "no_rows", read, b"id,name\n\n\n")


def test_missing_required_column():
    error = raises(ValidationFailed, "missing_column", read, b"ident,name\n1,a\n")
    assert error.details == {"missing": ["id"], "found": ["ident", "name"]}


def test_headers_are_normalised():
    frame, _, _ = read(b" ID ,Item  Name\n1,a\n", known={"id"})
    assert list(frame.columns) == ["id", "item_name"]


def test_repeated_header_is_a_400():
    raises(ValidationFailed, "duplicate_column", read, b"id,Name,name\n1,a,b\n")


def test_index_columns_are_dropped():
    frame, _, _ = read(b",id,name,Unnamed: 3\n0,1,a,\n")
    assert list(frame.columns) == ["id", "name"]


def test_row_with_too_many_fields():
    frame, lines, errors = read(b"id,name\n1,a\n2,b,extra\n3,c\n")
    assert frame["id"].tolist() == ["1", "3"]
    assert lines == [2, 4]
    assert errors == [RowError(3, None, "expected 2 fields, found 3", "field_count")]


def test_row_with_too_few_fields():
    _, _, errors = read(b"id,name,value\n1,a,2\n2,b\n")
    assert errors == [RowError(3, None, "expected 3 fields, found 2", "field_count")]


def test_blank_lines_are_skipped_and_lines_stay_exact():
    frame, lines, errors = read(b"\nid,name\n\n1,a\n   \n\n2,b\n")
    assert frame["id"].tolist() == ["1", "2"]
    assert lines == [4, 7]
    assert errors == []


def test_crlf_line_endings():
    frame, lines, _ = read(b"id,name\r\n1,a\r\n2,b\r\n")
    assert frame["name"].tolist() == ["a", "b"]
    assert lines == [2, 3]


def test_quoted_fields_with_commas_and_newlines():
    frame, lines, errors = read(b'id,name\n1,"a, b"\n2,"line one\nline two"\n3,"say ""hi"""\n')
    assert frame["name"].tolist() == ["a, b", "line one\nline two", 'say "hi"']
    assert lines == [2, 3, 5]
    assert errors == []


def test_quote_left_open_mid_file_skips_one_row():
    data = b'id,name,value\n1,a,1\n2,"broken,2\n3,c,3\n4,"d",4\n5,e,5\n'
    frame, lines, errors = read(data)
    assert frame["id"].tolist() == ["1", "3", "4", "5"]
    assert lines == [2, 4, 5, 6]
    assert [(e.line, e.code) for e in errors] == [(3, "unterminated_quote")]


def test_quote_left_open_at_the_end():
    frame, lines, errors = read(b'id,name\n1,a\n2,"never closed\n3,c\n')
    assert frame["id"].tolist() == ["1", "3"]
    assert [(e.line, e.code) for e in errors] == [(3, "unterminated_quote")]


def test_stray_character_after_a_closing_quote_is_a_row_error():
    frame, _, errors = read(b'id,name\n1,"a"b\n2,c\n')
    assert frame["id"].tolist() == ["2"]
    assert [(e.line, e.code) for e in errors] == [(2, "malformed_row")]


def test_unparseable_file_is_a_400_naming_the_line():
    data = b"id,name\n" + b'1,"x\n' * 500
    error = raises(ValidationFailed, "malformed_csv", read, data)
    assert error.details["line"] > 2


def test_quoted_field_across_a_block_boundary():
    filler = b"".join(b"%d,name %d\n" % (i, i) for i in range(80_000))
    assert len(filler) > BLOCK_BYTES
    data = b"id,name\n" + filler + b'x,"first\nsecond"\n' + filler.replace(b",name", b",again")
    frame, lines, errors = read(data)
    assert errors == []
    assert len(frame) == 160_001
    row = frame.index[frame["id"] == "x"][0]
    assert frame["name"].iat[row] == "first\nsecond"
    assert lines[row] == 80_002
    assert lines[row + 1] == 80_004
    assert lines[-1] == 160_003


def test_fast_and_exact_paths_agree():
    rows = b"".join(b"%d,n%d,%d\n" % (i, i, i % 5) for i in range(1000))
    plain, plain_lines, _ = read(b"id,name,value\n" + rows)
    quoted, quoted_lines, _ = read(b'id,name,value\n"0",n0,0\n' + rows[rows.index(b"\n") + 1 :])
    assert plain.equals(quoted)
    assert plain_lines == quoted_lines


def test_bad_row_in_a_fast_block_falls_back_exactly():
    rows = [b"%d,n%d\n" % (i, i) for i in range(1000)]
    rows[500] = b"500,n500,extra\n"
    frame, lines, errors = read(b"id,name\n" + b"".join(rows))
    assert len(frame) == 999
    assert errors == [RowError(502, None, "expected 2 fields, found 3", "field_count")]
    assert lines[499:501] == [501, 503]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_sniffed(delimiter):
    text = f"id{delimiter}name{delimiter}value\n1{delimiter}a, b{delimiter}3\n2{delimiter}c{delimiter}4\n"
    frame, _, errors = read(text.encode())
    assert frame["name"].tolist() == ["a, b", "c"]
    assert errors == []


def test_no_header_with_column_names():
    data = b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n"
    options = ReadOptions(delimiter="\t", has_header=False, column_names=("user_id", "item_id", "rating", "ts"))
    frame, lines, _ = read(data, options, required=("user_id",))
    assert frame["user_id"].tolist() == ["196", "186"]
    assert lines == [1, 2]


def test_column_names_count_must_match():
    options = ReadOptions(has_header=False, column_names=("user_id", "item_id"))
    raises(ValidationFailed, "column_count_mismatch", read, b"1,2,3\n", options, required=("user_id",))


def test_mapping_renames_columns():
    options = ReadOptions(mapping={"Customer ID": "user_id", "stock_code": "item_id", "price": None})
    frame, _, _ = read(b"Customer ID,stock_code,price\n17850,85123A,2.55\n", options, required=("user_id", "item_id"))
    assert list(frame.columns) == ["user_id", "item_id"]


def test_mapping_a_missing_column_is_a_400_naming_it():
    options = ReadOptions(mapping={"customer": "user_id"})
    error = raises(
        ValidationFailed, "unknown_mapping_column", read, b"user_id,item\n1,2\n", options, required=("user_id",)
    )
    assert error.details["columns"] == ["customer"]


def test_mapping_to_an_unknown_target_is_a_400():
    options = ReadOptions(mapping={"item": "product"})
    raises(ValidationFailed, "invalid_mapping", read, b"user_id,item\n1,2\n", options, required=("user_id",))


def test_two_columns_for_one_field_is_a_400():
    upload = open_upload(b"user_id,rating,value\n1,2,3\n", max_bytes=MB)
    raises(
        ValidationFailed,
        "duplicate_column",
        ChunkReader,
        upload,
        ReadOptions(),
        required={"user_id"},
        known=KNOWN,
        aliases={"rating": "value"},
    )


def test_unknown_columns_can_be_dropped():
    frame, _, _ = read(b"id,colour\n1,red\n", keep_unknown=False)
    assert list(frame.columns) == ["id"]


def test_chunks_respect_chunk_rows_and_keep_lines():
    data = b"id,name\n" + b"".join(b"%d,n\n" % i for i in range(10))
    upload = open_upload(data, max_bytes=MB)
    chunks = list(read_chunks(upload, ReadOptions(chunk_rows=4), required={"id"}, known=KNOWN))
    assert [len(c.frame) for c in chunks] == [4, 4, 2]
    assert np.concatenate([c.lines for c in chunks]).tolist() == list(range(2, 12))


# -- JSONL ----------------------------------------------------------------------------------------------------


def test_jsonl_good_and_bad_lines():
    lines = [
        json.dumps({"id": "a1", "name": "A", "value": 2.5, "flag": True, "tags": ["x", "y"]}),
        "",
        "{not json",
        "[1, 2]",
        json.dumps({"id": "a2", "Name": None}),
    ]
    frame, row_lines, errors = read("\n".join(lines).encode(), name="items.jsonl")
    assert frame["id"].tolist() == ["a1", "a2"]
    assert frame["value"].tolist() == ["2.5", ""]
    assert frame["flag"].tolist() == ["true", ""]
    assert json.loads(frame["tags"].iat[0]) == ["x", "y"]
    assert row_lines == [1, 5]
    assert [(e.line, e.code) for e in errors] == [(3, "invalid_json"), (4, "not_an_object")]


def test_jsonl_detected_by_first_byte():
    frame, _, _ = read(b'{"id": 1, "name": "a"}\n')
    assert frame["id"].tolist() == ["1"]


def test_jsonl_missing_required_column():
    raises(ValidationFailed, "missing_column", read, b'{"name": "a"}\n', name="x.jsonl")


def test_json_array_file_is_unsupported():
    raises(UnsupportedFile, "unsupported_file", read, b'[{"id": 1}]')


def test_jsonl_nul_in_a_value_is_a_row_error():
    _, _, errors = read(b'{"id": "1", "name": "a\\u0000b"}\n{"id": "2"}\n', name="x.jsonl")
    assert [(e.line, e.code) for e in errors] == [(1, "nul_byte")]


def test_column_names_replace_the_header_when_there_is_one():
    options = ReadOptions(column_names=("id", "name"))
    frame, lines, _ = read(b"Code,Title\n1,a\n", options)
    assert list(frame.columns) == ["id", "name"]
    assert lines == [2]


def test_quote_inside_an_unquoted_field_is_literal():
    frame, _, errors = read(b'id,name\n1,5" screen\n2,b\n')
    assert errors == []
    assert frame["name"].tolist() == ['5" screen', "b"]


def test_format_option_aliases():
    assert ReadOptions.from_params({"format": " NDJSON "}).format == "jsonl"
    with pytest.raises(ValidationFailed) as info:
        ReadOptions.from_params({"format": "xlsx"})
    assert info.value.details["field"] == "format"


def test_django_like_uploaded_file_with_size_and_name():
    class Uploaded(io.BytesIO):
        size = 20
        name = "events.ndjson"

    upload = open_upload(Uploaded(b'{"id": 1, "name": 2}'), max_bytes=100)
    assert (upload.size, upload.name) == (20, "events.ndjson")
    chunk = next(read_chunks(upload, ReadOptions(), required={"id"}, known=KNOWN))
    assert chunk.frame["id"].tolist() == ["1"]
