"""Who may call what: API-key scopes and account roles."""

from __future__ import annotations

from rest_framework import exceptions, permissions

from .authentication import AuthenticatedKey
from .models import Membership


class ScopeRequired(exceptions.PermissionDenied):
    default_code = "missing_scope"


def require_scope(key: AuthenticatedKey, scope: str | None) -> None:
    if scope and scope not in key.scopes:
        raise ScopeRequired(f"This API key lacks the '{scope}' scope.")


class TenantAccess(permissions.BasePermission):
    """The request has a tenant; keys carry the view's scope; management views refuse keys.

    Views declare `required_scope` ("recommend", "ingest", "train" or None), `api_key_allowed` and
    `owner_only` (account role needed for writes such as creating keys).
    """

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        auth = request.auth
        if isinstance(auth, AuthenticatedKey):
            if not getattr(view, "api_key_allowed", True):
                raise exceptions.PermissionDenied(
                    "This endpoint is for accounts: use a JWT from /api/v1/auth/token.", code="api_key_not_allowed"
                )
            require_scope(auth, view.scope_for(request.method) if hasattr(view, "scope_for") else None)
            return True
        membership: Membership | None = getattr(view, "membership", None)
        if membership is None:
            raise exceptions.PermissionDenied("This account is not a member of any tenant.", code="no_tenant")
        writes = request.method not in permissions.SAFE_METHODS
        if getattr(view, "owner_only", False) and writes and membership.role != Membership.Role.OWNER:
            raise exceptions.PermissionDenied("Only the tenant's owners may do this.", code="owner_required")
        return True
