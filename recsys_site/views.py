"""The landing redirect, the tenant dashboard, and the settings page that gathers every app's settings form."""

from __future__ import annotations

from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from accounts.models import Membership
from accounts.selectors import tenant_usage
from recsys_site.web import TenantPageMixin


def home(request):
    return redirect("dashboard" if request.user.is_authenticated else "login")


class DashboardPage(TenantPageMixin, View):
    def get(self, request):
        usage = tenant_usage(tenant=self.tenant)
        return render(request, "dashboard.html", {"usage": usage, "active_model": usage["active_model"]})


def settings_forms(*, membership: Membership) -> dict[str, Form]:
    """One unbound form per section of the settings page, filled with the tenant's current settings.

    Each section's form posts to its own app's view, which saves it or renders this page again with the
    bound form (and its errors) in place of the fresh one: see `render_settings`.
    """
    from accounts.forms import TenantSettingsForm
    from recommendations.forms import RecommendationSettingsForm
    from recommendations.tenant_settings import recommendation_settings_get
    from training.forms import TrainingConfigForm
    from training.services import training_config_get

    tenant = membership.tenant
    return {
        "training_form": TrainingConfigForm.for_config(training_config_get(tenant=tenant)),
        "recommendations_form": RecommendationSettingsForm.for_settings(recommendation_settings_get(tenant=tenant)),
        "shop_form": TenantSettingsForm.for_tenant(tenant),
    }


def render_settings(
    request: HttpRequest, *, membership: Membership, status: int = 200, **bound_forms: Form
) -> HttpResponse:
    """The settings page; `bound_forms` (e.g. `training_form=form`) replace the fresh form of their section."""
    context = {
        **settings_forms(membership=membership),
        **bound_forms,
        "can_edit_shop": membership.role == Membership.Role.OWNER,
    }
    return render(request, "settings.html", context, status=status)


class SettingsPage(TenantPageMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return render_settings(request, membership=self.membership)
