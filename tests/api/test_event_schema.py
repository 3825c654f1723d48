"""The OpenAPI document publishes each event type's payload, and the guides' requests fit it.

The expected fields, ranges, units and choices are written out from docs/api.md#event-types, not read from the code. The walk-through's request bodies are read from the guides
themselves (docs/api.md and the README), so a guide that drifts from the API fails here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from tests import factories

pytestmark = pytest.mark.django_db

EVENT_COMPONENTS = {
    "recurrence_detected": "RecurrenceDetected",
    "resection_started": "ResectionStarted",
    "resection_completed": "ResectionCompleted",
    "ssa_started": "SsaStarted",
    "progression_detected": "ProgressionDetected",
    "prrt_started": "PrrtStarted",
    "everolimus_started": "EverolimusStarted",
    "chemotherapy_started": "ChemotherapyStarted",
    "supportive_care_started": "SupportiveCareStarted",
    "watchful_waiting_started": "WatchfulWaitingStarted",
    "line_changed": "LineChanged",
    "prrt_cycle_given": "PrrtCycleGiven",
    "line_completed": "LineCompleted",
    "line_stopped": "LineStopped",
    "procedure_recorded": "ProcedureRecorded",
    "status_updated": "StatusUpdated",
    "symptoms_reported": "SymptomsReported",
    "course_closed": "CourseClosed",
}
# (event, field): required, JSON type, choices or (lowest, lowest allowed, highest, unit).
FIELDS: dict[tuple[str, str], tuple[bool, str, Any]] = {
    ("recurrence_detected", "site"): (
        True, "string", ["locoregional", "liver", "peritoneal", "bone", "lung", "other"],
    ),
    ("recurrence_detected", "resectable"): (True, "boolean", None),
    ("resection_started", "procedure"): (True, "string", None),
    ("resection_started", "planned_on"): (False, "string", None),
    ("resection_completed", "performed_on"): (True, "string", None),
    ("resection_completed", "margin"): (True, "string", ["R0", "R1", "R2"]),
    ("resection_completed", "ned"): (True, "boolean", None),
    ("ssa_started", "agent"): (True, "string", ["octreotide_lar", "lanreotide"]),
    ("ssa_started", "dose_mg"): (True, "number", (0, False, 1000, "mg")),
    ("ssa_started", "interval_days"): (True, "integer", (1, True, 365, "days")),
    ("progression_detected", "recist"): (True, "string", ["PD"]),
    ("progression_detected", "imaging_study"): (False, "integer", None),
    ("prrt_started", "agent"): (True, "string", ["lu177_dotatate"]),
    ("prrt_started", "activity_gbq"): (True, "number", (0, False, 50, "GBq")),
    ("prrt_started", "cycles_planned"): (True, "integer", (1, True, 10, "cycles")),
    ("everolimus_started", "dose_mg"): (True, "number", (0, False, 100, "mg")),
    ("chemotherapy_started", "regimen"): (
        True, "string",
        ["temozolomide", "capecitabine_temozolomide", "cisplatin_etoposide",
         "carboplatin_etoposide"],
    ),
    # Version 2 fields (docs/api.md#event-types).
    ("ssa_started", "intent"): (False, "string", ["antiproliferative", "syndrome_control"]),
    ("prrt_started", "continue_ssa"): (False, "boolean", None),
    ("everolimus_started", "continue_ssa"): (False, "boolean", None),
    ("chemotherapy_started", "continue_ssa"): (False, "boolean", None),
    ("watchful_waiting_started", "rationale"): (
        True, "string", ["low_volume_stable", "patient_choice", "comorbidity", "other"],
    ),
    ("line_changed", "line"): (False, "integer", None),
    ("line_changed", "change"): (True, "string", ["dose", "agent", "interval", "hold", "resume"]),
    ("line_changed", "agent"): (False, "string", ["octreotide_lar", "lanreotide"]),
    ("line_changed", "dose_mg"): (False, "number", (0, False, 1000, "mg")),
    ("line_changed", "interval_days"): (False, "integer", (1, True, 365, "days")),
    ("prrt_cycle_given", "cycle"): (True, "integer", (1, True, 8, "cycles")),
    ("prrt_cycle_given", "activity_gbq"): (True, "number", (0, False, 50, "GBq")),
    ("prrt_cycle_given", "given_on"): (False, "string", None),
    ("line_completed", "best_response"): (
        True, "string",
        ["complete_response", "partial_response", "stable", "progression", "not_assessed"],
    ),
    ("line_stopped", "line"): (False, "integer", None),
    ("line_stopped", "reason"): (True, "string", ["toxicity", "patient_choice", "other"]),
    ("procedure_recorded", "procedure"): (
        True, "string",
        ["ablation", "tae", "tace", "sirt", "radiotherapy", "cholecystectomy", "other"],
    ),
    ("procedure_recorded", "target"): (
        True, "string", ["liver", "bone", "lymph_nodes", "peritoneum", "primary", "other"],
    ),
    ("status_updated", "sstr_imaging"): (False, "string", ["positive", "negative"]),
    ("status_updated", "sstr_uptake_vs_liver"): (False, "string", ["above", "equal", "below"]),
    ("status_updated", "study_on"): (False, "string", None),
    ("status_updated", "carcinoid_syndrome"): (False, "boolean", None),
    ("status_updated", "functional"): (False, "boolean", None),
    ("status_updated", "carcinoid_heart_disease"): (False, "boolean", None),
    ("status_updated", "ki67_percent"): (False, "number", (0, True, 100, "%")),
    ("status_updated", "differentiation"): (False, "string", ["well", "poor", "mixed"]),
    ("symptoms_reported", "symptom_check"): (False, "integer", None),
    ("course_closed", "reason"): (
        True, "string",
        ["deceased", "discharged", "lost_to_follow_up", "transferred", "surveillance_completed"],
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def document(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def resolved(document: dict, schema: dict) -> dict:
    """``schema`` with a top-level $ref (or a one-element allOf around one) followed."""
    while True:
        if "$ref" in schema:
            schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        elif len(schema.get("allOf", [])) == 1 and "$ref" in schema["allOf"][0]:
            schema = {**resolved(document, schema["allOf"][0]), **schema}
            del schema["allOf"]
        else:
            return schema


def request_schema(document: dict, path: str) -> dict:
    body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return body["schema"]


def validator(document: dict, schema: dict) -> jsonschema.Draft4Validator:
    # OpenAPI 3.0 schema objects are JSON Schema draft 4 with extras; refs resolve from the root.
    root = {**schema, "components": document["components"]}
    return jsonschema.Draft4Validator(root, format_checker=jsonschema.FormatChecker(["date"]))


# --- One component per event type ------------------------------------------------------------


def test_the_event_body_is_a_union_with_one_branch_per_event_type(document):
    body = resolved(document, request_schema(document, "/api/v1/courses/{id}/events/"))

    assert body["discriminator"]["propertyName"] == "type"
    assert set(body["discriminator"]["mapping"]) == set(EVENT_COMPONENTS)
    assert len(body["oneOf"]) == len(EVENT_COMPONENTS)
    for event, name in EVENT_COMPONENTS.items():
        branch = resolved(document, {"$ref": body["discriminator"]["mapping"][event]})
        assert resolved(document, branch["properties"]["type"])["enum"] == [event]
        (data,) = branch["properties"]["data"]["allOf"]
        assert data == {"$ref": f"#/components/schemas/{name}Data"}
        assert {"type", "occurred_on"} <= set(branch["required"])


@pytest.mark.parametrize("event", EVENT_COMPONENTS)
def test_each_event_type_s_component_lists_its_documented_fields(document, event):
    data = document["components"]["schemas"][f"{EVENT_COMPONENTS[event]}Data"]

    documented = {field for (e, field) in FIELDS if e == event}
    assert set(data["properties"]) == documented
    assert set(data.get("required", [])) == {f for f in documented if FIELDS[event, f][0]}
    assert data["additionalProperties"] is False
    assert data["description"]


@pytest.mark.parametrize(("event", "field"), list(FIELDS))
def test_each_field_has_its_type_range_unit_description_and_example(document, event, field):
    required, kind, constraint = FIELDS[event, field]
    data = document["components"]["schemas"][f"{EVENT_COMPONENTS[event]}Data"]
    schema = resolved(document, data["properties"][field])

    assert schema["type"] == kind
    assert len(schema["description"]) > 10
    assert "example" in schema
    assert schema.get("nullable", False) is not required
    if isinstance(constraint, list):
        assert schema["enum"] == constraint
        assert schema["example"] in constraint
    elif isinstance(constraint, tuple):
        low, low_allowed, high, unit = constraint
        assert (schema["minimum"], schema.get("exclusiveMinimum", False), schema["maximum"]) == (
            low, not low_allowed, high,
        )  # fmt: skip
        assert schema["x-unit"] == unit
        assert low < schema["example"] <= high


# --- The guides' requests fit the schema ---------------------------------------------------

CURL_BODY = re.compile(r"curl [^\n]*-X POST \$B(/api/v1/[^ ]+) .*?-d '(\{.*?\})'", re.DOTALL)


def walk_through_requests() -> list[tuple[str, str, dict]]:
    """(guide, path pattern, body) of every POST with a JSON body in the guides' curl examples."""
    found = []
    for guide in ("docs/api.md", "README.md"):
        text = (Path(settings.BASE_DIR) / guide).read_text(encoding="utf-8")
        for path, body in CURL_BODY.findall(text):
            pattern = re.sub(r"/(\d+|\$\w+)/", "/{id}/", path)
            found.append((guide, pattern, json.loads(body)))
    return found


