from __future__ import annotations

import shutil

import pytest

from tests.factories import make_clustered_events

TINY = {"embedding_dim": 8, "mlp_layers": [16, 8], "epochs": 8, "batch_size": 128, "learning_rate": 0.01}


@pytest.fixture
def train_model(monkeypatch):
    """Train a tiny model for a tenant (calling the task body); returns the job's API answer."""
    from training import services

    monkeypatch.setattr(services, "_enqueue", lambda job: None)

    def train(ctx, **config):
        assert ctx.jwt_client.put("/api/v1/training-config", {**TINY, **config}, format="json").status_code == 200
        job = ctx.client.post("/api/v1/training-jobs", {}, format="json").json()
        services.training_job_run(job_id=job["id"])
        answer = ctx.client.get(f"/api/v1/training-jobs/{job['id']}").json()
        assert answer["status"] == "succeeded", answer
        return answer

    return train


@pytest.fixture(scope="session")
def _trained_once(tmp_path_factory):
    """Artifacts of the clustered-data model, trained by the first test that needs it (ids are tenant-free)."""
    return {"dir": tmp_path_factory.mktemp("trained-model"), "row": None}


@pytest.fixture
def shop_with_model(tenant_a, train_model, _trained_once):
    """Tenant A with clustered events (users u0..u59, items i0..i39 in 4 categories) and an active model.

    The first use trains through the API; later uses install a copy of those artifacts as version 1,
    which saves a TensorFlow training per test (training itself is tested in tests/training).
    """
    from training.models import ModelVersion
    from training.services import model_version_activate
    from training.store import get_model_store

    make_clustered_events(tenant_a.tenant)
    store = get_model_store()
    if _trained_once["row"] is None:
        answer = train_model(tenant_a)
        assert answer["model_version"]["is_active"]
        version = ModelVersion.objects.get(pk=answer["model_version"]["id"])
        shutil.copytree(store.local_path(version.artifact_uri), _trained_once["dir"], dirs_exist_ok=True)
        _trained_once["row"] = {
            name: getattr(version, name)
            for name in ("algorithm", "params", "metrics", "n_users", "n_items", "n_interactions", "data_fingerprint")
        }
        return tenant_a
    staging = store.staging_dir()
    shutil.copytree(_trained_once["dir"], staging, dirs_exist_ok=True)
    uri = store.publish(staging, tenant_id=tenant_a.tenant.pk, version=1)
    from django.utils import timezone

    version = ModelVersion.objects.create(
        tenant=tenant_a.tenant, version=1, artifact_uri=uri, trained_at=timezone.now(), **_trained_once["row"]
    )
    model_version_activate(tenant=tenant_a.tenant, version_id=version.pk)
    return tenant_a
