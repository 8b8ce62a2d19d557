"""Cache operations on the request path, in as few Redis round trips as possible.

Serving a request reads several small things (the API key's record, the rate-limit counter, version
numbers, a user's history). Through Django's cache API each is a round trip with some overhead; here
they go to Redis directly, pipelined, with values pickled by this module. Without Redis (the file cache of
a development run) the same calls go through Django's cache. Any cache failure reads as a miss and
writes are dropped (logged once a minute): the service keeps answering from the database.

Read-ahead: inside `request_scope()`, a `get_many` call may carry a `ReadAhead` of further keys (and hash
fields) that the rest of the request will want; they travel in the same pipeline and later reads of them
(`get_many` without a counter, `ahead_raw`) are answered from memory. So the API-key lookup and what the
answer needs next (versions, the user's history, a cached answer) cost one round trip together. Values
read ahead live only until the request scope ends.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ReadAhead:
    """Keys (`names`) and hash fields (`(name, field)` pairs) to fetch along with a `get_many` call."""

    names: tuple[str, ...] = ()
    hash_fields: tuple[tuple[str, str], ...] = ()


_request = threading.local()


@contextmanager
def request_scope() -> Iterator[None]:
    """Keep what this request reads ahead (raw replies by full key) until it ends."""
    _request.ahead = {}
    try:
        yield
    finally:
        _request.ahead = None


def forget_read_ahead() -> None:
    """Drop what was read ahead (e.g. it was read for a tenant the request turned out not to be for)."""
    if getattr(_request, "ahead", None):
        _request.ahead = {}


def ahead_raw(full_keys: list[Any]) -> list[bytes | None] | None:
    """The raw replies read ahead for these full keys (or `(hash key, field)` pairs), or None unless all were."""
    ahead = getattr(_request, "ahead", None)
    if not ahead:
        return None
    try:
        return [ahead[k] for k in full_keys]
    except KeyError:
        return None


def get_many(
    names: list[str], *, incr: str | None = None, incr_ttl: int = 61, read_ahead: ReadAhead | None = None
) -> tuple[list[Any], int | None]:
    """The values of `names` (None when missing) and, if `incr` is given, that counter after adding one
    (it expires `incr_ttl` seconds after its first increment). One round trip with Redis, or none when every
    name was read ahead earlier in the request; `read_ahead` is fetched in the same round trip (kept only
    inside `request_scope()`)."""
    client = get_redis()
    if client is None:
        found = cache_get_many(names) if names else {}
        count = cache_incr(incr, incr_ttl) if incr else None
        return [found.get(name) for name in names], count
    full = [key(name) for name in names]
    if incr is None and names:
        raw = ahead_raw(full)
        if raw is not None:
            return [_loads(value) for value in raw], None
    ahead = getattr(_request, "ahead", None)
    if ahead is None:
        read_ahead = None
    extra = [key(name) for name in read_ahead.names] if read_ahead else []
    fields = [(key(name), field) for name, field in read_ahead.hash_fields] if read_ahead else []
    try:
        with client.pipeline(transaction=False) as pipe:
            if full or extra:
                pipe.mget(full + extra)
            if incr:
                pipe.incr(key(incr))
            for hash_key, field in fields:
                pipe.hget(hash_key, field)
            replies = pipe.execute()
        fetched = replies[0] if full or extra else []
        values = [_loads(raw) for raw in fetched[: len(full)]]
        count = None
        if incr:
            count = int(replies[1 if full or extra else 0])
            if count == 1:
                client.expire(key(incr), incr_ttl)
        if read_ahead:
            ahead.update(zip(extra, fetched[len(full) :], strict=True))
            ahead.update(zip(fields, replies[len(replies) - len(fields) :], strict=True))
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
