from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from recsys_site.errors import ValidationFailed

from .models import ApiKey, Tenant


class LoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class SignupForm(forms.Form):
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}), min_length=8)
    tenant_name = forms.CharField(label="Shop name", max_length=120)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100)
    scopes = forms.MultipleChoiceField(
        choices=ApiKey.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[choice.value for choice in ApiKey.Scope],
    )


class TenantSettingsForm(forms.Form):
    name = forms.CharField(max_length=120)
    user_id_pattern = forms.CharField(max_length=255, required=False, help_text="e.g. ^[a-zA-Z0-9]{1,50}$")
    item_id_pattern = forms.CharField(max_length=255, required=False, help_text="e.g. ^[A-Z0-9]{10}$")
    rate_limit_per_minute = forms.IntegerField(min_value=1, max_value=1_000_000)

    def clean_user_id_pattern(self) -> str:
        return _checked_pattern(self.cleaned_data["user_id_pattern"])

    def clean_item_id_pattern(self) -> str:
        return _checked_pattern(self.cleaned_data["item_id_pattern"])

    @classmethod
    def for_tenant(cls, tenant: Tenant) -> TenantSettingsForm:
        return cls(
            initial={
                "name": tenant.name,
                "user_id_pattern": tenant.user_id_pattern,
                "item_id_pattern": tenant.item_id_pattern,
                "rate_limit_per_minute": tenant.rate_limit_per_minute,
            }
        )


def _checked_pattern(pattern: str) -> str:
    """An ID rule is checked here so that its problem is shown beside its own field."""
    from interactions.rules import compile_id_pattern

    if pattern:
        try:
            compile_id_pattern(pattern)
        except ValidationFailed as exc:
            raise forms.ValidationError(exc.message) from None
    return pattern
