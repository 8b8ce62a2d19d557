"""NUL characters never reach the database.

PostgreSQL refuses U+0000 in text and jsonb, so a NUL that got as far as a query would be a 500. They are
refused at the edge instead: in the path and query string by :class:`RejectNulMiddleware`, in JSON bodies
by :class:`JSONParser`, each with a 400 in the error envelope. Files have their own per-row checks.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_to_bytes

from django.http import JsonResponse
from django.shortcuts import render
from rest_framework import parsers
from rest_framework.exceptions import ParseError

NUL = "\x00"


def contains_nul(value: Any) -> bool:
    """True when a string, or any key or string value at any depth of a list/dict, holds a NUL."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(contains_nul(key) or contains_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(item) for item in value)
    return False


class RejectNulMiddleware:
    """400 for a NUL (``%00``) anywhere in the path or the query string, before any view reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        query = request.META.get("QUERY_STRING", "")
        if NUL in request.path or b"\x00" in unquote_to_bytes(query.replace("+", " ")):
            message = "The address contains a NUL character (%00), which no id or parameter may hold."
            if request.path.startswith(("/api/", "/health")):
                from .exceptions import envelope  # not at import time: DRF's settings import this module

                return JsonResponse(envelope("invalid_parameter", message), status=400)
            return render(request, "errors/error.html", {"status": 400, "message": message}, status=400)
        return self.get_response(request)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing a NUL (``\\u0000``) in any string of the body."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        if contains_nul(data):
            raise ParseError("The JSON body contains a NUL character (\\u0000), which no field may hold.")
        return data
