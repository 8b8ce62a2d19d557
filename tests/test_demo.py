"""The demo that `make run` sets up: its account and key, and its data loaded and trained for real."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Tenant
from catalog.models import Item
from interactions.models import Event
from recsys_site.demo.loader import load_demo_data
from training.models import ModelVersion
from training.services import training_config_get

pytestmark = pytest.mark.django_db


def run_demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", "--url", "http://127.0.0.1:8123/", *args, stdout=out)
    return out.getvalue()


def printed(output: str, label: str) -> str:
    return re.search(rf"{label}:\s+(\S+)", output).group(1)


def test_demo_prints_a_working_login_and_key_and_a_rerun_replaces_the_key(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    first = run_demo("--no-data")
    assert "http://127.0.0.1:8123/" in first
    key, password = printed(first, "API key"), printed(first, "Password")
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=key)
    assert api.get("/api/v1/items").status_code == 200
    web = Client()
    assert web.post("/login/", {"username": printed(first, "Login"), "password": password}).status_code == 302
    assert web.get("/dashboard/").status_code == 200

    second = run_demo("--no-data")
    assert printed(second, "Password") == password  # the login survives a rerun
    assert api.get("/api/v1/items").status_code == 401  # the old key is revoked at once
    fresh = APIClient()
    fresh.credentials(HTTP_X_API_KEY=printed(second, "API key"))
    assert fresh.get("/api/v1/items").status_code == 200
    assert Tenant.objects.filter(slug="demo").count() == 1


def test_demo_data_imports_trains_and_serves_the_model(tenant_a):
    tenant = tenant_a.tenant
    config = training_config_get(tenant=tenant)
    # The shipped sample with a small model, so that the test stays quick; make run uses the defaults.
    config.embedding_dim, config.mlp_layers, config.epochs = 16, [16, 8], 4
    config.save()
    lines: list[str] = []
    load_demo_data(tenant, say=lines.append)
    said = "\n".join(lines)

    assert Item.objects.filter(tenant=tenant).count() >= 300
    assert Event.objects.filter(tenant=tenant).count() > 20_000
    version = ModelVersion.objects.get(tenant=tenant)
    assert version.metrics["hr_at_10"] > 0
    if version.is_active:
        assert f"demo model v{version.version} is active" in said
        heavy = Event.objects.filter(tenant=tenant).values_list("user_id", flat=True).first()
        body = tenant_a.client.get(f"/api/v1/recommendations/{heavy}", {"n": 5}).json()
        assert body["strategy"].startswith("neumf")
        assert len(body["items"]) == 5
    else:
        assert "kept inactive" in said
        assert "popular items" in said

    # Running it again imports nothing twice and trains nothing more.
    events = Event.objects.filter(tenant=tenant).count()
    load_demo_data(tenant, say=lines.append)
    assert Event.objects.filter(tenant=tenant).count() == events
    assert ModelVersion.objects.filter(tenant=tenant).count() == 1
