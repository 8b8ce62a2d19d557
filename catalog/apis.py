"""Catalog API: items and catalog imports."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from recsys_site.api import PAGE_PARAMETERS, Pagination, TenantApiView, paginated, parse_bool, validated

from . import selectors, services
from .models import Item


class ItemOutput(serializers.ModelSerializer):
    id = serializers.CharField(source="external_id")
    reviews = serializers.IntegerField(source="rating_count", allow_null=True)

    class Meta:
        model = Item
        fields = [
            "id",
            "name",
            "main_category",
            "sub_category",
            "description",
            "tags",
            "image",
            "link",
            "price",
            "original_price",
            "discount_ratio",
            "rating",
            "reviews",
            "attributes",
            "is_active",
            "created_at",
            "updated_at",
        ]


class ItemInput(serializers.Serializer):
    name = serializers.CharField(max_length=500, required=False, allow_blank=True)
    main_category = serializers.CharField(max_length=255, required=False, allow_blank=True)
    sub_category = serializers.CharField(max_length=255, required=False, allow_blank=True)
    description = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, max_length=100)
    image = serializers.URLField(max_length=2000, required=False, allow_blank=True)
    link = serializers.URLField(max_length=2000, required=False, allow_blank=True)
    price = serializers.FloatField(min_value=0, max_value=1e12, required=False, allow_null=True)
    original_price = serializers.FloatField(min_value=0, max_value=1e12, required=False, allow_null=True)
    discount_ratio = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True)
    rating = serializers.FloatField(min_value=0, max_value=5, required=False, allow_null=True)
    reviews = serializers.IntegerField(min_value=0, max_value=1_000_000_000, required=False, allow_null=True)
    attributes = serializers.DictField(required=False)
    is_active = serializers.BooleanField(required=False)


class ItemListApi(TenantApiView):
    required_scope = "recommend"

    @extend_schema(
        parameters=[
            OpenApiParameter("category", str, description="Main or sub-category, case-insensitive."),
            OpenApiParameter("search", str, description="Part of the name, or an exact id."),
            *PAGE_PARAMETERS,
            OpenApiParameter("include_inactive", bool),
        ],
        operation_id="items_list",
        responses=paginated(ItemOutput),
        tags=["catalog"],
    )
    def get(self, request):
        items = selectors.item_list(
            tenant=self.tenant,
            category=request.query_params.get("category") or None,
            search=(request.query_params.get("search") or "").strip() or None,
            include_inactive=parse_bool(request.query_params, "include_inactive", default=False),
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response(ItemOutput(page, many=True).data)


class ItemDetailApi(TenantApiView):
    """GET needs `recommend`; PUT, PATCH and DELETE (deactivate) need `ingest`."""

    def scope_for(self, method: str) -> str:
        return "recommend" if method in {"GET", "HEAD", "OPTIONS"} else "ingest"

    @extend_schema(responses=ItemOutput, tags=["catalog"])
    def get(self, request, item_id: str):
        return Response(ItemOutput(selectors.item_get(tenant=self.tenant, external_id=item_id)).data)

    def _write(self, request, item_id: str, *, partial: bool) -> Response:
        data = validated(ItemInput, request.data, partial=partial)
        item, created = services.item_upsert(
            tenant=self.tenant,
            external_id=item_id,
            fields=services.item_fields_from_input(data),
            partial=partial,
        )
        return Response(ItemOutput(item).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=ItemInput, responses={200: ItemOutput, 201: ItemOutput}, tags=["catalog"])
    def put(self, request, item_id: str):
        return self._write(request, item_id, partial=False)

    @extend_schema(request=ItemInput, responses=ItemOutput, tags=["catalog"])
    def patch(self, request, item_id: str):
        return self._write(request, item_id, partial=True)

    @extend_schema(responses={204: None}, tags=["catalog"])
    def delete(self, request, item_id: str):
        services.item_deactivate(tenant=self.tenant, external_id=item_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImportOutput(serializers.Serializer):
    """An import job (catalog or interactions), with live counts while it runs."""

    id = serializers.IntegerField()
    kind = serializers.CharField()
    status = serializers.CharField()
    original_name = serializers.CharField()
    size_bytes = serializers.IntegerField()
    progress_percent = serializers.IntegerField()
    rows_total = serializers.IntegerField()
    rows_imported = serializers.IntegerField()
    rows_rejected = serializers.IntegerField()
    errors = serializers.ListField(child=serializers.DictField())
    notes = serializers.ListField(child=serializers.CharField())
    error_message = serializers.CharField()
    options = serializers.DictField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, job):
        from .importing import import_progress

        data = super().to_representation(job)
        if job.status == job.Status.RUNNING:
            live = import_progress(job)
            for name in ("rows_total", "rows_rejected", "errors"):
                data[name] = live.get(name, data[name])
            if job.size_bytes and live.get("bytes_processed"):
                data["progress_percent"] = min(99, int(100 * live["bytes_processed"] / job.size_bytes))
        training_job = getattr(job, "training_job_id", None)
        if job.kind == "interactions":
            data["training_job"] = training_job
        return data


class UploadInput(serializers.Serializer):
    """Multipart form: the file and how to read it."""

    file = serializers.FileField(help_text="CSV (UTF-8, optionally gzip) or JSONL.")
    format = serializers.ChoiceField(choices=["auto", "csv", "jsonl"], required=False)
    delimiter = serializers.CharField(required=False, help_text="`,` `;` `\\t` `|` or comma/semicolon/tab/pipe.")
    has_header = serializers.BooleanField(required=False, default=True)
    column_names = serializers.CharField(required=False, help_text="Comma-separated, for files without a header.")
    mapping = serializers.CharField(required=False, help_text='JSON: {"their_column": "our_column"}.')


class CatalogImportListApi(TenantApiView):
    required_scope = "ingest"

    @extend_schema(
        operation_id="catalog_imports_list",
        parameters=PAGE_PARAMETERS,
        responses=paginated(ImportOutput),
        tags=["catalog"],
    )
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.catalog_import_list(tenant=self.tenant), request, view=self)
        return paginator.get_paginated_response(ImportOutput(page, many=True).data)

    @extend_schema(request={"multipart/form-data": UploadInput}, responses={202: ImportOutput}, tags=["catalog"])
    def post(self, request):
        from .imports import catalog_import_create

        job = catalog_import_create(
            tenant=self.tenant,
            uploaded=request.FILES.get("file"),
            params=request.data,
            created_by=request.user if getattr(request.user, "pk", None) else None,
        )
        return Response(ImportOutput(job).data, status=status.HTTP_202_ACCEPTED)


class CatalogImportDetailApi(TenantApiView):
    required_scope = "ingest"

    @extend_schema(responses=ImportOutput, tags=["catalog"])
    def get(self, request, import_id: int):
        return Response(ImportOutput(selectors.catalog_import_get(tenant=self.tenant, import_id=import_id)).data)
