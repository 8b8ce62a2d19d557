"""Web pages of recommendations: the preview (a user's recommendations, an item's neighbours) and its settings."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from recsys_site.errors import ApplicationError, NotFound
from recsys_site.views import render_settings
from recsys_site.web import TenantPageMixin

from . import preview
from .forms import ItemLookupForm, PreviewForm, RecommendationSettingsForm
from .tenant_settings import recommendation_settings_update


class PreviewPage(TenantPageMixin, View):
    """Trending items and example users; with `?user_id=` also that user's recommendations."""

    template_name = "recommendations/preview.html"

    def render_page(
        self,
        request: HttpRequest,
        *,
        form: PreviewForm | None = None,
        item_form: ItemLookupForm | None = None,
        status: int = 200,
    ) -> HttpResponse:
        overview = preview.preview_overview(tenant=self.tenant)
        if form is None:
            bound = request.GET if "user_id" in request.GET else None
            form = PreviewForm(bound, tenant=self.tenant, categories=overview["categories"])
        context: dict[str, Any] = {
            **overview,
            "form": form,
            "item_form": item_form or ItemLookupForm(tenant=self.tenant),
        }
        if form.is_bound:
            if form.is_valid():
                context["result"] = preview.user_recommendations(tenant=self.tenant, **form.cleaned_data)
            else:
                status = 400
        return render(request, self.template_name, context, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render_page(request)


class PreviewItemLookupPage(PreviewPage):
    """The preview's "open an item" form: a valid id goes to the item's page, a bad one is shown beside the field."""

    def get(self, request: HttpRequest) -> HttpResponse:
        item_form = ItemLookupForm(request.GET, tenant=self.tenant)
        if item_form.is_valid():
            return redirect("preview-item-page", item_id=item_form.cleaned_data["item_id"])
        return self.render_page(request, item_form=item_form, status=400)


class PreviewItemPage(TenantPageMixin, View):
    """One item with its similar and bought-together items; another tenant's item is a 404 like a missing one."""

    template_name = "recommendations/item.html"

    def get(self, request: HttpRequest, item_id: str) -> HttpResponse:
        checked = ItemLookupForm({"item_id": item_id}, tenant=self.tenant)
        if not checked.is_valid():
            return render(request, self.template_name, {"item_form": checked}, status=400)
        try:
            neighbours = preview.item_neighbours(tenant=self.tenant, item_id=checked.cleaned_data["item_id"])
        except NotFound:
            context = {"status": 404, "message": "There is no item with this id in your catalog."}
            return render(request, "errors/error.html", context, status=404)
        context = {**neighbours, "item_form": ItemLookupForm(tenant=self.tenant)}
        return render(request, self.template_name, context)


class RecommendationSettingsPage(TenantPageMixin, View):
    """The recommendations section of the settings page (which renders the form; this saves it)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return redirect(reverse("settings-page") + "#recommendations")

    def post(self, request: HttpRequest) -> HttpResponse:
        form = RecommendationSettingsForm(request.POST)
        if form.is_valid():
            try:
                recommendation_settings_update(tenant=self.tenant, data=form.settings_data())
            except ApplicationError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, "Recommendation settings saved.")
                return redirect(reverse("settings-page") + "#recommendations")
        return render_settings(request, membership=self.membership, recommendations_form=form, status=400)
