"""A short-lived cache of personalised answers, per tenant and user, in a Redis hash.

Each entry keeps the versions (model, events, catalog, settings) it was computed at and is only served
while they are current, so an activation, an import, an item change or a settings change makes it
unreachable; the user's own events delete the whole hash (see `freshness.users_changed`). The versions
and the entry are read in one round trip, or none when the request read them ahead with its API key
(`read_ahead`). Without Redis, or when it fails, answers are computed.
"""

from __future__ import annotations

import json
import logging
import pickle
from collections.abc import Callable

import redis

from recsys_site import hotcache
from recsys_site.redis_client import get_redis, key

from . import freshness

logger = logging.getLogger(__name__)


# Entries are stored under "<format>:<params>": a process running an older format (during a deploy) never
# reads an entry it could not serve.
ENTRY_FORMAT = "json1"


def _field(params: str) -> str:
    return f"{ENTRY_FORMAT}:{params}"


def encode(answer: dict) -> bytes:
    """An answer as the JSON body of its response (compact, UTF-8)."""
    return json.dumps(answer, ensure_ascii=False, separators=(",", ":")).encode()


def cached_body(*, tenant_id: int, user_id: str, params: str, ttl: int, compute: Callable[[], dict]) -> bytes:
    """The answer's JSON body: from the cache while the versions it was computed at are current, else computed
    (and stored for `ttl` seconds). Kept encoded, so that a hit costs neither unpickling nor JSON encoding."""
    client = get_redis()
    if client is None or ttl <= 0:
        return encode(compute())
    hash_key = key(freshness.user_state_keys(tenant_id, user_id)[1])
    version_keys = [key(name) for name in freshness.answer_version_keys(tenant_id)]
    versions: tuple = ()
    try:
        field = _field(params)
        ahead = hotcache.ahead_raw([*version_keys, (hash_key, field)])
        if ahead is not None:
            raw_versions, raw_entry = ahead[:-1], ahead[-1]
        else:
            with client.pipeline(transaction=False) as pipe:
                pipe.mget(version_keys)
                pipe.hget(hash_key, field)
                raw_versions, raw_entry = pipe.execute()
        versions = tuple(raw_versions)
        if raw_entry is not None:
            cached_versions, body = pickle.loads(raw_entry)  # noqa: S301 - written by this service only
            if cached_versions == versions:
                return body
    except (redis.RedisError, pickle.UnpicklingError, ValueError, TypeError) as exc:
        logger.debug("answer cache miss: %s", exc)
    body = encode(compute())
    if versions:
        try:
            with client.pipeline(transaction=False) as pipe:
                pipe.hset(hash_key, _field(params), pickle.dumps((versions, body), protocol=pickle.HIGHEST_PROTOCOL))
                pipe.expire(hash_key, ttl)
                pipe.execute()
        except redis.RedisError as exc:
            logger.debug("answer not cached: %s", exc)
    return body


def read_ahead(*, tenant_id: int, user_id: str, params: str, ttl: int) -> hotcache.ReadAhead:
    """What answering this user will read from the cache: the tenant's versions (of the answer, and those the
    process-local caches check now and then), the cached answer when the tenant caches answers, and the
    user's history (for an answer that must be computed)."""
    history_key, answers_key = freshness.user_state_keys(tenant_id, user_id)
    return hotcache.ReadAhead(
        names=(*freshness.all_version_keys(tenant_id), history_key),
        hash_fields=((answers_key, _field(params)),) if ttl > 0 else (),
    )