def test_the_api_guide_walk_through_has_a_registration_and_events():
    paths = [path for guide, path, _ in walk_through_requests() if guide == "docs/api.md"]

    assert "/api/v1/courses/" in paths
    assert paths.count("/api/v1/courses/{id}/events/") >= 2


@pytest.mark.parametrize(
    ("guide", "path", "body"),
    [r for r in walk_through_requests() if r[1] != "/api/v1/auth/token/"],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_every_walk_through_request_validates_against_the_schema(document, guide, path, body):
    schema = request_schema(document, path)

    errors = [e.message for e in validator(document, schema).iter_errors(body)]

    assert errors == [], (guide, path)


@pytest.mark.parametrize(
    "change",
    [
        {"dose_mg": "120"},
        {"dose_mg": 0},
        {"interval_days": 28.5},
        {"agent": "pasireotide"},
        {"duration": 6},
    ],
    ids=["number-as-text", "dose-zero", "fractional-days", "unknown-agent", "unknown-field"],
)
def test_a_walk_through_event_with_a_wrong_payload_fails_the_schema(document, change):
    body = {
        "type": "ssa_started",
        "occurred_on": "2026-11-20",
        "data": {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28} | change,
    }
    schema = request_schema(document, "/api/v1/courses/{id}/events/")

    assert not validator(document, schema).is_valid(body)


def test_an_impossible_date_fails_the_schema_and_the_api_says_it_does_not_exist(
    document, api, coordinator, course
):
    body = {"type": "recurrence_detected", "occurred_on": "2026-02-30",
            "data": {"site": "liver", "resectable": True}}  # fmt: skip
    schema = request_schema(document, "/api/v1/courses/{id}/events/")
    assert not validator(document, schema).is_valid(body)

    response = api(coordinator).post(f"/api/v1/courses/{course.pk}/events/", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["occurred_on"] == [
        "This date does not exist: February 2026 has 28 days."
    ]


# (path, body with an impossible day, the field key it is reported under)
IMPOSSIBLE_DAYS = [
    ("/api/v1/courses/{id}/events/", {"type": "symptoms_reported", "occurred_on": "2026-04-31"},
     "occurred_on"),
    ("/api/v1/courses/{id}/events/",
     {"type": "resection_started", "occurred_on": "2026-10-01",
      "data": {"procedure": "hepatectomy", "planned_on": "2026-11-31"}},
     "data.planned_on"),
    ("/api/v1/imaging-studies/", {"course": "{id}", "performed_on": "2026-02-29", "modality": "ct",
                                  "purpose": "surveillance", "result": "no_evidence"},
     "performed_on"),
    ("/api/v1/lab-results/", {"course": "{id}", "analyte": "cga", "value": 50, "unit": "ng/mL",
                              "collected_on": "2026-06-31"},
     "collected_on"),
    ("/api/v1/courses/", {"patient": {"birth_date": "1961-02-29"}}, "patient.birth_date"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "field"), IMPOSSIBLE_DAYS)
def test_every_date_the_api_reads_says_when_a_day_does_not_exist(
    api, coordinator, clinician, course, path, body, field
):
    # In recurrence, so that a re-resection may be planned (the state is checked first).
    factories.advance(
        course, clinician, ("recurrence_detected", {"site": "liver", "resectable": True})
    )
    sent = json.loads(json.dumps(body).replace('"{id}"', str(course.pk)))

    response = api(coordinator).post(path.replace("{id}", str(course.pk)), sent, format="json")

    assert response.status_code == 400
    (message,) = response.json()["errors"][field]
    assert message.startswith("This date does not exist: ")
