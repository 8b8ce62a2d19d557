"""Template filters of the training pages."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template

register = template.Library()


@register.filter
def duration(value: float | timedelta | None) -> str:
    """Seconds or a timedelta as '0.8 s', '42 s', '3 min 05 s' or '2 h 07 min'; '' for None."""
    if value is None or value == "":
        return ""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@register.filter
def duration_until(start: datetime | None, end: datetime | None) -> str:
    """The time from `start` to `end`, '' unless both are known.

    `{{ job.started_at|duration_until:job.finished_at }}`"""
    if start is None or end is None:
        return ""
    return duration(end - start)
