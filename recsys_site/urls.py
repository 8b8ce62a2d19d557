from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import health, views

api_v1 = [
    path("", include("accounts.urls")),
    path("", include("catalog.urls")),
    path("", include("interactions.urls")),
    path("", include("training.urls")),
    path("", include("recommendations.urls")),
]

urlpatterns = [
    path("health", health.health, name="health"),
    path("health/ready", health.ready, name="health-ready"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
    path("dashboard/", views.DashboardPage.as_view(), name="dashboard"),
    path("settings/", views.SettingsPage.as_view(), name="settings-page"),
    path("", include("accounts.web_urls")),
    path("", include("catalog.web_urls")),
    path("", include("interactions.web_urls")),
    path("", include("training.web_urls")),
    path("", include("recommendations.web_urls")),
    path("", views.home, name="home"),
]

handler400 = "recsys_site.exceptions.handler400"
handler403 = "recsys_site.exceptions.handler403"
handler404 = "recsys_site.exceptions.handler404"
handler500 = "recsys_site.exceptions.handler500"
