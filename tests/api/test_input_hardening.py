"""Bad input is refused with a field error, never a 500, and writes nothing (S3, S8).

Each test sends a family of hostile inputs; every one must answer 4xx with `{code, detail,
errors}` and leave every table as it was. Inputs tried and 5xx seen are reported.
"""

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import RequestFactory
from rest_framework.request import Request

from alerts.models import CoordinatorAlert
from api.models import IdempotencyRecord, ReadAccess
from api.pagination import IdCursorPagination, OldestFirstPagination
from api.parsers import MAX_BODY_BYTES
from surveillance.models import ImagingStudy, LabResult, SymptomCheck
from tests import factories
from tests.api.figures import report
from treatments.models import Course, CourseEvent, Diagnosis, Patient, Surgery

pytestmark = pytest.mark.django_db

TABLES = (Patient, Course, Diagnosis, Surgery, CourseEvent, ImagingStudy, LabResult, SymptomCheck,
          CoordinatorAlert, IdempotencyRecord, ReadAccess, Patient.history.model,
          Course.history.model)  # fmt: skip
HUGE = 10**30
LONG = "x" * 10_000


def row_counts() -> dict[str, int]:
    return {model._meta.label: model.objects.count() for model in TABLES}


class Probe:
    """Sends hostile inputs, checks each is refused cleanly, and keeps the tally."""

    def __init__(self, client: Any, section: str) -> None:
        self.client = client
        self.section = section
        self.tried = 0
        self.server_errors = 0
        self.problems: list[str] = []

    def send(self, method: str, path: str, raw: bytes | str, **headers: Any) -> Any:
        return self.client.generic(method, path, raw, content_type="application/json", **headers)

    def refused(
        self,
        label: str,
        response: Any,
        *,
        field: str | None = None,
        status: int = 400,
        code: str = "invalid",
    ) -> None:
        self.tried += 1
        if response.status_code >= 500:
            self.server_errors += 1
        problem = _problem_with(response, field, status, code)
        if problem:
            self.problems.append(f"{label}: {problem}")

    def json(self, label: str, method: str, path: str, body: Any, field: str | None) -> None:
        before = row_counts()
        response = self.send(method, path, json.dumps(body))
        self.refused(label, response, field=field)
        if row_counts() != before:
            self.problems.append(f"{label}: rows were written")

    def finish(self) -> None:
        report("input hardening", f"{self.section}: {self.tried} inputs, {self.server_errors} 5xx")
        assert self.tried > 0
        assert not self.problems, "\n".join(self.problems)


def _problem_with(response: Any, field: str | None, status: int, code: str) -> str | None:
    if response.status_code != status:
        return f"expected {status}, got {response.status_code}: {response.content[:200]!r}"
    if not response["Content-Type"].startswith("application/json"):
        return f"not a JSON body: {response['Content-Type']}"
    body = response.json()
    if not {"code", "detail", "errors"} <= set(body):
        return f"not an error body: {body!r}"
    if status == 400 and body["code"] != code:
        return f"code {body['code']!r}, not {code!r}"
    if field is not None and field not in body["errors"]:
        return f"{field!r} not among the errors {sorted(body['errors'])}"
    text = response.content.decode(errors="replace")
    if "Traceback" in text or "SELECT " in text:
        return "a traceback or SQL in the error body"
    return None


@pytest.fixture
def staff(api, coordinator, course) -> Probe:
    return Probe(api(coordinator), "staff")


def registration(team_id: int, **sections: dict) -> dict:
    body = {
        "patient": factories.patient_data(mrn="H1", birth_date="1961-04-02"),
        "care_team": team_id,
        "diagnosis": factories.diagnosis_data(diagnosed_on="2026-01-10"),
        "surgery": factories.surgery_data(performed_on="2026-02-01"),
    }
    for name, changes in sections.items():
        body[name] = body[name] | changes if isinstance(changes, dict) else changes
    return body


def event(**changes: Any) -> dict:
    return {"type": "recurrence_detected", "occurred_on": "2026-08-01",
            "data": {"site": "liver", "resectable": True}, "reason": "scan"} | changes  # fmt: skip


def imaging(course_id: int, **changes: Any) -> dict:
    return {"course": course_id, "performed_on": "2026-08-01", "modality": "ct",
            "purpose": "surveillance", "result": "ned"} | changes  # fmt: skip


