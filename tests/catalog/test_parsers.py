"""catalog.parsers: catalog files to typed chunks + row errors (no database)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from catalog.parsers import COLUMNS, parse_catalog
from catalog.parsers.fields import parse_tags
from recsys_site.errors import UnsupportedFile, ValidationFailed
from recsys_site.uploads import ReadOptions
from tests.datasets import DATASETS

PERMISSIVE = r"^.{1,255}$"


def parse(data: bytes | str | Path, options: ReadOptions | None = None, **kwargs):
    """(all valid rows, all errors, summary, chunks)."""
    if isinstance(data, str):
        data = data.encode()
    kwargs.setdefault("max_bytes", 1 << 30)
    result = parse_catalog(data, options, **kwargs)
    chunks = list(result)
    frame = pd.concat([c.frame for c in chunks], ignore_index=True)
    return frame, [e for c in chunks for e in c.errors], result.summary, chunks


def one(line: str, header: str = "id,name,") -> tuple[pd.DataFrame, list]:
    frame, errors, _, _ = parse(f"{header.rstrip(',')}\n{line}\n")
    return frame, errors


def dataset(*parts: str) -> Path:
    path = DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared dataset not available: {path}")
    return path


def test_minimal_file_types_and_defaults():
    frame, errors, summary, _ = parse("id,name\nsku-1, Red Shoe \n")
    assert errors == []
    assert tuple(frame.columns) == COLUMNS
    row = frame.iloc[0]
    assert (row["external_id"], row["name"]) == ("sku-1", "Red Shoe")
    assert row["tags"] == []
    assert row["attributes"] == {}
    assert row["is_active"] is np.True_
    assert pd.isna(row["price"])
    assert pd.isna(row["description"])
    assert row["rating_count"] is pd.NA
    dtypes = {name: str(dtype) for name, dtype in frame.dtypes.items()}
    assert dtypes["rating"] == dtypes["price"] == dtypes["discount_ratio"] == "float64"
    assert dtypes["rating_count"] == "Int64"
    assert dtypes["is_active"] == "bool"
    assert dtypes["line"] == "int64"
    assert summary.stats["fields_present"] == ["external_id", "is_active", "name"]


def test_all_api_columns():
    header = (
        "id,name,main_category,sub_category,description,tags,image,link,ratings,no_of_ratings,"
        "discount_price,actual_price,discount_ratio,is_active"
    )
    line = (
        'A1,Lamp,home,lighting,"A lamp, bright","desk|led; warm",https://img.example/a.png,'
        'https://shop.example/a,4.5,"2,255",₹799,"₹1,000",,no'
    )
    frame, errors = one(line, header)
    assert errors == []
    row = frame.iloc[0].to_dict()
    assert row["tags"] == ["desk", "led", "warm"]
    assert (row["rating"], row["rating_count"], row["price"], row["original_price"]) == (4.5, 2255, 799.0, 1000.0)
    assert row["discount_ratio"] == pytest.approx(0.201)
    assert row["is_active"] is False


def test_internal_names_are_accepted_as_aliases():
    frame, errors = one("A1,Lamp,12.50,20,4,10", "external_id,name,price,original_price,rating,rating_count")
    assert errors == []
    assert frame[["price", "original_price", "rating", "rating_count"]].iloc[0].tolist() == [12.5, 20.0, 4.0, 10]


def test_alias_and_internal_name_together_is_a_400():
    with pytest.raises(ValidationFailed) as info:
        parse("id,name,rating,ratings\nA,a,1,2\n")
    assert info.value.code == "duplicate_column"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("₹32,999", 32999.0),
        ("$1,234.50", 1234.5),
        ("€12.5", 12.5),
        ("£3", 3.0),
        ("Rs. 500", 500.0),
        ("Rs.75", 75.0),
        ("INR 1,10,990", 110990.0),
        ("99.99 USD", 99.99),
        ("1234567.89", 1234567.89),
        ("0", 0.0),
    ],
)
def test_price_formats(text, expected):
    frame, errors = one(f'A,a,"{text}"', "id,name,discount_price")
    assert errors == []
    assert frame["price"].iat[0] == expected


def test_price_falls_back_to_actual_price():
    frame, _ = one('A,a,,"₹58,990"', "id,name,discount_price,actual_price")
    assert frame[["price", "original_price", "discount_ratio"]].iloc[0].tolist() == [58990.0, 58990.0, 0.0]


def test_discount_ratio_given_as_fraction_or_percent():
    frame, errors, _, _ = parse("id,name,discount_ratio\nA,a,0.25\nB,b,45%\n")
    assert errors == []
    assert frame["discount_ratio"].tolist() == [0.25, 0.45]


@pytest.mark.parametrize(
    ("header", "value", "code"),
    [
        ("discount_price", "NaN", "not_a_number"),
        ("discount_price", "inf", "not_a_number"),
        ("discount_price", "-5", "out_of_range"),
        ("discount_price", "1e13", "out_of_range"),
        ("discount_price", "1,5", "not_a_number"),
        ("discount_price", "free", "not_a_number"),
        ("ratings", "5.1", "out_of_range"),
        ("ratings", "-1", "out_of_range"),
        ("ratings", "Get", "not_a_number"),
        ("no_of_ratings", "FREE Delivery by Amazon", "not_a_number"),
        ("no_of_ratings", "2.5", "not_an_integer"),
        ("no_of_ratings", "-3", "out_of_range"),
        ("no_of_ratings", "2e9", "out_of_range"),
        ("discount_ratio", "1.5", "out_of_range"),
        ("is_active", "maybe", "not_a_boolean"),
    ],
)
def test_bad_numbers_reject_the_row_naming_column_and_value(header, value, code):
    frame, errors = one(f'A,a,"{value}"', f"id,name,{header}")
    assert frame.empty
    assert [(e.line, e.column, e.code) for e in errors] == [(2, header, code)]
    assert errors[0].message.startswith(f"{header}: {value!r}")


def test_empty_optional_cells_are_null_not_errors():
    frame, errors = one("A,a,,,,", "id,name,ratings,no_of_ratings,discount_price,is_active")
    assert errors == []
    assert frame["is_active"].iat[0]


def test_name_is_required():
    _, errors = one("A,  ")
    assert [(e.column, e.code) for e in errors] == [("name", "required")]


def test_name_over_500_characters_is_rejected_not_truncated():
    frame, errors = one(f"A,{'n' * 501}")
    assert frame.empty
    assert errors[0].code == "too_long"
    assert "501" in errors[0].message


def test_description_limit():
    ok, _ = one(f"A,a,{'d' * 10_000}", "id,name,description")
    assert len(ok) == 1
    _, errors = one(f"A,a,{'d' * 10_001}", "id,name,description")
    assert [(e.column, e.code) for e in errors] == [("description", "too_long")]


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "ftp://example.com/x",
        "//example.com/a.png",
        "not a url",
        "http://",
        "https://user:pw@example.com/",
    ],
)
def test_image_and_link_must_be_http_urls(url):
    _, errors = one(f"A,a,{url}", "id,name,image")
    assert [(e.column, e.code) for e in errors] == [("image", "invalid_url")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a, b", ["a", "b"]),
        ("a|b;c", ["a", "b", "c"]),
        ('["x", "y z"]', ["x", "y z"]),
        ("a,a,,b", ["a", "b"]),
        ("", []),
        ("[1, 2]", ["1", "2"]),
    ],
)
def test_tags(text, expected):
    assert parse_tags(text) == expected


@pytest.mark.parametrize("text", ['["unclosed"', '[{"a": 1}]', ",".join(f"t{i}" for i in range(101)), "x" * 101])
def test_bad_tags(text):
    assert isinstance(parse_tags(text), str)


def test_unknown_columns_become_attributes_and_index_columns_do_not():
    frame, _, summary, _ = parse(",id,name,Colour,Size,Unnamed: 5\n0,A,a,red,,\n")
    assert frame["attributes"].iat[0] == {"colour": "red"}
    assert summary.ignored_columns == ["", "Unnamed: 5"]


def test_attributes_json_column_merges_with_unknown_columns():
    frame, errors, _, _ = parse('id,name,attributes,colour\nA,a,"{""size"": 42, ""x"": """"}",red\n')
    assert errors == []
    assert frame["attributes"].iat[0] == {"size": "42", "colour": "red"}


