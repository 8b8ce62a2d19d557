"""One place that turns every error into the envelope of API.md.

`{"error": {"code": "snake_case", "message": "for a person", "details": {...}}}`

DRF views go through `api_exception_handler`. Requests that never reach a DRF view (an unknown
route, a crash in middleware) go through the Django handlers below, which answer JSON under `/api/`
and `/health`, and an HTML page elsewhere.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from django.shortcuts import render
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from .errors import ApplicationError

logger = logging.getLogger("recsys_site.errors")

# DRF's default codes, renamed where API.md's names read better.
_CODE_RENAMES = {"parse_error": "malformed_request", "throttled": "rate_limited", "invalid": "invalid_input"}


def envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _drf_code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    return _CODE_RENAMES.get(code, code)


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {str(key): _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(value) for value in detail]
    return str(detail)


def _validation_message(details: Any) -> str:
    if isinstance(details, dict) and details:
        field, problems = next(iter(details.items()))
        first = problems[0] if isinstance(problems, list) and problems else problems
        if isinstance(first, dict):
            return f"Invalid input in '{field}'."
        if field == "non_field_errors":
            return str(first)
        return f"{field}: {first}"
    if isinstance(details, list) and details:
        return str(details[0])
    return "The input is not valid."


def api_exception_handler(exc: Exception, context: dict) -> Response:
    body, status_code, headers = error_parts(exc, context.get("view"))
    set_rollback()
    return Response(body, status=status_code, headers=headers)


def error_parts(exc: Exception, view=None) -> tuple[dict[str, Any], int, dict[str, str]]:
    """The envelope, status and headers answering `exc` (unexpected exceptions are logged as 500s)."""
    headers: dict[str, str] = {}
    if isinstance(exc, ApplicationError):
        body, status_code = envelope(exc.code, exc.message, exc.details), exc.status_code
    elif isinstance(exc, RequestDataTooBig):
        body = envelope("upload_too_large", "The request body is larger than this service accepts.")
        status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    elif isinstance(exc, Http404):
        body, status_code = envelope("not_found", "Not found."), status.HTTP_404_NOT_FOUND
    elif isinstance(exc, DjangoPermissionDenied):
        body, status_code = envelope("permission_denied", "Permission denied."), status.HTTP_403_FORBIDDEN
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        if isinstance(exc, exceptions.ValidationError):
            details = _flatten(exc.detail)
            if isinstance(details, list):
                details = {"non_field_errors": details}
            body = envelope("invalid_input", _validation_message(details), details)
        elif isinstance(exc.detail, dict):
            # simplejwt's token errors carry {"detail": ..., "code": ..., "messages": [...]}.
            details = _flatten(exc.detail)
            message = str(details.pop("detail", "") or exc.default_detail)
            details.pop("code", None)
            body = envelope(_drf_code(exc), message, details)
        else:
            body = envelope(_drf_code(exc), str(exc.detail))
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(max(1, int(exc.wait + 0.999)))
            body["error"]["details"] = {"retry_after_seconds": int(headers["Retry-After"])}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
    else:
        logger.exception("unexpected error in %s", type(view).__name__ if view else "a view", exc_info=exc)
        body = envelope("internal_error", "Something went wrong on our side. It has been logged.")
        status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    return body, status_code, headers


def _wants_json(request) -> bool:
    path = request.path
    return path.startswith("/api/") or path.startswith("/health")


def _django_handler(status_code: int, code: str, message: str, template: str):
    def handler(request, exception=None):
        if _wants_json(request):
            return JsonResponse(envelope(code, message), status=status_code)
        return render(request, template, {"status": status_code, "message": message}, status=status_code)

    handler.__name__ = f"handler{status_code}"
    return handler


handler400 = _django_handler(400, "bad_request", "The request could not be understood.", "errors/error.html")
handler403 = _django_handler(403, "permission_denied", "You may not do this.", "errors/error.html")
handler404 = _django_handler(404, "not_found", "There is nothing at this address.", "errors/error.html")


def handler500(request):
    if _wants_json(request):
        return JsonResponse(
            envelope("internal_error", "Something went wrong on our side. It has been logged."), status=500
        )
    return render(request, "errors/error.html", {"status": 500, "message": "Something went wrong."}, status=500)


def csrf_failure(request, reason: str = ""):
    if _wants_json(request):
        return JsonResponse(envelope("csrf_failed", f"CSRF check failed: {reason}"), status=403)
    return render(
        request, "errors/error.html", {"status": 403, "message": "Your form expired; reload and try again."}, status=403
    )
