"""Every error path answers the envelope; health, readiness and the OpenAPI schema."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db


def assert_envelope(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["message"]
    if code:
        assert error["code"] == code
    return error


def test_bad_json(tenant_a):
    response = tenant_a.client.put("/api/v1/items/SKU1", data="{not json", content_type="application/json")
    assert_envelope(response, 400, "malformed_request")


def test_pages_of_a_list(tenant_a, tenant_b):
    from catalog.models import Item

    Item.objects.bulk_create([Item(tenant=tenant_a.tenant, external_id=f"P{j}", name=f"Item {j}") for j in range(5)])
    first = tenant_a.client.get("/api/v1/items", {"page_size": 2}).json()
    assert first["count"] == 5
    assert [i["id"] for i in first["results"]] == ["P0", "P1"]
    assert "page=2" in first["next"]
    last = tenant_a.client.get("/api/v1/items", {"page_size": 2, "page": "last"}).json()
    assert [i["id"] for i in last["results"]] == ["P4"]
    assert last["next"] is None
    assert len(tenant_a.client.get("/api/v1/items", {"page_size": 10_000}).json()["results"]) == 5  # clamped
    assert tenant_b.client.get("/api/v1/items").json()["count"] == 0
    for bad in ({"page": "abc"}, {"page": "0"}, {"page": "-1"}, {"page_size": "many"}):
        assert_envelope(tenant_a.client.get("/api/v1/items", bad), 400, "invalid_parameter")
    assert_envelope(tenant_a.client.get("/api/v1/items", {"page_size": 2, "page": 4}), 404, "not_found")


def test_unknown_route():
    assert_envelope(Client().get("/api/v1/nothing-here"), 404, "not_found")


def test_unknown_route_outside_the_api_is_a_page():
    response = Client().get("/no/such/page/")
    assert response.status_code == 404
    assert b"<html" in response.content


def test_wrong_method(tenant_a):
    assert_envelope(tenant_a.client.post("/api/v1/items", {}, format="json"), 405, "method_not_allowed")


@pytest.mark.parametrize("path", ["/health", "/health/ready"])
def test_health_wrong_method_is_an_envelope(path):
    response = Client().post(path)
    assert_envelope(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, HEAD"


def test_missing_key(anon):
    error = assert_envelope(anon.get("/api/v1/items"), 401, "not_authenticated")
    assert "credentials" in error["message"].lower()


@pytest.mark.parametrize("bad_key", ["garbage", "rk_nope", "rk_abcdefgh_notarealsecret", ""])
def test_bad_key(anon, tenant_a, bad_key):
    anon.credentials(HTTP_X_API_KEY=bad_key)
    assert_envelope(anon.get("/api/v1/items"), 401, "invalid_api_key")


def test_rate_limit_answers_429_with_retry_after(tenant_a):
    tenant_a.tenant.rate_limit_per_minute = 3
    tenant_a.tenant.save()
    responses = [tenant_a.client.get("/api/v1/items") for _ in range(4)]
    assert [r.status_code for r in responses[:3]] == [200, 200, 200]
    error = assert_envelope(responses[3], 429, "rate_limited")
    assert int(responses[3]["Retry-After"]) >= 1
    assert error["details"]["retry_after_seconds"] >= 1


def test_rate_limit_is_per_key(tenant_a):
    from tests.factories import make_api_key

    tenant_a.tenant.rate_limit_per_minute = 1
    tenant_a.tenant.save()
    assert tenant_a.client.get("/api/v1/items").status_code == 200
    assert tenant_a.client.get("/api/v1/items").status_code == 429
    other = tenant_a.client_with(make_api_key(tenant_a.tenant))
    assert other.get("/api/v1/items").status_code == 200


def test_a_wrong_secret_with_a_known_prefix_does_not_use_up_the_keys_limit(tenant_a, anon):
    tenant_a.tenant.rate_limit_per_minute = 2
    tenant_a.tenant.save()
    prefix = tenant_a.key.split("_")[1]
    for _ in range(5):
        assert_envelope(anon.get("/api/v1/items", HTTP_X_API_KEY=f"rk_{prefix}_{'x' * 40}"), 401, "invalid_api_key")
    assert tenant_a.client.get("/api/v1/items").status_code == 200
    assert tenant_a.client.get("/api/v1/items").status_code == 200
    assert tenant_a.client.get("/api/v1/items").status_code == 429


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c"])
def test_a_bad_jwt_is_a_readable_401(anon, token):
    error = assert_envelope(anon.get("/api/v1/api-keys", HTTP_AUTHORIZATION=f"Bearer {token}"), 401, "token_not_valid")
    assert "ErrorDetail" not in error["message"]
    assert "{" not in error["message"]
    assert error["message"] == "Given token not valid for any token type"


def test_an_expired_jwt_is_a_readable_401(tenant_a, anon):
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(tenant_a.owner)
    token.set_exp(lifetime=-timedelta(minutes=1))
    error = assert_envelope(anon.get("/api/v1/api-keys", HTTP_AUTHORIZATION=f"Bearer {token}"), 401, "token_not_valid")
    assert "{" not in error["message"]


def test_nul_in_an_address_is_a_400_envelope(tenant_a):
    assert_envelope(tenant_a.client.get("/api/v1/users/u%00x/interactions"), 400, "invalid_parameter")
    assert_envelope(tenant_a.client.get("/api/v1/recommendations/u1", {"category": "a\x00"}), 400)
    assert Client().get("/catalog/?q=%00").status_code == 400


def test_unexpected_exception_is_a_logged_500_envelope(tenant_a, monkeypatch, caplog):
    from catalog import selectors

    def explode(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "item_list", explode)
    error = assert_envelope(tenant_a.client.get("/api/v1/items"), 500, "internal_error")
    assert "boom" not in error["message"]
    assert any("unexpected error" in record.message for record in caplog.records)


def test_health():
    response = Client().get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_each_component():
    response = Client().get("/health/ready")
    assert response.status_code == 200, response.content
    assert set(response.json()["components"]) == {"database", "cache", "broker"}


def test_ready_is_503_when_the_cache_is_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }
    response = Client().get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["components"]["cache"]["status"] == "error"
    assert body["error"]["code"] == "not_ready"


def test_api_keeps_working_without_the_cache(tenant_a, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }
    assert tenant_a.client.get("/api/v1/items").status_code == 200


def test_openapi_schema_renders_without_warnings(tmp_path):
    # --fail-on-warn turns any drf-spectacular warning into a failure; --validate checks the OpenAPI document.
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", str(out))
    text = out.read_text()
    assert "ApiKeyAuth" in text
    assert "X-API-Key" in text
    # List endpoints answer a page object, and the schema says so.
    schema = yaml.safe_load(text)
    keys = schema["paths"]["/api/v1/api-keys"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    page = schema["components"]["schemas"][keys["$ref"].rsplit("/", 1)[1]]
    assert set(page["properties"]) == {"count", "next", "previous", "results"}
    assert page["properties"]["results"]["type"] == "array"


def test_schema_and_docs_are_served_without_internet():
    assert Client().get("/api/schema/").status_code == 200
    docs = Client().get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()
