"""A raw Redis client on the cache's server, for structures Django's cache API lacks (hashes, pipelines).

`get_redis()` is None when the cache is not Redis; callers then simply do without. Every use must
tolerate `redis.RedisError` (the service keeps answering when Redis is down).
"""

from __future__ import annotations

import functools

import redis
from django.conf import settings


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5, health_check_interval=30)


def get_redis() -> redis.Redis | None:
    url = settings.CACHE_URL
    if not url or not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    return _client(url)


def key(name: str) -> str:
    """Keys live under the cache's prefix so `cache.clear()`-style flushes of a test database cover them."""
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '')}:raw:{name}"
