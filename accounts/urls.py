from django.urls import path

from . import apis

urlpatterns = [
    path("auth/signup", apis.SignupApi.as_view(), name="api-signup"),
    path("auth/token", apis.TokenApi.as_view(), name="api-token"),
    path("auth/token/refresh", apis.TokenRefreshApi.as_view(), name="api-token-refresh"),
    path("tenant", apis.TenantDetailApi.as_view(), name="api-tenant"),
    path("api-keys", apis.ApiKeyListApi.as_view(), name="api-keys"),
    path("api-keys/<int:key_id>", apis.ApiKeyDetailApi.as_view(), name="api-key-detail"),
]
