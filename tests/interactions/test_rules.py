"""interactions.rules: event types, ids, timestamps, queries (pure functions, no database)."""

from __future__ import annotations

import re
import time
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from interactions.rules import (
    DEFAULT_ID_PATTERN,
    EVENT_ALIASES,
    EVENT_TYPES,
    check_ids,
    compile_id_pattern,
    id_problem,
    normalize_event_type,
    parse_timestamp,
    parse_timestamps,
    validate_id,
    validate_query,
)
from recsys_site.errors import ValidationFailed
from recsys_site.uploads import STR

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PERMISSIVE = r"^.{1,255}$"
SQL = "1'; DROP TABLE items;--"
HTML = "<script>alert(1)</script>"


# -- event types ----------------------------------------------------------------------------------------------


def test_event_types_and_aliases():
    assert EVENT_TYPES == ("view", "click", "add_to_cart", "purchase", "rating", "like", "search")
    assert EVENT_ALIASES == {"product_click": "click", "search_query": "search"}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("purchase", "purchase"),
        ("  Purchase ", "purchase"),
        ("PRODUCT_CLICK", "click"),
        ("search_query", "search"),
        ("Add to cart", "add_to_cart"),
        ("add-to-cart", "add_to_cart"),
        ("like", "like"),
        ("buy", None),
        ("", None),
        (None, None),
        (3, None),
    ],
)
def test_normalize_event_type(given, expected):
    assert normalize_event_type(given) == expected


# -- ids --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["17850", "85123A", "user_1.a:b-c", "x" * 64])
def test_default_pattern_accepts(value):
    assert validate_id(value, field="user_id") == value


def test_surrounding_whitespace_is_stripped_and_nothing_else():
    assert validate_id("  a.b:c  ", field="item_id") == "a.b:c"


def test_int_ids_are_accepted_as_strings():
    assert validate_id(42, field="user_id") == "42"


@pytest.mark.parametrize(
    "value",
    ["with space", "ünïcode", "日本", SQL, HTML, "x" * 65, "", "   "],
    ids=["space", "unicode", "cjk", "sql", "html", "65-chars", "empty", "blank"],
)
def test_default_pattern_rejects(value):
    with pytest.raises(ValidationFailed) as info:
        validate_id(value, field="item_id")
    assert info.value.code == "invalid_id"
    assert info.value.details["field"] == "item_id"


def test_ten_thousand_characters_rejected_with_length():
    problem = id_problem("a" * 10_000)
    assert problem == "is 10,000 characters long; ids are at most 255"


@pytest.mark.parametrize("value", [SQL, HTML, "with space", "ünïcode"])
def test_permissive_pattern_keeps_ids_verbatim(value):
    assert validate_id(value, PERMISSIVE, field="user_id") == value


def test_over_255_rejected_whatever_the_pattern():
    with pytest.raises(ValidationFailed):
        validate_id("a" * 256, r"^.*$", field="user_id")


def test_control_characters_rejected_whatever_the_pattern():
    assert id_problem("a\x00b", PERMISSIVE) is not None
    assert id_problem("a\tb", PERMISSIVE) is not None


def test_tenant_pattern_is_applied_as_fullmatch():
    pattern = compile_id_pattern(r"[A-Z]{3}-\d{4}")
    assert id_problem("ABC-1234", pattern) is None
    assert "does not match" in id_problem("ABC-12345", pattern)


def test_compile_id_pattern_rejects_invalid_regex():
    with pytest.raises(ValidationFailed) as info:
        compile_id_pattern("[unclosed")
    assert info.value.code == "invalid_id_pattern"
    assert info.value.details["field"] == "id_pattern"


@pytest.mark.parametrize("pattern", [r"(a+)+$", r"^(\w+)\1$", r"^((ab)*c)*$"])
def test_compile_id_pattern_rejects_catastrophic_patterns(pattern):
    with pytest.raises(ValidationFailed):
        compile_id_pattern(pattern)


def test_compile_id_pattern_default_round_trips():
    assert compile_id_pattern(DEFAULT_ID_PATTERN).pattern == DEFAULT_ID_PATTERN


def test_check_ids_vectorised_matches_scalar():
    values = pd.Series(["ok_1", "bad id", "ok_1", "", SQL], dtype=STR)
    _, which, problems = check_ids(values)
    assert (which >= 0).tolist() == [False, True, False, True, True]
    assert problems[which[1]] == id_problem("bad id")


# -- timestamps -----------------------------------------------------------------------------------------------

