"""Helpers of the web page and admin tests: a logged-in browser, one form field's HTML, model versions."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.test import Client
from django.utils import timezone

from training.models import ModelVersion


def browser(ctx) -> Client:
    """A Django test client logged in as the tenant's owner (a session, as a browser has)."""
    client = Client()
    client.force_login(ctx.owner)
    return client


def field_html(html: str, name: str) -> str:
    """The `<div class="field ...">` block of the form field called `name` (with its errors), or ''."""
    for block in re.split(r'(?=<div class="field)', html):
        if f'name="{name}"' in block:
            return block.split("</div>")[0]
    return ""


def assert_error_beside(html: str, name: str, text: str) -> None:
    block = field_html(html, name)
    assert 'class="field has-error"' in block, f"no error beside {name!r}:\n{block or html[:2000]}"
    assert text in block, f"{text!r} is not beside {name!r}:\n{block}"


def make_model_version(
    tenant, number: int, *, active: bool = False, hr: float = 0.5, stored: bool = True
) -> ModelVersion:
    """A model version row with (unless `stored` is False) the metadata file that makes it activatable."""
    folder = Path(settings.MODEL_STORE_DIR) / str(tenant.pk) / f"v{number}"
    if stored:
        folder.mkdir(parents=True)
        (folder / "metadata.json").write_text("{}")
    return ModelVersion.objects.create(
        tenant=tenant,
        version=number,
        is_active=active,
        status=ModelVersion.Status.READY if stored else ModelVersion.Status.PRUNED,
        metrics={
            "hr_at_10": hr,
            "ndcg_at_10": hr / 2,
            "popularity_hr_at_10": 0.25,
            "popularity_ndcg_at_10": 0.125,
            "full_hr_at_10": 0.2,
            "full_coverage": 0.42,
        },
        n_users=60,
        n_items=40,
        n_interactions=480,
        artifact_uri=f"file://{folder}",
        trained_at=timezone.now(),
        training_seconds=12.5,
        promotion={"reason": f"activated: not worse than popularity (v{number})"},
    )
