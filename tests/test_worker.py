"""The broker and a real worker: tasks leave the web process and come back done."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.worker


def test_a_task_runs_on_a_real_worker_through_redis(live_worker):
    from recsys_site.celery import app, ping

    assert app.conf.broker_url.startswith("redis://")
    assert not app.conf.task_always_eager
    assert ping.delay().get(timeout=20) == "pong"
