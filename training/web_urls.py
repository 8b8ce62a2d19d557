from django.urls import path

from . import views

urlpatterns = [
    path("training/", views.TrainingPage.as_view(), name="training-page"),
    path("training/jobs/<int:job_id>/", views.TrainingJobPage.as_view(), name="training-job-page"),
    path("models/", views.ModelsPage.as_view(), name="models-page"),
    path("models/<int:version_id>/activate/", views.ModelActivatePage.as_view(), name="model-activate-page"),
    path("settings/training/", views.TrainingSettingsPage.as_view(), name="training-settings-page"),
]
