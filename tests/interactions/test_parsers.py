"""interactions.parsers: interaction files to typed chunks + row errors (no database)."""

from __future__ import annotations

import json
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from interactions.parsers import COLUMNS, parse_interactions
from recsys_site.errors import ValidationFailed
from recsys_site.uploads import ReadOptions
from tests.datasets import DATASETS

NOW = datetime(2024, 6, 1, tzinfo=UTC)
PERMISSIVE = r"^.{1,255}$"
SQL = "1'; DROP TABLE items;--"
HTML = "<script>alert(1)</script>"
UCI_MAPPING = {"customer_id": "user_id", "stock_code": "item_id", "quantity": "value", "event": "event_type"}


def parse(data: bytes | str | Path, options: ReadOptions | None = None, **kwargs):
    """(all valid rows, all errors, summary)."""
    if isinstance(data, str):
        data = data.encode()
    kwargs.setdefault("max_bytes", 1 << 30)
    kwargs.setdefault("now", NOW)
    result = parse_interactions(data, options, **kwargs)
    frames, errors = [], []
    for chunk in result:
        frames.append(chunk.frame)
        errors.extend(chunk.errors)
    return pd.concat(frames, ignore_index=True), errors, result.summary


def dataset(*parts: str) -> Path:
    path = DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared dataset not available: {path}")
    return path


def test_basic_csv_types_and_columns():
    frame, errors, summary = parse(
        "user_id,item_id,interaction_score,timestamp,event_type,event_id\n"
        "u1,i1,2,2011-01-01T10:00:00Z,purchase,e1\n"
        "u2,i2,,,,\n"
    )
    assert errors == []
    assert tuple(frame.columns) == COLUMNS
    assert str(frame["value"].dtype) == "float64"
    assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert str(frame["line"].dtype) == "int64"
    assert frame["event_type"].tolist() == ["purchase", "purchase"]
    assert pd.isna(frame["value"].iat[1])
    assert pd.isna(frame["timestamp"].iat[1])
    assert frame["event_id"].iat[0] == "e1"
    assert pd.isna(frame["event_id"].iat[1])
    assert (summary.rows_total, summary.rows_valid, summary.rows_rejected) == (2, 2, 0)


def test_default_event_type_is_rating_for_a_rating_column():
    frame, _, summary = parse("user_id,item_id,rating\nu,i,4\n")
    assert frame["event_type"].tolist() == ["rating"]
    assert frame["value"].tolist() == [4.0]
    assert "no event_type column: every row is a rating event" in summary.notes


def test_default_event_type_is_purchase_otherwise():
    frame, _, _ = parse("user_id,item_id,value\nu,i,4\n")
    assert frame["event_type"].tolist() == ["purchase"]


def test_explicit_default_event_type():
    frame, _, _ = parse("user_id,item_id,event_type\nu,i,\nu,j,like\n", default_event_type="View")
    assert frame["event_type"].tolist() == ["view", "like"]


def test_invalid_default_event_type_is_a_400():
    with pytest.raises(ValidationFailed) as info:
        parse("user_id,item_id\nu,i\n", default_event_type="search")
    assert info.value.code == "invalid_event_type"
    assert info.value.details["field"] == "default_event_type"


def test_event_type_aliases_and_case():
    frame, errors, _ = parse("user_id,item_id,event_type\nu,i, Product_Click \nu,i,ADD TO CART\n")
    assert errors == []
    assert frame["event_type"].tolist() == ["click", "add_to_cart"]


def test_unknown_event_type_is_a_row_error():
    _, errors, _ = parse("user_id,item_id,event_type\nu,i,buy\nu,i,view\n")
    assert [(e.line, e.column, e.code) for e in errors] == [(2, "event_type", "unknown_event_type")]


def test_search_rows_are_rejected():
    frame, errors, _ = parse("user_id,item_id,event_type\nu,i,search_query\nu,i,view\n")
    assert len(frame) == 1
    assert [(e.line, e.code) for e in errors] == [(2, "search_event")]


def test_missing_required_column():
    with pytest.raises(ValidationFailed) as info:
        parse("user_id,product\nu,i\n")
    assert info.value.code == "missing_column"
    assert info.value.details["missing"] == ["item_id"]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e400", "abc", '"1,5"', "0x10"])
def test_value_must_be_a_finite_number(value):
    _, errors, _ = parse(f"user_id,item_id,value\nu,i,{value}\n")
    assert [(e.column, e.code) for e in errors] == [("value", "not_a_number")]


def test_huge_value_is_rejected():
    _, errors, _ = parse("user_id,item_id,event_type,value\nu,i,rating,1e10\n")
    assert [(e.column, e.code) for e in errors] == [("value", "out_of_range")]


