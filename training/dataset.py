"""A tenant's events turned into the implicit-feedback matrix the trainer needs.

Events are read in one pass (PostgreSQL `COPY ... TO STDOUT`, or the ORM on SQLite), weighted by the
tenant's `event_weights`, and merged into one row per (user, item): the confidence is the summed
weight, log-damped and scaled so that its mean is 1 (the learning rate then means the same for every
tenant), and the time of the pair is that of its latest event.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Count, Max

from accounts.models import Tenant
from catalog.models import Item
from interactions.models import Event, UserErasure

EVENT_COLUMNS = ["user_id", "item_pk", "event_type", "ts", "event_pk"]


@dataclass
class TrainingData:
    """Dense indices and everything needed to map them back to the tenant's ids."""

    user_ids: np.ndarray  # index -> the tenant's user id (str)
    item_pks: np.ndarray  # index -> Item primary key
    item_ids: np.ndarray  # index -> the tenant's item id (str)
    user_idx: np.ndarray
    item_idx: np.ndarray
    weights: np.ndarray
    order: np.ndarray  # larger = later (rank of (time, event id))
    n_events: int
    last_event_at: float | None  # epoch seconds of the newest event used
    first_at: np.ndarray | None = None  # epoch seconds of each pair's first event (what a model saw when)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_interactions(self) -> int:
        return len(self.user_idx)


def data_fingerprint(*, tenant: Tenant) -> str:
    """Changes whenever the tenant's events change (new, erased): used to skip needless retraining."""
    stats = Event.objects.filter(tenant=tenant).aggregate(n=Count("id"), last=Max("id"))
    erasures = UserErasure.objects.filter(tenant=tenant).aggregate(n=Count("id"), last=Max("erased_at"))
    raw = f"{stats['n']}:{stats['last']}:{erasures['n']}:{erasures['last']}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def load_events(*, tenant: Tenant) -> pd.DataFrame:
    """Every event of the tenant that names an item: user_id, item_pk, event_type, ts (epoch s), event_pk."""
    if connection.vendor == "postgresql":
        from psycopg import sql

        query = sql.SQL(
            "COPY (SELECT user_id, item_id, event_type, EXTRACT(EPOCH FROM timestamp), id "
            "FROM interactions_event WHERE tenant_id = {} AND item_id IS NOT NULL) TO STDOUT WITH (FORMAT csv)"
        ).format(sql.Literal(tenant.pk))
        buffer = io.BytesIO()
        connection.ensure_connection()
        with connection.connection.cursor() as cursor, cursor.copy(query) as copy:
            for block in copy:
                buffer.write(block)
        buffer.seek(0)
        if not buffer.getbuffer().nbytes:
            return pd.DataFrame({name: pd.Series(dtype="object") for name in EVENT_COLUMNS})
        return pd.read_csv(
            buffer,
            names=EVENT_COLUMNS,
            dtype={"user_id": str, "item_pk": np.int64, "event_type": str, "ts": np.float64, "event_pk": np.int64},
            keep_default_na=False,
        )
    rows = Event.objects.filter(tenant=tenant, item__isnull=False).values_list(
        "user_id", "item_id", "event_type", "timestamp", "id"
    )
    frame = pd.DataFrame.from_records(list(rows.iterator(chunk_size=10_000)), columns=EVENT_COLUMNS)
    if len(frame):
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype("int64") / 1e9
    return frame


def load_events_file(path: str, *, tenant: Tenant, options=None) -> pd.DataFrame:
    """Events from an interactions file (read exactly as an upload would be, but not stored).

    `item_pk` then holds the file's item ids; pass `items_from_file=True` to `build_training_data`.
    """
    from django.conf import settings
    from django.utils import timezone

    from accounts.selectors import item_id_pattern, user_id_pattern
    from interactions.parsers import parse_interactions
    from recsys_site.uploads import ReadOptions

    parsed = parse_interactions(
        path,
        options or ReadOptions(),
        user_pattern=user_id_pattern(tenant),
        item_pattern=item_id_pattern(tenant),
        max_bytes=max(settings.MAX_UPLOAD_BYTES, 2 << 30),
        now=timezone.now(),
    )
    frames = []
    for chunk in parsed:
        frame = chunk.frame
        frames.append(
            pd.DataFrame(
                {
                    "user_id": frame["user_id"].to_numpy(),
                    "item_pk": frame["item_id"].to_numpy(),
                    "event_type": frame["event_type"].to_numpy(),
                    "ts": frame["timestamp"].astype("int64").where(frame["timestamp"].notna(), 0).to_numpy() / 1e9,
                    "event_pk": frame["line"].to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=EVENT_COLUMNS)


def file_fingerprint(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:32]


def build_training_data(
    events: pd.DataFrame, event_weights: dict[str, float], *, tenant: Tenant | None, items_from_file: bool = False
) -> TrainingData:
    """Weight, merge and index the events. Item ids come from the catalog (`item_pk` holds primary keys),
    or, with `items_from_file`, `item_pk` already holds the tenant's item ids."""
    weights = events["event_type"].map({k: float(v) for k, v in event_weights.items()}).fillna(0.0)
    events = events.loc[weights.to_numpy() > 0].assign(w=weights[weights > 0])
    if events.empty:
        empty = np.array([], dtype=np.int32)
        return TrainingData(
            np.array([], dtype=object), empty, np.array([], dtype=object), empty, empty,
            np.array([], dtype=np.float32), empty, 0, None, np.array([], dtype=np.float64),
        )  # fmt: skip
    grouped = events.groupby(["user_id", "item_pk"], sort=True).agg(
        w=("w", "sum"), ts=("ts", "max"), first=("ts", "min"), last=("event_pk", "max")
    )
    user_codes, user_ids = pd.factorize(grouped.index.get_level_values(0), sort=True)
    item_codes, item_keys = pd.factorize(grouped.index.get_level_values(1), sort=True)
    confidence = np.log1p(grouped["w"].to_numpy(dtype=np.float64))
    confidence = (confidence / confidence.mean()).astype(np.float32)
    order = np.lexsort((grouped["last"].to_numpy(), grouped["ts"].to_numpy()))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    if items_from_file:
        item_ids = np.asarray(item_keys, dtype=object)
        item_pks = np.full(len(item_ids), -1, dtype=np.int64)
    else:
        item_pks = np.asarray(item_keys, dtype=np.int64)
        external = dict(Item.objects.filter(tenant=tenant, pk__in=item_pks.tolist()).values_list("pk", "external_id"))
        item_ids = np.array([external[pk] for pk in item_pks.tolist()], dtype=object)
    return TrainingData(
        user_ids=np.asarray(user_ids, dtype=object),
        item_pks=item_pks,
        item_ids=item_ids,
        user_idx=user_codes.astype(np.int32),
        item_idx=item_codes.astype(np.int32),
        weights=confidence,
        order=rank,
        n_events=len(events),
        last_event_at=float(events["ts"].max()),
        first_at=grouped["first"].to_numpy(dtype=np.float64),
    )
