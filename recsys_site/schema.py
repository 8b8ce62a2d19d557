"""OpenAPI generation tweaks."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as BaseAutoSchema


class AutoSchema(BaseAutoSchema):
    """Name nested `InputSerializer`/`OutputSerializer` classes after their view (`SignupApiInput`).

    Every API view declares its own nested serializers, so their bare class names repeat.
    """

    def get_serializer_name(self, serializer, direction) -> str:
        cls = serializer.__class__
        outer, _, inner = cls.__qualname__.rpartition(".")
        if outer and inner in {"InputSerializer", "OutputSerializer"}:
            return outer.replace(".", "") + inner.removesuffix("Serializer")
        return cls.__name__
