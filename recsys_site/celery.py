"""The Celery app: the default queue for imports and housekeeping, `training` for model training.

Run a worker per queue so a long training never holds up an import:
    celery -A recsys_site worker -Q default -c 2
    celery -A recsys_site worker -Q training -c 1
    celery -A recsys_site beat
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recsys_site.settings")

app = Celery("recsys_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="recsys_site.ping", ignore_result=False)
def ping() -> str:
    """A task that only answers: used by the readiness probe's tests and by operators."""
    return "pong"
