"""Web pages of the catalog: items, catalog uploads, and the page of one import (shared with interactions)."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from recsys_site.errors import ApplicationError, NotFound
from recsys_site.web import TenantPageMixin, form_error_from

from . import selectors
from .forms import CatalogUploadForm, ItemSearchForm
from .imports import catalog_import_create
from .models import ImportJob

ITEMS_PER_PAGE = 25
RECENT_IMPORTS = 10


class CatalogPage(TenantPageMixin, View):
    template_name = "catalog/catalog.html"

    def _render(self, request: HttpRequest, form: CatalogUploadForm, status: int = 200) -> HttpResponse:
        search = ItemSearchForm(request.GET)
        filters = search.cleaned_data if search.is_valid() else {}
        items = selectors.item_list(
            tenant=self.tenant,
            search=(filters.get("q") or "").strip() or None,
            category=(filters.get("category") or "").strip() or None,
            include_inactive=True,
        )
        context = {
            "form": form,
            "search_form": search,
            "searching": bool(filters.get("q") or filters.get("category")),
            "page": Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("page")),
            "items_total": selectors.item_list(tenant=self.tenant, include_inactive=True).count(),
            "items_active": selectors.item_list(tenant=self.tenant).count(),
            "imports": selectors.catalog_import_list(tenant=self.tenant)[:RECENT_IMPORTS],
        }
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self._render(request, CatalogUploadForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = CatalogUploadForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                job = catalog_import_create(
                    tenant=self.tenant,
                    uploaded=form.cleaned_data["file"],
                    params=form.read_params(),
                    created_by=request.user,
                )
            except ApplicationError as exc:
                form_error_from(form, exc, default_field="file")
            else:
                messages.success(request, f"{job.original_name} was uploaded; the import runs in the background.")
                return redirect("catalog-import-page", import_id=job.pk)
        return self._render(request, form, status=400)


class CatalogImportPage(TenantPageMixin, View):
    """One import job: live progress while it runs (the page polls the JSON API), then its report.

    The interactions import page is this page with another job type."""

    template_name = "catalog/import_detail.html"
    title = "Catalog import"
    list_url_name = "catalog-page"
    api_url_name = "api-catalog-import"

    def get_job(self, import_id: int) -> ImportJob:
        return selectors.catalog_import_get(tenant=self.tenant, import_id=import_id)

    def get(self, request: HttpRequest, import_id: int) -> HttpResponse:
        try:
            job = self.get_job(import_id)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        context = {
            "job": job,
            "title": self.title,
            "list_url": reverse(self.list_url_name),
            "api_url": reverse(self.api_url_name, kwargs={"import_id": job.pk}),
        }
        return render(request, self.template_name, context)
