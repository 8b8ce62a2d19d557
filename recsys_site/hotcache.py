"""Cache operations on the request path, in as few Redis round trips as possible.

Serving a request reads several small things (the API key's record, the rate-limit counter, version
numbers, a user's history). Through Django's cache API each is a round trip with some overhead; here
they go to Redis directly, pipelined, with values pickled by this module. Without Redis (the file cache of
a development run) the same calls go through Django's cache. Any cache failure reads as a miss and
writes are dropped (logged once a minute): the service keeps answering from the database.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable
from typing import Any

import redis

from .cache import _warn, cache_add, cache_delete_many, cache_get_many, cache_incr, cache_set
from .redis_client import get_redis, key


def _loads(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return pickle.loads(raw)  # noqa: S301 - only this service writes these keys
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError):
        return None


def get_many(names: list[str], *, incr: str | None = None, incr_ttl: int = 61) -> tuple[list[Any], int | None]:
    """The values of `names` (None when missing) and, if `incr` is given, that counter after adding one
    (it expires `incr_ttl` seconds after its first increment). One round trip with Redis."""
    client = get_redis()
    if client is None:
        found = cache_get_many(names) if names else {}
        count = cache_incr(incr, incr_ttl) if incr else None
        return [found.get(name) for name in names], count
    try:
        with client.pipeline(transaction=False) as pipe:
            if names:
                pipe.mget([key(name) for name in names])
            if incr:
                pipe.incr(key(incr))
            replies = pipe.execute()
        values = [_loads(raw) for raw in replies[0]] if names else []
        count = None
        if incr:
            count = int(replies[-1])
            if count == 1:
                client.expire(key(incr), incr_ttl)
        return values, count
    except redis.RedisError as exc:
        _warn(exc)
        return [None] * len(names), None


def get(name: str) -> Any:
    return get_many([name])[0][0]


def set_value(name: str, value: Any, ttl: int) -> None:
    client = get_redis()
    if client is None:
        cache_set(name, value, ttl)
        return
    try:
        client.set(key(name), pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), ex=ttl)
    except redis.RedisError as exc:
        _warn(exc)


def add(name: str, value: Any, ttl: int) -> bool | None:
    """Set unless present; True if this call set it, None when the cache could not be asked."""
    client = get_redis()
    if client is None:
        return cache_add(name, value, ttl)
    try:
        return bool(client.set(key(name), pickle.dumps(value), ex=ttl, nx=True))
    except redis.RedisError as exc:
        _warn(exc)
        return None


def delete(names: Iterable[str]) -> None:
    names = list(names)
    if not names:
        return
    client = get_redis()
    if client is None:
        cache_delete_many(names)
        return
    try:
        client.delete(*[key(name) for name in names])
    except redis.RedisError as exc:
        _warn(exc)
