"""API-key recommendation requests are answered before DRF: the same answers and the same rules."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import ApiKey
from tests.factories import make_api_key

pytestmark = pytest.mark.django_db


def keyed(key: str, **extra) -> Client:
    return Client(HTTP_X_API_KEY=key, **extra)


def test_key_and_jwt_get_the_same_answer(shop_with_model):
    ctx = shop_with_model
    by_key = keyed(ctx.key).get("/api/v1/recommendations/u1", {"n": 5, "category": "group1"})
    by_jwt = ctx.jwt_client.get("/api/v1/recommendations/u1", {"n": 5, "category": "group1"})
    assert by_key.status_code == by_jwt.status_code == 200
    assert by_key.json() == by_jwt.json()
    assert by_key["Content-Type"] == "application/json"
    posted = keyed(ctx.key).post("/api/v1/recommendations", {"user_id": "u1", "n": 5, "category": "group1"},
                                 content_type="application/json")  # fmt: skip
    assert posted.json() == by_key.json()


def test_form_encoded_posts_go_through_the_normal_stack(shop_with_model):
    response = keyed(shop_with_model.key).post("/api/v1/recommendations", {"user_id": "u1", "n": "3"})
    assert response.status_code == 200
    assert len(response.json()["items"]) == 3


@pytest.mark.parametrize(
    ("path", "kwargs", "status", "code"),
    [
        ("/api/v1/recommendations/u1", {"data": {"n": "abc"}}, 400, "invalid_parameter"),
        ("/api/v1/recommendations/has space", {}, 400, "invalid_id"),
        (
            "/api/v1/recommendations",
            {"data": "{bad json", "content_type": "application/json"},
            400,
            "malformed_request",
        ),
        ("/api/v1/recommendations", {"data": "[1, 2]", "content_type": "application/json"}, 400, "invalid_input"),
        ("/api/v1/recommendations", {"data": "{}", "content_type": "application/json"}, 400, "invalid_input"),
    ],
)
def test_bad_input_gets_the_envelope(shop_with_model, path, kwargs, status, code):
    client = keyed(shop_with_model.key)
    response = client.post(path, **kwargs) if path.endswith("recommendations") else client.get(path, **kwargs)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


def test_bad_and_revoked_keys_scopes_and_limits(shop_with_model):
    ctx = shop_with_model
    bad = keyed("rk_nothing_here").get("/api/v1/recommendations/u1")
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "invalid_api_key"
    assert bad["WWW-Authenticate"]
    ingest_only = keyed(make_api_key(ctx.tenant, scopes=["ingest"])).get("/api/v1/recommendations/u1")
    assert ingest_only.status_code == 403
    assert ingest_only.json()["error"]["code"] == "missing_scope"

    assert keyed(ctx.key).get("/api/v1/recommendations/u1").status_code == 200
    key_id = ApiKey.objects.get(tenant=ctx.tenant, prefix=ctx.key.split("_")[1]).pk
    assert ctx.jwt_client.delete(f"/api/v1/api-keys/{key_id}").status_code == 204
    assert keyed(ctx.key).get("/api/v1/recommendations/u1").status_code == 401

    limited = make_api_key(ctx.tenant)
    assert ctx.jwt_client.patch("/api/v1/tenant", {"rate_limit_per_minute": 2}, format="json").status_code == 200
    statuses = [keyed(limited).get("/api/v1/recommendations/u1").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    throttled = keyed(limited).get("/api/v1/recommendations/u1")
    assert throttled.json()["error"]["code"] == "rate_limited"
    assert int(throttled["Retry-After"]) >= 1


def test_unknown_host_is_refused(shop_with_model):
    response = keyed(shop_with_model.key, HTTP_HOST="evil.example").get("/api/v1/recommendations/u1")
    assert response.status_code == 400


def test_another_tenants_key_sees_its_own_shop(shop_with_model, tenant_b):
    body = keyed(tenant_b.key).get("/api/v1/recommendations/u1").json()
    assert body["strategy"] == "popular"
    assert body["items"] == []  # tenant B has no items at all


class RoundTrips:
    """Counts the Redis round trips of the cache client (pipelines and single commands)."""

    def __init__(self, monkeypatch):
        import redis

        self.count = 0
        execute, command = redis.client.Pipeline.execute, redis.Redis.execute_command

        def counted_execute(pipe, *args, **kwargs):
            self.count += 1
            return execute(pipe, *args, **kwargs)

        def counted_command(client, *args, **kwargs):
            self.count += 1
            return command(client, *args, **kwargs)

        monkeypatch.setattr(redis.client.Pipeline, "execute", counted_execute)
        monkeypatch.setattr(redis.Redis, "execute_command", counted_command)


def test_a_returning_key_reads_key_answer_and_history_in_one_round_trip(shop_with_model, monkeypatch, settings):
    from recsys_site.redis_client import get_redis

    if get_redis() is None:
        pytest.skip("needs the Redis cache")
    settings.SERVING_VERSION_CHECK_SECONDS = 60  # as in production: local caches check versions now and then
    trips = RoundTrips(monkeypatch)
    client = keyed(shop_with_model.key)
    first = client.get("/api/v1/recommendations/u1", {"n": 5})
    assert first.status_code == 200
    trips.count = 0
    again = client.get("/api/v1/recommendations/u1", {"n": 5})  # a cached answer: key, versions and entry at once
    assert again.content == first.content  # the stored body, byte for byte
    assert trips.count == 1
    trips.count = 0
    other = client.get("/api/v1/recommendations/u2", {"n": 5})  # computed: the history came with the key
    assert other.status_code == 200
    assert other.json()["strategy"] == "neumf"
    writes = 2  # the history and the answer are stored for next time
    assert trips.count == 1 + writes
    trips.count = 0
    assert client.get("/api/v1/recommendations/u2", {"n": 5}).json() == other.json()
    assert trips.count == 1


def test_read_ahead_never_crosses_tenants(shop_with_model, tenant_b):
    a, b = keyed(shop_with_model.key), keyed(tenant_b.key)
    for _ in range(3):  # every process now knows both keys' tenants and reads ahead for them
        mine = a.get("/api/v1/recommendations/u1", {"n": 5}).json()
        theirs = b.get("/api/v1/recommendations/u1", {"n": 5}).json()
        assert mine["strategy"] == "neumf"
        assert len(mine["items"]) == 5
        assert theirs["strategy"] == "popular"
        assert theirs["items"] == []
    # A wrong secret behind tenant A's (now familiar) prefix reads nothing of A's and is refused.
    prefix = shop_with_model.key.split("_")[1]
    forged = keyed(f"rk_{prefix}_not-the-secret").get("/api/v1/recommendations/u1", {"n": 5})
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "invalid_api_key"
