"""Web pages: signup, login, API keys, switching tenant."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from recsys_site.errors import ApplicationError
from recsys_site.views import render_settings
from recsys_site.web import TenantPageMixin, form_error_from

from . import selectors, services
from .forms import ApiKeyForm, LoginForm, SignupForm, TenantSettingsForm
from .selectors import SESSION_TENANT_KEY

NEW_KEY_SESSION = "new_api_key_token"
NEW_KEY_SECONDS = 120


def _show_once(request, created) -> None:
    """Hand a new key's secret to the next page load without writing it to the session table.

    The session only holds a random token; the secret waits in the cache (memory, with Redis) for at most
    two minutes and is deleted when the keys page shows it."""
    token = secrets.token_urlsafe(24)
    cache.set(f"new-api-key:{token}", {"name": created.api_key.name, "key": created.key}, NEW_KEY_SECONDS)
    request.session[NEW_KEY_SESSION] = token


def _pop_shown_once(request) -> dict | None:
    token = request.session.pop(NEW_KEY_SESSION, None)
    if not token:
        return None
    shown = cache.get(f"new-api-key:{token}")
    cache.delete(f"new-api-key:{token}")
    return shown


class SignInView(LoginView):
    form_class = LoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class SignupView(View):
    template_name = "accounts/signup.html"

    def get(self, request):
        if request.user.is_authenticated:
            return redirect("dashboard")
        return render(request, self.template_name, {"form": SignupForm()})

    def post(self, request):
        form = SignupForm(request.POST)
        if form.is_valid():
            try:
                signup = services.user_signup(**form.cleaned_data)
            except ApplicationError as exc:
                form_error_from(form, exc)
            else:
                login(request, signup.user, backend="django.contrib.auth.backends.ModelBackend")
                request.session[SESSION_TENANT_KEY] = signup.tenant.pk
                _show_once(request, signup.first_key)
                messages.success(request, f"Welcome! {signup.tenant.name} is ready. Here is your first API key.")
                return redirect("api-keys-page")
        return render(request, self.template_name, {"form": form}, status=400)


class ApiKeysPage(TenantPageMixin, View):
    template_name = "accounts/api_keys.html"
    owner_only = True

    def _render(self, request, form, status=200):
        context = {
            "form": form,
            "keys": selectors.api_key_list(tenant=self.tenant),
            "new_key": _pop_shown_once(request),
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request):
        return self._render(request, ApiKeyForm())

    def post(self, request):
        form = ApiKeyForm(request.POST)
        if form.is_valid():
            try:
                new_key = services.api_key_create(
                    tenant=self.tenant,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    created_by=request.user,
                )
            except ApplicationError as exc:
                form_error_from(form, exc)
            else:
                _show_once(request, new_key)
                return redirect("api-keys-page")
        return self._render(request, form, status=400)


class ApiKeyRevokePage(TenantPageMixin, View):
    owner_only = True

    def post(self, request, key_id: int):
        try:
            api_key = services.api_key_revoke(tenant=self.tenant, key_id=key_id)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Key {api_key.masked} was revoked; it stops working at once.")
        return redirect("api-keys-page")


class SwitchTenantView(TenantPageMixin, View):
    def post(self, request):
        chosen = selectors.membership_for_user(user=request.user, tenant_slug=request.POST.get("tenant", ""))
        if chosen is None:
            messages.error(request, "You are not a member of that shop.")
        else:
            request.session[SESSION_TENANT_KEY] = chosen.tenant_id
        return redirect("dashboard")


class TenantSettingsPage(TenantPageMixin, View):
    """The shop section of the settings page (which renders the form; this saves it)."""

    owner_only = True

    def get(self, request):
        return redirect(reverse("settings-page") + "#shop")

    def post(self, request):
        form = TenantSettingsForm(request.POST)
        if form.is_valid():
            try:
                services.tenant_update(tenant=self.tenant, **form.cleaned_data)
            except ApplicationError as exc:
                form_error_from(form, exc)
            else:
                messages.success(request, "Shop settings saved.")
                return redirect(reverse("settings-page") + "#shop")
        return render_settings(request, membership=self.membership, shop_form=form, status=400)
