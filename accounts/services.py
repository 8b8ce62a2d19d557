"""Writes for accounts, tenants and API keys."""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from recsys_site import hotcache
from recsys_site.errors import Conflict, NotFound, ValidationFailed

from .models import ApiKey, Membership, Tenant, User

KEY_ALPHABET = string.ascii_letters + string.digits
ALL_SCOPES = [choice.value for choice in ApiKey.Scope]


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8")).hexdigest()


def api_key_cache_key(hashed_key: str) -> str:
    return f"apikey:{hashed_key}"


RATE_WINDOW_SECONDS = 60


def rate_counter_key(ident: str, now: float | None = None) -> str:
    """The counter of `ident`'s requests in the current one-minute window."""
    return f"rl:{ident}:{int((now or time.time()) // RATE_WINDOW_SECONDS)}"


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "shop"
    slug, n = base, 1
    while Tenant.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def tenant_create(*, name: str, slug: str | None = None) -> Tenant:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("A tenant needs a name.", details={"tenant_name": ["This field is required."]})
    tenant = Tenant(name=name[:120], slug=slug or _unique_slug(name))
    try:
        with transaction.atomic():
            tenant.save()
    except IntegrityError as exc:
        raise Conflict(f"A tenant with slug {tenant.slug!r} already exists.", code="tenant_exists") from exc
    from training.services import training_config_get  # training builds on accounts, not the other way

    training_config_get(tenant=tenant)  # its settings and its retrain schedule (a beat entry) from the start
    return tenant


def _validate_new_account(email: str, password: str) -> str:
    email = User.objects.normalize_email((email or "").strip()).lower()
    errors: dict[str, list[str]] = {}
    if not email or "@" not in email:
        errors["email"] = ["Enter a valid email address."]
    try:
        validate_password(password or "", user=User(email=email))
    except DjangoValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationFailed("The account details are not valid.", details=errors)
    if User.objects.filter(email=email).exists():
        raise Conflict("An account with this email already exists.", code="email_taken", details={"email": [email]})
    return email


@dataclass(frozen=True)
class NewApiKey:
    api_key: ApiKey
    key: str  # the plaintext, shown once


@dataclass(frozen=True)
class Signup:
    user: User
    tenant: Tenant
    first_key: NewApiKey


@transaction.atomic
def user_signup(*, email: str, password: str, tenant_name: str) -> Signup:
    """Create an account, its tenant (the account owns it) and a first API key with every scope."""
    email = _validate_new_account(email, password)
    tenant = tenant_create(name=tenant_name)
    user = User.objects.create_user(email=email, password=password)
    Membership.objects.create(user=user, tenant=tenant, role=Membership.Role.OWNER)
    first_key = api_key_create(tenant=tenant, name="Default key", scopes=ALL_SCOPES, created_by=user)
    return Signup(user=user, tenant=tenant, first_key=first_key)


def membership_add(*, tenant: Tenant, user: User, role: str = Membership.Role.MEMBER) -> Membership:
    membership, _ = Membership.objects.get_or_create(tenant=tenant, user=user, defaults={"role": role})
    return membership


def _clean_scopes(scopes: Iterable[str] | None) -> list[str]:
    if scopes is None:
        return list(ALL_SCOPES)
    if isinstance(scopes, str) or not all(isinstance(scope, str) for scope in scopes):
        raise ValidationFailed("scopes must be a list of strings.", details={"scopes": ["Expected a list."]})
    cleaned = sorted(set(scopes))
    unknown = [scope for scope in cleaned if scope not in ALL_SCOPES]
    if unknown or not cleaned:
        raise ValidationFailed(
            f"Scopes must be chosen from {', '.join(ALL_SCOPES)}.",
            code="invalid_scopes",
            details={"scopes": unknown or ["At least one scope is required."]},
        )
    return cleaned


def api_key_create(
    *, tenant: Tenant, name: str, scopes: Iterable[str] | None = None, created_by: User | None = None
) -> NewApiKey:
    """Make a key `rk_<prefix>_<secret>`; keep its hash, prefix and last four characters only."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed("A key needs a name of 1-100 characters.", details={"name": ["1-100 characters."]})
    scopes = _clean_scopes(scopes)
    for _ in range(5):
        prefix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    secret = "".join(secrets.choice(KEY_ALPHABET) for _ in range(40))
    raw_key = f"rk_{prefix}_{secret}"
    api_key = ApiKey.objects.create(
        tenant=tenant,
        name=name,
        prefix=prefix,
        hashed_key=hash_api_key(raw_key),
        last_four=secret[-4:],
        scopes=scopes,
        created_by=created_by,
    )
    return NewApiKey(api_key=api_key, key=raw_key)


def api_key_revoke(*, tenant: Tenant, key_id: int) -> ApiKey:
    """Revoke a key of this tenant. The cached copy goes too, so every process refuses it at once."""
    api_key = ApiKey.objects.filter(tenant=tenant, pk=key_id).first()
    if api_key is None:
        raise NotFound("No such API key.", code="api_key_not_found")
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at", "updated_at"])
    hotcache.delete([api_key_cache_key(api_key.hashed_key)])
    return api_key


def tenant_cache_invalidate(*, tenant: Tenant) -> None:
    """Forget cached key records, which carry a copy of the tenant's settings."""
    hashes = list(ApiKey.objects.filter(tenant=tenant).values_list("hashed_key", flat=True))
    hotcache.delete(api_key_cache_key(h) for h in hashes)


def tenant_update(*, tenant: Tenant, **fields) -> Tenant:
    allowed = {"name", "user_id_pattern", "item_id_pattern", "rate_limit_per_minute"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationFailed("Unknown tenant settings.", details={key: ["Unknown field."] for key in unknown})
    from interactions.rules import compile_id_pattern

    for key in ("user_id_pattern", "item_id_pattern"):
        if fields.get(key):
            compile_id_pattern(fields[key])
    for key, value in fields.items():
        setattr(tenant, key, value)
    tenant.save()
    tenant_cache_invalidate(tenant=tenant)
    return tenant
