"""Event payloads: one pydantic model per event type, declared once and used three ways.

The models are in ``treatments.payload_models``; this module uses them:

1. ``validate_data`` cleans an event's ``data`` for ``treatments.services.record_event``
   (every door: API, admin, result feeds, tasks) and answers field errors in the project's
   own short sentences, keyed by field name.
2. ``EVENT_PAYLOAD`` is the discriminated union of ``{"type": ..., "data": ...}`` on
   ``type``; its JSON Schema (``payload_json_schema``) is what the API publishes for the
   event POST body, so the documented payloads are the validated ones.
3. ``event_fields`` lists each event's fields with their kind, range, unit and choices, so a
   form (the coordinator's admin) can be built from the same declaration.

Strict on purpose: unknown keys are errors (a misspelt ``ned`` must not silently send a
patient back to surveillance), numbers must be JSON numbers and not booleans or text, and
dates must be real calendar days. The clinical limits (a labelled dose, a PRRT activity) are
not payload checks: they are the guideline guards of ``treatments.machine`` (422,
overridable). The fields are listed in docs/api.md#event-types.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from .machine import EventType
from .payload_fields import ISO_DAY, RefersTo, parse_calendar_date
from .payload_models import DATA_MODELS, EventData

__all__ = [
    "DATA_MODELS",
    "EVENT_PAYLOAD",
    "EVENT_TYPES",
    "ISO_DAY",
    "NOT_NULL",
    "REQUIRED",
    "UNKNOWN_FIELD",
    "UNKNOWN_TYPE",
    "EventData",
    "PayloadField",
    "RefersTo",
    "event_fields",
    "parse_calendar_date",
    "payload_json_schema",
    "references",
    "validate_data",
]

REQUIRED: Final = "This field is required."
NOT_NULL: Final = "This field may not be null."
UNKNOWN_FIELD: Final = "Unknown field."
NOT_AN_OBJECT: Final = "Must be an object."
EVENT_TYPES: Final = frozenset(str(e) for e in EventType)
UNKNOWN_TYPE: Final = f"Unknown event type. Expected one of: {', '.join(EventType)}."


def _typed_event(event: EventType, data_model: type[EventData]) -> type[BaseModel]:
    """``{"type": <event>, "data": <its payload>}``: one branch of the union."""
    required = any(f.is_required() for f in data_model.model_fields.values())
    data_default: Any = ... if required else Field(default_factory=dict)
    return create_model(
        data_model.__name__.removesuffix("Data") + "Event",
        __config__=ConfigDict(extra="forbid"),
        __doc__=data_model.__doc__,
        type=(Literal[str(event)], ...),
        data=(data_model, data_default),
    )


# The event body's (type, data) pair, discriminated on `type`.
EVENT_PAYLOAD: Final = TypeAdapter(
    Annotated[
        Union[tuple(_typed_event(e, m) for e, m in DATA_MODELS.items())],  # noqa: UP007
        Field(discriminator="type"),
    ]
)


def payload_json_schema(ref_template: str = "#/$defs/{model}") -> dict[str, Any]:
    """The JSON Schema (2020-12) of ``EVENT_PAYLOAD``: a ``oneOf`` with a ``discriminator``.

    Each branch (``RecurrenceDetectedEvent``, ...) and each payload (``RecurrenceDetectedData``,
    ...) is a definition under ``$defs``, referred to with ``ref_template`` (e.g.
    ``"#/components/schemas/{model}"`` for an OpenAPI document). Every field carries its
    description and an example; numbers their range and ``x-unit``.
    """
    return EVENT_PAYLOAD.json_schema(ref_template=ref_template)


# --------------------------------------------------------------------------------------------
# Validation: pydantic's errors in the project's words
# --------------------------------------------------------------------------------------------


@functools.cache
def _properties(model: type[EventData]) -> dict[str, Any]:
    """The JSON Schema of each field of ``model``: ranges and choices are read from it."""
    return model.model_json_schema()["properties"]


def _choices(schema: Mapping[str, Any]) -> tuple[str, ...]:
    """The allowed values of a choice field's JSON Schema (one value is written as ``const``)."""
    if "const" in schema:
        return (schema["const"],)
    return tuple(schema.get("enum", ()))


def _range_message(schema: Mapping[str, Any]) -> str:
    """The range sentence of one numeric field, from its own JSON Schema."""
    if "anyOf" in schema:  # optional: the first branch is the value's own
        schema = schema["anyOf"][0]
    if schema.get("type") == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        if high is None:
            return f"Must be a whole number of {low} or more."
        return f"Must be a whole number from {low} to {high}."
    if "exclusiveMinimum" not in schema:
        return f"Must be a number from {schema['minimum']:g} to {schema['maximum']:g}."
    return f"Must be greater than {schema['exclusiveMinimum']:g} and at most {schema['maximum']:g}."


_RANGE_ERRORS: Final = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}
)
_MESSAGES: Final[Mapping[str, str]] = {
    "missing": REQUIRED,
    "extra_forbidden": UNKNOWN_FIELD,
    "bool_type": "Must be true or false.",
    "string_type": "Must be a non-empty text.",
    "string_too_short": "Must be a non-empty text.",
    "int_from_float": "Must be a whole number.",
}


