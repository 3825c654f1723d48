"""OpenAPI generation that documents what clients actually receive, errors included.

drf-spectacular documents only the success response. Clients (and schemathesis) also get
`{code, detail, errors}` bodies for every refusal (docs/api.md#errors), so each operation lists
the error statuses it can answer with the ErrorBody component, and every POST that honours
`Idempotency-Key` documents the header.
"""

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from .idempotency import MAX_KEY_LENGTH


class ErrorBody(serializers.Serializer):
    """Every error: a machine-readable code, a sentence, and field errors (maybe empty).

    Some codes add fields: `state` and `allowed_events` (transition_not_allowed), `guard`,
    `reason`, `source`, `evidence`, `rule_version`, `override_allowed` and `failures`
    (guideline_guard).
    """

    code = serializers.CharField()
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))
    rule_version = serializers.CharField(
        required=False,
        help_text="guideline_guard: the version of the clinical rule set whose guard refused "
        "(docs/api.md#rule-versions); each of `failures` carries its own.",
    )


ERRORS: dict[str, str] = {
    "400": "invalid: malformed or invalid input (NUL and lone surrogates included); "
    "invalid_filter: a query parameter that cannot be read. `errors` maps fields to messages.",
    "401": "not_authenticated: no, invalid or expired credentials.",
    "403": "permission_denied: the caller's role may not do this.",
    "404": "not_found: no such object for this caller.",
    "409": "transition_not_allowed, stale_version, conflict or idempotency_in_progress.",
    "415": "unsupported_media_type: the body is not application/json.",
    "422": "guideline_guard (clinician may override) or idempotency_key_reused.",
    "429": "throttled (with Retry-After) or locked_out.",
    "503": "unavailable: the database cannot be reached, try again (Retry-After); "
    "read_log_unavailable (reads): the read cannot be logged, so no patient data is returned.",
}

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    location=OpenApiParameter.HEADER,
    description="A retry with the same key returns the first response and writes nothing new; "
    "the same key with another body answers 422.",
)


class NetcareAutoSchema(AutoSchema):
    """AutoSchema plus the error responses and the Idempotency-Key header of each operation."""

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        if self.method == "POST" and getattr(self._handler(), "idempotent", False):
            parameters.append(IDEMPOTENCY_KEY)
        return parameters

    def _map_serializer_field(
        self, field: serializers.Field, direction: str, bypass_extensions: bool = False
    ) -> dict[str, Any]:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # DRF drops allow_blank from read-only model fields, so a blank choice the model
        # allows ("no skip reason yet") would be answered but not documented.
        if (
            isinstance(field, serializers.ChoiceField)
            and field.read_only
            and "" not in schema.get("enum", [""])
            and _model_field_is_blank(field)
        ):
            schema = {**schema, "enum": [*schema["enum"], ""]}
        return schema

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for status in self.error_statuses():
            error = OpenApiResponse(response=ErrorBody, description=ERRORS[status])
            responses.setdefault(status, self._get_response_for_code(error, status))
        return responses

    def error_statuses(self) -> list[str]:
        """The error statuses this operation can answer with, from the view's own setup."""
        permissions = list(self.view.permission_classes)
        public = all(issubclass(p, AllowAny) for p in permissions)
        writes = self.method not in ("GET", "HEAD", "OPTIONS")
        # Any operation may find the database gone (503 unavailable).
        statuses = ["400", "401", "429", "503"]
        if not public:
            statuses.append("403")
        if "{" in self.path:
            statuses.append("404")
        if writes and not public:
            statuses += ["409", "415", "422"]
        elif writes:
            statuses.append("415")
        return sorted(statuses)

    def _handler(self) -> Any:
        return getattr(self.view, self.method.lower(), None)


def _model_field_is_blank(field: serializers.Field) -> bool:
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    if model is None or "." in field.source:
        return False
    try:
        return bool(model._meta.get_field(field.source).blank)
    except FieldDoesNotExist:
        return False
