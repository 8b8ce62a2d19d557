"""Auth and keys: signup, JWT, the tenant, API keys."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from recsys_site.api import PAGE_PARAMETERS, ManagementApiView, Pagination, paginated, validated

from . import selectors, services
from .models import ApiKey
from .throttling import AuthEndpointThrottle


class ApiKeyOutput(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "last_four", "scopes", "created_at", "last_used_at", "revoked_at"]


class NewApiKeyOutput(serializers.Serializer):
    id = serializers.IntegerField(source="api_key.id")
    name = serializers.CharField(source="api_key.name")
    prefix = serializers.CharField(source="api_key.prefix")
    scopes = serializers.ListField(child=serializers.CharField(), source="api_key.scopes")
    created_at = serializers.DateTimeField(source="api_key.created_at")
    key = serializers.CharField(help_text="The full key. It is shown only once: store it now.")


class SignupApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthEndpointThrottle]

    class InputSerializer(serializers.Serializer):
        email = serializers.CharField(max_length=254)
        password = serializers.CharField(max_length=128, trim_whitespace=False)
        tenant_name = serializers.CharField(max_length=120)

    class OutputSerializer(serializers.Serializer):
        user = inline_serializer("SignupUser", {"id": serializers.IntegerField(), "email": serializers.EmailField()})
        tenant = inline_serializer(
            "SignupTenant",
            {"id": serializers.IntegerField(), "name": serializers.CharField(), "slug": serializers.CharField()},
        )
        access = serializers.CharField()
        refresh = serializers.CharField()
        api_key = NewApiKeyOutput()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer}, tags=["auth"], auth=[])
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        signup = services.user_signup(**data)
        refresh = RefreshToken.for_user(signup.user)
        body = {
            "user": {"id": signup.user.pk, "email": signup.user.email},
            "tenant": {"id": signup.tenant.pk, "name": signup.tenant.name, "slug": signup.tenant.slug},
            "access": str(refresh.access_token),
            "refresh": str(refresh),
            "api_key": NewApiKeyOutput(signup.first_key).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class TokenApi(TokenObtainPairView):
    """`{email, password}` → `{access, refresh}`."""

    authentication_classes: list = []
    throttle_classes = [AuthEndpointThrottle]

    @extend_schema(tags=["auth"], auth=[])
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class TokenRefreshApi(TokenRefreshView):
    authentication_classes: list = []
    throttle_classes = [AuthEndpointThrottle]

    @extend_schema(tags=["auth"], auth=[])
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class TenantOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    user_id_pattern = serializers.CharField()
    item_id_pattern = serializers.CharField()
    rate_limit_per_minute = serializers.IntegerField()
    role = serializers.CharField()
    usage = inline_serializer(
        "TenantUsage",
        {
            "items": serializers.IntegerField(),
            "users": serializers.IntegerField(),
            "events": serializers.IntegerField(),
            "events_last_24h": serializers.IntegerField(),
        },
    )
    active_model = serializers.DictField(allow_null=True)


def _tenant_body(view: ManagementApiView) -> dict:
    from training.apis import ModelVersionOutput

    tenant = view.tenant
    usage = selectors.tenant_usage(tenant=tenant)
    active = usage.pop("active_model")
    return {
        "id": tenant.pk,
        "name": tenant.name,
        "slug": tenant.slug,
        "user_id_pattern": tenant.user_id_pattern,
        "item_id_pattern": tenant.item_id_pattern,
        "rate_limit_per_minute": tenant.rate_limit_per_minute,
        "role": view.membership.role,
        "usage": usage,
        "active_model": ModelVersionOutput(active).data if active else None,
    }


class TenantDetailApi(ManagementApiView):
    owner_only = True

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=120, required=False)
        user_id_pattern = serializers.CharField(max_length=255, required=False, allow_blank=True)
        item_id_pattern = serializers.CharField(max_length=255, required=False, allow_blank=True)
        rate_limit_per_minute = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False)

    @extend_schema(responses=TenantOutput, tags=["auth"])
    def get(self, request):
        return Response(_tenant_body(self))

    @extend_schema(request=InputSerializer, responses=TenantOutput, tags=["auth"])
    def patch(self, request):
        data = validated(self.InputSerializer, request.data)
        self.tenant = services.tenant_update(tenant=self.tenant, **data)
        return Response(_tenant_body(self))


class ApiKeyListApi(ManagementApiView):
    owner_only = True

    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        scopes = serializers.ListField(child=serializers.CharField(), required=False, allow_empty=False)

    @extend_schema(
        operation_id="api_keys_list", parameters=PAGE_PARAMETERS, responses=paginated(ApiKeyOutput), tags=["auth"]
    )
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.api_key_list(tenant=self.tenant), request, view=self)
        return paginator.get_paginated_response(ApiKeyOutput(page, many=True).data)

    @extend_schema(request=InputSerializer, responses={201: NewApiKeyOutput}, tags=["auth"])
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        new_key = services.api_key_create(
            tenant=self.tenant, name=data["name"], scopes=data.get("scopes"), created_by=request.user
        )
        return Response(NewApiKeyOutput(new_key).data, status=status.HTTP_201_CREATED)


class ApiKeyDetailApi(ManagementApiView):
    owner_only = True

    @extend_schema(responses={204: None}, tags=["auth"])
    def delete(self, request, key_id: int):
        services.api_key_revoke(tenant=self.tenant, key_id=key_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
