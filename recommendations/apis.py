"""Recommendations API (`recommend` scope)."""

from __future__ import annotations

import json
import math
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from accounts.models import Tenant
from accounts.selectors import item_id_pattern, user_id_pattern
from interactions.rules import validate_id
from recsys_site import hotcache
from recsys_site.api import TenantApiView, parse_bool, parse_int
from recsys_site.errors import ValidationFailed

from . import associations, home, personalized, popularity, results_cache, search, similar
from .rules import Filters
from .tenant_settings import recommendation_settings_for

MAX_EXCLUDE = 500


class ItemOut(serializers.Serializer):
    id = serializers.CharField()
    score = serializers.FloatField()
    name = serializers.CharField()
    main_category = serializers.CharField()
    sub_category = serializers.CharField()
    image = serializers.CharField()
    link = serializers.CharField()
    price = serializers.FloatField(allow_null=True)
    original_price = serializers.FloatField(allow_null=True)
    rating = serializers.FloatField(allow_null=True)
    reviews = serializers.IntegerField(allow_null=True)
    discount_ratio = serializers.FloatField(allow_null=True)
    reason = serializers.CharField(help_text="Why: similar_to_recent:<item>, popular, popular_in:<category>, trending…")


class RuleItemOut(ItemOut):
    support = serializers.FloatField()
    confidence = serializers.FloatField()
    lift = serializers.FloatField()


def _float(params: Any, name: str) -> float | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(raw, bool) or not math.isfinite(value) or value < 0:
        raise ValidationFailed(
            f"'{name}' must be a number >= 0.", code="invalid_parameter", details={name: [f"Invalid: {raw!r}."]}
        )
    return value


def _filters(tenant: Tenant, params: Any) -> Filters:
    exclude = params.get("exclude") or []
    if isinstance(exclude, str):
        exclude = [part for part in exclude.split(",") if part.strip()]
    if not isinstance(exclude, list) or len(exclude) > MAX_EXCLUDE:
        raise ValidationFailed(f"'exclude' is a list of at most {MAX_EXCLUDE} item ids.", code="invalid_parameter")
    pattern = item_id_pattern(tenant)
    category = params.get("category")
    if category is not None and (not isinstance(category, str) or len(category) > 255):
        raise ValidationFailed("'category' must be a string.", code="invalid_parameter")
    return Filters(
        category=(category or "").strip() or None,
        min_price=_float(params, "min_price"),
        max_price=_float(params, "max_price"),
        exclude=tuple(validate_id(item, pattern, field="exclude") for item in exclude),
    )


def _user_id(tenant: Tenant, user_id: Any) -> str:
    if user_id in (None, ""):
        raise ValidationFailed("user_id is required.", code="invalid_input", details={"user_id": ["Required."]})
    return validate_id(user_id, user_id_pattern(tenant), field="user_id")


def _item_id(tenant: Tenant, item_id: str) -> str:
    return validate_id(item_id, item_id_pattern(tenant), field="item_id")


RECOMMENDATIONS_OUT = inline_serializer(
    "Recommendations",
    {
        "user_id": serializers.CharField(),
        "items": ItemOut(many=True),
        "model_version": serializers.IntegerField(allow_null=True),
        "strategy": serializers.CharField(help_text="neumf, neumf+popular or popular"),
        "fallback_used": serializers.BooleanField(),
    },
)
FILTER_PARAMS = [
    OpenApiParameter("n", int, description="1-100 (clamped), default 10"),
    OpenApiParameter("category", str, description="main or sub-category, case-insensitive"),
    OpenApiParameter("exclude_seen", bool, description="leave out items the user interacted with (default true)"),
    OpenApiParameter("min_price", float),
    OpenApiParameter("max_price", float),
    OpenApiParameter("exclude", str, description="comma-separated item ids never to return"),
]


def _personalised_request(tenant: Tenant, params: Any, user_id: Any) -> tuple[personalized.Request, str]:
    """The validated request and its key in the user's answer cache."""
    request = personalized.Request(
        user_id=_user_id(tenant, user_id),
        n=parse_int(params, "n", default=10, minimum=1, maximum=100),
        filters=_filters(tenant, params),
        exclude_seen=parse_bool(params, "exclude_seen", default=True),
    )
    return request, f"r:{request.n}:{request.exclude_seen}:{request.filters.cache_key()}"


def personalised_body(tenant: Tenant, params: Any, user_id: Any) -> bytes:
    """Validate a recommendations request and answer it as a JSON body (from the short-lived cache when it can).

    `fastpath` (API-key requests, answered before DRF) sends it as it is; the DRF views decode it.
    """
    request, cache_params = _personalised_request(tenant, params, user_id)
    return results_cache.cached_body(
        tenant_id=tenant.pk,
        user_id=request.user_id,
        params=cache_params,
        ttl=recommendation_settings_for(tenant_id=tenant.pk).result_cache_seconds,
        compute=lambda: personalized.recommend(tenant_id=tenant.pk, request=request),
    )


def personalised_answer(tenant: Tenant, params: Any, user_id: Any) -> dict:
    return json.loads(personalised_body(tenant, params, user_id))


