"""Web pages of training: jobs (train now, live progress), model versions (metrics, activate), the config form."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from recsys_site.errors import ApplicationError, NotFound
from recsys_site.views import render_settings
from recsys_site.web import TenantPageMixin

from . import selectors, services
from .forms import TrainingConfigForm
from .models import ModelVersion, TrainingJob

JOBS_PER_PAGE = 25


class TrainingPage(TenantPageMixin, View):
    template_name = "training/training.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        jobs = selectors.training_job_list(tenant=self.tenant).select_related("model_version")
        context = {
            "page": Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page")),
            "config": services.training_config_get(tenant=self.tenant),
        }
        return render(request, self.template_name, context)

    def post(self, request: HttpRequest) -> HttpResponse:
        asked_at = timezone.now()
        try:
            job = services.training_request(
                tenant=self.tenant, trigger=TrainingJob.Trigger.WEB, requested_by=request.user
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("training-page")
        if job.created_at < asked_at:
            messages.info(request, f"Training job #{job.pk} was already waiting to start; your request joined it.")
        else:
            messages.success(request, f"Training job #{job.pk} is queued.")
        return redirect("training-job-page", job_id=job.pk)


class TrainingJobPage(TenantPageMixin, View):
    template_name = "training/job_detail.html"

    def get(self, request: HttpRequest, job_id: int) -> HttpResponse:
        job = selectors.training_job_list(tenant=self.tenant).select_related("model_version").filter(pk=job_id).first()
        if job is None:
            raise Http404("No such training job.")
        context = {
            "job": job,
            "history": job.progress.get("history", []),
            "api_url": reverse("api-training-job", kwargs={"job_id": job.pk}),
        }
        return render(request, self.template_name, context)


def _metric_points(versions: list[ModelVersion]) -> list[dict[str, Any]]:
    """HR@10 and NDCG@10 of each version and of its popularity baseline, oldest first, for the charts."""
    names = ("hr_at_10", "ndcg_at_10", "popularity_hr_at_10", "popularity_ndcg_at_10")
    return [
        {"version": version.version, **{name: version.metrics.get(name) for name in names}}
        for version in sorted(versions, key=lambda version: version.version)
    ]


class ModelsPage(TenantPageMixin, View):
    template_name = "training/models.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        versions = list(selectors.model_version_list(tenant=self.tenant))
        context = {"versions": versions, "chart_points": _metric_points(versions)}
        return render(request, self.template_name, context)


class ModelActivatePage(TenantPageMixin, View):
    """Roll back or forward by hand: any member may, as a key with the `train` scope may."""

    def post(self, request: HttpRequest, version_id: int) -> HttpResponse:
        try:
            version = services.model_version_activate(tenant=self.tenant, version_id=version_id)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"v{version.version} is now active and serving recommendations.")
        return redirect("models-page")


class TrainingSettingsPage(TenantPageMixin, View):
    """The training section of the settings page (which renders the form; this saves it)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return redirect(reverse("settings-page") + "#training")

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TrainingConfigForm(request.POST)
        if form.is_valid():
            try:
                services.training_config_update(tenant=self.tenant, data=form.config_data())
            except ApplicationError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, "Training settings saved.")
                return redirect(reverse("settings-page") + "#training")
        return render_settings(request, membership=self.membership, training_form=form, status=400)
