"""A short-lived cache of personalised answers, per tenant and user, in a Redis hash.

Each entry keeps the versions (model, events, catalog, settings) it was computed at and is only served
while they are current, so an activation, an import, an item change or a settings change makes it
unreachable; the user's own events delete the whole hash (see `freshness.users_changed`). The versions
and the entry are read in one round trip, or none when the request read them ahead with its API key
(`read_ahead`). Without Redis, or when it fails, answers are computed.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable

import redis

from recsys_site import hotcache
from recsys_site.redis_client import get_redis, key

from . import freshness

logger = logging.getLogger(__name__)


def cached_answer(*, tenant_id: int, user_id: str, params: str, ttl: int, compute: Callable[[], dict]) -> dict:
    client = get_redis()
    if client is None or ttl <= 0:
        return compute()
    hash_key = key(freshness.user_state_keys(tenant_id, user_id)[1])
    version_keys = [key(name) for name in freshness.answer_version_keys(tenant_id)]
    versions: tuple = ()
    try:
        ahead = hotcache.ahead_raw([*version_keys, (hash_key, params)])
        if ahead is not None:
            raw_versions, raw_answer = ahead[:-1], ahead[-1]
        else:
            with client.pipeline(transaction=False) as pipe:
                pipe.mget(version_keys)
                pipe.hget(hash_key, params)
                raw_versions, raw_answer = pipe.execute()
        versions = tuple(raw_versions)
        if raw_answer is not None:
            cached_versions, answer = pickle.loads(raw_answer)  # noqa: S301 - written by this service only
            if cached_versions == versions:
                return answer
    except (redis.RedisError, pickle.UnpicklingError, ValueError, TypeError) as exc:
        logger.debug("answer cache miss: %s", exc)
    answer = compute()
    if versions:
        try:
            with client.pipeline(transaction=False) as pipe:
                pipe.hset(hash_key, params, pickle.dumps((versions, answer), protocol=pickle.HIGHEST_PROTOCOL))
                pipe.expire(hash_key, ttl)
                pipe.execute()
        except redis.RedisError as exc:
            logger.debug("answer not cached: %s", exc)
    return answer


def read_ahead(*, tenant_id: int, user_id: str, params: str, ttl: int) -> hotcache.ReadAhead:
    """What answering this user will read from the cache: the tenant's versions (of the answer, and those the
    process-local caches check now and then), the cached answer when the tenant caches answers, and the
    user's history (for an answer that must be computed)."""
    history_key, answers_key = freshness.user_state_keys(tenant_id, user_id)
    return hotcache.ReadAhead(
        names=(*freshness.all_version_keys(tenant_id), history_key),
        hash_fields=((answers_key, params),) if ttl > 0 else (),
    )