def test_in_file_duplicates_last_wins_within_a_chunk_and_counted_across_chunks():
    text = "id,name\nA,first\nB,b\nA,second\nC,c\nA,third\n"
    frame, _, summary, chunks = parse(text, ReadOptions(chunk_rows=3))
    assert [len(c.frame) for c in chunks] == [2, 2]
    assert chunks[0].duplicates == 1
    assert chunks[0].frame["name"].tolist() == ["b", "second"]
    assert frame.drop_duplicates("external_id", keep="last")["name"].tolist() == ["b", "c", "third"]
    assert summary.duplicates_in_file == 2
    assert summary.stats["distinct_ids"] == 3


def test_no_id_column_takes_the_asin_from_link():
    text = (
        "name,link\n"
        "a,https://www.amazon.in/Lloyd-Inverter/dp/B0BRKXTSBT/ref=sr_1_4?qid=1\n"
        "b,https://www.amazon.in/gp/product/B08XYZ1234?x=1\n"
        "c,https://www.amazon.in/s?k=shoes\n"
    )
    frame, errors, summary, _ = parse(text)
    assert frame["external_id"].tolist() == ["B0BRKXTSBT", "B08XYZ1234"]
    assert [(e.line, e.column, e.code) for e in errors] == [(4, "link", "missing_id")]
    assert "no id column: ids were taken from the ASIN in link" in summary.notes


