"""Fixtures shared by every test: two tenants, their owners, keys and API clients."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import Tenant, User

from .factories import MembershipFactory, make_api_key


@dataclass
class TenantCtx:
    """A tenant with an owner account, a full-scope key and ready clients."""

    tenant: Tenant
    owner: User
    key: str
    client: APIClient  # authenticated with the API key
    jwt_client: APIClient  # authenticated with the owner's JWT

    def client_with(self, key: str) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=key)
        return client


def make_tenant_ctx(name: str) -> TenantCtx:
    membership = MembershipFactory(tenant__name=name, tenant__slug=name.lower().replace(" ", "-"))
    key = make_api_key(membership.tenant)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    jwt_client = APIClient()
    jwt_client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(membership.user).access_token}")
    return TenantCtx(tenant=membership.tenant, owner=membership.user, key=key, client=client, jwt_client=jwt_client)


def _clear_cache() -> None:
    from django.core.cache import cache

    from recsys_site.cache import cache_clear

    cache_clear(cache)


@pytest.fixture(autouse=True)
def _clean_cache():
    """Each test starts with an empty cache (tests use a Redis database of their own)."""
    _clear_cache()
    yield
    _clear_cache()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """PBKDF2 is slow on purpose; tests create many accounts."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    settings.UPLOADS_DIR = tmp_path / "uploads"
    settings.MODEL_STORE_DIR = tmp_path / "models"


@pytest.fixture(autouse=True)
def _fresh_serving_state(settings):
    """Serving caches start empty and see every change at once (production checks every 2 s / 30 s)."""
    from recommendations.local_cache import clear_all

    settings.SERVING_VERSION_CHECK_SECONDS = 0
    settings.SERVING_TRENDING_LIVE_SECONDS = 0
    clear_all()
    yield
    clear_all()


@pytest.fixture
def tenant_a(db) -> TenantCtx:
    return make_tenant_ctx("Alpha Shop")


@pytest.fixture
def tenant_b(db) -> TenantCtx:
    return make_tenant_ctx("Beta Shop")


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def live_worker(transactional_db):
    """A real Celery worker (in a thread) consuming both queues from the Redis broker.

    Data must be committed for the worker to see it, hence `transactional_db`.
    """
    from celery.contrib.testing.worker import start_worker
    from django.conf import settings as django_settings

    from recsys_site.celery import app

    if not django_settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("worker tests need REDIS_URL (make test sets it)")
    import redis

    # Messages other tests may have sent while no worker was running would only be noise here.
    redis.Redis.from_url(django_settings.CELERY_BROKER_URL).flushdb()
    with start_worker(
        app, perform_ping_check=False, pool="solo", queues=["default", "training"], shutdown_timeout=30
    ) as worker:
        yield worker
