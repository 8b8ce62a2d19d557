"""A user's recent events, as serving needs them: seen items, recent items and searches, last activity.

Read with one indexed query and kept in Redis until the user's next event (or an import) drops it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from interactions.models import Event
from recsys_site import hotcache

from . import freshness

HISTORY_EVENTS = 500
HISTORY_TTL = 60  # bounds staleness if a request races a new event of the same user


@dataclass(frozen=True)
class UserHistory:
    item_pks: np.ndarray  # newest first, one per event that names an item
    event_types: tuple[str, ...]  # aligned with item_pks
    queries: tuple[str, ...]  # recent search queries, newest first, distinct
    last_event_at: datetime | None

    @property
    def is_empty(self) -> bool:
        return self.last_event_at is None

    def seen(self, event_types: list[str]) -> np.ndarray:
        """Items the user had an event of one of `event_types` with (an item may appear more than once)."""
        if not len(self.item_pks):
            return self.item_pks
        wanted = set(event_types)
        present = set(self.event_types)
        if present <= wanted:  # the usual case: every kind of event the user has counts as seen
            return self.item_pks
        if not present & wanted:
            return self.item_pks[:0]
        mask = np.fromiter((t in wanted for t in self.event_types), dtype=bool, count=len(self.event_types))
        return self.item_pks[mask]

    def recent_items(self, limit: int, event_types: tuple[str, ...] | None = None) -> list[int]:
        """Distinct recent item pks, newest first."""
        out: list[int] = []
        for pk, event_type in zip(self.item_pks.tolist(), self.event_types, strict=True):
            if (event_types is None or event_type in event_types) and pk not in out:
                out.append(pk)
                if len(out) == limit:
                    break
        return out


EMPTY = UserHistory(np.zeros(0, dtype=np.int64), (), (), None)


# One indexed query (tenant, user_id, timestamp); only the newest row carries its timestamp, which saves
# parsing hundreds of datetimes a request.
_HISTORY_SQL = f"""
    SELECT item_id, event_type, query,
           CASE WHEN row_number() OVER (ORDER BY "timestamp" DESC, id DESC) = 1 THEN "timestamp" END
    FROM {Event._meta.db_table}
    WHERE tenant_id = %s AND user_id = %s
    ORDER BY "timestamp" DESC, id DESC
    LIMIT {HISTORY_EVENTS}
"""  # noqa: S608 - the table name comes from model metadata, the values are bound


def _aware(value) -> datetime:
    """A raw query's timestamp: a datetime from PostgreSQL, ISO text from SQLite."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return value if timezone.is_aware(value) else timezone.make_aware(value, UTC)


def _load(tenant_id: int, user_id: str) -> UserHistory:
    with connection.cursor() as cursor:
        cursor.execute(_HISTORY_SQL, [tenant_id, user_id])
        rows = cursor.fetchall()
    if not rows:
        return EMPTY
    with_items = [(pk, event_type) for pk, event_type, _, _ in rows if pk is not None]
    queries: list[str] = []
    for _, event_type, query, _ in rows:
        if event_type == "search" and query and query not in queries:
            queries.append(query)
    return UserHistory(
        item_pks=np.array([pk for pk, _ in with_items], dtype=np.int64),
        event_types=tuple(event_type for _, event_type in with_items),
        queries=tuple(queries[:10]),
        last_event_at=_aware(rows[0][3]),
    )


def user_history(*, tenant_id: int, user_id: str) -> UserHistory:
    """The user's history, from the cache when it is there for the tenant's current events version."""
    history_key = freshness.user_state_keys(tenant_id, user_id)[0]
    (version, cached), _ = hotcache.get_many([freshness.version_key("events", tenant_id), history_key])
    version = version or 0
    if isinstance(cached, tuple) and len(cached) == 2 and cached[0] == version:
        return cached[1]
    history = _load(tenant_id, user_id)
    hotcache.set_value(history_key, (version, history), HISTORY_TTL)
    return history
