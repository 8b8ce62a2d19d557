"""Auth and keys through HTTP: signup, JWT, keys, scopes, revocation, tenancy."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKey, Membership
from tests.factories import PASSWORD, UserFactory, make_api_key

pytestmark = pytest.mark.django_db


def test_signup_then_jwt_then_new_key_then_call_with_key():
    # Given a new shop signing up
    client = APIClient()
    response = client.post(
        "/api/v1/auth/signup",
        {"email": "Owner@Example.com", "password": "a-long-passphrase", "tenant_name": "Corner Shop"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user"]["email"] == "owner@example.com"
    assert body["tenant"]["slug"] == "corner-shop"
    assert body["api_key"]["key"].startswith(f"rk_{body['api_key']['prefix']}_")
    assert sorted(body["api_key"]["scopes"]) == ["ingest", "recommend", "train"]
    # only a hash of the key is stored
    stored = ApiKey.objects.get(pk=body["api_key"]["id"])
    assert body["api_key"]["key"] not in (stored.hashed_key, stored.prefix, stored.last_four)

    # When the owner logs in for a JWT and creates a key with it
    tokens = client.post("/api/v1/auth/token", {"email": "owner@example.com", "password": "a-long-passphrase"})
    assert tokens.status_code == 200
    jwt = APIClient()
    jwt.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.json()['access']}")
    created = jwt.post("/api/v1/api-keys", {"name": "storefront", "scopes": ["recommend"]}, format="json")
    assert created.status_code == 201, created.content
    new_key = created.json()["key"]

    # Then the key authenticates a data endpoint, and the listing never shows the secret again
    keyed = APIClient()
    keyed.credentials(HTTP_X_API_KEY=new_key)
    assert keyed.get("/api/v1/items").status_code == 200
    listing = jwt.get("/api/v1/api-keys").json()
    assert listing["count"] == 2
    assert all("key" not in row for row in listing["results"])
    assert new_key not in str(listing)

    refreshed = client.post("/api/v1/auth/token/refresh", {"refresh": tokens.json()["refresh"]})
    assert refreshed.status_code == 200
    assert "access" in refreshed.json()


def test_signup_rejects_bad_input_with_envelope(anon):
    response = anon.post("/api/v1/auth/signup", {"email": "nope", "password": "1", "tenant_name": ""}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert "tenant_name" in error["details"]


def test_signup_twice_with_same_email_is_a_conflict(anon):
    payload = {"email": "twice@example.com", "password": "a-long-passphrase", "tenant_name": "Shop"}
    assert anon.post("/api/v1/auth/signup", payload, format="json").status_code == 201
    again = anon.post("/api/v1/auth/signup", payload, format="json")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "email_taken"


def test_wrong_password_is_401(tenant_a, anon):
    response = anon.post("/api/v1/auth/token", {"email": tenant_a.owner.email, "password": "wrong"})
    assert response.status_code == 401
    assert response.json()["error"]["code"]


def test_revoked_key_is_refused_at_once(tenant_a):
    # Given a key that has been used (and so is cached)
    assert tenant_a.client.get("/api/v1/items").status_code == 200
    key_id = ApiKey.objects.get(tenant=tenant_a.tenant, hashed_key__isnull=False).pk
    # When the owner revokes it
    assert tenant_a.jwt_client.delete(f"/api/v1/api-keys/{key_id}").status_code == 204
    # Then the very next request with it is refused
    response = tenant_a.client.get("/api/v1/items")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert ApiKey.objects.get(pk=key_id).revoked_at is not None


def test_key_without_scope_gets_403(tenant_a):
    ingest_only = tenant_a.client_with(make_api_key(tenant_a.tenant, scopes=["ingest"]))
    response = ingest_only.get("/api/v1/items")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "missing_scope"
    recommend_only = tenant_a.client_with(make_api_key(tenant_a.tenant, scopes=["recommend"]))
    write = recommend_only.put("/api/v1/items/SKU1", {"name": "Mug"}, format="json")
    assert write.status_code == 403
    assert recommend_only.get("/api/v1/items").status_code == 200


def test_api_key_cannot_manage_keys(tenant_a):
    response = tenant_a.client.get("/api/v1/api-keys")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "api_key_not_allowed"


def test_members_see_keys_but_only_owners_create_or_revoke(tenant_a):
    member = UserFactory()
    Membership.objects.create(user=member, tenant=tenant_a.tenant, role=Membership.Role.MEMBER)
    client = APIClient()
    token = client.post("/api/v1/auth/token", {"email": member.email, "password": PASSWORD}).json()["access"]
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/api-keys").status_code == 200
    response = client.post("/api/v1/api-keys", {"name": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "owner_required"


def test_last_used_at_is_recorded(tenant_a):
    assert tenant_a.client.get("/api/v1/items").status_code == 200
    assert ApiKey.objects.get(tenant=tenant_a.tenant).last_used_at is not None


def test_key_creation_validates_scopes(tenant_a):
    response = tenant_a.jwt_client.post("/api/v1/api-keys", {"name": "x", "scopes": ["root"]}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_scopes"


def test_tenants_never_see_each_others_keys_or_data(tenant_a, tenant_b):
    # Given an item in tenant A and a key of tenant B
    assert tenant_a.client.put("/api/v1/items/SECRET1", {"name": "A's item"}, format="json").status_code == 201
    b_key_id = ApiKey.objects.get(tenant=tenant_b.tenant).pk

    # Then B cannot see A's item, and A's owner cannot see or revoke B's key
    assert tenant_b.client.get("/api/v1/items/SECRET1").status_code == 404
    assert tenant_b.client.get("/api/v1/items").json()["count"] == 0
    a_keys = tenant_a.jwt_client.get("/api/v1/api-keys").json()["results"]
    assert b_key_id not in [row["id"] for row in a_keys]
    revoke = tenant_a.jwt_client.delete(f"/api/v1/api-keys/{b_key_id}")
    assert revoke.status_code == 404
    assert revoke.json()["error"]["code"] == "api_key_not_found"
    assert tenant_b.client.get("/api/v1/items").status_code == 200
    # and each tenant's usage counts only its own data
    assert tenant_a.jwt_client.get("/api/v1/tenant").json()["usage"]["items"] == 1
    assert tenant_b.jwt_client.get("/api/v1/tenant").json()["usage"]["items"] == 0


def test_tenant_endpoint_shows_usage_and_updates_settings(tenant_a):
    body = tenant_a.jwt_client.get("/api/v1/tenant").json()
    assert body["slug"] == tenant_a.tenant.slug
    assert body["usage"] == {"items": 0, "users": 0, "events": 0, "events_last_24h": 0}
    assert body["active_model"] is None
    bad = tenant_a.jwt_client.patch("/api/v1/tenant", {"item_id_pattern": "([unclosed"}, format="json")
    assert bad.status_code == 400
    ok = tenant_a.jwt_client.patch("/api/v1/tenant", {"item_id_pattern": "^[A-Z0-9]{10}$"}, format="json")
    assert ok.status_code == 200
    assert ok.json()["item_id_pattern"] == "^[A-Z0-9]{10}$"
    # the new rule applies to the very next keyed request
    rejected = tenant_a.client.put("/api/v1/items/short", {"name": "x"}, format="json")
    assert rejected.status_code == 400


def test_account_in_two_tenants_picks_one_with_header(tenant_a, tenant_b):
    Membership.objects.create(user=tenant_a.owner, tenant=tenant_b.tenant, role=Membership.Role.MEMBER)
    assert tenant_a.jwt_client.get("/api/v1/tenant").json()["slug"] == tenant_a.tenant.slug
    picked = tenant_a.jwt_client.get("/api/v1/tenant", HTTP_X_TENANT=tenant_b.tenant.slug)
    assert picked.json()["slug"] == tenant_b.tenant.slug
    assert picked.json()["role"] == "member"
