from django.urls import path

from . import views

urlpatterns = [
    path("preview/", views.PreviewPage.as_view(), name="preview-page"),
    path("preview/items/", views.PreviewItemLookupPage.as_view(), name="preview-item-lookup"),
    path("preview/items/<path:item_id>/", views.PreviewItemPage.as_view(), name="preview-item-page"),
    path("settings/recommendations/", views.RecommendationSettingsPage.as_view(), name="recommendation-settings-page"),
]
