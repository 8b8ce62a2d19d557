"""The whole path through a real Celery worker, the Redis broker and PostgreSQL:
upload -> import task -> training task -> evaluated, active version -> served; then a failed retrain that
keeps it, and a fine-tune on the worker."""

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


def finished(ctx, url: str, timeout: float = 300) -> dict:
    return wait_for(lambda: ctx.client.get(url).json(), lambda job: job["status"] in {"succeeded", "failed"}, timeout)


def test_upload_is_imported_and_trained_by_the_worker(live_worker, tenant_a, tenant_b, monkeypatch):
    assert tenant_a.jwt_client.put("/api/v1/training-config", TINY, format="json").status_code == 200
    before = tenant_a.client.get("/api/v1/recommendations/user1", {"n": 5}).json()
    assert (before["strategy"], before["items"]) == ("popular", [])  # no data, no model yet
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

    # served by the model now, without what user1 has seen (sku5, sku9, ... sku25)
    served = tenant_a.client.get("/api/v1/recommendations/user1", {"n": 5}).json()
    assert (served["strategy"], served["model_version"]) == ("neumf", version["version"])
    assert len(served["items"]) == 5
    assert not {item["id"] for item in served["items"]} & {f"sku{1 + 4 * j}" for j in range(1, 7)}

    # a retrain that fails on the worker (the worker runs in this process: the patch reaches it) keeps v1
    from training import pipeline

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline, "run", broken)
    failed = finished(tenant_a, f"/api/v1/training-jobs/{tenant_a.client.post('/api/v1/training-jobs').json()['id']}")
    assert failed["status"] == "failed"
    assert "disk full" in failed["error"]
    assert tenant_a.client.get("/api/v1/recommendations/user1", {"n": 3}).json()["model_version"] == version["version"]
    monkeypatch.undo()

    # a fine-tune on the worker starts from v1 and is compared with it
    job = tenant_a.client.post("/api/v1/training-jobs", {"fine_tune": True}, format="json").json()
    tuned = finished(tenant_a, f"/api/v1/training-jobs/{job['id']}")
    assert tuned["status"] == "succeeded", tuned
    assert tuned["model_version"]["promotion"]["compared_with"] == f"active v{version['version']}"
