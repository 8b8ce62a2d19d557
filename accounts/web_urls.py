from django.contrib.auth.views import LogoutView
from django.urls import path

from . import views

urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(), name="logout"),
    path("signup/", views.SignupView.as_view(), name="signup"),
    path("keys/", views.ApiKeysPage.as_view(), name="api-keys-page"),
    path("keys/<int:key_id>/revoke/", views.ApiKeyRevokePage.as_view(), name="api-key-revoke-page"),
    path("tenant/switch/", views.SwitchTenantView.as_view(), name="switch-tenant"),
    path("settings/shop/", views.TenantSettingsPage.as_view(), name="tenant-settings-page"),
]
