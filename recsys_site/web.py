"""Shared pieces of the server-rendered dashboard pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.forms import Form
from django.shortcuts import render

from accounts.models import Membership
from accounts.selectors import membership_for_request
from recsys_site.errors import ApplicationError


class TenantPageMixin(LoginRequiredMixin):
    """A dashboard page: the signed-in account and the tenant it is working on."""

    owner_only = False

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        self.membership = membership_for_request(request)
        if self.membership is None:
            return render(request, "accounts/no_tenant.html", status=403)
        self.tenant = self.membership.tenant
        if self.owner_only and request.method == "POST" and self.membership.role != Membership.Role.OWNER:
            messages.error(request, "Only the shop's owners may do this.")
            return render(request, "errors/error.html", {"status": 403, "message": "Owners only."}, status=403)
        return super().dispatch(request, *args, **kwargs)


def form_error_from(form: Form, exc: ApplicationError, *, default_field: str | None = None) -> None:
    """Show a service error beside the fields it names, else beside `default_field` (or at the top of the form).

    Services name fields as `details={"field_name": [problems]}`; the upload readers name one as
    `details={"field": "field_name"}` and put the problem in the message.
    """
    details = exc.details or {}
    named = details.get("field")
    if isinstance(named, str) and named in form.fields:
        form.add_error(named, exc.message)
        return
    placed = False
    for field, problems in details.items():
        if field in form.fields:
            for problem in problems if isinstance(problems, list) else [problems]:
                form.add_error(field, str(problem))
            placed = True
    if not placed:
        form.add_error(default_field if default_field in form.fields else None, exc.message)
