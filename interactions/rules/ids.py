"""User and item id rules: a per-tenant pattern, a hard 255-character cap, no control characters."""

from __future__ import annotations

import re
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]

import numpy as np
import pandas as pd

from recsys_site.errors import ValidationFailed
from recsys_site.uploads.report import show

DEFAULT_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"
MAX_ID_LENGTH = 255
MAX_PATTERN_LENGTH = 500
_DEFAULT = re.compile(DEFAULT_ID_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_REPEATS = (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, sre_constants.POSSESSIVE_REPEAT)

IdPattern = re.Pattern[str] | str | None


def compile_id_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a tenant's id pattern, or raise ValidationFailed (invalid_id_pattern, field id_pattern).

    The pattern must match the whole id (it is applied with fullmatch; ^ and $ are optional). Patterns that
    invite catastrophic backtracking are refused: a repeat inside a repeat such as (a+)+, and backreferences."""
    if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        raise _bad_pattern(pattern, f"must be a regular expression of 1 to {MAX_PATTERN_LENGTH} characters")
    try:
        compiled = re.compile(pattern)
        parsed = sre_parse.parse(pattern)
    except re.error as exc:
        raise _bad_pattern(pattern, f"is not a valid regular expression: {exc}") from None
    problem = _risky(list(parsed), inside_repeat=False)
    if problem:
        raise _bad_pattern(pattern, problem)
    return compiled


def resolve_pattern(pattern: IdPattern) -> re.Pattern[str]:
    if pattern is None:
        return _DEFAULT
    if isinstance(pattern, str):
        return compile_id_pattern(pattern)
    return pattern


def id_problem(value: str, pattern: IdPattern = None) -> str | None:
    """Why `value` (already stripped) is not an acceptable id, or None if it is."""
    if not value:
        return "is required"
    if len(value) > MAX_ID_LENGTH:
        return f"is {len(value):,} characters long; ids are at most {MAX_ID_LENGTH}"
    if _CONTROL.search(value):
        return f"{show(value)} contains control characters"
    compiled = resolve_pattern(pattern)
    if compiled.fullmatch(value) is None:
        if compiled is _DEFAULT or compiled.pattern == DEFAULT_ID_PATTERN:
            return f"{show(value)} is not a valid id: use 1 to 64 characters of A-Z a-z 0-9 _ . : -"
        return f"{show(value)} does not match the id pattern {compiled.pattern}"
    return None


def validate_id(value: object, pattern: IdPattern = None, *, field: str = "id") -> str:
    """The id with surrounding whitespace removed (never altered otherwise); raises ValidationFailed
    (code invalid_id, details field and reason) when it is not acceptable."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be a string.", code="invalid_id", details={"field": field})
    text = value.strip()
    problem = id_problem(text, pattern)
    if problem is not None:
        raise ValidationFailed(f"{field} {problem}.", code="invalid_id", details={"field": field, "reason": problem})
    return text


def check_ids(values: pd.Series, pattern: IdPattern = None) -> tuple[pd.Series, np.ndarray, list[str | None]]:
    """Vectorised id check of stripped str values: (values, per-row index into problems or -1, problems).

    Each distinct value is checked once, so a million rows over a few thousand users costs a few thousand
    regex matches."""
    compiled = resolve_pattern(pattern)
    codes, uniques = pd.factorize(values)
    problems = [id_problem(value, compiled) for value in uniques]
    bad_unique = np.fromiter((p is not None for p in problems), dtype=bool, count=len(problems))
    which = np.where(bad_unique[codes], codes, -1) if len(problems) else np.full(len(values), -1)
    return values, which, problems


def _bad_pattern(pattern: object, reason: str) -> ValidationFailed:
    return ValidationFailed(
        f"The id pattern {reason}.",
        code="invalid_id_pattern",
        details={"field": "id_pattern", "pattern": str(pattern)[:MAX_PATTERN_LENGTH]},
    )


def _risky(items: list, *, inside_repeat: bool) -> str | None:
    for op, arg in items:
        if op == sre_constants.GROUPREF or op == sre_constants.GROUPREF_EXISTS:
            return "uses a backreference, which is not allowed"
        if op in _REPEATS:
            low, high, sub = arg
            unbounded = high == sre_constants.MAXREPEAT or high > 1000
            if inside_repeat and unbounded:
                return "nests a repeat inside a repeat (like (a+)+), which can take exponential time"
            problem = _risky(list(sub), inside_repeat=inside_repeat or high > 1)
        elif op == sre_constants.SUBPATTERN:
            problem = _risky(list(arg[-1]), inside_repeat=inside_repeat)
        elif op == sre_constants.BRANCH:
            problem = next((p for branch in arg[1] if (p := _risky(list(branch), inside_repeat=inside_repeat))), None)
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            problem = _risky(list(arg[1]), inside_repeat=inside_repeat)
        elif op == sre_constants.ATOMIC_GROUP:
            problem = _risky(list(arg), inside_repeat=inside_repeat)
        else:
            problem = None
        if problem:
            return problem
    return None
