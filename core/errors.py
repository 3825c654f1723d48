"""Errors the services raise, each with an HTTP status and a machine-readable code.

The API turns them into `{code, detail, errors, ...}` bodies and the admin into messages, so
a rule refused in one place reads the same everywhere.
"""

from collections.abc import Mapping, Sequence
from typing import Any


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def as_body(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, **self.extra}


class InvalidInput(DomainError):
    """400: the input is malformed or breaks a rule; `errors` maps fields to messages."""

    def __init__(self, errors: Mapping[str, Sequence[str]], detail: str = "Invalid input.") -> None:
        clean = {field: [str(m) for m in messages] for field, messages in errors.items()}
        super().__init__(detail, errors=clean)
        self.errors = clean


class NotFound(DomainError):
    status = 404
    code = "not_found"


class PermissionDenied(DomainError):
    status = 403
    code = "permission_denied"


class TransitionNotAllowed(DomainError):
    status = 409
    code = "transition_not_allowed"


class StaleVersion(DomainError):
    status = 409
    code = "stale_version"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class GuidelineGuard(DomainError):
    status = 422
    code = "guideline_guard"
