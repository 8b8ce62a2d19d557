"""The active model of a tenant, loaded from its exported weights for NumPy scoring (no TensorFlow).

The active version is looked up once per model epoch (bumped on activation, see `freshness`); a loaded
version is immutable, so it stays cached (LRU by bytes) until memory is needed for another one.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.conf import settings

from training.models import ModelVersion
from training.store import METADATA_FILE, WEIGHTS_FILE, get_model_store

from . import freshness
from .catalog_view import CatalogView
from .local_cache import VersionedLRU
from .scoring import NeuMFScorer


@dataclass(frozen=True)
class ActiveVersion:
    pk: int
    version: int
    artifact_uri: str
    trained_at: datetime | None


@dataclass
class ServingModel:
    version: ActiveVersion
    scorer: NeuMFScorer
    user_index: dict[str, int]
    item_ids: list[str]
    item_vectors: np.ndarray  # unit-norm, per model item
    _catalog_map: tuple[int, np.ndarray, np.ndarray] | None = None

    @property
    def nbytes(self) -> int:
        return self.scorer.nbytes + self.item_vectors.nbytes + 120 * (len(self.user_index) + len(self.item_ids))

    def catalog_maps(self, catalog: CatalogView) -> tuple[np.ndarray, np.ndarray]:
        """(model item -> catalog position or -1, catalog position -> model item or -1) for this catalog.

        Catalog positions follow primary keys and items are never deleted, so a map stays valid for
        every item it has; it is only extended when the catalog grew.
        """
        cached = self._catalog_map
        if cached is None or cached[0] != len(catalog):
            to_catalog = catalog.positions(self.item_ids)
            to_model = np.full(len(catalog), -1, dtype=np.int64)
            known = to_catalog >= 0
            to_model[to_catalog[known]] = np.flatnonzero(known)
            cached = (len(catalog), to_catalog, to_model)
            self._catalog_map = cached
        return cached[1], cached[2]


def _active_version(tenant_id: int) -> ActiveVersion | None:
    row = (
        ModelVersion.objects.filter(tenant_id=tenant_id, is_active=True, status=ModelVersion.Status.READY)
        .values_list("pk", "version", "artifact_uri", "trained_at")
        .first()
    )
    return ActiveVersion(*row) if row else None


def _load(version: ActiveVersion) -> ServingModel | None:
    """The version's model; None when its artifacts are gone (looked for again every minute, see below)."""
    path = get_model_store().local_path(version.artifact_uri)
    if not (path / WEIGHTS_FILE).is_file():
        logger.error("the active model v%s has no artifacts at %s: serving popularity", version.version, path)
        return None
    with np.load(path / WEIGHTS_FILE) as npz:
        weights = {name: npz[name] for name in npz.files}
    metadata = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
    scorer = NeuMFScorer(weights)
    return ServingModel(
        version=version,
        scorer=scorer,
        user_index={user_id: j for j, user_id in enumerate(metadata["user_ids"])},
        item_ids=list(metadata["item_ids"]),
        item_vectors=scorer.item_embeddings(),
    )


logger = logging.getLogger(__name__)
MISSING_RETRY_SECONDS = 60.0
_missing: dict[int, float] = {}
_active: VersionedLRU[ActiveVersion | None] = VersionedLRU(max_bytes=1 << 40)
# A loaded version never changes: its entry is never re-checked, only evicted.
_models: VersionedLRU[ServingModel | None] = VersionedLRU(
    max_bytes=settings.SERVING_MODEL_CACHE_BYTES, check_seconds=float("inf")
)


def active_model(*, tenant_id: int) -> ServingModel | None:
    """The tenant's active model, or None (no model yet, or its artifacts are gone)."""
    version = _active.get(
        tenant_id,
        current_version=lambda: freshness.model_epoch(tenant_id=tenant_id),
        build=lambda epoch: _active_version(tenant_id),
        size=lambda value: 200,
    )
    if version is None:
        return None
    model = _models.get(
        version.pk, current_version=lambda: 0, build=lambda _: _load(version), size=lambda m: m.nbytes if m else 100
    )
    if model is None:
        # Artifacts missing (a restore in progress, a shared volume not mounted yet): popularity serves, and
        # the files are looked for again once a minute rather than at every request or never.
        now = time.monotonic()
        missing_since = _missing.setdefault(version.pk, now)
        if now - missing_since >= MISSING_RETRY_SECONDS:
            _missing.pop(version.pk, None)
            _models.discard(version.pk)
    return model


def loaded_stats() -> dict[str, int]:
    return _models.stats()
