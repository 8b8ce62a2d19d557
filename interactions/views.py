"""Web pages of interactions: counts, uploads, and the page of one import."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View

from accounts.selectors import tenant_usage
from catalog.views import CatalogImportPage
from recsys_site.errors import ApplicationError
from recsys_site.web import TenantPageMixin, form_error_from

from . import selectors
from .forms import InteractionUploadForm
from .imports import interaction_import_create
from .models import InteractionImport

RECENT_IMPORTS = 10


class InteractionsPage(TenantPageMixin, View):
    template_name = "interactions/interactions.html"

    def _render(self, request: HttpRequest, form: InteractionUploadForm, status: int = 200) -> HttpResponse:
        context = {
            "form": form,
            "usage": tenant_usage(tenant=self.tenant),
            "imports": selectors.interaction_import_list(tenant=self.tenant).select_related("training_job")[
                :RECENT_IMPORTS
            ],
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, InteractionUploadForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = InteractionUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                job = interaction_import_create(
                    tenant=self.tenant,
                    uploaded=form.cleaned_data["file"],
                    params=form.read_params(),
                    created_by=request.user,
                )
            except ApplicationError as exc:
                if exc.code == "duplicate_upload":
                    form.add_error(
                        "file",
                        f"This file was already imported (import {exc.details.get('import_id')}). Tick "
                        f"“{form.fields['allow_duplicate'].label}” to load its events a second time.",
                    )
                else:
                    form_error_from(form, exc, default_field="file")
            else:
                messages.success(request, f"{job.original_name} was uploaded; the import runs in the background.")
                return redirect("interaction-import-page", import_id=job.pk)
        return self._render(request, form, status=400)


class InteractionImportPage(CatalogImportPage):
    title = "Interactions import"
    list_url_name = "interactions-page"
    api_url_name = "api-interaction-import"

    def get_job(self, import_id: int) -> InteractionImport:
        return selectors.interaction_import_get(tenant=self.tenant, import_id=import_id)
