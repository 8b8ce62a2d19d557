"""The storefront's hottest call, answered before the framework's generic machinery.

`GET /api/v1/recommendations/{user_id}` and `POST /api/v1/recommendations` with an `X-API-Key` are
served by this middleware right after Django's SecurityMiddleware: no session, CSRF, message or
DRF request wrapping, content negotiation or view dispatch, which together cost more than the answer
itself on a warm cache. Every rule is the one the DRF view applies, through the same functions:
the key (`authenticate_api_key`), its scope (`require_scope`), the tenant's rate limit
(`within_limit`), the input rules and the answer (`personalised_body`), the error envelope
(`error_parts`). Anything else (JWT or session auth, other content types, other paths) goes on to
the normal stack, which is also what `/api/docs/` documents.
"""

from __future__ import annotations

import json
import logging
import re

from django.core.exceptions import DisallowedHost
from django.http import HttpResponse
from rest_framework import exceptions

from accounts.authentication import API_KEY_HEADER, authenticate_api_key
from accounts.permissions import require_scope
from accounts.throttling import seconds_left_in_window, within_limit
from recsys_site import hotcache
from recsys_site.errors import ValidationFailed
from recsys_site.exceptions import error_parts

from .results_cache import encode

logger = logging.getLogger(__name__)

PREFIX = "/api/v1/recommendations"
_USER_PATH = re.compile(r"^/api/v1/recommendations/([^/]+)$")


def _json(body: dict | bytes, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    content = body if isinstance(body, bytes) else encode(body)
    response = HttpResponse(content, status=status, content_type="application/json")
    response["X-Frame-Options"] = "DENY"
    response["Vary"] = "Accept"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _params_and_user(request) -> tuple[dict, str | None] | None:
    """The request's parameters and user id, or None when it is not one this path serves."""
    path = request.path_info
    if request.method == "GET":
        match = _USER_PATH.match(path)
        return (request.GET, match.group(1)) if match else None
    if request.method == "POST" and path == PREFIX:
        if request.content_type != "application/json":
            return None
        try:
            body = json.loads(request.body or b"null")
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        if not isinstance(body, dict):
            raise ValidationFailed("The body must be a JSON object.", code="invalid_input")
        return body, body.get("user_id")
    return None


class RecommendationsFastPath:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith(PREFIX) or API_KEY_HEADER not in request.META:
            return self.get_response(request)
        try:
            parsed = _params_and_user(request)
            if parsed is None:
                return self.get_response(request)
            request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware would check it
            from .apis import personalised_body, personalised_read_ahead

            with hotcache.request_scope():
                # The key, the answer's cache entries and the user's history in one Redis round trip.
                principal = authenticate_api_key(
                    request.META[API_KEY_HEADER], read_ahead=lambda tenant: personalised_read_ahead(tenant, *parsed)
                )
                tenant = principal.key.tenant
                require_scope(principal.key, "recommend")
                if not within_limit(principal.rate_count, tenant):
                    raise exceptions.Throttled(wait=seconds_left_in_window())
                return _json(personalised_body(tenant, *parsed))
        except DisallowedHost:
            return _json({"error": {"code": "bad_request", "message": "Invalid host.", "details": {}}}, 400)
        except Exception as exc:
            body, status, headers = error_parts(exc, self)
            if isinstance(exc, exceptions.AuthenticationFailed | exceptions.NotAuthenticated):
                headers.setdefault("WWW-Authenticate", 'ApiKey header="X-API-Key"')
            return _json(body, status, headers)
