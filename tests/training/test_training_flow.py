"""Training end to end on tiny data: jobs, versions, metrics, promotion, activation, fine-tuning, schedules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from interactions.models import Event
from tests.factories import make_clustered_events
from training import services
from training.models import ModelVersion, TrainingJob
from training.store import get_model_store

pytestmark = pytest.mark.django_db

TINY = {"embedding_dim": 8, "mlp_layers": [16, 8], "epochs": 6, "batch_size": 256, "learning_rate": 0.01}


@pytest.fixture(autouse=True)
def sent_jobs(monkeypatch):
    """Jobs are run here by calling the task body; nothing is sent to a broker."""
    sent = []
    monkeypatch.setattr(services, "_enqueue", lambda job: sent.append(job.pk))
    return sent


def tiny_config(ctx, **extra):
    response = ctx.jwt_client.put("/api/v1/training-config", {**TINY, **extra}, format="json")
    assert response.status_code == 200, response.content


def train(ctx, **body) -> dict:
    response = ctx.client.post("/api/v1/training-jobs", body, format="json")
    assert response.status_code == 202, response.content
    services.training_job_run(job_id=response.json()["id"])
    return ctx.client.get(f"/api/v1/training-jobs/{response.json()['id']}").json()


def test_training_creates_an_evaluated_active_version(tenant_a):
    make_clustered_events(tenant_a.tenant)
    tiny_config(tenant_a)
    job = train(tenant_a)
    assert job["status"] == "succeeded", job
    assert job["progress"]["epoch"] >= 1
    assert job["progress"]["loss"] is not None
    version = job["model_version"]
    metrics = version["metrics"]
    for name in ("hr_at_10", "ndcg_at_10", "popularity_hr_at_10", "popularity_ndcg_at_10", "full_hr_at_10",
                 "full_ndcg_at_10", "full_coverage", "validation_hr_at_10"):  # fmt: skip
        assert name in metrics
    assert metrics["ndcg_at_10"] > metrics["popularity_ndcg_at_10"]
    assert version["is_active"]
    assert version["version"] == 1
    assert (version["n_users"], version["n_items"]) == (60, 40)
    assert version["promotion"]["compared_with"] == "popularity"
    listed = tenant_a.client.get("/api/v1/models").json()
    assert listed["count"] == 1
    # the artifacts: Keras model, NumPy weights, metadata
    stored = ModelVersion.objects.get(pk=version["id"])
    path = get_model_store().local_path(stored.artifact_uri)
    assert {p.name for p in path.iterdir()} >= {"model.keras", "weights.npz", "metadata.json"}


def test_too_little_data_fails_clearly_and_keeps_popularity(tenant_a):
    make_clustered_events(tenant_a.tenant, n_users=3, per_user=2)
    tiny_config(tenant_a)
    job = train(tenant_a)
    assert job["status"] == "failed"
    assert job["result"] == {"reason": "insufficient_data"}
    assert "minimum" in job["error"] or "at least" in job["error"]
    assert not ModelVersion.objects.filter(tenant=tenant_a.tenant).exists()


def test_a_failed_training_leaves_the_active_model(tenant_a, monkeypatch):
    make_clustered_events(tenant_a.tenant)
    tiny_config(tenant_a)
    first = train(tenant_a)["model_version"]

    def broken(**kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr("training.pipeline.run", broken)
    job = train(tenant_a)
    assert job["status"] == "failed"
    assert "out of memory" in job["error"]
    active = ModelVersion.objects.get(tenant=tenant_a.tenant, is_active=True)
    assert active.pk == first["id"]


def test_a_worse_model_is_not_promoted_but_can_be_activated_by_hand(tenant_a):
    make_clustered_events(tenant_a.tenant)
    tiny_config(tenant_a)
    good = train(tenant_a)["model_version"]
    bad_job = train(tenant_a, params={"learning_rate": 1e-6, "epochs": 1})
    bad = bad_job["model_version"]
    assert bad_job["status"] == "succeeded"
    assert not bad["is_active"]
    assert bad["promotion"]["compared_with"] == "active v1"
    assert bad["promotion"]["activated"] is False
    assert ModelVersion.objects.get(tenant=tenant_a.tenant, is_active=True).pk == good["id"]
    # rolled forward by hand, then back
    activated = tenant_a.client.post(f"/api/v1/models/{bad['id']}/activate")
    assert activated.status_code == 200
    assert activated.json()["is_active"]
    assert not ModelVersion.objects.get(pk=good["id"]).is_active
    assert tenant_a.client.post(f"/api/v1/models/{good['id']}/activate").json()["is_active"]


def test_fine_tuning_warm_starts_and_grows_embeddings(tenant_a):
    make_clustered_events(tenant_a.tenant)
    tiny_config(tenant_a)
    train(tenant_a)
    make_clustered_events(tenant_a.tenant, n_users=8, n_items=44, user_prefix="new", seed=1)
    job = train(tenant_a, fine_tune=True)
    assert job["status"] == "succeeded", job
    version = job["model_version"]
    assert (version["n_users"], version["n_items"]) == (68, 44)
    assert TrainingJob.objects.get(pk=job["id"]).fine_tune
    assert version["promotion"]["compared_with"] == "active v1"


def test_fine_tuning_starts_from_the_active_weights(tenant_a, monkeypatch):
    """The warm start hands the old rows to the new model: a known user's embedding starts where v1 left it."""
    import numpy as np

    from training.ncf import train as ncf_train

    make_clustered_events(tenant_a.tenant)
    tiny_config(tenant_a)
    v1 = ModelVersion.objects.get(pk=train(tenant_a)["model_version"]["id"])
    old = services.load_active_model(v1)
    make_clustered_events(tenant_a.tenant, n_users=8, n_items=44, user_prefix="new", seed=1)
    started_from = {}
    real_phases = ncf_train._Run.phases

    def phases(self, data, validation, warm_start, *args, **kwargs):
        if warm_start is not None and "weights" not in started_from:
            started_from["weights"], started_from["users"] = warm_start.weights, warm_start.user_old_index
        return real_phases(self, data, validation, warm_start, *args, **kwargs)

    monkeypatch.setattr(ncf_train._Run, "phases", phases)
    train(tenant_a, fine_tune=True)
    assert started_from["weights"]["gmf_user"] is not None
    np.testing.assert_array_equal(started_from["weights"]["gmf_user"], old.weights["gmf_user"])
    known = started_from["users"][started_from["users"] >= 0]
    assert len(known) == 60  # the 60 old users map onto their old rows; the 8 new ones start fresh
    assert (started_from["users"] < 0).sum() == 8