def lab(course_id: int, **changes: Any) -> dict:
    return {"course": course_id, "analyte": "chromogranin_a", "value": "100", "unit": "ng/mL",
            "collected_on": "2026-08-01"} | changes  # fmt: skip


def symptoms(course_id: int, **changes: Any) -> dict:
    return {"course": course_id, "reported_on": "2026-08-01", "flushing_per_day": 0,
            "stools_per_day": 1, "wheezing": False, "abdominal_pain": 0, "vomiting": False,
            "no_stool_or_gas": False, "palpitations_or_swelling": False,
            "weight_loss_kg": 0} | changes  # fmt: skip


def test_the_valid_variants_of_the_probes_are_accepted(staff, course, team_a):
    """The bodies the probes spoil are themselves valid, so each refusal is about the spoiling."""
    post = staff.client.post
    assert post("/api/v1/courses/", registration(team_a.pk), format="json").status_code == 201
    for path, body in (("imaging-studies", imaging(course.pk)), ("lab-results", lab(course.pk)),
                       ("symptom-checks", symptoms(course.pk))):  # fmt: skip
        assert post(f"/api/v1/{path}/", body, format="json").status_code == 201, path
    assert post(f"/api/v1/courses/{course.pk}/events/", event(), format="json").status_code == 201


# --- S3: no mass assignment ---------------------------------------------------------------------
def test_a_body_key_that_is_not_a_field_is_refused_by_name(staff, course, team_a):
    cases = [
        ("/api/v1/courses/", registration(team_a.pk) | {"shoe_size": 44}, "shoe_size"),
        ("/api/v1/courses/", registration(team_a.pk, patient={"shoe_size": 44}),
         "patient.shoe_size"),
        ("/api/v1/courses/", registration(team_a.pk, diagnosis={"stage": "IV"}), "diagnosis.stage"),
        (f"/api/v1/courses/{course.pk}/events/", event(hack=True), "hack"),
        ("/api/v1/imaging-studies/", imaging(course.pk, recorded_at="2020-01-01"), "recorded_at"),
        ("/api/v1/lab-results/", lab(course.pk, warnings=[]), "warnings"),
        ("/api/v1/symptom-checks/", symptoms(course.pk, assessment={}), "assessment"),
    ]  # fmt: skip
    for path, body, field in cases:
        staff.json(f"POST {path} +{field}", "POST", path, body, field)
    staff.section = "unknown keys"
    staff.json("PATCH patient +shoe_size", "PATCH", f"/api/v1/patients/{course.patient_id}/",
               {"phone": "+447700900001", "shoe_size": 44}, "shoe_size")  # fmt: skip
    staff.finish()


@pytest.mark.parametrize("field", ["state", "version", "created_by", "is_staff", "current_line"])
def test_a_registration_naming_a_read_only_field_creates_nothing(staff, team_a, field):
    before = Course.objects.count()

    response = staff.client.post(
        "/api/v1/courses/", registration(team_a.pk) | {field: 1}, format="json"
    )

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Course.objects.count() == before


@pytest.mark.parametrize(
    "changes",
    [{"state": "closed"}, {"version": 99}, {"care_team": 2}, {"seq": 7}, {"actor": 1},
     {"to_state": "closed"}],
)  # fmt: skip
def test_an_event_cannot_set_the_courses_read_only_fields(staff, course, course_b, changes):
    before = (course.state, course.version, course.care_team_id)

    response = staff.client.post(
        f"/api/v1/courses/{course.pk}/events/", event(**changes), format="json"
    )

    assert response.status_code == 400
    assert set(changes) <= set(response.json()["errors"])
    course.refresh_from_db()
    assert (course.state, course.version, course.care_team_id) == before
    assert not CourseEvent.objects.filter(course=course).exists()


PATIENT_READ_ONLY = [
    {"care_team": 2}, {"is_staff": True}, {"user": 1}, {"mrn": "X9"}, {"clinic": "Elsewhere"},
    {"birth_date": "1990-01-01"}, {"email_consent_at": "2026-01-01T00:00:00Z"}, {"id": 99},
    {"created_by": 1},
]  # fmt: skip


@pytest.mark.parametrize("changes", PATIENT_READ_ONLY)
def test_staff_cannot_patch_a_patients_read_only_fields(staff, course, course_b, changes):
    patient = Patient.objects.get(pk=course.patient_id)
    before = {f.attname: getattr(patient, f.attname) for f in Patient._meta.concrete_fields}

    response = staff.client.patch(
        f"/api/v1/patients/{patient.pk}/", {"phone": "+447700900002"} | changes, format="json"
    )

    assert response.status_code == 400
    assert set(changes) <= set(response.json()["errors"])
    patient.refresh_from_db()
    assert {f.attname: getattr(patient, f.attname) for f in Patient._meta.concrete_fields} == before


