"""`X-API-Key` authentication.

A key record (with a copy of its tenant) is cached by the hash of the key, and read together with the
key's rate-limit counter in one cache round trip, so a request costs no database query. Revoking a key
deletes that cache entry, so every process refuses the key from the next request on. `last_used_at` is
written at most once a minute per key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from recsys_site import hotcache

from .models import ApiKey, Tenant
from .services import api_key_cache_key, hash_api_key, rate_counter_key

API_KEY_HEADER = "HTTP_X_API_KEY"


@dataclass(frozen=True)
class AuthenticatedKey:
    """What `request.auth` holds for a request made with an API key."""

    id: int
    prefix: str
    scopes: frozenset[str]
    tenant: Tenant = field(compare=False)


class ApiKeyPrincipal:
    """`request.user` for a key: authenticated, but not a person."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, key: AuthenticatedKey, rate_count: int | None = None):
        self.key = key
        self.rate_count = rate_count  # requests of this key in the current minute, counted at authentication

    def __str__(self) -> str:
        return f"api-key:{self.key.prefix}"


_last_used_written: dict[int, float] = {}


def _touch_last_used(key_id: int) -> None:
    now = time.monotonic()
    resolution = settings.API_KEY_LAST_USED_RESOLUTION.total_seconds()
    if now - _last_used_written.get(key_id, -resolution) < resolution:
        return
    _last_used_written[key_id] = now
    # Across processes, the cache decides who writes this minute (without a cache, every process does).
    if hotcache.add(f"apikey-used:{key_id}", 1, int(resolution)) is False:
        return
    ApiKey.objects.filter(pk=key_id).update(last_used_at=timezone.now())


# The tenant of each key prefix seen by this process (a key never changes tenant), so that what a request
# will read next can travel with the key lookup; bounded by the number of keys in use.
_tenant_of_prefix: dict[str, Tenant] = {}
MAX_REMEMBERED_PREFIXES = 10_000

ReadAheadFor = Callable[[Tenant], "hotcache.ReadAhead | None"]


def _load_key(
    hashed: str, prefix: str, read_ahead: ReadAheadFor | None = None
) -> tuple[AuthenticatedKey | None, int | None]:
    """The key's record and its rate-limit count for this minute, read in one cache round trip, with what
    `read_ahead(tenant)` names for the tenant this prefix belonged to before (see `hotcache.ReadAhead`).

    The counter is keyed by the hash of the whole key, not by its public prefix, so that requests with a
    known prefix and a wrong secret never use up the real key's limit."""
    guess = _tenant_of_prefix.get(prefix) if read_ahead is not None else None
    ahead = read_ahead(guess) if guess is not None else None
    (record,), count = hotcache.get_many(
        [api_key_cache_key(hashed)], incr=rate_counter_key(f"key:{hashed}"), read_ahead=ahead
    )
    if ahead is not None and (record is None or record.tenant.pk != guess.pk):
        hotcache.forget_read_ahead()  # never let one tenant's request use keys read for another
    if record is None:
        api_key = ApiKey.objects.select_related("tenant").filter(hashed_key=hashed).first()
        if api_key is None or api_key.revoked_at is not None or not api_key.tenant.is_active:
            return None, count
        record = AuthenticatedKey(
            id=api_key.pk, prefix=api_key.prefix, scopes=frozenset(api_key.scopes), tenant=api_key.tenant
        )
        hotcache.set_value(api_key_cache_key(hashed), record, settings.API_KEY_CACHE_SECONDS)
    if read_ahead is not None:
        if guess is None and len(_tenant_of_prefix) >= MAX_REMEMBERED_PREFIXES:
            _tenant_of_prefix.clear()
        _tenant_of_prefix[prefix] = record.tenant  # the freshest copy, for the next request's read-ahead
    return record, count


def authenticate_api_key(raw_key: str, *, read_ahead: ReadAheadFor | None = None) -> ApiKeyPrincipal:
    """The principal of a key (with its rate count for this minute), or AuthenticationFailed.

    `read_ahead(tenant)` may name cache keys the request will read next for that tenant; they are fetched
    in the same round trip as the key (from the second request of a key on in this process) and kept for
    the request (inside `hotcache.request_scope()`), unless the key turns out to belong elsewhere.
    """
    raw_key = raw_key.strip()
    parts = raw_key.split("_", 2)
    if len(parts) != 3 or parts[0] != "rk" or not parts[1] or not parts[2]:
        raise exceptions.AuthenticationFailed("The API key is malformed.", code="invalid_api_key")
    key, count = _load_key(hash_api_key(raw_key), parts[1], read_ahead)
    if key is None:
        raise exceptions.AuthenticationFailed("The API key is not valid or was revoked.", code="invalid_api_key")
    _touch_last_used(key.id)
    return ApiKeyPrincipal(key, rate_count=count)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticates `X-API-Key: rk_<prefix>_<secret>`; returns None without the header."""

    def authenticate(self, request):
        raw_key = request.META.get(API_KEY_HEADER)
        if raw_key is None:
            return None
        principal = authenticate_api_key(raw_key)
        return principal, principal.key

    def authenticate_header(self, request) -> str:
        return 'ApiKey header="X-API-Key"'


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-API-Key",
            "description": "A key from the dashboard or `POST /api/v1/api-keys`, e.g. `rk_ab12cd34_...`.",
        }
