"""Where model artifacts live.

A version's artifacts are a few files (`model.keras`, `weights.npz`, `metadata.json`) under one URI.
The default store is a directory (`MODEL_STORE_DIR/<tenant>/v<version>/`) written atomically: files go
to a temporary sibling directory that is renamed into place, so a reader never sees half a version.
Another backend (object storage) only has to implement `ModelStore`; choose it with `MODEL_STORE_BACKEND`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

WEIGHTS_FILE = "weights.npz"
METADATA_FILE = "metadata.json"
KERAS_FILE = "model.keras"


class ModelStore:
    """Interface of a model store."""

    def staging_dir(self) -> Path:
        """A fresh local directory to write a version's files into."""
        raise NotImplementedError

    def publish(self, staging: Path, *, tenant_id: int, version: int) -> str:
        """Move a staged directory into the store; returns the version's URI."""
        raise NotImplementedError

    def local_path(self, uri: str) -> Path:
        """A local directory holding the version's files (downloaded first by remote stores)."""
        raise NotImplementedError

    def delete(self, uri: str) -> None:
        raise NotImplementedError

    def exists(self, uri: str) -> bool:
        raise NotImplementedError


class LocalModelStore(ModelStore):
    scheme = "file://"

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root or settings.MODEL_STORE_DIR)

    def staging_dir(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))

    def publish(self, staging: Path, *, tenant_id: int, version: int) -> str:
        target = self.root / str(tenant_id) / f"v{version}"
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            # A version number is only ever published once; a leftover of a crashed run is moved aside.
            target.rename(target.with_name(f".stale-{target.name}-{uuid.uuid4().hex[:8]}"))
        os.replace(staging, target)
        return f"{self.scheme}{target}"

    def local_path(self, uri: str) -> Path:
        return Path(uri.removeprefix(self.scheme))

    def delete(self, uri: str) -> None:
        shutil.rmtree(self.local_path(uri), ignore_errors=True)

    def exists(self, uri: str) -> bool:
        return (self.local_path(uri) / METADATA_FILE).is_file()


def get_model_store() -> ModelStore:
    backend = getattr(settings, "MODEL_STORE_BACKEND", "training.store.LocalModelStore")
    return import_string(backend)()


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True, default=str), encoding="utf-8")


def read_metadata(uri: str) -> dict[str, Any]:
    return json.loads((get_model_store().local_path(uri) / METADATA_FILE).read_text(encoding="utf-8"))