@pytest.mark.parametrize(
    "changes", [{"given_name": "Eve"}, {"family_name": "X"}, {"is_staff": True}]
)
def test_a_patient_cannot_patch_what_only_staff_may_change(api, patient_user, course, changes):
    patient = Patient.objects.get(pk=course.patient_id)

    response = api(patient_user).patch("/api/v1/patients/me/", changes, format="json")

    assert response.status_code == 400
    assert set(changes) <= set(response.json()["errors"])
    patient.refresh_from_db()
    assert (patient.given_name, patient.family_name) == ("Ana", "Silva")
    assert not patient_user.is_staff


# --- S8: malformed bodies, limits, wrong types -------------------------------------------------
def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


RAW_BODIES: list[tuple[str, bytes | str]] = [
    ("malformed JSON", b"{bad"),
    ("truncated JSON", b'{"type": "recurrence_detected"'),
    ("a list", b"[]"),
    ("a list of objects", b'[{"type": "recurrence_detected"}]'),
    ("a string", b'"recurrence_detected"'),
    ("null", b"null"),
    ("a number", b"42"),
    ("true", b"true"),
    ("NaN literal", b'{"type": NaN}'),
    ("Infinity literal", b'{"expected_version": Infinity}'),
    ("invalid UTF-8", b'{"type": "\xff\xfe"}'),
    ("1,000-deep object", _nested(1000)),
    ("1,000-deep array", "[" * 1000 + "]" * 1000),
    ("1,000-deep event data", json.dumps(event())[:-1] + ', "x": ' + _nested(1000) + "}"),
    ("100,000-deep array", "[" * 100_000 + "]" * 100_000),
    ("1 MB body", json.dumps(event(reason="x" * 1_000_000))),
    ("3 MB body (over Django's limit)", json.dumps(event(reason="x" * 3_000_000))),
    ("10,000 unknown keys", json.dumps({f"k{i}": i for i in range(10_000)})),
]


def test_malformed_and_oversized_bodies_are_refused_as_json(staff, course, api, patient_user):
    patient = Probe(api(patient_user), "patient")
    targets = [
        (staff, "POST", "/api/v1/courses/"),
        (staff, "POST", f"/api/v1/courses/{course.pk}/events/"),
        (staff, "POST", "/api/v1/lab-results/"),
        (staff, "PATCH", f"/api/v1/patients/{course.patient_id}/"),
        (patient, "PATCH", "/api/v1/patients/me/"),
        (patient, "POST", "/api/v1/symptom-checks/"),
    ]
    for probe, method, path in targets:
        for label, raw in RAW_BODIES:
            before = row_counts()
            probe.refused(f"{method} {path} {label}", probe.send(method, path, raw))
            if row_counts() != before:
                probe.problems.append(f"{method} {path} {label}: rows were written")
    staff.section = "malformed bodies"
    staff.tried += patient.tried
    staff.server_errors += patient.server_errors
    staff.problems += patient.problems
    staff.finish()


def test_a_body_over_the_limit_gets_a_json_error_not_an_html_page(staff, course):
    for size in (MAX_BODY_BYTES + 1, 3 * 1024 * 1024):
        raw = json.dumps(event(reason="x" * size))

        response = staff.send("POST", f"/api/v1/courses/{course.pk}/events/", raw)

        assert response.status_code == 400
        assert response["Content-Type"] == "application/json"
        assert response.json()["code"] == "invalid"
        assert "<html" not in response.content.decode().lower()


