"""Set up (or refresh) the demo shop that `make run` shows, and print how to get in."""

from __future__ import annotations

import json
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import ApiKey, Membership, Tenant, User
from accounts.services import ALL_SCOPES, api_key_create, api_key_revoke, tenant_create
from recsys_site.demo.loader import load_demo_data

DEMO_SLUG = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_KEY_NAME = "demo key (make run)"


class Command(BaseCommand):
    help = "Create the demo tenant, its account and a fresh API key; print the URL, the login and the key."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="Where the web process will listen.")
        parser.add_argument("--no-data", action="store_true", help="Only the tenant, account and key.")

    def handle(self, *args, url: str, no_data: bool = False, **options):
        credentials_file = settings.VAR_DIR / "demo.json"
        stored = json.loads(credentials_file.read_text()) if credentials_file.exists() else {}
        with transaction.atomic():
            tenant = Tenant.objects.filter(slug=DEMO_SLUG).first() or tenant_create(name="Demo Shop", slug=DEMO_SLUG)
            user = User.objects.filter(email=DEMO_EMAIL).first()
            password = stored.get("password")
            if user is None or not password or not user.check_password(password):
                password = secrets.token_urlsafe(12)
                if user is None:
                    user = User.objects.create_user(
                        email=DEMO_EMAIL, password=password, is_staff=True, is_superuser=True
                    )
                else:
                    user.set_password(password)
                    user.save(update_fields=["password"])
            Membership.objects.get_or_create(user=user, tenant=tenant, defaults={"role": Membership.Role.OWNER})
            # The plaintext of a key is shown once: each run revokes the previous demo key and makes a new one.
            for old_key in ApiKey.objects.filter(tenant=tenant, name=DEMO_KEY_NAME, revoked_at__isnull=True):
                api_key_revoke(tenant=tenant, key_id=old_key.pk)
            new_key = api_key_create(tenant=tenant, name=DEMO_KEY_NAME, scopes=ALL_SCOPES, created_by=user)
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        credentials_file.write_text(json.dumps({"email": DEMO_EMAIL, "password": password}))
        credentials_file.chmod(0o600)
        if not no_data:
            load_demo_data(tenant, say=self.stdout.write)
        self.stdout.write(
            self.style.SUCCESS(
                "\n".join(
                    [
                        "",
                        "Demo shop ready.",
                        f"  URL:       {url}",
                        f"  Login:     {DEMO_EMAIL}",
                        f"  Password:  {password}",
                        f"  API key:   {new_key.key}",
                        f"  Try:       curl -H 'X-API-Key: {new_key.key}' {url.rstrip('/')}/api/v1/items",
                        f"  API docs:  {url.rstrip('/')}/api/docs/   Admin: {url.rstrip('/')}/admin/",
                        "",
                    ]
                )
            )
        )
