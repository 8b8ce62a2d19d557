"""Cache access that never takes the service down.

The cache (Redis in production) only ever speeds things up: when it cannot be reached, reads miss and
writes are dropped, the failure is logged (at most once a minute per process), and callers go on to
the database.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache import cache

logger = logging.getLogger(__name__)
_last_warning = 0.0


def _warn(exc: Exception) -> None:
    global _last_warning
    now = time.monotonic()
    if now - _last_warning > 60:
        _last_warning = now
        logger.warning("cache unavailable, continuing without it: %s", exc)


def cache_get(key: str, default: Any = None) -> Any:
    try:
        return cache.get(key, default)
    except Exception as exc:  # any backend failure means "no cache"
        _warn(exc)
        return default


def cache_get_many(keys: list[str]) -> dict[str, Any]:
    try:
        return cache.get_many(keys)
    except Exception as exc:
        _warn(exc)
        return {}


def cache_set(key: str, value: Any, timeout: float | None) -> None:
    try:
        cache.set(key, value, timeout)
    except Exception as exc:
        _warn(exc)


def cache_add(key: str, value: Any, timeout: float | None) -> bool | None:
    """Like `cache.add`; None when the cache could not be asked."""
    try:
        return cache.add(key, value, timeout)
    except Exception as exc:
        _warn(exc)
        return None


def cache_delete_many(keys: list[str]) -> None:
    if not keys:
        return
    try:
        cache.delete_many(keys)
    except Exception as exc:
        _warn(exc)


def cache_incr(key: str, timeout: float) -> int | None:
    """Increment a counter that expires `timeout` seconds after its creation; None without a cache."""
    try:
        if cache.add(key, 1, timeout):
            return 1
        return cache.incr(key)
    except ValueError:
        # The key expired between add and incr: start a new window.
        return 1 if cache_add(key, 1, timeout) else None
    except Exception as exc:
        _warn(exc)
        return None


def cache_clear(backend=cache) -> None:
    try:
        backend.clear()
    except Exception as exc:
        _warn(exc)
