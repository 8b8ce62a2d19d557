"""The process-local serving caches: rebuilt by version, bounded by bytes, and kept out of the collector's way."""

from __future__ import annotations

import gc

import numpy as np

from recommendations.local_cache import FREEZE_MIN_BYTES, VersionedLRU


def test_entries_follow_their_version_and_the_byte_budget(settings):
    settings.SERVING_VERSION_CHECK_SECONDS = 0
    cache = VersionedLRU(max_bytes=100)
    version = {"a": 1}
    builds = []

    def get(name):
        return cache.get(name, current_version=lambda: version.get(name, 0),
                         build=lambda v: builds.append((name, v)) or f"{name}@{v}", size=lambda value: 60)  # fmt: skip

    assert get("a") == "a@1"
    assert get("a") == "a@1"
    version["a"] = 2
    assert get("a") == "a@2"
    assert get("b") == "b@0"  # over budget: "a" goes
    assert cache.stats() == {"entries": 1, "bytes": 60}
    assert builds == [("a", 1), ("a", 2), ("b", 0)]


def test_a_large_entry_is_frozen_out_of_garbage_collection():
    cache = VersionedLRU(max_bytes=1 << 30)
    gc.unfreeze()
    try:
        small = cache.get("small", current_version=lambda: 0, build=lambda v: [{"x": 1}], size=lambda value: 10)
        assert gc.get_freeze_count() == 0
        large = cache.get(
            "large",
            current_version=lambda: 0,
            build=lambda v: [{"row": j} for j in range(1000)] + [np.zeros(FREEZE_MIN_BYTES, np.uint8)],
            size=lambda value: FREEZE_MIN_BYTES + 1000,
        )
        # The large entry's dicts (and everything else alive) are no longer traversed by collections.
        assert gc.get_freeze_count() >= len(large) > len(small)
    finally:
        gc.unfreeze()