GOOD = [
    ("2010-12-01T08:26:00Z", datetime(2010, 12, 1, 8, 26, tzinfo=UTC)),
    ("2010-12-01T08:26:00+02:00", datetime(2010, 12, 1, 6, 26, tzinfo=UTC)),
    ("2010-12-01T08:26:00-0530", datetime(2010, 12, 1, 13, 56, tzinfo=UTC)),
    ("2010-12-01T08:26:00", datetime(2010, 12, 1, 8, 26, tzinfo=UTC)),
    ("2010-12-01 08:26:00", datetime(2010, 12, 1, 8, 26, tzinfo=UTC)),
    ("2010-12-01 08:26", datetime(2010, 12, 1, 8, 26, tzinfo=UTC)),
    ("2010-12-01T08:26:00.250Z", datetime(2010, 12, 1, 8, 26, 0, 250_000, tzinfo=UTC)),
    ("2010-12-01", datetime(2010, 12, 1, tzinfo=UTC)),
    ("12/1/2010 8:26", datetime(2010, 12, 1, 8, 26, tzinfo=UTC)),
    ("1/15/2011 14:05:33", datetime(2011, 1, 15, 14, 5, 33, tzinfo=UTC)),
    ("978824268", datetime(2001, 1, 6, 23, 37, 48, tzinfo=UTC)),
    ("978824268000", datetime(2001, 1, 6, 23, 37, 48, tzinfo=UTC)),
    ("978824268.5", datetime(2001, 1, 6, 23, 37, 48, 500_000, tzinfo=UTC)),
    ("0", datetime(1970, 1, 1, tzinfo=UTC)),
]
BAD = [
    ("garbage", "is not a recognised date/time"),
    ("2010-13-01", "is not a valid date/time"),
    ("2/30/2011 1:00", "is not a valid date/time"),
    ("2010-12-01T24:00:00", "is not a valid date/time"),
    ("1969-12-31T23:59:59Z", "is before 1970"),
    ("2030-01-01", "is more than a day in the future"),
    ("99999999999999999", "is too large for an epoch timestamp"),
    ("-5", "is not a recognised date/time"),
    ("2010/12/01", "is not a recognised date/time"),
]


@pytest.mark.parametrize(("text", "expected"), GOOD, ids=[g[0] for g in GOOD])
def test_parse_timestamp_formats(text, expected):
    assert parse_timestamp(text, now=NOW) == expected


@pytest.mark.parametrize(("text", "reason"), BAD, ids=[b[0] for b in BAD])
def test_parse_timestamp_rejects(text, reason):
    with pytest.raises(ValidationFailed) as info:
        parse_timestamp(text, now=NOW)
    assert info.value.code == "invalid_timestamp"
    assert info.value.details["reason"].startswith(reason)


def test_parse_timestamp_numbers_seconds_and_milliseconds():
    assert parse_timestamp(1_700_000_000, now=NOW) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert parse_timestamp(1_700_000_000_000, now=NOW) == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    with pytest.raises(ValidationFailed):
        parse_timestamp(-1, now=NOW)
    with pytest.raises(ValidationFailed):
        parse_timestamp(float("nan"), now=NOW)
    with pytest.raises(ValidationFailed):
        parse_timestamp(True, now=NOW)


def test_parse_timestamp_datetime_objects():
    naive = datetime(2020, 1, 1, 12, 0)  # noqa: DTZ001 - naive on purpose: it means UTC
    assert parse_timestamp(naive, now=NOW) == datetime(2020, 1, 1, 12, 0, tzinfo=UTC)
    aware = datetime(2020, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert parse_timestamp(aware, now=NOW) == datetime(2020, 1, 1, 10, 0, tzinfo=UTC)
    assert parse_timestamp(date(2020, 1, 1), now=NOW) == datetime(2020, 1, 1, tzinfo=UTC)


def test_future_within_a_day_is_allowed():
    soon = NOW + timedelta(hours=23)
    assert parse_timestamp(soon.isoformat(), now=NOW) == soon
    with pytest.raises(ValidationFailed):
        parse_timestamp((NOW + timedelta(hours=25)).isoformat(), now=NOW)


def test_parse_timestamps_agrees_with_the_scalar_version():
    texts = [g[0] for g in GOOD] + [b[0] for b in BAD] + [""]
    parsed = parse_timestamps(pd.Series(texts, dtype=STR), now=NOW)
    assert str(parsed.values.dtype) == "datetime64[ns, UTC]"
    for text, value, error in zip(texts, parsed.values, parsed.errors, strict=True):
        if text == "":
            assert pd.isna(value)
            assert error is None
            continue
        expected = _scalar(text)
        if isinstance(expected, str):
            assert pd.isna(value), text
            assert error == expected, text
        else:
            assert value == expected, text
            assert error is None, text


def _scalar(text: str) -> datetime | str:
    """parse_timestamp's result, or its reason for refusing."""
    try:
        return parse_timestamp(text, now=NOW)
    except ValidationFailed as exc:
        return exc.details["reason"]


def test_parse_timestamps_is_fast_on_a_million_rows():
    epochs = pd.Series(np.random.default_rng(0).integers(9e8, 1.7e9, 500_000).astype(str), dtype=STR)
    iso = pd.Series(pd.date_range("2011-01-01", periods=500_000, freq="min").strftime("%Y-%m-%d %H:%M:%S"), dtype=STR)
    start = time.perf_counter()
    parsed = parse_timestamps(pd.concat([epochs, iso, pd.Series([""] * 10, dtype=STR)], ignore_index=True), now=NOW)
    elapsed = time.perf_counter() - start
    assert not parsed.invalid.any()
    assert parsed.values.isna().sum() == 10
    assert elapsed < 3.0


# -- queries --------------------------------------------------------------------------------------------------


def test_validate_query_trims():
    assert validate_query("  red shoes \n") == "red shoes"


@pytest.mark.parametrize("value", ["", "   ", "x" * 256, "a\x00b", None])
def test_validate_query_rejects(value):
    with pytest.raises(ValidationFailed) as info:
        validate_query(value)
    assert info.value.code == "invalid_query"


def test_validate_query_allows_255_and_unicode():
    assert validate_query("ü" * 255) == "ü" * 255
    assert re.fullmatch(r".{255}", validate_query("x" * 255))