def test_negative_quantity_is_rejected_for_purchase():
    _, errors, _ = parse("user_id,item_id,event_type,value\nu,i,purchase,-2\nu,i,add_to_cart,0\n")
    assert [(e.line, e.code) for e in errors] == [(2, "out_of_range"), (3, "out_of_range")]
    assert "quantity" in errors[0].message


def test_negative_value_is_rejected_for_views():
    _, errors, _ = parse("user_id,item_id,event_type,value\nu,i,view,-1\n")
    assert [e.code for e in errors] == ["out_of_range"]


def test_negative_rating_is_allowed():
    frame, errors, _ = parse("user_id,item_id,rating\nu,i,-1\n")
    assert errors == []
    assert frame["value"].tolist() == [-1.0]


def test_timestamps_in_several_formats():
    frame, errors, _ = parse(
        "user_id,item_id,timestamp\n"
        "u,i,978824268\nu,i,978824268000\nu,i,2010-12-01 08:26:00\nu,i,12/1/2010 8:26\n"
        "u,i,2010-12-01T08:26:00+01:00\n"
    )
    assert errors == []
    assert frame["timestamp"].tolist() == [
        pd.Timestamp("2001-01-06 23:37:48", tz="UTC"),
        pd.Timestamp("2001-01-06 23:37:48", tz="UTC"),
        pd.Timestamp("2010-12-01 08:26", tz="UTC"),
        pd.Timestamp("2010-12-01 08:26", tz="UTC"),
        pd.Timestamp("2010-12-01 07:26", tz="UTC"),
    ]


@pytest.mark.parametrize("value", ["yesterday", "1969-07-20", "2099-01-01", "2011-02-30"])
def test_bad_timestamp_is_a_row_error(value):
    _, errors, _ = parse(f"user_id,item_id,timestamp\nu,i,{value}\n")
    assert [(e.column, e.code) for e in errors] == [("timestamp", "invalid_timestamp")]
    assert repr(value) in errors[0].message


BAD_IDS = {"space": "with space", "unicode": "ünïcode", "long": "x" * 10_000, "sql": SQL, "html": HTML}


@pytest.mark.parametrize("name", BAD_IDS)
def test_bad_ids_rejected_under_the_default_pattern(name):
    value = BAD_IDS[name]
    lines = [json.dumps({"user_id": value, "item_id": "i1"}), json.dumps({"user_id": "u1", "item_id": value})]
    frame, errors, summary = parse("\n".join(lines), ReadOptions(format="jsonl"))
    assert frame.empty
    assert [(e.line, e.column, e.code) for e in errors] == [(1, "user_id", "invalid_id"), (2, "item_id", "invalid_id")]
    assert summary.rows_rejected == 2


@pytest.mark.parametrize("name", ["space", "unicode", "sql", "html"])
def test_bad_ids_kept_verbatim_under_a_permissive_pattern(name):
    value = BAD_IDS[name]
    line = json.dumps({"user_id": f"  {value} ", "item_id": value})
    frame, errors, _ = parse(line, ReadOptions(format="jsonl"), user_pattern=PERMISSIVE, item_pattern=PERMISSIVE)
    assert errors == []
    assert frame["user_id"].tolist() == [value]
    assert frame["item_id"].tolist() == [value]


def test_ten_thousand_character_id_rejected_even_when_permissive():
    _, errors, _ = parse(f"user_id,item_id\n{'x' * 10_000},i\n", user_pattern=r"^.*$")
    assert [e.code for e in errors] == ["invalid_id"]
    assert "10,000 characters" in errors[0].message
    assert len(errors[0].message) < 200


def test_duplicate_event_ids_keep_the_last():
    frame, _, summary = parse("user_id,item_id,event_id,value\nu,i,e1,1\nu,i,e1,2\nu,i,e2,3\n")
    assert frame["value"].tolist() == [2.0, 3.0]
    assert summary.duplicates_in_file == 1


def test_duplicate_rows_without_event_ids_are_all_kept():
    frame, _, summary = parse("user_id,item_id\nu,i\nu,i\n")
    assert len(frame) == 2
    assert summary.duplicates_in_file == 0


def test_jsonl_good_and_bad_lines():
    text = "\n".join(
        [
            json.dumps({"user_id": 1, "item_id": "a", "rating": 4.5, "timestamp": 978824268}),
            "not json",
            json.dumps(["u", "i"]),
            json.dumps({"user_id": "2", "item_id": "b", "event_type": "like"}),
        ]
    )
    frame, errors, summary = parse(text, ReadOptions(format="jsonl"))
    assert frame["user_id"].tolist() == ["1", "2"]
    assert frame["event_type"].tolist() == ["rating", "like"]
    assert frame["line"].tolist() == [1, 4]
    assert [(e.line, e.code) for e in errors] == [(2, "invalid_json"), (3, "not_an_object")]
    assert (summary.rows_total, summary.rows_valid, summary.rows_rejected) == (4, 2, 2)


