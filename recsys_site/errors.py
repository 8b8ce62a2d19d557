"""The one family of errors that services raise.

Every error a client sees is rendered by `recsys_site.exceptions.api_exception_handler` as
`{"error": {"code", "message", "details"}}`. Services and parsers raise the subclasses below; they
never import DRF, so they can be used from tasks, management commands and pure modules alike.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    status_code = 400
    default_code = "invalid_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.details = details or {}


class ValidationFailed(ApplicationError):
    status_code = 400
    default_code = "invalid_input"


class NotFound(ApplicationError):
    status_code = 404
    default_code = "not_found"


class Conflict(ApplicationError):
    status_code = 409
    default_code = "conflict"


class PayloadTooLarge(ApplicationError):
    status_code = 413
    default_code = "upload_too_large"


class UnsupportedFile(ApplicationError):
    status_code = 415
    default_code = "unsupported_file"


class NotReady(ApplicationError):
    status_code = 503
    default_code = "not_ready"
