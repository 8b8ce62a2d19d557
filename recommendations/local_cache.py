"""Per-process caches of loaded serving state (catalogs, models), bounded and refreshed by version.

A web process keeps what it served recently in memory, so a request costs no database query for item
metadata or model weights. Each entry carries the version it was built from; the current version
(a number in the shared cache, bumped by writers) is looked up at most every `check_seconds` per
entry (`SERVING_VERSION_CHECK_SECONDS`, 2 by default), so a change reaches every process within that
time without a restart. Idle tenants cost
nothing: entries are only built on first use and the least recently used go first when the byte
budget is exceeded.

Large entries (a catalog's item dicts, a model) are hundreds of thousands of long-lived objects, and
Python's cyclic garbage collector traverses every one of them at each full collection: 50-150 ms pauses
every few seconds under load on an ML-1M-sized shop. After building a large entry the process therefore
collects what is not frozen yet and freezes the survivors (`gc.freeze()`), so later collections only look at
newer objects.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.conf import settings

T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    value: T
    version: Any
    nbytes: int
    checked_at: float


_instances: list[VersionedLRU] = []

FREEZE_MIN_BYTES = 1 << 20


def freeze_long_lived() -> None:
    """Collect what is not frozen yet, then exempt the survivors from future collections: they are the
    process's long-lived serving state. Frozen objects are still freed by reference counting when an entry is
    evicted; only reference cycles among them would outlive it, and the cached values hold none."""
    gc.collect()
    gc.freeze()


def clear_all() -> None:
    """Forget every process-local serving cache (tests; an operator's shell)."""
    for instance in _instances:
        instance.clear()


class VersionedLRU(Generic[T]):
    def __init__(self, *, max_bytes: int, check_seconds: float | None = None):
        _instances.append(self)
        self.max_bytes = max_bytes
        self.check_seconds = check_seconds
        self._entries: OrderedDict[Any, _Entry[T]] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[Any, threading.Lock] = {}

    def get(
        self,
        key: Any,
        *,
        current_version: Callable[[], Any],
        build: Callable[[Any], T],
        size: Callable[[T], int],
    ) -> T:
        """The cached value for `key`, rebuilt when `current_version()` differs from the one it was built at."""
        now = time.monotonic()
        check = self.check_seconds if self.check_seconds is not None else settings.SERVING_VERSION_CHECK_SECONDS
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                if now - entry.checked_at < check:
                    return entry.value
        version = current_version()
        if entry is not None and entry.version == version:
            entry.checked_at = now
            return entry.value
        # One builder per key; other threads wait for it rather than building the same thing.
        with self._lock:
            build_lock = self._building.setdefault(key, threading.Lock())
        with build_lock:
            with self._lock:
                entry = self._entries.get(key)
            if entry is not None and entry.version == version:
                return entry.value
            value = build(version)
            nbytes = size(value)
            with self._lock:
                self._entries[key] = _Entry(value, version, nbytes, time.monotonic())
                self._entries.move_to_end(key)
                self._evict()
            if nbytes >= FREEZE_MIN_BYTES:
                freeze_long_lived()
        return value

    def _evict(self) -> None:
        total = sum(entry.nbytes for entry in self._entries.values())
        while total > self.max_bytes and len(self._entries) > 1:
            _, entry = self._entries.popitem(last=False)
            total -= entry.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def discard(self, key: Any) -> None:
        """Forget one entry: the next `get` builds it again."""
        with self._lock:
            self._entries.pop(key, None)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"entries": len(self._entries), "bytes": sum(e.nbytes for e in self._entries.values())}
