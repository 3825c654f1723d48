"""The event POST body in the OpenAPI document: a union discriminated on `type`.

The serializer (``EventCreateSerializer``) reads the envelope (type, date, reason, override,
version) and leaves `data` to ``treatments.payloads``, where each event type's payload is a
pydantic model. This extension publishes those same models: one component per event type
(``RecurrenceDetectedData``, ...) with every field's description, range, unit (``x-unit``)
and example, and one request branch per type (``RecurrenceDetectedEventRequest``, ...) whose
`type` is that event and whose `data` is that payload. What the schema documents is what the
service validates.

pydantic writes JSON Schema 2020-12; the document is OpenAPI 3.0.3, so each schema is
rewritten in its dialect (``const`` as a one-value ``enum``, a nullable ``anyOf`` as
``nullable``, a numeric ``exclusiveMinimum`` as ``minimum`` plus ``exclusiveMinimum: true``,
``examples`` as one ``example``).
"""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.plumbing import ResolvedComponent

from treatments.payloads import DATA_MODELS, payload_json_schema

COMPONENTS = "#/components/schemas/"


def to_openapi_30(schema: Any) -> Any:
    """``schema`` (JSON Schema 2020-12, as pydantic writes it) in OpenAPI 3.0.3's dialect."""
    if isinstance(schema, list):
        return [to_openapi_30(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "title":
            continue  # the component's name says it; field titles only repeat the field name
        if key == "const":
            out["enum"] = [value]
        elif key == "examples":
            out["example"] = value[0]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        elif key in ("properties", "$defs", "mapping"):
            out[key] = {name: to_openapi_30(item) for name, item in value.items()}
        else:
            out[key] = to_openapi_30(value)
    nullable = [s for s in out.get("anyOf", []) if s != {"type": "null"}]
    if "anyOf" in out and len(nullable) == 1 and len(out["anyOf"]) == 2:
        # X | None: the value's own schema, marked nullable, keeping the outer description.
        del out["anyOf"]
        out = {**nullable[0], **out, "nullable": True}
    return out


def _data_component(name: str) -> str:
    return f"{name}Data"


class EventCreateSchema(OpenApiSerializerExtension):
    """The event POST body: the envelope of EventCreateSerializer, one branch per event type."""

    target_class = "api.serializers.EventCreateSerializer"

    def map_serializer(self, auto_schema: Any, direction: str) -> dict[str, Any]:
        envelope = auto_schema._map_serializer(self.target_class, direction, bypass_extensions=True)
        if direction != "request":
            return envelope
        union = payload_json_schema(ref_template=COMPONENTS + "{model}")
        definitions = to_openapi_30(union["$defs"])
        mapping: dict[str, str] = {}
        for event, model in DATA_MODELS.items():
            data_name = model.__name__
            self._register(auto_schema, data_name, definitions[data_name])
            branch_name = data_name.removesuffix("Data") + "EventRequest"
            self._register(auto_schema, branch_name, self._branch(envelope, str(event), model))
            mapping[str(event)] = COMPONENTS + branch_name
        return {
            "oneOf": [{"$ref": ref} for ref in mapping.values()],
            "discriminator": {"propertyName": "type", "mapping": mapping},
            "description": "One clinical event: `type` picks the shape of `data` "
            "(docs/api.md#event-types).",
        }

    @staticmethod
    def _branch(envelope: dict[str, Any], event: str, model: Any) -> dict[str, Any]:
        branch = copy.deepcopy(envelope)
        branch["description"] = (model.__doc__ or "").strip()
        properties = branch["properties"]
        properties["type"] = {"type": "string", "enum": [event]}
        properties["data"] = {
            "allOf": [{"$ref": COMPONENTS + model.__name__}],
            "description": "The event's payload; unknown keys are refused.",
        }
        required = [name for name in branch.get("required", []) if name != "data"]
        if any(field.is_required() for field in model.model_fields.values()):
            required.append("data")
        branch["required"] = required
        return branch

    @staticmethod
    def _register(auto_schema: Any, name: str, schema: dict[str, Any]) -> None:
        component = ResolvedComponent(
            name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema
        )
        auto_schema.registry.register_on_missing(component)
