"""Writes of interaction data: live events, erasure of a user."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Tenant
from accounts.selectors import item_id_pattern, user_id_pattern
from catalog.services import items_ensure
from recommendations.freshness import events_changed, users_changed
from recsys_site import hotcache
from recsys_site.errors import ApplicationError, ValidationFailed

from . import rules
from .models import Event, EventType, UserErasure

logger = logging.getLogger(__name__)
MAX_BATCH = 1000
EVENT_FIELDS = {"user_id", "event_type", "item_id", "query", "value", "timestamp", "event_id"}
MAX_ABS_VALUE = 1e9


@dataclass
class CleanEvent:
    user_id: str
    event_type: str
    item_id: str | None
    query: str
    value: float | None
    timestamp: datetime
    event_id: str | None


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


def _as_id(value: Any) -> Any:
    # Numeric ids in JSON (`"user_id": 42`) are the same id as the string "42".
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _finite_within(value: int | float, limit: float) -> bool:
    """A finite number no larger than `limit` in size; ints beyond float's range (JSON allows 10**400) fail."""
    if isinstance(value, int):
        return abs(value) <= limit
    return math.isfinite(value) and abs(value) <= limit


def event_clean(raw: Any, *, tenant: Tenant, now: datetime) -> CleanEvent:
    """Validate one event; raise ValidationFailed with every problem found, keyed by field."""
    if not isinstance(raw, dict):
        raise ValidationFailed("An event must be a JSON object.", details={"non_field_errors": ["Expected an object."]})
    errors: dict[str, list[str]] = {}

    def check(name: str, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ApplicationError as exc:
            errors.setdefault(name, []).append(exc.message)
            return None

    for name in sorted(set(raw) - EVENT_FIELDS):
        errors[name] = ["Unknown field."]

    user_id = None
    if raw.get("user_id") in (None, ""):
        errors["user_id"] = ["This field is required."]
    else:
        user_id = check("user_id", rules.validate_id, _as_id(raw["user_id"]), user_id_pattern(tenant), field="user_id")

    event_type = None
    if raw.get("event_type") in (None, ""):
        errors["event_type"] = ["This field is required."]
    else:
        event_type = rules.normalize_event_type(str(raw["event_type"]))
        if event_type is None:
            allowed = ", ".join([*rules.EVENT_TYPES, *rules.EVENT_ALIASES])
            errors["event_type"] = [f"Unknown event type {str(raw['event_type'])[:50]!r}; use one of: {allowed}."]

    item_id = None
    if raw.get("item_id") not in (None, ""):
        item_id = check("item_id", rules.validate_id, _as_id(raw["item_id"]), item_id_pattern(tenant), field="item_id")
    elif event_type and event_type != EventType.SEARCH:
        errors["item_id"] = ["This field is required for this event type."]

    query = ""
    if event_type == EventType.SEARCH:
        if not isinstance(raw.get("query"), str):
            errors["query"] = ["A search event needs a query (1-255 characters)."]
        else:
            query = check("query", rules.validate_query, raw["query"]) or ""
    elif raw.get("query") not in (None, ""):
        errors["query"] = ["Only search events carry a query."]

    value = raw.get("value")
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            errors["value"] = ["Must be a number."]
        elif not _finite_within(value, MAX_ABS_VALUE):
            errors["value"] = [f"Must be a finite number between -{MAX_ABS_VALUE:g} and {MAX_ABS_VALUE:g}."]
        elif event_type in rules.QUANTITY_EVENTS and value <= 0:
            errors["value"] = [f"Must be greater than 0 for a {event_type} (it is a quantity)."]
        else:
            value = float(value)

    timestamp = now
    if raw.get("timestamp") not in (None, ""):
        timestamp = check("timestamp", rules.parse_timestamp, raw["timestamp"], now=now)

    event_id = raw.get("event_id")
    if event_id is not None:
        event_id = _as_id(event_id)
        if not isinstance(event_id, str) or not (1 <= len(event_id.strip()) <= 255):
            errors["event_id"] = ["Must be a string of 1-255 characters."]
        elif any(ord(c) < 32 or ord(c) == 127 for c in event_id):
            errors["event_id"] = ["Must not contain control characters."]
        else:
            event_id = event_id.strip()

    if errors:
        raise ValidationFailed("The event is not valid.", code="invalid_event", details=errors)
    return CleanEvent(
        user_id=user_id,
        event_type=event_type,
        item_id=item_id,
        query=query,
        value=value,
        timestamp=timestamp,
        event_id=event_id,
    )


_UNNEST_INSERT = f"""
    INSERT INTO {Event._meta.db_table}
        (tenant_id, user_id, event_type, item_id, query, value, "timestamp", event_id, created_at, updated_at)
    SELECT %s, e.user_id, e.event_type, e.item_id, e.query, e.value, e.ts, e.event_id, %s, %s
    FROM unnest(%s::varchar[], %s::varchar[], %s::bigint[], %s::varchar[], %s::float8[], %s::timestamptz[],
                %s::varchar[]) AS e(user_id, event_type, item_id, query, value, ts, event_id)
    ON CONFLICT DO NOTHING
"""  # noqa: S608 - the table name comes from model metadata, every value is a bound parameter


def _events_insert(*, tenant: Tenant, events: list[CleanEvent], item_pks: dict[str, int], now: datetime) -> None:
    """Store events, skipping any that conflict (a client event_id stored meanwhile): what
    `bulk_create(ignore_conflicts=True)` does, at a fifth of the CPU on PostgreSQL, where building 1,000 model
    instances and compiling their INSERT was about half of a batch's time in the web worker. One array a column."""
    if connection.vendor != "postgresql":
        Event.objects.bulk_create(
            [
                Event(
                    tenant=tenant,
                    user_id=e.user_id,
                    event_type=e.event_type,
                    item_id=item_pks[e.item_id] if e.item_id else None,
                    query=e.query,
                    value=e.value,
                    timestamp=e.timestamp,
                    event_id=e.event_id,
                    created_at=now,
                    updated_at=now,
                )
                for e in events
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        return
    stamp = timezone.now()  # what auto_now_add / auto_now would have set
    with connection.cursor() as cursor:
        cursor.execute(
            _UNNEST_INSERT,
            [
                tenant.pk,
                stamp,
                stamp,
                [e.user_id for e in events],
                [e.event_type for e in events],
                [item_pks[e.item_id] if e.item_id else None for e in events],
                [e.query for e in events],
                [e.value for e in events],
                [e.timestamp for e in events],
                [e.event_id for e in events],
            ],
        )


def events_ingest(*, tenant: Tenant, raw_events: list[Any], single: bool = False) -> IngestResult:
    """Validate and store events. Good events are kept even when others in the batch are rejected.

    A repeated `event_id` (already stored, or twice in the batch) is counted as a duplicate, not stored.
    """
    if not raw_events:
        raise ValidationFailed('Send one event, or {"events": [...]} with 1-1000 events.', code="empty_batch")
    if len(raw_events) > MAX_BATCH:
        raise ValidationFailed(
            f"A batch holds at most {MAX_BATCH} events; this one has {len(raw_events)}.",
            code="batch_too_large",
            details={"max": MAX_BATCH, "received": len(raw_events)},
        )
    now = timezone.now()
    result = IngestResult()
    clean: list[CleanEvent] = []
    for index, raw in enumerate(raw_events):
        try:
            clean.append(event_clean(raw, tenant=tenant, now=now))
        except ValidationFailed as exc:
            if single:
                raise
            result.rejected.append({"index": index, "errors": exc.details})

    seen_ids: set[str] = set()
    fresh: list[CleanEvent] = []
    client_ids = {event.event_id for event in clean if event.event_id}
    if client_ids:
        seen_ids.update(Event.objects.filter(tenant=tenant, event_id__in=client_ids).values_list("event_id", flat=True))
    for event in clean:
        if event.event_id and event.event_id in seen_ids:
            result.duplicates += 1
            continue
        if event.event_id:
            seen_ids.add(event.event_id)
        fresh.append(event)

    if fresh:
        with transaction.atomic():
            item_pks = items_ensure(tenant=tenant, external_ids={e.item_id for e in fresh if e.item_id})
            _events_insert(tenant=tenant, events=fresh, item_pks=item_pks, now=now)
    result.accepted = len(fresh)
    if fresh:
        users_changed(tenant_id=tenant.pk, user_ids=[e.user_id for e in fresh])
        _first_popularity_if_missing(tenant)
    return result


def _first_popularity_if_missing(tenant: Tenant) -> None:
    """A shop that only streams events has no popularity snapshot until beat's hourly refresh; its first
    events queue one at once (at most once a minute), so that trending and popular fills start moving."""
    from recommendations.models import PopularitySnapshot

    if PopularitySnapshot.objects.filter(tenant=tenant).exists():
        return
    if hotcache.add(f"popularity-first:{tenant.pk}", 1, 60) is not False:
        try:
            _refresh_popularity(tenant)
        except Exception:  # the events are stored; beat's hourly refresh will catch up
            logger.warning("could not queue the first popularity refresh of tenant %s", tenant.pk, exc_info=True)


@transaction.atomic
def user_erase(*, tenant: Tenant, user_id: str) -> int:
    """Erase every event of the user. The erasure is recorded so no model trained before it serves them."""
    user_id = rules.validate_id(user_id, user_id_pattern(tenant), field="user_id")
    deleted, _ = Event.objects.filter(tenant=tenant, user_id=user_id).delete()
    UserErasure.objects.update_or_create(tenant=tenant, user_id=user_id, defaults={"erased_at": timezone.now()})
    events_changed(tenant=tenant)
    users_changed(tenant_id=tenant.pk, user_ids=[user_id])
    transaction.on_commit(lambda: _refresh_popularity(tenant))
    return deleted


def _refresh_popularity(tenant: Tenant) -> None:
    from recommendations.tasks import refresh_popularity

    refresh_popularity.delay(tenant.pk)