def test_uci_mapping_on_a_sample():
    text = (
        "customer_id,stock_code,timestamp,quantity,unit_price,invoice_no,event\n"
        "17850,85123A,2010-12-01 08:26:00,6,2.55,536365,purchase\n"
        "17850,BANK CHARGES,2010-12-01 08:26:00,1,15,536366,purchase\n"
    )
    frame, errors, summary = parse(text, ReadOptions(mapping=UCI_MAPPING))
    assert frame[["user_id", "item_id", "value"]].values.tolist() == [["17850", "85123A", 6.0]]
    assert [(e.line, e.column) for e in errors] == [(3, "stock_code")]
    assert summary.ignored_columns == ["unit_price", "invoice_no"]
    assert summary.columns["user_id"] == "customer_id"


def test_mapping_a_column_that_does_not_exist_is_a_400():
    with pytest.raises(ValidationFailed) as info:
        parse("user_id,item_id\nu,i\n", ReadOptions(mapping={"customer": "user_id"}))
    assert info.value.code == "unknown_mapping_column"
    assert info.value.details["columns"] == ["customer"]


def test_u_data_sample_without_header():
    options = ReadOptions.from_params(
        {"delimiter": "\\t", "has_header": "false", "column_names": "user_id,item_id,rating,timestamp"}
    )
    frame, errors, _ = parse("196\t242\t3\t881250949\n186\t302\t3\t891717742\n", options)
    assert errors == []
    assert frame["item_id"].tolist() == ["242", "302"]
    assert frame["event_type"].tolist() == ["rating", "rating"]
    assert frame["line"].tolist() == [1, 2]
    assert frame["timestamp"].iat[0] == pd.Timestamp(881250949, unit="s", tz="UTC")


def test_records_use_none_for_missing_values():
    parsed = parse_interactions(b"user_id,item_id,value\nu,i,\n", max_bytes=1000, now=NOW)
    records = next(iter(parsed)).records()
    assert records == [
        {
            "user_id": "u",
            "item_id": "i",
            "event_type": "purchase",
            "value": None,
            "timestamp": None,
            "event_id": None,
            "line": 2,
        }
    ]


# -- the real files ---------------------------------------------------------------------------------------------


def test_real_u_data():
    options = ReadOptions(delimiter="\t", has_header=False, column_names=("user_id", "item_id", "rating", "timestamp"))
    frame, errors, summary = parse(dataset("ml-100k", "u.data"), options)
    assert (summary.rows_total, summary.rows_valid, summary.rows_rejected) == (100_000, 100_000, 0)
    assert frame["user_id"].nunique() == 943
    assert frame["item_id"].nunique() == 1682
    assert frame["timestamp"].notna().all()


def test_real_uci_purchases():
    frame, errors, summary = parse(
        dataset("uci-online-retail", "derived", "interactions_purchases.csv"), ReadOptions(mapping=UCI_MAPPING)
    )
    assert (summary.rows_total, summary.rows_valid, summary.rows_rejected) == (397_884, 397_872, 12)
    assert {e.message for e in errors} == {
        "stock_code: item_id 'BANK CHARGES' is not a valid id: use 1 to 64 characters of A-Z a-z 0-9 _ . : -"
    }
    assert frame["user_id"].nunique() == 4337  # 4,338 customers, one of whom only ever paid BANK CHARGES
    assert summary.stats["event_types"] == {"purchase": 397_872}


def test_real_ml_1m_million_rows():
    path = dataset("ml-1m", "ratings_reconstructed.csv")
    start = time.perf_counter()
    result = parse_interactions(path, ReadOptions(mapping={"movie_id": "item_id"}), max_bytes=1 << 30, now=NOW)
    rows = missing = 0
    for chunk in result:
        assert len(chunk.frame) <= 50_000
        rows += len(chunk.frame)
        missing += int(chunk.frame["timestamp"].isna().sum())
    elapsed = time.perf_counter() - start
    summary = result.summary
    rate = summary.rows_total / elapsed
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nML-1M: {summary.rows_total:,} rows in {elapsed:.2f}s = {rate:,.0f} rows/s; peak RSS {peak:.0f} MB")
    assert (summary.rows_total, summary.rows_valid, summary.rows_rejected) == (1_000_186, 1_000_186, 0)
    assert rows == 1_000_186
    assert missing == summary.stats["timestamps_missing"] == 509_495
    assert summary.stats["event_types"] == {"rating": 1_000_186}
    assert rate > 200_000
