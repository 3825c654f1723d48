"""Serializers that refuse unknown fields instead of silently ignoring them."""

from typing import Any

from rest_framework import serializers

UNKNOWN_FIELD = "Unknown field."


class StrictSerializer(serializers.Serializer):
    """A body key that is not a writable field answers 400 (no silent mass assignment)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, f in self.fields.items() if not f.read_only}
            unknown = {key: [UNKNOWN_FIELD] for key in data if key not in writable}
            if unknown:
                raise serializers.ValidationError(unknown, code="unknown_field")
        return super().to_internal_value(data)


class StrictDictField(serializers.DictField):
    """A JSON object of bounded size (event data)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            self.fail("not_a_dict", input_type=type(data).__name__)
        if len(data) > 50:
            raise serializers.ValidationError("Too many keys.")
        return dict(data)
