from django.urls import path

from . import apis

urlpatterns = [
    path("events", apis.EventsApi.as_view(), name="api-events"),
    path("interactions/imports", apis.InteractionImportListApi.as_view(), name="api-interaction-imports"),
    path(
        "interactions/imports/<int:import_id>", apis.InteractionImportDetailApi.as_view(), name="api-interaction-import"
    ),
    path("train", apis.TrainUploadApi.as_view(), name="api-train"),
    path("users/<str:user_id>/interactions", apis.UserInteractionsApi.as_view(), name="api-user-interactions"),
    path("users/<str:user_id>", apis.UserApi.as_view(), name="api-user"),
]
