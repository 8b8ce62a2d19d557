"""Vectorised checks and conversions of str columns (pyarrow-backed), shared by the parsers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

STR = pd.StringDtype(storage="pyarrow", na_value=np.nan)
"""pandas' default "str" dtype; missing values are NaN."""

# Patterns avoid \d, \s and \w: pandas runs them in pyarrow (RE2) only then, and [0-9] keeps other
# scripts' digits out in both engines.
NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_GROUPED = r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,2}(?:,[0-9]{2})+,[0-9]{3})(?:\.[0-9]+)?"
_CURRENCY = r"(?:₹|rs\.?|inr|us\$|\$|usd|€|eur|£|gbp)"
_URL = r"(?i)https?://[^\x00-\x20\x7f/?#@]+(?:[/?#][^\x00-\x20\x7f]*)?"
_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


def clean(series: pd.Series) -> pd.Series:
    """Stripped str values, "" for missing."""
    if series.dtype != STR:
        series = series.astype(STR)
    return series.fillna("").str.strip()


def blank(series: pd.Series) -> np.ndarray:
    return (series == "").to_numpy(dtype=bool)


def lengths(series: pd.Series) -> np.ndarray:
    return series.str.len().to_numpy(dtype=np.int64)


def to_float(
    series: pd.Series, *, money: bool = False, grouping: bool = False, percent: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Parse stripped strings as numbers: (float64 with NaN for blank or invalid, mask of invalid).

    Plain decimals and exponents only: no NaN/inf words, no hex, no spaces inside. money allows a currency
    sign or code before or after (₹ Rs. $ € £ INR USD EUR GBP) and implies grouping; grouping allows ","
    thousands separators in groups of three, or Indian lakh/crore groups ("1,10,990"); "1,5" stays invalid
    (neither 1.5 nor 15); percent allows a
    trailing "%" (the value is divided by 100). Non-finite results (1e400) count as invalid."""
    text = series
    if money:
        text = text.str.replace(rf"(?i)^{_CURRENCY}[ \t]*", "", regex=True)
        text = text.str.replace(rf"(?i)[ \t]*{_CURRENCY}$", "", regex=True)
        grouping = True
    scale = np.ones(len(text))
    if percent:
        has_percent = text.str.endswith("%").to_numpy(dtype=bool)
        if has_percent.any():
            text = text.str.removesuffix("%").str.rstrip()
            scale[has_percent] = 0.01
    if grouping:
        text = text.where(~text.str.fullmatch(_GROUPED), text.str.replace(",", "", regex=False))
    ok = text.str.fullmatch(NUMBER).to_numpy(dtype=bool)
    out = np.full(len(text), np.nan)
    if ok.any():
        values = pc.cast(pa.array(text[ok].array), pa.float64()).to_numpy(zero_copy_only=False)
        out[ok] = values * scale[ok]
    invalid = ~ok & ~blank(series)
    infinite = ok & ~np.isfinite(out)
    out[infinite] = np.nan
    return out, invalid | infinite


def to_bool(series: pd.Series, default: bool) -> tuple[np.ndarray, np.ndarray]:
    """true/false/1/0/yes/no, case-insensitive; blank gives `default`. Returns (values, invalid mask)."""
    lowered = series.str.lower()
    truthy = lowered.isin(_TRUE).to_numpy(dtype=bool)
    falsy = lowered.isin(_FALSE).to_numpy(dtype=bool)
    empty = blank(series)
    values = np.where(empty, default, truthy)
    return values, ~(truthy | falsy | empty)


def http_url(series: pd.Series) -> np.ndarray:
    """Mask of values that are absolute http(s) URLs with a host and no whitespace."""
    return series.str.fullmatch(_URL).to_numpy(dtype=bool)


def nullable(series: pd.Series) -> pd.Series:
    """Blank -> NaN (missing) for an output str column."""
    return series.where(series != "")
