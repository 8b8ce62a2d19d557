"""Liveness and readiness probes (no authentication, JSON)."""

from __future__ import annotations

import functools
import logging
import uuid

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse

from .celery import app as celery_app
from .exceptions import envelope

logger = logging.getLogger(__name__)


def require_GET(view):
    """Like Django's ``require_GET`` (HEAD too), but a wrong method gets the API's 405 error envelope."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            body = envelope("method_not_allowed", f'Method "{request.method}" not allowed.')
            response = JsonResponse(body, status=405)
            response["Allow"] = "GET, HEAD"
            return response
        return view(request, *args, **kwargs)

    return wrapped


@require_GET
def health(request):
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = f"health:{uuid.uuid4().hex}"
    cache.set(key, "1", 5)
    if cache.get(key) != "1":
        raise RuntimeError("the cache did not return what was written")
    cache.delete(key)


def _check_broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


@require_GET
def ready(request):
    components = {}
    for name, check in (("database", _check_database), ("cache", _check_cache), ("broker", _check_broker)):
        try:
            check()
            components[name] = {"status": "ok"}
        except Exception as exc:  # a failing dependency is the answer, not an error
            logger.warning("readiness: %s is down: %s", name, exc)
            components[name] = {"status": "error", "message": str(exc)[:200]}
    ok = all(component["status"] == "ok" for component in components.values())
    if ok:
        return JsonResponse({"status": "ok", "components": components})
    return JsonResponse(
        {
            "status": "unavailable",
            "components": components,
            "error": {"code": "not_ready", "message": "A dependency is down.", "details": components},
        },
        status=503,
    )