def _field_cases(course_id: int, team_id: int) -> Iterator[tuple[str, str, str, Any, str]]:
    """(label, method, path, body, field in error) for wrong types and values out of range."""
    events = f"/api/v1/courses/{course_id}/events/"
    for name in ("mrn", "given_name", "family_name", "phone", "timezone", "email"):
        yield (f"patient.{name} 10,000 chars", "POST", "/api/v1/courses/",
               registration(team_id, patient={name: LONG}), f"patient.{name}")  # fmt: skip
    for name in ("primary_site", "differentiation", "t", "notes"):
        yield (f"diagnosis.{name} 10,000 chars", "POST", "/api/v1/courses/",
               registration(team_id, diagnosis={name: LONG}), f"diagnosis.{name}")  # fmt: skip
    for name in ("type", "reason", "override_reason"):
        yield (f"event {name} 10,000 chars", "POST", events, event(**{name: LONG}), name)
    yield ("imaging notes 10,000 chars", "POST", "/api/v1/imaging-studies/",
           imaging(course_id, notes=LONG), "notes")  # fmt: skip
    yield (
        "lab unit 10,000 chars",
        "POST",
        "/api/v1/lab-results/",
        lab(course_id, unit=LONG),
        "unit",
    )
    # Huge integers and numbers that are not numbers.
    for field, body in (
        ("care_team", registration(HUGE)),
        ("patient_id", registration(team_id, patient=None) | {"patient_id": HUGE}),
        ("surgery.nodes_examined", registration(team_id, surgery={"nodes_examined": HUGE})),
        ("diagnosis.ki67_percent", registration(team_id, diagnosis={"ki67_percent": HUGE})),
        ("diagnosis.ki67_percent", registration(team_id, diagnosis={"ki67_percent": "NaN"})),
        ("diagnosis.ki67_percent", registration(team_id, diagnosis={"ki67_percent": "Infinity"})),
        ("diagnosis.mitoses_per_2mm2",
         registration(team_id, diagnosis={"mitoses_per_2mm2": "-Infinity"})),
    ):  # fmt: skip
        if body.get("patient") is None:
            body.pop("patient", None)
        yield (f"{field}={str(body)[:0]}huge/NaN", "POST", "/api/v1/courses/", body, field)
    yield (
        "expected_version 10**30",
        "POST",
        events,
        event(expected_version=HUGE),
        "expected_version",
    )
    yield ("data.resectable 10**30", "POST", events, event(data={"site": "liver", "resectable": HUGE}),
           "data.resectable")  # fmt: skip
    yield ("lab value 10**30", "POST", "/api/v1/lab-results/", lab(course_id, value=HUGE), "value")
    yield ("lab value NaN", "POST", "/api/v1/lab-results/", lab(course_id, value="NaN"), "value")
    yield ("lab value Infinity", "POST", "/api/v1/lab-results/", lab(course_id, value="Infinity"),
           "value")  # fmt: skip
    yield ("course 10**30", "POST", "/api/v1/imaging-studies/", imaging(HUGE), "course")
    for name, value in (("abdominal_pain", HUGE), ("flushing_per_day", "NaN"),
                        ("stools_per_day", "Infinity"), ("weight_loss_kg", 1e300)):  # fmt: skip
        yield (f"symptom {name}={value!s:.10}", "POST", "/api/v1/symptom-checks/",
               symptoms(course_id, **{name: value}), name)  # fmt: skip
    # Wrong types.
    yield ("type as a list", "POST", events, event(type=["recurrence_detected"]), "type")
    yield ("data as a list", "POST", events, event(data=[1, 2]), "data")
    yield ("override as 'maybe'", "POST", events, event(override="maybe"), "override")
    yield ("occurred_on as a number", "POST", events, event(occurred_on=20260801), "occurred_on")
    yield ("patient as a string", "POST", "/api/v1/courses/", registration(team_id, patient="Ana"),
           "patient")  # fmt: skip
    yield ("care_team as an object", "POST", "/api/v1/courses/", registration({"id": team_id}),
           "care_team")  # fmt: skip
    yield ("wheezing as 'maybe'", "POST", "/api/v1/symptom-checks/",
           symptoms(course_id, wheezing="maybe"), "wheezing")  # fmt: skip
    # Dates that are not dates, or not plausible.
    for value in ("0000-01-01", "2026-13-45", "2026-02-30", "9999-12-31", "01/08/2026", ""):
        yield (f"occurred_on {value!r}", "POST", events, event(occurred_on=value), "occurred_on")
        yield (f"collected_on {value!r}", "POST", "/api/v1/lab-results/",
               lab(course_id, collected_on=value), "collected_on")  # fmt: skip
        yield (f"diagnosed_on {value!r}", "POST", "/api/v1/courses/",
               registration(team_id, diagnosis={"diagnosed_on": value}), "diagnosis.diagnosed_on")  # fmt: skip
    for value in ("0000-01-01", "9999-12-31", "2026-13-45"):
        yield (f"birth_date {value!r}", "POST", "/api/v1/courses/",
               registration(team_id, patient={"birth_date": value}), "patient.birth_date")  # fmt: skip


