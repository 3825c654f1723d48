"""Serializers that refuse unknown fields instead of silently ignoring them."""

from typing import Any

from rest_framework import serializers

from treatments.payload_fields import ISO_DAY, parse_calendar_date

UNKNOWN_FIELD = "Unknown field."
# An error body names the unknown keys, but a hostile body may carry thousands of them, each
# thousands of characters long: echo a few, shortened, so the answer stays small.
MAX_UNKNOWN_REPORTED = 20
MAX_KEY_ECHO = 100


class StrictSerializer(serializers.Serializer):
    """A body key that is not a writable field answers 400 (no silent mass assignment)."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, f in self.fields.items() if not f.read_only}
            unknown = [str(key) for key in data if key not in writable]
            if unknown:
                shown = {key[:MAX_KEY_ECHO]: [UNKNOWN_FIELD] for key in unknown}
                if len(shown) > MAX_UNKNOWN_REPORTED:
                    shown = dict(list(shown.items())[:MAX_UNKNOWN_REPORTED])
                    shown["non_field_errors"] = [f"{len(unknown)} unknown fields in all."]
                raise serializers.ValidationError(shown, code="unknown_field")
        return super().to_internal_value(data)


class StrictDictField(serializers.DictField):
    """A JSON object of bounded size (event data)."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            self.fail("not_a_dict", input_type=type(data).__name__)
        if len(data) > 50:
            raise serializers.ValidationError("Too many keys.")
        return dict(data)


class CalendarDateField(serializers.DateField):
    """A day as YYYY-MM-DD; a well-formed day that does not exist says so.

    DRF answers "Date has wrong format" for 2026-02-30, which sends the client looking for a
    format problem. The message comes from the one reader of event dates
    (``treatments.payload_fields.parse_calendar_date``), so every door words it alike.
    """

    def to_internal_value(self, value: Any) -> Any:
        if isinstance(value, str) and ISO_DAY.fullmatch(value):
            try:
                parse_calendar_date(value)
            except ValueError as problem:
                raise serializers.ValidationError(str(problem), code="invalid") from None
        return super().to_internal_value(value)
