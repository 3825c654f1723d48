"""The form of one event, built from its payload model (treatments.payloads.event_fields).

Only the widgets are chosen here: what is required, the ranges and the guards stay the
payload models' and the machine's, and ``treatments.services.record_event`` checks them again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from treatments import machine, payloads
from treatments.services import missing_reasons

# The same bound as the API's reason fields.
REASON_MAX = 2000


def _choices(values: Iterable[str]) -> list[tuple[str, str]]:
    return [(value, value.replace("_", " ")) for value in values]


def _date_field(**kwargs: Any) -> forms.DateField:
    # A plain text box in ISO form: a browser's date picker types in the user's locale, which
    # neither the service nor an automated browser should have to guess.
    return forms.DateField(
        input_formats=["%Y-%m-%d"],
        widget=forms.TextInput(attrs={"class": "vDateField", "placeholder": "YYYY-MM-DD"}),
        **kwargs,
    )


# Only the widget is chosen here: what is required, the ranges and the guards stay the payload
# models' and the machine's, and are checked again by record_event.
_INITIAL: dict[str, Any] = {
    "interval_days": machine.SSA_INTERVAL_DAYS,
    "cycles_planned": machine.PRRT_LABEL_CYCLES,
}
DATA_PREFIX = "data_"


def data_form_field(spec: payloads.PayloadField) -> forms.Field:
    """The form field for one data field of an event, from its kind, range and choices."""
    required = spec.required
    made: forms.Field
    if spec.kind == "choice":
        made = forms.ChoiceField(choices=_choices(spec.choices), required=required)
    elif spec.kind == "boolean":
        made = forms.BooleanField(required=False)  # an unticked box is false, not missing
    elif spec.kind == "date":
        made = _date_field(required=required)
    elif spec.kind == "text":
        made = forms.CharField(required=required, max_length=spec.max_length)
    elif spec.kind == "number":
        made = forms.DecimalField(required=required, max_value=spec.maximum)
    else:  # "integer" and "record" (an id)
        made = forms.IntegerField(required=required, min_value=spec.minimum, max_value=spec.maximum)
    made.initial = _INITIAL.get(spec.name)
    made.label = spec.name.replace("_", " ")
    made.help_text = spec.description + (f" ({spec.unit})" if spec.unit else "")
    return made


class EventForm(forms.Form):
    """What every event asks for; the subclass per event adds its data fields."""

    event_type: str = ""
    occurred_on = _date_field(label="occurred on", help_text="The day it happened.")
    # Optional unless the event is a correction (the service's rule, asked in clean()).
    reason = forms.CharField(
        required=False,
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Why it is recorded (kept in the event log and the audit trail); required "
        "for a correction.",
    )
    # The version the user saw: a concurrent event makes record_event answer 409 instead of
    # applying this one to a course that has moved on.
    expected_version = forms.IntegerField(widget=forms.HiddenInput)

    def event_data(self) -> dict[str, Any]:
        """The cleaned data fields, keyed as payloads.validate_data expects them."""
        values = {}
        for spec in payloads.event_fields(self.event_type):
            name = spec.name
            value = self.cleaned_data.get(DATA_PREFIX + name)
            if value is None or value == "":
                continue  # optional and left empty
            values[name] = value
        return values

    def clean(self) -> dict[str, Any]:
        """The written reasons the event needs: the same rule as the API's (missing_reasons)."""
        cleaned = super().clean()
        missing = missing_reasons(
            override=bool(cleaned.get("override")),
            override_reason=cleaned.get("override_reason") or "",
            correction=bool(cleaned.get("correction")),
            reason=cleaned.get("reason") or "",
        )
        for name, found in missing.items():
            for message in found:
                self.add_error(name, message)
        return cleaned


class OverrideFields(forms.Form):
    override = forms.BooleanField(
        required=False,
        label="override a guideline guard",
        help_text="Clinicians only: record the event although a guard refuses it.",
    )
    override_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Why the guideline does not apply to this patient.",
    )
    correction = forms.BooleanField(
        required=False,
        label="correction of the date order",
        help_text="Clinicians only: record an event dated before the one that brought the "
        "course into its state (say why in the reason).",
    )


def event_form_class(event_type: str, *, may_override: bool) -> type[EventForm]:
    """A form for ``event_type``: its data fields, and the override only for clinicians."""
    event = machine.EventType(event_type)
    attrs: dict[str, Any] = {"event_type": str(event)}
    fields = payloads.event_fields(event)
    for spec in fields:
        attrs[DATA_PREFIX + spec.name] = data_form_field(spec)
    # What happened first, then why; the override last, where a refusal points to it.
    attrs["field_order"] = [
        "occurred_on",
        *(DATA_PREFIX + spec.name for spec in fields),
        "reason",
        "override",
        "override_reason",
        "correction",
    ]
    bases: tuple[type, ...] = (OverrideFields, EventForm) if may_override else (EventForm,)
    return type(f"{event.title().replace('_', '')}Form", bases, attrs)


def form_field_for(error_key: str, form: forms.Form) -> str | None:
    """Where a service field error belongs on the form ("data.site" -> "data_site")."""
    name = (
        error_key.replace("data.", DATA_PREFIX, 1) if error_key.startswith("data.") else error_key
    )
    return name if name in form.fields else None
