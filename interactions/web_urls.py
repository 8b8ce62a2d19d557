from django.urls import path

from . import views

urlpatterns = [
    path("interactions/", views.InteractionsPage.as_view(), name="interactions-page"),
    path(
        "imports/interactions/<int:import_id>/", views.InteractionImportPage.as_view(), name="interaction-import-page"
    ),
]