def test_wrong_types_huge_values_and_impossible_dates_are_field_errors(staff, course, team_a):
    for label, method, path, body, field in _field_cases(course.pk, team_a.pk):
        staff.json(label, method, path, body, field)
    staff.section = "field values"
    staff.finish()


def test_patch_bodies_with_wrong_values_are_field_errors(staff, course, api, patient_user):
    me = Probe(api(patient_user), "patient PATCH")
    for field, value in (("quiet_hours_start", "24:00"), ("quiet_hours_start", "12:00+01:00"),
                         ("quiet_hours_end", LONG), ("timezone", "Mars/Olympus"),
                         ("timezone", LONG), ("language", "xx"), ("email", "not-an-email"),
                         ("phone", "12345"), ("sms_consent", "maybe"), ("email", None)):  # fmt: skip
        me.json(f"{field}={value!s:.20}", "PATCH", "/api/v1/patients/me/", {field: value}, field)
    me.finish()


# --- Query strings: page sizes, cursors, filters -------------------------------------------------
def test_a_huge_page_size_is_capped(staff, course):
    for size in (100_000, "9" * 30):
        response = staff.client.get("/api/v1/courses/", {"page_size": size})

        assert response.status_code == 200
        assert len(response.json()["results"]) == 1
    request = Request(RequestFactory().get("/", {"page_size": 100_000}))
    assert IdCursorPagination().get_page_size(request) == 200
    assert OldestFirstPagination().get_page_size(request) == 500


def test_page_size_two_pages_by_cursor(staff, clinician, team_a, course):
    factories.register(clinician, team_a)
    factories.register(clinician, team_a)

    first = staff.client.get("/api/v1/courses/", {"page_size": 2}).json()
    second = staff.client.get(first["next"]).json()

    assert len(first["results"]) == 2
    assert len(second["results"]) == 1
    assert "count" not in first


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "!!!", "A" * 5000, _cursor("p=abc"), _cursor("p=" + "9" * 30), _cursor("r=x"),
     _cursor("o=-1"), _cursor("p=1e5")],
)  # fmt: skip
def test_a_forged_cursor_is_invalid_input(staff, course, cursor):
    for path in ("/api/v1/courses/", f"/api/v1/courses/{course.pk}/events/", "/api/v1/patients/",
                 "/api/v1/symptom-checks/", "/api/v1/alerts/"):  # fmt: skip
        response = staff.client.get(path, {"cursor": cursor})

        assert response.status_code == 400, path
        assert response.json()["errors"] == {"cursor": ["Invalid cursor."]}


def test_bad_query_filters_are_field_errors(staff, course):
    # Filters answer `invalid_filter`; pagination and unstorable characters answer `invalid`.
    for params, field, code in (
        ({"state": LONG}, "state", "invalid_filter"), ({"state": "\x00"}, "state", "invalid"),
        ({"care_team": "9" * 30}, "care_team", "invalid_filter"),
        ({"care_team": "-1"}, "care_team", "invalid_filter"),
        ({"due_before": "2026-13-45"}, "due_before", "invalid_filter"),
        ({"overdue": "2"}, "overdue", "invalid_filter"),
        ({"overdue": "maybe"}, "overdue", "invalid_filter"),
        ({"page_size": "0.5"}, "page_size", "invalid"),
        ({"page_size": "0"}, "page_size", "invalid"),
        ({"page_size": "-3"}, "page_size", "invalid"),
        ({"page_size": "9" * 101}, "page_size", "invalid"),
        ({"due_before": "0000-01-01"}, "due_before", "invalid_filter"),
    ):  # fmt: skip
        staff.refused(f"courses {params!s:.40}", staff.client.get("/api/v1/courses/", params),
                      field=field, code=code)  # fmt: skip
    for path in ("imaging-studies", "lab-results", "symptom-checks", "reminders"):
        for value in ("x", "9" * 30, "-3"):
            response = staff.client.get(f"/api/v1/{path}/", {"course": value})
            staff.refused(f"{path} course={value}", response, field="course", code="invalid_filter")
    staff.section = "query strings"
    staff.finish()


def test_a_birth_date_centuries_ago_is_refused(staff, team_a):
    body = registration(team_a.pk, patient={"birth_date": "0001-01-01"})

    response = staff.client.post("/api/v1/courses/", body, format="json")

    assert response.status_code == 400
    assert "patient.birth_date" in response.json()["errors"]
