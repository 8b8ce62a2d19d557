"""Timestamps: one set of accepted formats for the events API (one value) and for files (a column).

Accepted: ISO 8601 "YYYY-MM-DD[(T| )H:MM[:SS[.fraction]]][Z|±HH:MM|±HHMM]" (no offset = UTC), the
US "M/D/YYYY[ H:MM[:SS]]" (UCI Online Retail), and epoch numbers: below 1e11 they are seconds, from 1e11
to 1e14 milliseconds (so epoch seconds work until the year 5138, and milliseconds from March 1973).
Rejected: anything else, before 1970-01-01, more than one day after `now`.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, timezone
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recsys_site.errors import ValidationFailed
from recsys_site.uploads.report import show

EPOCH_MS_FROM = 1e11
EPOCH_MAX = 1e14
FUTURE_SLACK = timedelta(days=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NUMERIC = r"[0-9]{1,17}(?:\.[0-9]{1,9})?"
_ISO = (
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[T ]([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,9}))?)?"
    r" ?(Z|[+-][0-9]{2}:?[0-9]{2})?)?"
)
_US = r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})(?: ([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?)?"
_NUMERIC_RE, _ISO_RE, _US_RE = re.compile(_NUMERIC), re.compile(_ISO), re.compile(_US)
_NAT = np.iinfo(np.int64).min


class ParsedTimestamps(NamedTuple):
    values: pd.Series
    """datetime64[ns, UTC]; NaT where the input was empty or invalid."""
    errors: pd.Series
    """object: the reason for each invalid value, None elsewhere."""

    @property
    def invalid(self) -> np.ndarray:
        return self.errors.notna().to_numpy(dtype=bool)


def parse_timestamp(value: object, *, now: datetime) -> datetime:
    """One timestamp as an aware UTC datetime; raises ValidationFailed (invalid_timestamp) otherwise.

    Accepts datetime (naive = UTC), date (midnight UTC), int/float epoch, and the strings described in
    the module docstring."""
    parsed = _parse_one(value)
    if isinstance(parsed, str):
        raise _invalid(value, parsed)
    problem = _range_problem(parsed, now)
    if problem is not None:
        raise _invalid(value, problem)
    return parsed


def _invalid(value: object, problem: str) -> ValidationFailed:
    return ValidationFailed(
        f"timestamp {show(value)} {problem}.",
        code="invalid_timestamp",
        details={"field": "timestamp", "reason": problem},
    )


def parse_timestamps(values: pd.Series, *, now: datetime) -> ParsedTimestamps:
    """Vectorised parse_timestamp for a column of stripped str values ("" = missing, not an error).

    Epoch numbers go through pyarrow casts and ISO strings through pandas' ISO 8601 parser; only other
    forms (the US format, garbage) are handled per distinct value in Python."""
    _check_now(now)
    n = len(values)
    out = np.full(n, _NAT, dtype=np.int64)
    errors = np.full(n, None, dtype=object)
    empty = (values == "").to_numpy(dtype=bool)
    numeric = values.str.fullmatch(_NUMERIC).to_numpy(dtype=bool)
    limit = (now + FUTURE_SLACK).timestamp()
    if numeric.any():
        number = pc.cast(pa.array(values[numeric].array), pa.float64()).to_numpy(zero_copy_only=False)
        seconds = np.where(number < EPOCH_MS_FROM, number, number / 1000.0)
        too_big = number >= EPOCH_MAX
        future = ~too_big & (seconds > limit)
        ok = ~too_big & ~future
        micros = np.round(seconds[ok] * 1e6).astype(np.int64)
        result = np.full(len(number), _NAT, dtype=np.int64)
        result[ok] = micros * 1000
        out[numeric] = result
        messages = np.full(len(number), None, dtype=object)
        messages[too_big] = "is too large for an epoch timestamp"
        messages[future] = "is more than a day in the future"
        errors[numeric] = messages
    iso = values.str.fullmatch(_ISO).to_numpy(dtype=bool) & ~numeric
    if iso.any():
        parsed = pd.to_datetime(values[iso], format="ISO8601", utc=True, errors="coerce")
        nanos = parsed.dt.tz_convert(None).astype("datetime64[ns]").to_numpy().view(np.int64)
        out[iso] = nanos
    rest = ~(empty | numeric | iso) | (iso & (out == _NAT))
    if rest.any():
        _parse_rest(values, rest, out, errors)
    checked = out != _NAT
    before = checked & (out < 0)
    future = checked & (out > int(limit * 1e9))
    errors[before] = "is before 1970"
    errors[future] = "is more than a day in the future"
    out[before | future] = _NAT
    stamps = pd.Series(out.view("datetime64[ns]"), index=values.index).dt.tz_localize(UTC)
    return ParsedTimestamps(stamps, pd.Series(errors, index=values.index, dtype=object))


def _parse_rest(values: pd.Series, rest: np.ndarray, out: np.ndarray, errors: np.ndarray) -> None:
    positions = np.flatnonzero(rest)
    codes, uniques = pd.factorize(values.iloc[positions])
    results = [_parse_one(text) for text in uniques]
    nanos = np.array([_to_nanos(r) if isinstance(r, datetime) else _NAT for r in results], dtype=np.int64)
    problems = np.array([r if isinstance(r, str) else None for r in results], dtype=object)
    out[positions] = nanos[codes]
    errors[positions] = problems[codes]


def _to_nanos(moment: datetime) -> int:
    """Nanoseconds since 1970 (negative before), clamped so that far-away years stay out of range safely."""
    seconds = (moment - EPOCH).total_seconds()
    if not -9e9 < seconds < 9e9:
        return -1 if seconds < 0 else np.iinfo(np.int64).max
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def _parse_one(value: object) -> datetime | str:
    """The datetime, or the reason it is not one."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return "is not a timestamp"
    if isinstance(value, int | float):
        try:
            return _from_epoch(float(value))
        except OverflowError:  # an int beyond float's range (JSON allows 10**400)
            return "is too large for an epoch timestamp"
    text = value.strip()
    if not text:
        return "is empty"
    if _NUMERIC_RE.fullmatch(text):
        return _from_epoch(float(text))
    try:
        if match := _ISO_RE.fullmatch(text):
            year, month, day, hour, minute, second, fraction, offset = match.groups()
            micro = int((fraction or "0")[:6].ljust(6, "0"))
            moment = datetime(
                int(year),
                int(month),
                int(day),
                int(hour or 0),
                int(minute or 0),
                int(second or 0),
                micro,
                tzinfo=_offset(offset),
            )
            return moment.astimezone(UTC)
        if match := _US_RE.fullmatch(text):
            month, day, year, hour, minute, second = match.groups()
            return datetime(
                int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), tzinfo=UTC
            )
    except (ValueError, OverflowError):
        return "is not a valid date/time"
    return "is not a recognised date/time (use ISO 8601, M/D/YYYY H:MM or epoch seconds)"


def _from_epoch(number: float) -> datetime | str:
    if not math.isfinite(number):
        return "is not a finite number"
    if number < 0:
        return "is before 1970"
    if number >= EPOCH_MAX:
        return "is too large for an epoch timestamp"
    seconds = number if number < EPOCH_MS_FROM else number / 1000.0
    return EPOCH + timedelta(microseconds=round(seconds * 1e6))


def _offset(text: str | None) -> timezone:
    if text is None or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def _range_problem(moment: datetime, now: datetime) -> str | None:
    _check_now(now)
    if moment < EPOCH:
        return "is before 1970"
    if moment > now + FUTURE_SLACK:
        return "is more than a day in the future"
    return None


def _check_now(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