def personalised_read_ahead(tenant: Tenant, params: Any, user_id: Any) -> hotcache.ReadAhead | None:
    """The cache keys `personalised_body` will read for this request (None if it is invalid: it will fail)."""
    try:
        request, cache_params = _personalised_request(tenant, params, user_id)
    except (ValidationFailed, APIException):
        return None
    ttl = recommendation_settings_for(tenant_id=tenant.pk).result_cache_seconds
    return results_cache.read_ahead(tenant_id=tenant.pk, user_id=request.user_id, params=cache_params, ttl=ttl)


class RecommendationsMixin:
    required_scope = "recommend"

    def answer(self, params: Any, user_id: Any) -> Response:
        return Response(personalised_answer(self.tenant, params, user_id))


class RecommendationsApi(RecommendationsMixin, TenantApiView):
    @extend_schema(parameters=FILTER_PARAMS, responses=RECOMMENDATIONS_OUT, tags=["recommendations"])
    def get(self, request, user_id: str):
        return self.answer(request.query_params, user_id)


class RecommendationsPostApi(RecommendationsMixin, TenantApiView):
    class InputSerializer(serializers.Serializer):
        user_id = serializers.CharField()
        n = serializers.IntegerField(required=False)
        category = serializers.CharField(required=False)
        exclude_seen = serializers.BooleanField(required=False)
        min_price = serializers.FloatField(required=False)
        max_price = serializers.FloatField(required=False)
        exclude = serializers.ListField(child=serializers.CharField(), required=False)

    @extend_schema(request=InputSerializer, responses=RECOMMENDATIONS_OUT, tags=["recommendations"])
    def post(self, request):
        data = request.data
        if not isinstance(data, dict):
            raise ValidationFailed("The body must be a JSON object.", code="invalid_input")
        return self.answer(data, data.get("user_id"))


class SimilarItemsApi(TenantApiView):
    required_scope = "recommend"

    @extend_schema(
        parameters=[OpenApiParameter("n", int, description="1-60 (clamped), default 20")],
        responses=inline_serializer(
            "SimilarItems", {"item_id": serializers.CharField(), "similar": ItemOut(many=True)}
        ),
        tags=["recommendations"],
    )
    def get(self, request, item_id: str):
        n = parse_int(request.query_params, "n", default=20, minimum=1, maximum=60)
        return Response(similar.similar_items(tenant_id=self.tenant.pk, item_id=_item_id(self.tenant, item_id), n=n))


class BoughtTogetherApi(TenantApiView):
    required_scope = "recommend"

    @extend_schema(
        parameters=[OpenApiParameter("n", int, description="1-50 (clamped), default 10")],
        responses=inline_serializer(
            "BoughtTogether", {"item_id": serializers.CharField(), "items": RuleItemOut(many=True)}
        ),
        tags=["recommendations"],
    )
    def get(self, request, item_id: str):
        n = parse_int(request.query_params, "n", default=10, minimum=1, maximum=50)
        item_id = _item_id(self.tenant, item_id)
        return Response(associations.bought_together(tenant_id=self.tenant.pk, item_id=item_id, n=n))


class TrendingApi(TenantApiView):
    required_scope = "recommend"

    @extend_schema(
        parameters=[
            OpenApiParameter("n", int, description="1-100 (clamped), default 20"),
            OpenApiParameter("category", str),
        ],
        responses=inline_serializer(
            "Trending",
            {
                "category": serializers.CharField(allow_null=True),
                "decay_per_hour": serializers.FloatField(),
                "items": ItemOut(many=True),
                "fallback_used": serializers.BooleanField(),
            },
        ),
        tags=["recommendations"],
    )
    def get(self, request):
        n = parse_int(request.query_params, "n", default=20, minimum=1, maximum=100)
        category = (request.query_params.get("category") or "").strip() or None
        return Response(popularity.trending(tenant_id=self.tenant.pk, n=n, category=category))


class HomeApi(TenantApiView):
    required_scope = "recommend"

    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description="1-60 (clamped), default 20")],
        responses=inline_serializer(
            "Home",
            {
                "user_id": serializers.CharField(),
                "personalized": ItemOut(many=True),
                "trending": ItemOut(many=True),
                "best_value": ItemOut(many=True),
                "top_categories": serializers.DictField(child=ItemOut(many=True)),
                "diverse_picks": ItemOut(many=True),
            },
        ),
        tags=["recommendations"],
    )
    def get(self, request, user_id: str):
        limit = parse_int(request.query_params, "limit", default=20, minimum=1, maximum=60)
        return Response(home.home(tenant_id=self.tenant.pk, user_id=_user_id(self.tenant, user_id), limit=limit))


class SearchApi(TenantApiView):
    required_scope = "recommend"

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=True),
            OpenApiParameter("limit", int, description="1-6000 (clamped), default 20"),
            OpenApiParameter("user_id", str, description="personalise with this user's history"),
        ],
        responses=inline_serializer(
            "Search",
            {
                "query": serializers.CharField(),
                "expanded_terms": serializers.ListField(child=serializers.CharField()),
                "results": ItemOut(many=True),
                "fallback_reason": serializers.CharField(required=False),
            },
        ),
        tags=["recommendations"],
    )
    def get(self, request):
        params = request.query_params
        limit = parse_int(params, "limit", default=20, minimum=1, maximum=6000)
        user_id = params.get("user_id")
        user_id = _user_id(self.tenant, user_id) if user_id not in (None, "") else None
        return Response(search.search(tenant_id=self.tenant.pk, q=params.get("q", ""), limit=limit, user_id=user_id))
