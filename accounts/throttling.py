"""Per-key (or per-account) rate limiting with the tenant's limit, in fixed one-minute windows."""

from __future__ import annotations

import time

from rest_framework.throttling import BaseThrottle

from recsys_site import hotcache
from recsys_site.cache import cache_incr

from .authentication import ApiKeyPrincipal
from .services import RATE_WINDOW_SECONDS, rate_counter_key


def seconds_left_in_window(now: float | None = None) -> float:
    return RATE_WINDOW_SECONDS - (now or time.time()) % RATE_WINDOW_SECONDS


def within_limit(count: int | None, tenant) -> bool:
    """Without a cache the limit cannot be counted; the request goes through."""
    return count is None or count <= tenant.rate_limit_per_minute


class TenantRateThrottle(BaseThrottle):
    """The tenant's per-minute limit for each key (counted while the key was authenticated, in the same
    cache round trip) or each account."""

    def allow_request(self, request, view) -> bool:
        tenant = getattr(view, "tenant", None)
        if tenant is None or not request.user or not request.user.is_authenticated:
            return True
        now = time.time()
        self.wait_seconds = seconds_left_in_window(now)
        if isinstance(request.user, ApiKeyPrincipal):
            count = request.user.rate_count
        else:
            count = hotcache.get_many([], incr=rate_counter_key(f"user:{request.user.pk}", now))[1]
        return within_limit(count, tenant)

    def wait(self) -> float | None:
        return max(1.0, getattr(self, "wait_seconds", RATE_WINDOW_SECONDS))


class AuthEndpointThrottle(BaseThrottle):
    """Signup and token endpoints: a per-client-address limit against password guessing."""

    def allow_request(self, request, view) -> bool:
        from django.conf import settings

        now = time.time()
        self.wait_seconds = RATE_WINDOW_SECONDS - now % RATE_WINDOW_SECONDS
        count = cache_incr(rate_counter_key(f"auth:{self.get_ident(request)}", now), RATE_WINDOW_SECONDS + 1)
        return count is None or count <= settings.AUTH_RATE_LIMIT_PER_MINUTE

    def wait(self) -> float | None:
        return max(1.0, getattr(self, "wait_seconds", RATE_WINDOW_SECONDS))
