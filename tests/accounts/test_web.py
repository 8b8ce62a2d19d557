"""The web pages of the foundation: signup, login, keys (shown once, revoke), dashboard."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import ApiKey
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_signup_page_creates_shop_and_shows_first_key_once():
    client = Client()
    response = client.post(
        "/signup/", {"email": "web@example.com", "password": "a-long-passphrase", "tenant_name": "Web Shop"}
    )
    assert response.status_code == 302
    page = client.get(response["Location"])
    key = re.search(r"rk_[a-z0-9]{8}_[A-Za-z0-9]{40}", page.content.decode()).group(0)
    assert ApiKey.objects.get(prefix=key.split("_")[1]).tenant.name == "Web Shop"
    # shown once: a reload no longer contains it
    assert key not in client.get("/keys/").content.decode()
    # and the key works against the API
    assert client.get("/api/v1/items", HTTP_X_API_KEY=key).status_code == 200


def test_a_new_keys_secret_is_never_written_to_the_session_table(tenant_a):
    from django.contrib.sessions.models import Session

    client = Client()
    client.force_login(tenant_a.owner)
    assert client.post("/keys/", {"name": "checkout", "scopes": ["recommend"]}).status_code == 302
    created = ApiKey.objects.get(tenant=tenant_a.tenant, name="checkout")
    full_key = re.compile(rf"rk_{created.prefix}_[A-Za-z0-9]{{40}}")
    stored = " ".join(f"{s.session_data} {s.get_decoded()}" for s in Session.objects.all())
    assert full_key.search(stored) is None
    assert full_key.search(client.get("/keys/").content.decode())  # shown on the next page...
    assert full_key.search(client.get("/keys/").content.decode()) is None  # ...once


def test_signup_form_errors_are_shown_beside_fields():
    response = Client().post("/signup/", {"email": "not-an-email", "password": "short", "tenant_name": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="field has-error"' in html
    assert "Enter a valid email address." in html


def test_login_logout_and_dashboard(tenant_a):
    client = Client()
    assert client.get("/dashboard/").status_code == 302
    response = client.post("/login/", {"username": tenant_a.owner.email, "password": PASSWORD})
    assert response.status_code == 302
    dashboard = client.get("/dashboard/")
    assert dashboard.status_code == 200
    assert tenant_a.tenant.name in dashboard.content.decode()
    assert "No model yet" in dashboard.content.decode()
    client.post("/logout/")
    assert client.get("/dashboard/").status_code == 302


def test_keys_page_creates_and_revokes(tenant_a, tenant_b):
    client = Client()
    client.force_login(tenant_a.owner)
    response = client.post("/keys/", {"name": "checkout", "scopes": ["recommend"]})
    assert response.status_code == 302
    page = client.get("/keys/").content.decode()
    assert "checkout" in page
    created = ApiKey.objects.get(tenant=tenant_a.tenant, name="checkout")
    assert created.scopes == ["recommend"]
    # B's keys never show up on A's page, and A cannot revoke them
    b_key = ApiKey.objects.get(tenant=tenant_b.tenant)
    assert b_key.prefix not in page
    client.post(f"/keys/{b_key.pk}/revoke/")
    b_key.refresh_from_db()
    assert b_key.revoked_at is None
    client.post(f"/keys/{created.pk}/revoke/")
    created.refresh_from_db()
    assert created.revoked_at is not None


def test_html_is_escaped(tenant_a):
    client = Client()
    client.force_login(tenant_a.owner)
    client.post("/keys/", {"name": "<script>alert(1)</script>", "scopes": ["recommend"]})
    page = client.get("/keys/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_admin_lists_tenants_and_keys(tenant_a, admin_client):
    assert admin_client.get("/admin/accounts/tenant/").status_code == 200
    assert admin_client.get(f"/admin/accounts/tenant/{tenant_a.tenant.pk}/change/").status_code == 200
    keys = admin_client.get("/admin/accounts/apikey/")
    assert keys.status_code == 200
    key = ApiKey.objects.get(tenant=tenant_a.tenant)
    response = admin_client.post("/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None
