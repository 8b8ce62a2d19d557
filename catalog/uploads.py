"""Keeping uploaded files until their import job has run.

Files live under `UPLOADS_DIR/<tenant id>/<kind>/`, written in one pass that also measures the size
(413 beyond `MAX_UPLOAD_BYTES`) and the SHA-256 (to recognise the same file uploaded twice).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from accounts.models import Tenant
from recsys_site.errors import PayloadTooLarge, ValidationFailed

COPY_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class StoredUpload:
    relative_path: str
    original_name: str
    size: int
    sha256: str

    @property
    def path(self) -> Path:
        return Path(settings.UPLOADS_DIR) / self.relative_path


def _too_large(size: int) -> PayloadTooLarge:
    limit = settings.MAX_UPLOAD_BYTES
    return PayloadTooLarge(
        f"The file is larger than the {limit:,}-byte limit.",
        details={"max_bytes": limit, "size": size},
    )


def store_upload(*, tenant: Tenant, kind: str, uploaded) -> StoredUpload:
    """Copy an uploaded file (a Django UploadedFile or any binary file object with a name) to the store."""
    if uploaded is None:
        raise ValidationFailed("Attach the file as the multipart field 'file'.", code="missing_file")
    limit = settings.MAX_UPLOAD_BYTES
    declared = getattr(uploaded, "size", None)
    if declared is not None and declared > limit:
        raise _too_large(declared)
    original_name = os.path.basename(getattr(uploaded, "name", "") or "upload")[:255]
    suffix = "".join(Path(original_name).suffixes[-2:])[:20] or ".dat"
    relative = f"{tenant.pk}/{kind}/{uuid.uuid4().hex}{suffix}"
    target = Path(settings.UPLOADS_DIR) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    if hasattr(uploaded, "chunks"):
        chunks = uploaded.chunks(COPY_BLOCK)
    else:
        chunks = iter(lambda: uploaded.read(COPY_BLOCK), b"")
    try:
        with open(target, "wb") as out:
            for block in chunks:
                size += len(block)
                if size > limit:
                    raise _too_large(size)
                digest.update(block)
                out.write(block)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return StoredUpload(relative_path=relative, original_name=original_name, size=size, sha256=digest.hexdigest())


def upload_path(relative_path: str) -> Path:
    return Path(settings.UPLOADS_DIR) / relative_path


def discard_upload(relative_path: str) -> None:
    if relative_path:
        upload_path(relative_path).unlink(missing_ok=True)