def test_fine_tuning_without_an_active_model_is_a_conflict(tenant_a):
    response = tenant_a.client.post("/api/v1/training-jobs", {"fine_tune": True}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_active_model"


def test_requests_coalesce_while_one_is_queued(tenant_a, sent_jobs):
    first = tenant_a.client.post("/api/v1/training-jobs", {}, format="json").json()
    second = tenant_a.client.post("/api/v1/training-jobs", {}, format="json").json()
    assert first["id"] == second["id"]
    assert TrainingJob.objects.filter(tenant=tenant_a.tenant).count() == 1


def test_a_request_while_one_runs_queues_one_follow_up(tenant_a):
    running = TrainingJob.objects.create(tenant=tenant_a.tenant, status="running", heartbeat_at=timezone.now())
    follow_up = tenant_a.client.post("/api/v1/training-jobs", {}, format="json").json()
    again = tenant_a.client.post("/api/v1/training-jobs", {}, format="json").json()
    assert follow_up["id"] == again["id"] != running.pk
    # the follow-up does not start while the other one runs
    assert services.training_job_run(job_id=follow_up["id"]) is None
    assert TrainingJob.objects.get(pk=follow_up["id"]).status == "queued"


def test_a_job_whose_worker_died_is_failed_by_the_reaper(tenant_a, sent_jobs, django_capture_on_commit_callbacks):
    stale = TrainingJob.objects.create(
        tenant=tenant_a.tenant, status="running", heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    waiting = TrainingJob.objects.create(tenant=tenant_a.tenant, status="queued")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.stale_jobs_reap() == 1
    stale.refresh_from_db()
    assert stale.status == "failed"
    assert "stopped responding" in stale.error
    assert sent_jobs == [waiting.pk]


def test_running_a_job_twice_does_nothing_the_second_time(tenant_a):
    make_clustered_events(tenant_a.tenant)
    tiny_config(tenant_a)
    job = train(tenant_a)
    assert services.training_job_run(job_id=job["id"]) is None
    assert ModelVersion.objects.filter(tenant=tenant_a.tenant).count() == 1


@pytest.mark.parametrize(
    "params",
    [
        {"bogus": 1},
        {"embedding_dim": 1_000_000},
        {"num_negatives": 100_000},
        {"epochs": 2.5},
        {"epochs": 0},
        {"seed": "x"},
        {"init_std": -1},
        {"mlp_layers": "64"},
        {"mlp_layers": [64, 32, 16, 8, 4, 2, 2]},
        {"refit": "yes"},
    ],
)
def test_bad_job_params_are_400_and_queue_nothing(tenant_a, params):
    response = tenant_a.client.post("/api/v1/training-jobs", {"params": params}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_params"
    assert not TrainingJob.objects.exists()


@pytest.mark.parametrize("raw", ['{"params": {"mlp_layers": [1e999]}}', '{"params": {"learning_rate": 1e999}}'])
def test_infinite_job_params_are_400(tenant_a, raw):
    response = tenant_a.client.post("/api/v1/training-jobs", raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert not TrainingJob.objects.exists()


@pytest.mark.parametrize("cron", ["every day", "0,,30 3 * * *", "-5 3 * * *", "61 3 * * *", "*/0 * * * *"])
def test_bad_schedules_are_400_everywhere(tenant_a, cron):
    from django.test import Client

    response = tenant_a.jwt_client.put("/api/v1/training-config", {"retrain_schedule": cron}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid_schedule"
    web = Client()
    web.force_login(tenant_a.owner)
    page = web.post("/settings/training/", {"retrain_schedule": cron, "schedule_enabled": "on"})
    assert page.status_code in {200, 400}  # the form again, with the message beside the field
    assert services.training_config_get(tenant=tenant_a.tenant).retrain_schedule == "0 3 * * *"


def test_bad_params_are_400(tenant_a):
    response = tenant_a.client.post("/api/v1/training-jobs", {"params": {"bogus": 1}}, format="json")
    assert response.status_code == 400
    bad_config = tenant_a.jwt_client.put("/api/v1/training-config", {"mlp_layers": [15, 8]}, format="json")
    assert bad_config.status_code == 400
    bad_cron = tenant_a.jwt_client.put("/api/v1/training-config", {"retrain_schedule": "every day"}, format="json")
    assert bad_cron.status_code == 400
    bad_weights = tenant_a.jwt_client.put("/api/v1/training-config", {"event_weights": {"zap": 1}}, format="json")
    assert bad_weights.status_code == 400


def test_schedule_rows_follow_the_config(tenant_a):
    config = tenant_a.jwt_client.get("/api/v1/training-config").json()
    assert config["retrain_schedule"] == "0 3 * * *"
    task = PeriodicTask.objects.get(task="training.tasks.scheduled_retrain", args=f"[{tenant_a.tenant.pk}]")
    assert task.enabled
    assert (task.crontab.minute, task.crontab.hour) == ("0", "3")
    tenant_a.jwt_client.put("/api/v1/training-config", {"retrain_schedule": "15 */6 * * 1-5"}, format="json")
    task.refresh_from_db()
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("15", "*/6", "1-5")
    tenant_a.jwt_client.put("/api/v1/training-config", {"schedule_enabled": False}, format="json")
    task.refresh_from_db()
    assert not task.enabled
    assert PeriodicTask.objects.filter(task="training.tasks.scheduled_retrain").count() == 1


def test_every_shop_gets_a_retrain_schedule_and_loses_it_with_the_shop(admin_client):
    from accounts.models import Tenant
    from accounts.services import user_signup
    from training.schedules import schedules_ensure

    signup = user_signup(email="new@shop.test", password="a-long-passphrase", tenant_name="New Shop")
    assert PeriodicTask.objects.get(args=f"[{signup.tenant.pk}]").enabled  # from the start, untouched config
    # a shop made some other way (here: directly) is picked up by beat's sweep
    other = Tenant.objects.create(name="Elsewhere", slug="elsewhere")
    assert schedules_ensure() == 1
    assert PeriodicTask.objects.get(args=f"[{other.pk}]").enabled
    # switched off in the admin: no retraining; deleted: no entry left behind
    admin_client.post(f"/admin/accounts/tenant/{other.pk}/change/", {
        "name": "Elsewhere", "slug": "elsewhere", "rate_limit_per_minute": 6000, "user_id_pattern": "",
        "item_id_pattern": "", "memberships-TOTAL_FORMS": 0, "memberships-INITIAL_FORMS": 0,
    })  # fmt: skip
    other.refresh_from_db()
    assert not other.is_active
    assert not PeriodicTask.objects.get(args=f"[{other.pk}]").enabled
    admin_client.post(f"/admin/accounts/tenant/{other.pk}/delete/", {"post": "yes"})
    assert not Tenant.objects.filter(pk=other.pk).exists()
    assert not PeriodicTask.objects.filter(args=f"[{other.pk}]").exists()


def test_a_job_failed_while_it_runs_stops_training_and_stays_failed(tenant_a, monkeypatch):
    make_clustered_events(tenant_a.tenant)
    tiny_config(tenant_a, epochs=6)
    monkeypatch.setattr(services, "HEARTBEAT_SECONDS", 0)
    job = TrainingJob.objects.create(tenant=tenant_a.tenant, trigger="api")

    def reaper_meanwhile(line: str) -> None:
        if line.startswith("epoch 1/"):
            TrainingJob.objects.filter(pk=job.pk).update(status="failed", error="The worker stopped responding.")

    services.training_job_run(job_id=job.pk, echo=reaper_meanwhile)
    job.refresh_from_db()
    assert (job.status, job.error) == ("failed", "The worker stopped responding.")
    assert job.progress["epoch"] < 6  # it stopped instead of finishing alongside a follow-up
    assert not ModelVersion.objects.filter(tenant=tenant_a.tenant).exists()


def test_promotion_compares_on_interactions_new_to_the_active_model(tenant_a):
    from datetime import UTC, datetime

    from catalog.models import Item

    make_clustered_events(tenant_a.tenant)
    tiny_config(tenant_a)
    train(tenant_a)
    later = datetime(2030, 1, 1, tzinfo=UTC)
    items = {item.external_id: item for item in Item.objects.filter(tenant=tenant_a.tenant)}
    fresh = []
    for u in range(60):
        seen = set(
            Event.objects.filter(tenant=tenant_a.tenant, user_id=f"u{u}").values_list("item__external_id", flat=True)
        )
        unseen_in_group = next(f"i{i}" for i in range(u % 4, 40, 4) if f"i{i}" not in seen)
        # u0-u19 buy something v1 already saw them with (not new to v1), the others an item v1 never saw them with
        item_id = sorted(seen)[0] if u < 20 else unseen_in_group
        fresh.append(
            Event(tenant=tenant_a.tenant, user_id=f"u{u}", event_type="purchase", item=items[item_id], timestamp=later)
        )
    Event.objects.bulk_create(fresh)
    promotion = train(tenant_a)["model_version"]["promotion"]
    assert promotion["compared_with"] == "active v1"
    assert promotion["compared_users"] == 40


def test_a_retrain_on_the_same_events_cannot_be_compared_and_leaves_the_active_model(tenant_a):
    """The served model trained on every interaction, the holdout included: on the same events nothing is new
    to it, so a fair comparison is impossible and the active version keeps serving."""
    make_clustered_events(tenant_a.tenant)
    tiny_config(tenant_a)
    first = train(tenant_a)["model_version"]
    second = train(tenant_a, params={"learning_rate": 0.02})["model_version"]
    assert not second["is_active"]
    assert second["promotion"]["compared_users"] == 0
    assert "no interactions newer than v1's data" in second["promotion"]["reason"]
    assert ModelVersion.objects.get(pk=first["id"]).is_active
    # the operator can still switch by hand
    assert tenant_a.client.post(f"/api/v1/models/{second['id']}/activate").status_code == 200


def test_scheduled_retrain_skips_without_new_data(tenant_a, sent_jobs):
    make_clustered_events(tenant_a.tenant)
    tiny_config(tenant_a)
    train(tenant_a)
    sent_jobs.clear()
    assert services.scheduled_retrain(tenant=tenant_a.tenant) is None
    item = Event.objects.filter(tenant=tenant_a.tenant).first().item
    Event.objects.create(tenant=tenant_a.tenant, user_id="u1", event_type="view", item=item, timestamp=timezone.now())
    job = services.scheduled_retrain(tenant=tenant_a.tenant)
    assert job is not None
    assert job.trigger == "schedule"


def test_scheduled_retrain_also_skips_after_a_job_that_found_too_little_data(tenant_a, sent_jobs):
    make_clustered_events(tenant_a.tenant, n_users=3, n_items=4, per_user=2)
    job = services.scheduled_retrain(tenant=tenant_a.tenant)
    services.training_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.result["reason"]) == ("failed", "insufficient_data")
    assert services.scheduled_retrain(tenant=tenant_a.tenant) is None  # same events, same answer
    assert TrainingJob.objects.filter(tenant=tenant_a.tenant).count() == 1


def test_pruning_keeps_the_newest_and_the_active(tenant_a):
    make_clustered_events(tenant_a.tenant)
    tiny_config(tenant_a, keep_versions=1, epochs=1)
    first = train(tenant_a)["model_version"]
    train(tenant_a)
    train(tenant_a)
    tenant_a.client.post(f"/api/v1/models/{first['id']}/activate")
    pruned = services.artifacts_prune()
    statuses = dict(ModelVersion.objects.filter(tenant=tenant_a.tenant).values_list("version", "status"))
    assert pruned == 1
    assert statuses == {1: "ready", 2: "pruned", 3: "ready"}
    assert ModelVersion.objects.get(pk=first["id"]).is_active
    response = tenant_a.client.post(f"/api/v1/models/{ModelVersion.objects.get(version=2).pk}/activate")
    assert response.status_code == 409


def test_two_tenants_models_never_mix(tenant_a, tenant_b):
    make_clustered_events(tenant_a.tenant)
    make_clustered_events(tenant_b.tenant, n_users=30, n_items=24, user_prefix="b", item_prefix="bi")
    tiny_config(tenant_a)
    tiny_config(tenant_b)
    a = train(tenant_a)["model_version"]
    b = train(tenant_b)["model_version"]
    assert (a["n_users"], b["n_users"]) == (60, 30)
    assert a["version"] == b["version"] == 1
    assert tenant_b.client.get(f"/api/v1/models/{a['id']}").status_code == 404
    assert tenant_b.client.post(f"/api/v1/models/{a['id']}/activate").status_code == 404
    assert tenant_b.client.get("/api/v1/models").json()["count"] == 1
    job_a = TrainingJob.objects.get(tenant=tenant_a.tenant)
    assert tenant_b.client.get(f"/api/v1/training-jobs/{job_a.pk}").status_code == 404
    metadata_b = get_model_store().local_path(ModelVersion.objects.get(pk=b["id"]).artifact_uri) / "metadata.json"
    assert '"u1"' not in metadata_b.read_text()


def test_training_endpoints_need_the_train_scope(tenant_a):
    from tests.factories import make_api_key

    client = tenant_a.client_with(make_api_key(tenant_a.tenant, scopes=["recommend", "ingest"]))
    assert client.get("/api/v1/models").status_code == 403
    assert client.post("/api/v1/training-jobs", {}, format="json").status_code == 403


def test_train_command_prints_progress_and_metrics(tenant_a, capsys):
    make_clustered_events(tenant_a.tenant)
    tiny_config(tenant_a)
    call_command("train", "--tenant", tenant_a.tenant.slug, "--epochs", "3", "--seed", "7")
    out = capsys.readouterr().out
    assert "epoch 1/" in out
    assert "HR@10" in out
    assert "popularity" in out
    assert ModelVersion.objects.filter(tenant=tenant_a.tenant).count() == 1


def test_train_command_on_a_file(tenant_a, tmp_path, capsys):
    rows = ["user_id,item_id,rating"]
    for u in range(40):
        rows += [f"f{u},m{(u % 4) + 4 * k},5" for k in range(6)]
    path = tmp_path / "ratings.csv"
    path.write_text("\n".join(rows) + "\n")
    tiny_config(tenant_a)
    call_command("train", "--tenant", tenant_a.tenant.slug, "--data-path", str(path), "--epochs", "2")
    version = ModelVersion.objects.get(tenant=tenant_a.tenant)
    assert version.n_users == 40
    assert version.data_fingerprint.startswith("file:")
    assert "HR@10" in capsys.readouterr().out
