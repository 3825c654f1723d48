"""One error body for every failure: `{code, detail, errors}` (docs/api.md#errors)."""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import DomainError

from .params import InvalidFilter

_CODES = {
    InvalidFilter: "invalid_filter",
    exceptions.ParseError: "invalid",
    exceptions.ValidationError: "invalid",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def _flatten(data: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error dicts as `{"patient.mrn": ["..."]}`."""
    out: dict[str, list[str]] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors" and prefix:
                name = prefix
            out.update(_flatten(value, name))
    elif isinstance(data, list):
        if all(not isinstance(v, dict | list) for v in data):
            out[prefix or "non_field_errors"] = [str(v) for v in data]
        else:
            for index, value in enumerate(data):
                out.update(_flatten(value, f"{prefix}.{index}" if prefix else str(index)))
    else:
        out[prefix or "non_field_errors"] = [str(data)]
    return out


# A lost or refused database connection is an outage, not a bug: clients may retry.
UNAVAILABLE_BODY = {
    "code": "unavailable",
    "detail": "The service is temporarily unavailable; try again shortly.",
    "errors": {},
}
RETRY_AFTER_SECONDS = 30


def unavailable_response() -> Response:
    """503 `unavailable` with Retry-After, the answer to a lost database connection."""
    return Response(
        dict(UNAVAILABLE_BODY),
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler with every body reshaped to `{code, detail, errors}`.

    Database OperationalError/InterfaceError (connection lost, server down) answer 503
    `unavailable`; any other unexpected exception is left to Django (a 500).
    """
    if isinstance(exc, OperationalError | InterfaceError):
        return unavailable_response()
    if isinstance(exc, DomainError):
        body = exc.as_body()
        body.setdefault("errors", {})
        return Response(body, status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, RequestDataTooBig):
        # Django refuses a body over DATA_UPLOAD_MAX_MEMORY_SIZE when DRF reads it; left alone
        # it would become Django's HTML "Bad Request" page.
        exc = exceptions.ParseError("The request body is too large.")
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    # DRF's exceptions map to the codes of docs/api.md#errors; our own APIExceptions carry theirs.
    code = next(
        (c for cls, c in _CODES.items() if isinstance(exc, cls)),
        getattr(exc, "default_code", "error"),
    )
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(response.data)
        body = {"code": code, "detail": "Invalid input.", "errors": errors}
    else:
        detail = response.data.get("detail") if isinstance(response.data, dict) else None
        body = {"code": code, "detail": str(detail or exc), "errors": {}}
    if response.status_code == status.HTTP_404_NOT_FOUND:
        # Byte-identical for "no such id" and "not yours": existence is never revealed.
        body = {"code": "not_found", "detail": "Not found.", "errors": {}}
    response.data = body
    return response
