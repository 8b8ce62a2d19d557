"""The training, models and settings pages through HTTP: train now, live job pages, activation, the config form."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from accounts.models import Membership
from tests.factories import MembershipFactory, make_clustered_events
from tests.web import assert_error_beside, browser, make_model_version
from training import services
from training.models import ModelVersion, TrainingConfig, TrainingJob

pytestmark = pytest.mark.django_db

TINY = {
    "embedding_dim": 4,
    "mlp_layers": [8, 4],
    "epochs": 2,
    "batch_size": 256,
    "learning_rate": 0.01,
    "min_interactions": 20,
}


@pytest.fixture(autouse=True)
def sent_jobs(monkeypatch):
    """Training jobs are run here by calling the task body; nothing is sent to a broker."""
    sent = []
    monkeypatch.setattr(services, "_enqueue", lambda job: sent.append(job.pk))
    return sent


def settings_form(**changes) -> dict:
    data = {
        "embedding_dim": 16,
        "mlp_layers": "32, 16",
        "epochs": 5,
        "batch_size": 512,
        "learning_rate": 0.01,
        "num_negatives": 4,
        "l2": 0,
        "min_interactions": 10,
        "keep_versions": 3,
        "retrain_schedule": "15 4 * * 1",
        "schedule_enabled": "on",
        "weight_view": 1,
        "weight_click": 2,
        "weight_add_to_cart": 3,
        "weight_purchase": 5,
        "weight_rating": 4,
        "weight_like": 3,
        "weight_search": 0,
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


@pytest.mark.parametrize("path", ["/training/", "/training/jobs/1/", "/models/", "/settings/", "/settings/shop/"])
def test_pages_need_a_login(path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_empty_states_guide_a_new_shop(tenant_a):
    client = browser(tenant_a)
    training = client.get("/training/")
    assert training.status_code == 200
    assert "No training jobs yet." in training.content.decode()
    models = client.get("/models/")
    assert models.status_code == 200
    assert "No model yet" in models.content.decode()
    dashboard = client.get("/dashboard/").content.decode()
    assert "No items yet" in dashboard
    assert 'href="/catalog/#upload"' in dashboard
    assert "No events yet" in dashboard
    assert 'href="/interactions/#upload"' in dashboard
    assert "No model yet" in dashboard


def test_train_now_queues_a_web_job_and_coalesces(tenant_a, sent_jobs, django_capture_on_commit_callbacks):
    client = browser(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/training/", follow=True)
    job = TrainingJob.objects.get(tenant=tenant_a.tenant)
    assert response.redirect_chain[-1][0] == f"/training/jobs/{job.pk}/"
    assert (job.trigger, job.requested_by) == ("web", tenant_a.owner)
    assert sent_jobs == [job.pk]
    assert f"Training job #{job.pk} is queued." in response.content.decode()
    assert f'data-poll-training="/api/v1/training-jobs/{job.pk}"' in response.content.decode()

    again = client.post("/training/", follow=True).content.decode()
    assert "already waiting to start; your request joined it" in again
    assert TrainingJob.objects.filter(tenant=tenant_a.tenant).count() == 1
    listing = client.get("/training/").content.decode()
    assert f'href="/training/jobs/{job.pk}/"' in listing
    assert '<span class="badge queued">queued</span>' in listing


def test_a_tiny_training_shows_its_curves_result_and_version(tenant_a):
    make_clustered_events(tenant_a.tenant, n_users=24, n_items=16, per_user=4)
    services.training_config_update(tenant=tenant_a.tenant, data=TINY)
    client = browser(tenant_a)
    client.post("/training/")
    job = TrainingJob.objects.get(tenant=tenant_a.tenant)
    services.training_job_run(job_id=job.pk)

    html = client.get(f"/training/jobs/{job.pk}/").content.decode()
    assert "data-poll-training" not in html  # finished: no more polling
    assert '<span class="badge succeeded"' in html
    history = json.loads(re.search(r'id="training-history"[^>]*>(.*?)</script>', html, re.S).group(1))
    assert [point["epoch"] for point in history] == list(range(1, len(history) + 1))
    assert all(point["loss"] > 0 for point in history)
    assert "than popularity (NDCG@10" in html  # the promotion decision and its reason
    assert 'data-chart="loss"' in html

    models = client.get("/models/").content.decode()
    assert "<strong>v1</strong>" in models
    points = json.loads(re.search(r'id="model-metrics"[^>]*>(.*?)</script>', models, re.S).group(1))
    assert points[0]["version"] == 1
    assert 0 <= points[0]["hr_at_10"] <= 1
    assert 0 <= points[0]["popularity_ndcg_at_10"] <= 1


def test_a_failed_job_shows_its_error_escaped(tenant_a):
    job = TrainingJob.objects.create(
        tenant=tenant_a.tenant,
        status=TrainingJob.Status.FAILED,
        error="Unknown user <script>alert(1)</script>",
        result={"reason": "insufficient_data"},
        started_at=timezone.now() - timedelta(seconds=3),
        finished_at=timezone.now(),
        progress={"epoch": 1, "epochs": 4, "loss": 0.5, "history": [{"epoch": 1, "loss": 0.5, "val_hr": None}]},
    )
    html = browser(tenant_a).get(f"/training/jobs/{job.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "Unknown user &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Upload more interactions" in html


def test_activate_from_the_models_page(tenant_a):
    old = make_model_version(tenant_a.tenant, 1, hr=0.6)
    make_model_version(tenant_a.tenant, 2, active=True, hr=0.4)
    pruned = make_model_version(tenant_a.tenant, 3, hr=0.3, stored=False)
    client = browser(tenant_a)
    page = client.get("/models/").content.decode()
    assert f'action="/models/{old.pk}/activate/"' in page
    assert f'action="/models/{pruned.pk}/activate/"' not in page  # its files are gone
    assert "0.600 / " in page
    assert "42%" in page

    done = client.post(f"/models/{old.pk}/activate/", follow=True).content.decode()
    assert "v1 is now active" in done
    assert ModelVersion.objects.get(tenant=tenant_a.tenant, is_active=True).pk == old.pk

    refused = client.post(f"/models/{pruned.pk}/activate/", follow=True).content.decode()
    assert "v3&#x27;s artifacts were pruned" in refused
    assert ModelVersion.objects.get(tenant=tenant_a.tenant, is_active=True).pk == old.pk


def test_a_member_may_train_and_activate(tenant_a):
    member = MembershipFactory(tenant=tenant_a.tenant, role=Membership.Role.MEMBER).user
    version = make_model_version(tenant_a.tenant, 1)
    client = Client()
    client.force_login(member)
    assert client.post("/training/").status_code == 302
    assert client.post(f"/models/{version.pk}/activate/").status_code == 302
    assert ModelVersion.objects.get(pk=version.pk).is_active
    # the shop section is the owners' to change
    page = client.get("/settings/").content.decode()
    assert "Only the shop's owners may change these." in page
    assert client.post("/settings/shop/", {"name": "Taken over", "rate_limit_per_minute": 5}).status_code == 403
    assert client.post("/settings/training/", settings_form()).status_code == 302


def test_tenants_never_see_each_other(tenant_a, tenant_b):
    job = TrainingJob.objects.create(tenant=tenant_a.tenant, trigger="web")
    version = make_model_version(tenant_a.tenant, 7, hr=0.777)
    b = browser(tenant_b)
    assert b.get(f"/training/jobs/{job.pk}/").status_code == 404
    assert b.post(f"/models/{version.pk}/activate/").status_code == 404
    assert not ModelVersion.objects.get(pk=version.pk).is_active
    assert f"/training/jobs/{job.pk}/" not in b.get("/training/").content.decode()
    models = b.get("/models/").content.decode()
    assert "0.777" not in models
    assert "No model yet" in models


def test_settings_page_shows_both_sections(tenant_a):
    html = browser(tenant_a).get("/settings/").content.decode()
    assert 'id="training"' in html
    assert 'id="shop"' in html
    assert 'value="64, 32, 16"' in html  # the default MLP tower
    assert 'value="0 3 * * *"' in html
    assert 'name="weight_purchase"' in html
    assert 'name="rate_limit_per_minute"' in html
    assert 'action="/settings/training/"' in html
    assert 'action="/settings/shop/"' in html
    assert browser(tenant_a).get("/settings/shop/")["Location"] == "/settings/#shop"


def test_training_settings_errors_are_shown_beside_their_fields(tenant_a):
    client = browser(tenant_a)
    before = TrainingConfig.objects.get(tenant=tenant_a.tenant) if TrainingConfig.objects.exists() else None
    response = client.post(
        "/settings/training/",
        settings_form(mlp_layers="32, lots", retrain_schedule="every day", weight_click=-1, epochs=0),
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert_error_beside(html, "mlp_layers", "Whole numbers separated by commas")
    assert_error_beside(html, "retrain_schedule", "five cron fields")
    assert_error_beside(html, "weight_click", "greater than or equal to 0")
    assert_error_beside(html, "epochs", "greater than or equal to 1")
    assert 'value="32, lots"' in html  # what was typed stays in the form
    # a refusal from the service itself lands beside its field too
    odd = client.post("/settings/training/", settings_form(mlp_layers="15, 8"))
    assert odd.status_code == 400
    assert_error_beside(odd.content.decode(), "mlp_layers", "even number")
    nothing = client.post(
        "/settings/training/",
        settings_form(**{f"weight_{n}": 0 for n in ("view", "click", "add_to_cart", "purchase", "rating", "like")}),
    )
    assert "At least one event type needs a weight above 0." in nothing.content.decode()
    config = TrainingConfig.objects.get(tenant=tenant_a.tenant)
    assert config.mlp_layers == (before.mlp_layers if before else [64, 32, 16])


def test_saving_training_settings_moves_the_schedule(tenant_a):
    client = browser(tenant_a)
    response = client.post("/settings/training/", settings_form())
    assert response.status_code == 302
    assert response["Location"] == "/settings/#training"
    config = TrainingConfig.objects.get(tenant=tenant_a.tenant)
    assert (config.embedding_dim, config.mlp_layers, config.epochs) == (16, [32, 16], 5)
    assert config.event_weights["purchase"] == 5
    assert config.event_weights["search"] == 0
    task = PeriodicTask.objects.get(pk=config.periodic_task_id)
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("15", "4", "1")
    assert task.enabled

    client.post("/settings/training/", settings_form(schedule_enabled=None, retrain_schedule="0 */6 * * *"))
    task.refresh_from_db()
    assert not task.enabled
    assert task.crontab.hour == "*/6"
    page = client.get("/settings/").content.decode()
    assert 'value="0 */6 * * *"' in page
    assert 'value="32, 16"' in page


def test_shop_settings_save_on_the_settings_page(tenant_a):
    client = browser(tenant_a)
    bad = client.post("/settings/shop/", {"name": "Alpha", "user_id_pattern": "([", "rate_limit_per_minute": 60})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert 'id="training"' in html  # the whole settings page, with the error in the shop section
    assert_error_beside(html, "user_id_pattern", "is not a valid regular expression")
    assert 'value="(["' in html
    ok = client.post("/settings/shop/", {"name": "Alpha Two", "user_id_pattern": "", "rate_limit_per_minute": 90})
    assert ok["Location"] == "/settings/#shop"
    tenant_a.tenant.refresh_from_db()
    assert (tenant_a.tenant.name, tenant_a.tenant.rate_limit_per_minute) == ("Alpha Two", 90)
