"""Base views of the REST API: the tenant is resolved once per request, before permissions."""

from __future__ import annotations

import functools
from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.views import APIView

from accounts.authentication import AuthenticatedKey
from accounts.models import Membership, Tenant
from accounts.permissions import TenantAccess
from accounts.selectors import membership_for_request
from recsys_site.errors import ValidationFailed


class TenantApiView(APIView):
    """Every tenant-scoped endpoint derives from this.

    `self.tenant` comes from the API key (`request.auth.tenant`) or from the account's membership
    (JWT or session; `X-Tenant: <slug>` picks one when an account belongs to several). Views never
    read a tenant id from the request.
    """

    permission_classes = [TenantAccess]
    required_scope: str | None = None
    api_key_allowed = True
    owner_only = False

    tenant: Tenant | None = None
    membership: Membership | None = None

    def scope_for(self, method: str) -> str | None:
        """The API-key scope this request needs; views with mixed needs override it."""
        return self.required_scope

    def initial(self, request, *args, **kwargs):
        self.perform_authentication(request)
        if isinstance(request.auth, AuthenticatedKey):
            self.tenant = request.auth.tenant
        elif request.user and request.user.is_authenticated:
            self.membership = membership_for_request(request._request)
            self.tenant = self.membership.tenant if self.membership else None
        super().initial(request, *args, **kwargs)


class ManagementApiView(TenantApiView):
    """Account-only endpoints (keys, tenant): JWT or session, not an API key."""

    api_key_allowed = False


class Pagination(PageNumberPagination):
    """`?page=` (from 1) and `?page_size=` (1-500, clamped; default 50). A non-integer or a page below 1 is a
    400 like any bad parameter; a page past the last one is a 404 (follow `next` until it is null)."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request) -> int:
        return parse_int(
            request.query_params, self.page_size_query_param, default=self.page_size, minimum=1,
            maximum=self.max_page_size,
        )  # fmt: skip

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param)
        if raw in self.last_page_strings:
            return paginator.num_pages
        number = parse_int(request.query_params, self.page_query_param, default=1, minimum=0, maximum=2**62)
        if number < 1:
            raise ValidationFailed(
                f"'{self.page_query_param}' must be 1 or more.",
                code="invalid_parameter",
                details={self.page_query_param: [f"Invalid: {raw!r}."]},
            )
        return number


PAGE_PARAMETERS = [
    OpenApiParameter("page", int, description="1 or more, or `last` (default 1)"),
    OpenApiParameter("page_size", int, description="1-500 (clamped), default 50"),
]


@functools.cache
def paginated(serializer_class: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of a :class:`Pagination` page of ``serializer_class`` (``count``, ``next``, ``previous``,
    ``results``), for ``@extend_schema(responses=paginated(X))`` on plain API views."""
    name = serializer_class.__name__.removesuffix("Serializer").removesuffix("Output")
    return type(
        f"Paginated{name}List",
        (serializers.Serializer,),
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )


def parse_int(params: Any, name: str, *, default: int, minimum: int, maximum: int) -> int:
    """An integer query parameter clamped to [minimum, maximum]; a non-integer is a 400."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValidationFailed(
            f"'{name}' must be an integer.", code="invalid_parameter", details={name: [f"Not an integer: {raw!r}."]}
        ) from None
    return max(minimum, min(maximum, value))


def parse_bool(params: Any, name: str, *, default: bool) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        return raw
    lowered = str(raw).strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValidationFailed(
        f"'{name}' must be true or false.", code="invalid_parameter", details={name: [f"Not a boolean: {raw!r}."]}
    )


def validated(serializer_class: type[serializers.Serializer], data: Any, **kwargs) -> dict:
    """Validate input with a serializer; errors become a 400 envelope listing each field."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