def _message(model: type[EventData], error: Mapping[str, Any]) -> str:
    name = str(error["loc"][0]) if error["loc"] else ""
    field = model.model_fields.get(name)
    kind = error["type"]
    if error["input"] is None and field is not None and field.is_required():
        return NOT_NULL
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "literal_error":
        schema = _properties(model)[name]
        schema = schema["anyOf"][0] if "anyOf" in schema else schema  # an optional choice
        return f"Must be one of: {', '.join(_choices(schema))}."
    if kind == "string_too_long":
        return f"Must be at most {error['ctx']['max_length']} characters."
    if kind in _RANGE_ERRORS:
        return _range_message(_properties(model)[name])
    if kind in ("number_type", "finite_number", "calendar_date"):
        return str(error["msg"])
    return "Invalid value."


def validate_data(event_type: str, data: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Clean an event's ``data``: (cleaned data, field errors), one of them empty.

    ``event_type`` is an EventType value; ``data`` should be a mapping of field name to JSON
    value (a ``date`` or ``Decimal`` from a form is accepted too). The cleaned data holds only
    JSON values: dates as ISO strings, whole numbers as ints, text trimmed; optional fields
    sent as null are dropped. Errors are keyed by field name ("type" for an unknown event
    type, "data" when ``data`` is not an object), each a list of one short sentence.
    """
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        return {}, {"type": [UNKNOWN_TYPE]}
    event = EventType(event_type)
    if not isinstance(data, Mapping):
        return {}, {"data": [NOT_AN_OBJECT]}
    model = DATA_MODELS[event]
    try:
        payload = model.model_validate(dict(data))
    except ValidationError as invalid:
        errors: dict[str, list[str]] = {}
        for error in invalid.errors():
            key = str(error["loc"][0]) if error["loc"] else "data"
            errors.setdefault(key, [_message(model, error)])
        return _cleaned_without(model, data, errors), errors
    cleaned = payload.model_dump(exclude_none=True)
    combined = payload.field_errors()
    if combined:
        return {k: v for k, v in cleaned.items() if k not in combined}, {
            key: [message] for key, message in combined.items()
        }
    return cleaned, {}


def _cleaned_without(
    model: type[EventData], data: Mapping[str, Any], errors: Mapping[str, Any]
) -> dict[str, Any]:
    # The fields that were valid, cleaned one by one: the service still checks their dates and
    # ids, so one answer lists every mistake.
    cleaned = {}
    for name in model.model_fields:
        if name in data and name not in errors and data[name] is not None:
            adapter = _field_adapter(model, name)
            cleaned[name] = adapter.dump_python(adapter.validate_python(data[name]))
    return cleaned


@functools.cache
def _field_adapter(model: type[EventData], name: str) -> TypeAdapter[Any]:
    info = model.model_fields[name]
    return TypeAdapter(Annotated[info.annotation, info])


# --------------------------------------------------------------------------------------------
# What a form or the service needs to know about each field
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PayloadField:
    """One data field of an event, as a form builds it.

    ``kind`` is "choice", "boolean", "number" (any JSON number), "integer", "text", "date" or
    "record" (the id of another record of the course, ``refers_to`` "app_label.Model").
    ``minimum``/``maximum`` bound numbers (``exclusive_minimum`` when the minimum itself is
    refused); ``max_length`` bounds text; ``unit`` is "mg", "GBq", "days" or "cycles".
    """

    name: str
    kind: str
    required: bool
    description: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    max_length: int | None = None
    unit: str = ""
    example: Any = None
    refers_to: str = ""


def _kind(schema: Mapping[str, Any], refers_to: str) -> str:
    if refers_to:
        return "record"
    if _choices(schema):
        return "choice"
    if schema.get("format") == "date":
        return "date"
    return {"boolean": "boolean", "number": "number", "integer": "integer"}.get(
        schema.get("type", ""), "text"
    )


def _refers_to(model: type[EventData], name: str) -> str:
    annotation = model.model_fields[name].annotation
    for member in getattr(annotation, "__args__", (annotation,)):
        for marker in getattr(member, "__metadata__", ()):
            if isinstance(marker, RefersTo):
                return marker.model
    return ""


def event_fields(event_type: str) -> tuple[PayloadField, ...]:
    """The data fields of ``event_type``, in declaration order, read from its payload model.

    Raises ValueError for an unknown event type.
    """
    model = DATA_MODELS[EventType(event_type)]
    properties = _properties(model)
    fields = []
    for name, info in model.model_fields.items():
        schema = properties[name]
        value = schema["anyOf"][0] if "anyOf" in schema else schema
        refers_to = _refers_to(model, name)
        exclusive = "exclusiveMinimum" in value
        fields.append(
            PayloadField(
                name=name,
                kind=_kind(value, refers_to),
                required=info.is_required(),
                description=info.description or "",
                choices=_choices(value),
                minimum=value.get("exclusiveMinimum" if exclusive else "minimum"),
                maximum=value.get("maximum"),
                exclusive_minimum=exclusive,
                max_length=value.get("maxLength"),
                unit=schema.get("x-unit", ""),
                example=(info.examples or [None])[0],
                refers_to=refers_to,
            )
        )
    return tuple(fields)


def references(event_type: str) -> dict[str, str]:
    """Field name -> "app_label.Model" for the fields of ``event_type`` that hold record ids."""
    return {f.name: f.refers_to for f in event_fields(event_type) if f.refers_to}