def test_no_id_and_no_link_is_a_400():
    with pytest.raises(ValidationFailed) as info:
        parse("name,price\na,1\n")
    assert info.value.code == "missing_column"
    assert info.value.details["missing"] == ["id"]


@pytest.mark.parametrize("value", ["1'; DROP TABLE items;--", "<script>alert(1)</script>", "ünï", "has space"])
def test_hostile_ids_rejected_by_default_and_kept_verbatim_when_allowed(value):
    line = json.dumps({"id": value, "name": "x"})
    frame, errors, _, _ = parse(line, ReadOptions(format="jsonl"))
    assert frame.empty
    assert errors[0].code == "invalid_id"
    frame, errors, _, _ = parse(line, ReadOptions(format="jsonl"), item_pattern=PERMISSIVE)
    assert errors == []
    assert frame["external_id"].tolist() == [value]


def test_jsonl_catalog():
    lines = [
        json.dumps(
            {
                "id": "A",
                "name": "a",
                "tags": ["x", "y"],
                "ratings": 4.2,
                "is_active": False,
                "attributes": {"colour": "red"},
            }
        ),
        "{oops",
        json.dumps({"id": "B", "name": "b"}),
    ]
    frame, errors, summary, _ = parse("\n".join(lines), ReadOptions(format="jsonl"))
    assert frame["tags"].tolist() == [["x", "y"], []]
    assert frame["rating"].iat[0] == 4.2
    assert frame["is_active"].tolist() == [False, True]
    assert frame["attributes"].iat[0] == {"colour": "red"}
    assert [(e.line, e.code) for e in errors] == [(2, "invalid_json")]
    assert (summary.rows_total, summary.rows_valid, summary.rows_rejected) == (3, 2, 1)


def test_gzip_catalog():
    frame, _, _, _ = parse(gzip.compress(b"id,name\nA,a\n"))
    assert frame["external_id"].tolist() == ["A"]


def test_binary_catalog_is_a_415():
    with pytest.raises(UnsupportedFile):
        parse(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")


def test_records_are_plain_python():
    result = parse_catalog(b"id,name,ratings\nA,a,\n", max_bytes=1000)
    record = next(iter(result)).records()[0]
    assert record["rating"] is None
    assert record["rating_count"] is None
    assert record["description"] is None
    assert record["tags"] == []
    assert record["is_active"] is True


# -- the real files ---------------------------------------------------------------------------------------------


def test_real_amazon_file():
    frame, errors, summary, _ = parse(dataset("amazon-india-products-2023-trimmed", "Amazon-Products.csv"))
    assert (summary.rows_total, summary.rows_valid, summary.rows_rejected) == (10_930, 10_897, 33)
    assert summary.duplicates_in_file == 1_032
    assert summary.stats["distinct_ids"] == 9_865
    assert "no id column: ids were taken from the ASIN in link" in summary.notes
    assert summary.ignored_columns == ["Unnamed: 0"]
    assert dict(summary.reasons) == {"ratings: not_a_number": 33, "no_of_ratings: not_a_number": 33}
    assert "ratings: 'Get' is not a number" in {e.message for e in errors}
    assert frame["external_id"].str.fullmatch(r"[A-Z0-9]{10}").all()
    lloyd = frame[frame["external_id"] == "B0BRKXTSBT"]  # on lines 2, 129, 661, 1002, 4850 and 6796
    assert lloyd["line"].tolist() == [6796]
    values = lloyd[["price", "original_price", "rating", "rating_count"]].iloc[0].tolist()
    assert values == [32999.0, 58990.0, 4.2, 2255]


def test_real_uci_products_with_mapping():
    options = ReadOptions.from_params(
        {"mapping": json.dumps({"stock_code": "id", "description": "name", "median_unit_price": "discount_price"})}
    )
    frame, errors, summary, _ = parse(dataset("uci-online-retail", "derived", "products.csv"), options)
    assert (summary.rows_total, summary.rows_valid, summary.rows_rejected) == (4_070, 3_957, 113)
    assert summary.reasons == {"description: required": 112, "stock_code: invalid_id": 1}
    assert frame["attributes"].iat[0] == {"n_lines": "73"}
    assert frame["price"].iat[0] == 0.85
