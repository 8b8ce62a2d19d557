from __future__ import annotations

from .selectors import membership_for_request


def current_tenant(request) -> dict:
    membership = membership_for_request(request) if getattr(request, "user", None) else None
    return {"current_membership": membership, "current_tenant": membership.tenant if membership else None}
