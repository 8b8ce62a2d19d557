from django.urls import path

from . import apis

urlpatterns = [
    path("training-config", apis.TrainingConfigApi.as_view(), name="api-training-config"),
    path("training-jobs", apis.TrainingJobListApi.as_view(), name="api-training-jobs"),
    path("training-jobs/<int:job_id>", apis.TrainingJobDetailApi.as_view(), name="api-training-job"),
    path("models", apis.ModelVersionListApi.as_view(), name="api-models"),
    path("models/<int:model_id>", apis.ModelVersionDetailApi.as_view(), name="api-model"),
    path("models/<int:model_id>/activate", apis.ModelVersionActivateApi.as_view(), name="api-model-activate"),
]
