"""Event payloads: the pydantic models validate each event's data and publish its schema.

The fields, ranges and choices are written out here from docs/api.md#event-types, not
read from the models, so a model that drifts from the published payloads fails.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from decimal import Decimal

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.treatments.event_cases import EVENT_ORDER, VALID_DATA, data_for
from treatments.machine import EventType
from treatments.payloads import (
    DATA_MODELS,
    event_fields,
    parse_calendar_date,
    payload_json_schema,
    references,
    validate_data,
)

# Required fields per event, copied from the data column of docs/api.md#event-types.
REQUIRED_FIELDS = [
    ("recurrence_detected", "site"),
    ("recurrence_detected", "resectable"),
    ("resection_started", "procedure"),
    ("resection_completed", "performed_on"),
    ("resection_completed", "margin"),
    ("resection_completed", "ned"),
    ("ssa_started", "agent"),
    ("ssa_started", "dose_mg"),
    ("ssa_started", "interval_days"),
    ("progression_detected", "recist"),
    ("prrt_started", "agent"),
    ("prrt_started", "activity_gbq"),
    ("prrt_started", "cycles_planned"),
    ("everolimus_started", "dose_mg"),
    ("chemotherapy_started", "regimen"),
    ("watchful_waiting_started", "rationale"),
    ("line_changed", "change"),
    ("prrt_cycle_given", "cycle"),
    ("prrt_cycle_given", "activity_gbq"),
    ("line_completed", "best_response"),
    ("line_stopped", "reason"),
    ("procedure_recorded", "procedure"),
    ("procedure_recorded", "target"),
    ("course_closed", "reason"),
]
OPTIONAL_FIELDS = [
    ("resection_started", "planned_on"),
    ("ssa_started", "intent"),
    ("progression_detected", "imaging_study"),
    ("prrt_started", "continue_ssa"),
    ("everolimus_started", "continue_ssa"),
    ("chemotherapy_started", "continue_ssa"),
    ("line_changed", "line"),
    ("line_changed", "agent"),
    ("line_changed", "dose_mg"),
    ("line_changed", "interval_days"),
    ("prrt_cycle_given", "given_on"),
    ("line_stopped", "line"),
    ("status_updated", "sstr_imaging"),
    ("status_updated", "sstr_uptake_vs_liver"),
    ("status_updated", "study_on"),
    ("status_updated", "carcinoid_syndrome"),
    ("status_updated", "functional"),
    ("status_updated", "carcinoid_heart_disease"),
    ("status_updated", "ki67_percent"),
    ("status_updated", "differentiation"),
    ("symptoms_reported", "symptom_check"),
]


@pytest.mark.parametrize("event", EVENT_ORDER)
def test_a_valid_payload_is_cleaned_unchanged(event):
    cleaned, errors = validate_data(event, VALID_DATA[event])
    assert errors == {}
    assert cleaned == VALID_DATA[event]
    json.dumps(cleaned)


def test_it_rejects_an_unknown_event_type():
    cleaned, errors = validate_data("cured", {})
    assert cleaned == {}
    assert list(errors) == ["type"]
    assert errors["type"][0].startswith("Unknown event type.")


def test_it_rejects_data_that_is_not_an_object():
    _, errors = validate_data("ssa_started", ["lanreotide"])  # type: ignore[arg-type]
    assert list(errors) == ["data"]


@pytest.mark.parametrize("event", EVENT_ORDER)
def test_it_rejects_unknown_keys(event):
    cleaned, errors = validate_data(event, {**VALID_DATA[event], "neD": True, "state": "closed"})
    assert errors == {"neD": ["Unknown field."], "state": ["Unknown field."]}
    assert cleaned == VALID_DATA[event]


@pytest.mark.parametrize(("event", "field"), REQUIRED_FIELDS)
def test_it_rejects_a_payload_missing_a_required_field(event, field):
    data = dict(VALID_DATA[event])
    del data[field]
    assert validate_data(event, data)[1] == {field: ["This field is required."]}
    assert validate_data(event, {**data, field: None})[1] == {
        field: ["This field may not be null."]
    }


# A valid payload holding each optional field that VALID_DATA leaves out (version 2), such
# that the payload stays valid without it.
WITH_OPTIONAL = {
    ("ssa_started", "intent"): data_for("ssa_started", intent="syndrome_control"),
    **{
        (event, "continue_ssa"): data_for(event, continue_ssa=True)
        for event in ("prrt_started", "everolimus_started", "chemotherapy_started")
    },
    ("line_changed", "line"): {"change": "hold", "line": 4},
    ("line_changed", "agent"): {"change": "dose", "dose_mg": 30, "agent": "lanreotide"},
    ("line_changed", "dose_mg"): {"change": "agent", "agent": "lanreotide", "dose_mg": 120},
    ("line_changed", "interval_days"): {"change": "dose", "dose_mg": 30, "interval_days": 28},
    ("prrt_cycle_given", "given_on"): data_for("prrt_cycle_given", given_on="2026-11-02"),
    ("line_stopped", "line"): data_for("line_stopped", line=4),
    ("status_updated", "sstr_imaging"): {"sstr_imaging": "positive", "functional": True},
    ("status_updated", "study_on"): {"sstr_imaging": "positive", "study_on": "2026-10-15"},
    **{
        ("status_updated", name): {"sstr_imaging": "negative", name: value}
        for name, value in (
            ("carcinoid_syndrome", True),
            ("functional", False),
            ("carcinoid_heart_disease", True),
            ("ki67_percent", 12),
            ("differentiation", "well"),
        )
    },
}


@pytest.mark.parametrize(("event", "field"), OPTIONAL_FIELDS)
def test_optional_fields_may_be_left_out_or_null(event, field):
    data = dict(WITH_OPTIONAL.get((event, field), VALID_DATA[event]))
    del data[field]
    assert validate_data(event, data) == (data, {})
    assert validate_data(event, {**data, field: None}) == (data, {})


def test_every_field_the_api_names_is_known_and_no_other():
    named = set(REQUIRED_FIELDS + OPTIONAL_FIELDS)
    in_code = {(str(e), f.name) for e in EventType for f in event_fields(e)}
    assert in_code == named
    required = {(str(e), f.name) for e in EventType for f in event_fields(e) if f.required}
    assert required == set(REQUIRED_FIELDS)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ("ssa_started", "dose_mg"),
        ("ssa_started", "interval_days"),
        ("prrt_started", "activity_gbq"),
        ("prrt_started", "cycles_planned"),
        ("everolimus_started", "dose_mg"),
        ("progression_detected", "imaging_study"),
        ("symptoms_reported", "symptom_check"),
    ],
)
@pytest.mark.parametrize("value", [True, False, "10", "ten", [10], {"value": 10}])
def test_it_rejects_booleans_and_text_where_a_number_is_expected(event, field, value):
    _, errors = validate_data(event, data_for(event, **{field: value}))
    assert list(errors) == [field]


OUTSIDE_THE_CHOICES = [
    ("recurrence_detected", "site", "brain"),
    ("recurrence_detected", "site", 1),
    ("recurrence_detected", "resectable", "yes"),
    ("recurrence_detected", "resectable", 1),
    ("resection_completed", "ned", 0),
    ("resection_completed", "margin", "R3"),
    ("resection_completed", "margin", "r0"),
    ("ssa_started", "agent", "pasireotide"),
    ("progression_detected", "recist", "SD"),
    ("progression_detected", "recist", "pd"),
    ("prrt_started", "agent", "lu177_psma"),
    ("chemotherapy_started", "regimen", "folfox"),
    ("course_closed", "reason", "cured"),
]


@pytest.mark.parametrize(("event", "field", "value"), OUTSIDE_THE_CHOICES)
def test_it_rejects_values_outside_the_allowed_choices(event, field, value):
    _, errors = validate_data(event, data_for(event, **{field: value}))
    assert list(errors) == [field]


OUT_OF_RANGE = [
    ("ssa_started", "dose_mg", 0),
    ("ssa_started", "dose_mg", -30),
    ("ssa_started", "dose_mg", 1000.5),
    ("ssa_started", "dose_mg", float("nan")),
    ("ssa_started", "dose_mg", float("inf")),
    ("ssa_started", "interval_days", 0),
    ("ssa_started", "interval_days", 366),
    ("ssa_started", "interval_days", 28.5),
    ("prrt_started", "activity_gbq", 0),
    ("prrt_started", "activity_gbq", 50.1),
    ("prrt_started", "cycles_planned", 0),
    ("prrt_started", "cycles_planned", 11),
    ("everolimus_started", "dose_mg", 0),
    ("everolimus_started", "dose_mg", 100.1),
    ("progression_detected", "imaging_study", 0),
    ("progression_detected", "imaging_study", -4),
    ("symptoms_reported", "symptom_check", 0),
]


@pytest.mark.parametrize(("event", "field", "value"), OUT_OF_RANGE)
def test_it_rejects_numbers_out_of_range(event, field, value):
    _, errors = validate_data(event, data_for(event, **{field: value}))
    assert list(errors) == [field]


RANGE_EDGES = [
    ("ssa_started", "dose_mg", 1000),
    ("ssa_started", "interval_days", 365),
    ("ssa_started", "interval_days", 1),
    ("prrt_started", "activity_gbq", 50),
    ("prrt_started", "cycles_planned", 10),
    ("everolimus_started", "dose_mg", 100),
]


@pytest.mark.parametrize(("event", "field", "value"), RANGE_EDGES)
def test_it_accepts_the_edges_of_each_range(event, field, value):
    assert validate_data(event, data_for(event, **{field: value}))[1] == {}


def test_a_whole_number_sent_as_a_float_is_cleaned_to_an_int():
    cleaned, errors = validate_data("ssa_started", data_for("ssa_started", interval_days=28.0))
    assert errors == {}
    assert cleaned["interval_days"] == 28 and isinstance(cleaned["interval_days"], int)


@pytest.mark.parametrize(
    ("value", "cleaned"),
    [("2026-10-01", "2026-10-01"), (date(2026, 10, 1), "2026-10-01")],
)
def test_dates_are_cleaned_to_iso_strings(value, cleaned):
    result, errors = validate_data(
        "resection_completed", data_for("resection_completed", performed_on=value)
    )
    assert errors == {}
    assert result["performed_on"] == cleaned


@pytest.mark.parametrize(
    "value",
    [
        "2026-02-30",
        "01/10/2026",
        "20261001",
        "2026-10-01T10:00:00",
        "",
        20261001,
        datetime(2026, 10, 1, 9, 30),
    ],
)
def test_it_rejects_anything_but_a_calendar_date(value):
    _, errors = validate_data(
        "resection_completed", data_for("resection_completed", performed_on=value)
    )
    assert list(errors) == ["performed_on"]
    _, errors = validate_data("resection_started", data_for("resection_started", planned_on=value))
    assert list(errors) == ["planned_on"]


@pytest.mark.parametrize("procedure", ["", "   ", "x" * 201, 42])
def test_it_rejects_an_empty_or_overlong_procedure(procedure):
    _, errors = validate_data("resection_started", {"procedure": procedure})
    assert list(errors) == ["procedure"]


def test_the_procedure_is_trimmed():
    cleaned, errors = validate_data("resection_started", {"procedure": "  segmentectomy "})
    assert (cleaned, errors) == ({"procedure": "segmentectomy"}, {})


def test_every_message_is_a_short_sentence():
    _, errors = validate_data(
        "ssa_started", {"agent": "x", "dose_mg": True, "interval_days": 0, "extra": 1}
    )
    for messages in errors.values():
        for message in messages:
            assert message[0].isupper() and message.endswith(".") and len(message) < 120


field_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(
    event=st.sampled_from(EVENT_ORDER),
    extra=st.dictionaries(field_names, st.integers(), max_size=3),
)
def test_any_key_the_api_does_not_name_is_an_error_under_that_key(event, extra):
    known = {f for e, f in REQUIRED_FIELDS + OPTIONAL_FIELDS if e == event}
    extra = {k: v for k, v in extra.items() if k not in known}
    cleaned, errors = validate_data(event, {**VALID_DATA[event], **extra})
    assert errors == {k: ["Unknown field."] for k in extra}
    assert cleaned == VALID_DATA[event]


@settings(max_examples=200, deadline=None)
@given(
    agent=st.sampled_from(["octreotide_lar", "lanreotide"]),
    dose=st.floats(min_value=0, max_value=2000, allow_nan=False) | st.integers(-10, 2000),
    interval=st.integers(-10, 400),
)
def test_ssa_numbers_are_accepted_exactly_inside_their_ranges(agent, dose, interval):
    data = {"agent": agent, "dose_mg": dose, "interval_days": interval}
    cleaned, errors = validate_data("ssa_started", data)
    assert ("dose_mg" in errors) == (not 0 < dose <= 1000)
    assert ("interval_days" in errors) == (not 1 <= interval <= 365)
    if not errors:
        assert cleaned == data


# --- Impossible dates say so -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2026-02-30", "February 2026 has 28 days."),
        ("2026-02-29", "February 2026 has 28 days."),
        ("2024-02-30", "February 2024 has 29 days."),
        ("2026-04-31", "April 2026 has 30 days."),
        ("2026-01-00", "January 2026 has 31 days."),
        ("2026-13-01", "there is no month 13."),
        ("2026-00-10", "there is no month 00."),
        ("0000-06-15", "years start at 0001."),
    ],
)
def test_a_well_formed_day_that_does_not_exist_is_called_so(value, why):
    _, errors = validate_data(
        "resection_completed", data_for("resection_completed", performed_on=value)
    )

    assert errors == {"performed_on": [f"This date does not exist: {why}"]}


@pytest.mark.parametrize("value", ["01/10/2026", "20261001", "2026-1-01", "", 20261001, None])
def test_a_malformed_day_is_asked_for_in_its_form(value):
    with pytest.raises(ValueError, match=r"^Must be a date in the form YYYY-MM-DD\.$"):
        parse_calendar_date(value)


def test_a_date_and_time_is_refused_rather_than_cut_to_its_day():
    with pytest.raises(ValueError, match="not a date and time"):
        parse_calendar_date(datetime(2026, 10, 1, 9, 30))


@settings(max_examples=300, deadline=None)
@given(year=st.integers(0, 9999), month=st.integers(0, 99), day=st.integers(0, 99))
def test_every_yyyy_mm_dd_is_either_its_day_or_said_not_to_exist(year, month, day):
    text = f"{year:04d}-{month:02d}-{day:02d}"
    try:
        expected = date(year, month, day)
    except ValueError:
        expected = None

    if expected is not None:
        assert parse_calendar_date(text) == expected
    else:
        with pytest.raises(ValueError, match=r"^This date does not exist: "):
            parse_calendar_date(text)


def test_a_form_s_decimal_is_read_as_a_number():
    cleaned, errors = validate_data("everolimus_started", {"dose_mg": Decimal("7.5")})

    assert (cleaned, errors) == ({"dose_mg": 7.5}, {})
    json.dumps(cleaned)


# --- The published schema is the validator's ------------------------------------------------

# Every numeric field with its documented range and unit (docs/api.md#event-types):
# (event, field, JSON type, lowest allowed, lowest is allowed itself, highest, unit).
NUMERIC_FIELDS = [
    ("ssa_started", "dose_mg", "number", 0, False, 1000, "mg"),
    ("ssa_started", "interval_days", "integer", 1, True, 365, "days"),
    ("prrt_started", "activity_gbq", "number", 0, False, 50, "GBq"),
    ("prrt_started", "cycles_planned", "integer", 1, True, 10, "cycles"),
    ("everolimus_started", "dose_mg", "number", 0, False, 100, "mg"),
]


@pytest.fixture(scope="module")
def schema() -> dict:
    return payload_json_schema()


def data_schema(schema: dict, event: str) -> dict:
    branch = schema["$defs"][schema["discriminator"]["mapping"][event].rsplit("/", 1)[-1]]
    return schema["$defs"][branch["properties"]["data"]["$ref"].rsplit("/", 1)[-1]]


def test_the_schema_is_a_union_discriminated_on_type_with_one_branch_per_event(schema):
    assert schema["discriminator"]["propertyName"] == "type"
    assert set(schema["discriminator"]["mapping"]) == set(EVENT_ORDER)
    assert len(schema["oneOf"]) == len(EVENT_ORDER)
    for event in EVENT_ORDER:
        branch = schema["$defs"][schema["discriminator"]["mapping"][event].rsplit("/", 1)[-1]]
        assert branch["properties"]["type"]["const"] == event


def test_each_event_s_data_lists_the_documented_fields_with_a_description_and_example(schema):
    documented = set(REQUIRED_FIELDS + OPTIONAL_FIELDS)
    for event in EVENT_ORDER:
        data = data_schema(schema, event)
        assert data["additionalProperties"] is False
        assert {(event, name) for name in data["properties"]} == {
            (e, f) for e, f in documented if e == event
        }
        assert set(data.get("required", [])) == {f for e, f in REQUIRED_FIELDS if e == event}
        for name, field in data["properties"].items():
            assert len(field["description"]) > 10, (event, name)
            assert field["examples"], (event, name)


@pytest.mark.parametrize(("event", "name", "kind", "low", "low_in", "high", "unit"), NUMERIC_FIELDS)
def test_each_number_is_published_with_its_range_and_unit(
    schema, event, name, kind, low, low_in, high, unit
):
    field = data_schema(schema, event)["properties"][name]

    assert field["type"] == kind
    assert field["minimum" if low_in else "exclusiveMinimum"] == low
    assert field["maximum"] == high
    assert field["x-unit"] == unit


@pytest.mark.parametrize(("event", "name", "kind", "low", "low_in", "high", "unit"), NUMERIC_FIELDS)
def test_the_form_fields_carry_the_same_ranges_and_units(
    event, name, kind, low, low_in, high, unit
):
    (field,) = [f for f in event_fields(event) if f.name == name]

    assert (field.kind, field.minimum, field.exclusive_minimum, field.maximum, field.unit) == (
        kind, low, not low_in, high, unit,
    )  # fmt: skip


def test_choice_fields_list_their_choices_for_forms():
    kinds = {(str(e), f.name): (f.kind, f.choices) for e in EventType for f in event_fields(e)}

    assert kinds[("recurrence_detected", "site")] == (
        "choice", ("locoregional", "liver", "peritoneal", "bone", "lung", "other"),
    )  # fmt: skip
    assert kinds[("progression_detected", "recist")] == ("choice", ("PD",))
    assert kinds[("resection_completed", "performed_on")][0] == "date"
    assert kinds[("recurrence_detected", "resectable")][0] == "boolean"
    assert kinds[("resection_started", "procedure")][0] == "text"


def test_only_the_id_fields_refer_to_other_records_of_the_course():
    referring = {str(e): references(e) for e in EventType if references(e)}

    assert referring == {
        "progression_detected": {"imaging_study": "surveillance.ImagingStudy"},
        "line_changed": {"line": "treatments.TreatmentLine"},
        "line_stopped": {"line": "treatments.TreatmentLine"},
        "symptoms_reported": {"symptom_check": "surveillance.SymptomCheck"},
    }


@pytest.mark.parametrize("event", EVENT_ORDER)
def test_the_published_examples_are_payloads_the_validator_accepts(schema, event):
    properties = data_schema(schema, event)["properties"]
    example = {name: field["examples"][0] for name, field in properties.items()}

    assert validate_data(event, example)[1] == {}
    jsonschema.validate({"type": event, "data": example}, schema)


@pytest.mark.parametrize("event", EVENT_ORDER)
def test_every_valid_payload_validates_against_the_schema(schema, event):
    jsonschema.validate({"type": event, "data": VALID_DATA[event]}, schema)


@pytest.mark.parametrize(
    ("event", "field", "value"),
    OUTSIDE_THE_CHOICES + [r for r in OUT_OF_RANGE if math.isfinite(r[2])],
)
def test_what_the_validator_refuses_the_schema_refuses_too(schema, event, field, value):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"type": event, "data": data_for(event, **{field: value})}, schema)


@pytest.mark.parametrize(("event", "field", "value"), RANGE_EDGES)
def test_the_edges_of_each_range_pass_the_schema_too(schema, event, field, value):
    jsonschema.validate({"type": event, "data": data_for(event, **{field: value})}, schema)


def test_every_event_type_has_a_payload_model():
    assert set(DATA_MODELS) == set(EventType)


# --- Version 2 payloads: fields that need each other ------------------------------------------


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"change": "dose"}, {"dose_mg": ["This field is required when change is dose."]}),
        ({"change": "agent"}, {"agent": ["This field is required when change is agent."]}),
        (
            {"change": "interval"},
            {"interval_days": ["This field is required when change is interval."]},
        ),
        ({"change": "hold", "dose_mg": 30}, {"dose_mg": ["Must be absent when change is hold."]}),
        (
            {"change": "resume", "interval_days": 28},
            {"interval_days": ["Must be absent when change is resume."]},
        ),
    ],
)
def test_a_line_change_needs_exactly_the_new_value_it_names(data, errors):
    assert validate_data("line_changed", data)[1] == errors


@pytest.mark.parametrize(
    "data",
    [
        {"change": "interval", "interval_days": 14},
        {"change": "agent", "agent": "lanreotide", "dose_mg": 120},
        {"change": "hold"},
        {"change": "resume", "line": 4},
    ],
)
def test_a_complete_line_change_is_accepted(data):
    assert validate_data("line_changed", data) == (data, {})


def test_a_status_update_needs_at_least_one_finding():
    _, errors = validate_data("status_updated", {})
    assert list(errors) == ["data"]
    assert "at least one finding" in errors["data"][0]


def test_a_status_update_gives_the_uptake_and_study_day_only_with_an_sstr_result():
    _, errors = validate_data(
        "status_updated",
        {"carcinoid_syndrome": True, "sstr_uptake_vs_liver": "above", "study_on": "2026-10-15"},
    )
    assert errors == {
        "sstr_uptake_vs_liver": ["Give sstr_imaging with it."],
        "study_on": ["Give sstr_imaging with it."],
    }


@pytest.mark.parametrize(
    ("ki67", "ok"), [(0, True), (55, True), (100, True), (-1, False), (100.5, False)]
)
def test_a_rebiopsy_ki67_is_a_percentage(ki67, ok):
    _, errors = validate_data("status_updated", {"ki67_percent": ki67})
    assert (errors == {}) is ok
    if not ok:
        assert errors == {"ki67_percent": ["Must be a number from 0 to 100."]}


@pytest.mark.parametrize("intent", ["antiproliferative", "syndrome_control"])
def test_an_ssa_line_names_its_intent_and_leaves_it_out_when_not_sent(intent):
    assert (
        validate_data("ssa_started", data_for("ssa_started", intent=intent))[0]["intent"] == intent
    )
    assert "intent" not in validate_data("ssa_started", VALID_DATA["ssa_started"])[0]
    assert validate_data("ssa_started", data_for("ssa_started", intent="palliative"))[1] == {
        "intent": ["Must be one of: antiproliferative, syndrome_control."]
    }


@pytest.mark.parametrize("event", ["prrt_started", "everolimus_started", "chemotherapy_started"])
def test_continue_ssa_is_a_strict_flag(event):
    assert validate_data(event, data_for(event, continue_ssa=False))[0]["continue_ssa"] is False
    assert list(validate_data(event, data_for(event, continue_ssa="yes"))[1]) == ["continue_ssa"]
