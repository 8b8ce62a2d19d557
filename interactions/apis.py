"""Events and interactions API."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from accounts.authentication import AuthenticatedKey
from accounts.permissions import ScopeRequired
from accounts.selectors import user_id_pattern
from catalog.apis import ImportOutput, UploadInput
from recsys_site.api import PAGE_PARAMETERS, Pagination, TenantApiView, paginated, parse_int

from . import rules, selectors, services
from .imports import interaction_import_create


class EventInput(serializers.Serializer):
    """One event (documentation only: events are validated by `services.event_clean`)."""

    user_id = serializers.CharField()
    event_type = serializers.ChoiceField(choices=[*rules.EVENT_TYPES, *rules.EVENT_ALIASES])
    item_id = serializers.CharField(required=False)
    query = serializers.CharField(required=False, max_length=255)
    value = serializers.FloatField(required=False)
    timestamp = serializers.DateTimeField(required=False)
    event_id = serializers.CharField(required=False, max_length=255)


class EventBatchInput(serializers.Serializer):
    events = EventInput(many=True)


class EventIngestOutput(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.ListField(
        child=inline_serializer(
            "RejectedEvent", {"index": serializers.IntegerField(), "errors": serializers.DictField()}
        )
    )


class EventsApi(TenantApiView):
    required_scope = "ingest"
    # Every string of an event is checked field by field (a NUL is a rejected event, not a 400 for the batch).
    parser_classes = [JSONParser]

    @extend_schema(
        request=EventBatchInput,
        responses={202: EventIngestOutput},
        tags=["events"],
        description='One event object, or `{"events": [...]}` with up to 1,000 events.',
        examples=[
            OpenApiExample(
                "single", value={"user_id": "u42", "event_type": "purchase", "item_id": "SKU-1", "event_id": "ord-9"}
            ),
            OpenApiExample(
                "batch",
                value={"events": [{"user_id": "u42", "event_type": "search", "query": "earbuds"}]},
            ),
        ],
    )
    def post(self, request):
        data = request.data
        if isinstance(data, dict) and "events" in data:
            events = data["events"]
            if not isinstance(events, list):
                return Response(
                    {"error": {"code": "invalid_input", "message": "'events' must be a list.", "details": {}}},
                    status=status.HTTP_400_BAD_REQUEST,
                )
            result = services.events_ingest(tenant=self.tenant, raw_events=events)
        else:
            result = services.events_ingest(tenant=self.tenant, raw_events=[data], single=True)
        return Response(EventIngestOutput(result).data, status=status.HTTP_202_ACCEPTED)


class EventOutput(serializers.Serializer):
    user_id = serializers.CharField()
    event_type = serializers.CharField()
    item_id = serializers.CharField(source="item.external_id", allow_null=True, default=None)
    query = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    timestamp = serializers.DateTimeField()
    event_id = serializers.CharField(allow_null=True)


class UserInteractionsApi(TenantApiView):
    required_scope = "ingest"

    @extend_schema(
        parameters=[
            OpenApiParameter("days", int, description="How far back, 1-3650 days (default 30)."),
            *PAGE_PARAMETERS,
        ],
        responses=paginated(EventOutput),
        tags=["events"],
    )
    def get(self, request, user_id: str):
        user_id = rules.validate_id(user_id, user_id_pattern(self.tenant), field="user_id")
        days = parse_int(request.query_params, "days", default=30, minimum=1, maximum=3650)
        events = selectors.user_events(tenant=self.tenant, user_id=user_id, days=days)
        paginator = Pagination()
        page = paginator.paginate_queryset(events, request, view=self)
        return paginator.get_paginated_response(EventOutput(page, many=True).data)


class UserApi(TenantApiView):
    required_scope = "ingest"

    @extend_schema(responses={204: None}, tags=["events"], description="Erase every event of this user.")
    def delete(self, request, user_id: str):
        services.user_erase(tenant=self.tenant, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class InteractionUploadInput(UploadInput):
    default_event_type = serializers.CharField(required=False, help_text="Event type of rows without one.")
    train = serializers.BooleanField(required=False, default=True, help_text="Queue training when it succeeds.")
    allow_duplicate = serializers.BooleanField(required=False, default=False, help_text="Import a file again.")


def _account(request):
    return request.user if getattr(request.user, "pk", None) else None


class InteractionImportListApi(TenantApiView):
    required_scope = "ingest"

    @extend_schema(
        operation_id="interactions_imports_list",
        parameters=PAGE_PARAMETERS,
        responses=paginated(ImportOutput),
        tags=["events"],
    )
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.interaction_import_list(tenant=self.tenant), request, view=self)
        return paginator.get_paginated_response(ImportOutput(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": InteractionUploadInput}, responses={202: ImportOutput}, tags=["events"]
    )
    def post(self, request):
        job = interaction_import_create(
            tenant=self.tenant, uploaded=request.FILES.get("file"), params=request.data, created_by=_account(request)
        )
        return Response(ImportOutput(job).data, status=status.HTTP_202_ACCEPTED)


class InteractionImportDetailApi(TenantApiView):
    required_scope = "ingest"

    @extend_schema(responses=ImportOutput, tags=["events"])
    def get(self, request, import_id: int):
        job = selectors.interaction_import_get(tenant=self.tenant, import_id=import_id)
        return Response(ImportOutput(job).data)


class TrainUploadApi(TenantApiView):
    """Interactions upload and training in one call: the import queues the training when it succeeds."""

    def scope_for(self, method: str) -> str:
        return "train"

    @extend_schema(
        request={"multipart/form-data": InteractionUploadInput}, responses={202: ImportOutput}, tags=["training"]
    )
    def post(self, request):
        if isinstance(request.auth, AuthenticatedKey) and "ingest" not in request.auth.scopes:
            raise ScopeRequired("Uploading interactions needs the 'ingest' scope as well as 'train'.")
        params = request.data.copy() if hasattr(request.data, "copy") else dict(request.data)
        params["train"] = "true"
        job = interaction_import_create(
            tenant=self.tenant, uploaded=request.FILES.get("file"), params=params, created_by=_account(request)
        )
        return Response(ImportOutput(job).data, status=status.HTTP_202_ACCEPTED)
