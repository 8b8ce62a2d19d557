"""The whole path through a real Celery worker, the Redis broker and PostgreSQL:
upload -> import task -> training task -> evaluated, active version."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

pytestmark = [pytest.mark.worker, pytest.mark.slow]

TINY = {"embedding_dim": 8, "mlp_layers": [16, 8], "epochs": 4, "batch_size": 256, "learning_rate": 0.01}


def clustered_csv(n_users: int = 48, groups: int = 4, items_per_group: int = 8) -> bytes:
    lines = ["user_id,item_id,event_type,timestamp"]
    for u in range(n_users):
        g = u % groups
        for k in range(6):
            item = g + groups * ((u + k) % items_per_group)
            lines.append(f"user{u},sku{item},{'purchase' if k % 2 else 'view'},2024-02-{1 + k:02d}T10:{u % 60:02d}:00Z")
    return ("\n".join(lines) + "\n").encode()


def wait_for(fetch, done, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting; last value: {value}")
        time.sleep(0.3)


def test_upload_is_imported_and_trained_by_the_worker(live_worker, tenant_a, tenant_b):
    assert tenant_a.jwt_client.put("/api/v1/training-config", TINY, format="json").status_code == 200
    response = tenant_a.client.post(
        "/api/v1/interactions/imports", {"file": SimpleUploadedFile("events.csv", clustered_csv())}, format="multipart"
    )
    assert response.status_code == 202, response.content
    job_url = f"/api/v1/interactions/imports/{response.json()['id']}"
    imported = wait_for(
        lambda: tenant_a.client.get(job_url).json(), lambda job: job["status"] in {"succeeded", "failed"}
    )
    assert imported["status"] == "succeeded", imported
    assert imported["rows_imported"] == 48 * 6
    assert imported["training_job"]

    training_url = f"/api/v1/training-jobs/{imported['training_job']}"
    trained = wait_for(
        lambda: tenant_a.client.get(training_url).json(),
        lambda job: job["status"] in {"succeeded", "failed"},
        timeout=300,
    )
    assert trained["status"] == "succeeded", trained
    version = trained["model_version"]
    assert version["is_active"]
    assert version["metrics"]["hr_at_10"] >= version["metrics"]["popularity_hr_at_10"]
    # the other tenant saw none of it
    assert tenant_b.client.get("/api/v1/models").json()["count"] == 0
    assert tenant_b.client.get(job_url).status_code == 404
