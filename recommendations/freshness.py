"""Keeping served answers fresh without retraining.

Writers bump per-tenant version numbers in the shared cache; serving state built from the data (loaded
models, catalog arrays, popularity, per-user history and result caches) carries the version it was
built at and is rebuilt when it no longer matches. Per-user state is also dropped directly when that
user's events arrive. Versions are checked by each process at most every couple of seconds.

| version   | bumped by                                   | rebuilds                                  |
|-----------|---------------------------------------------|-------------------------------------------|
| model     | a version activated (automatically or not)  | the served model; cached results          |
| catalog   | items imported, upserted, deactivated, new  | catalog arrays, text index (similar, search) |
| events    | an import, an erasure                       | per-user history and results              |
| popularity| a popularity/trending snapshot computed     | popular and trending arrays               |
| settings  | recommendation settings or event weights    | the settings read by serving; answers     |
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.db import transaction

from accounts.models import Tenant
from recsys_site import hotcache

VERSION_TTL = 30 * 24 * 3600


def version_key(kind: str, tenant_id: int) -> str:
    return f"v:{kind}:{tenant_id}"


def current(kind: str, tenant_id: int) -> int:
    return int(hotcache.get(version_key(kind, tenant_id)) or 0)


def bump(kind: str, tenant_id: int) -> None:
    """Bump now and again when the surrounding transaction commits.

    The first bump makes other processes look at once; one of them may then rebuild from data not yet
    committed, which the second bump, after the commit, corrects.
    """

    def write() -> None:
        hotcache.set_value(version_key(kind, tenant_id), time.time_ns(), VERSION_TTL)

    write()
    transaction.on_commit(write)


def model_epoch(*, tenant_id: int) -> int:
    return current("model", tenant_id)


def model_activated(*, tenant: Tenant) -> None:
    bump("model", tenant.pk)


def catalog_version(*, tenant_id: int) -> int:
    return current("catalog", tenant_id)


def catalog_changed(*, tenant: Tenant) -> None:
    bump("catalog", tenant.pk)


def events_version(*, tenant_id: int) -> int:
    return current("events", tenant_id)


def events_changed(*, tenant: Tenant) -> None:
    """Many events arrived at once (an import) or were erased: every user's cached state starts over."""
    bump("events", tenant.pk)


def popularity_version(*, tenant_id: int) -> int:
    return current("popularity", tenant_id)


def popularity_refreshed(*, tenant_id: int) -> None:
    bump("popularity", tenant_id)


ANSWER_KINDS = ("model", "events", "catalog", "settings")
KINDS = (*ANSWER_KINDS, "popularity")


def all_version_keys(tenant_id: int) -> list[str]:
    """Every version a request may check (what a request reads ahead with its API key)."""
    return [version_key(kind, tenant_id) for kind in KINDS]


def answer_version_keys(tenant_id: int) -> list[str]:
    """The versions an answer depends on (see `results_cache`)."""
    return [version_key(kind, tenant_id) for kind in ANSWER_KINDS]


def user_state_keys(tenant_id: int, user_id: str) -> tuple[str, str]:
    """The cache keys of a user's history and of their cached answers."""
    return f"hist:{tenant_id}:{user_id}", f"recs:{tenant_id}:{user_id}"


def users_changed(*, tenant_id: int, user_ids: Iterable[str]) -> None:
    """New events of these users: drop their cached history and answers (one round trip)."""
    hotcache.delete(k for user_id in set(user_ids) for k in user_state_keys(tenant_id, user_id))
