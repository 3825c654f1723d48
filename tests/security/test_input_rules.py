"""No input a client can send is a 500: ids, unstorable characters and references in event data.

Each kind of input is tried as a table over every endpoint that takes it, and as a property
where the kind is open-ended (any text that is not a plain ASCII number).
"""

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from api.params import MAX_ID
from core.errors import DomainError
from surveillance import services as surveillance
from surveillance.models import SymptomCheck
from tests import factories
from tests.surveillance.test_symptom_checks import CALM
from treatments import services
from treatments.models import CourseEvent, Patient

pytestmark = pytest.mark.django_db

ID_FILTERS = (
    ("/api/v1/courses/", "care_team"),
    ("/api/v1/imaging-studies/", "course"),
    ("/api/v1/lab-results/", "course"),
    ("/api/v1/symptom-checks/", "course"),
    ("/api/v1/reminders/", "course"),
)
# Texts that str.isdigit() or int() accept in some form but that are not an id.
NOT_IDS = ("²", "٣", "１", "1e3", " 1", "1 ", "+1", "-1", "0", "1_000", "0x1", "1.0", "",
           "9" * 20, str(2**63), "9" * 5000, "1\n")  # fmt: skip
UNSTORABLE = ("a\x00b", "\x00", "a\ud800", "\udfff", "\ud83d")
LIST_PATHS = ("/api/v1/courses/", "/api/v1/patients/", "/api/v1/imaging-studies/",
              "/api/v1/lab-results/", "/api/v1/symptom-checks/", "/api/v1/reminders/",
              "/api/v1/alerts/")  # fmt: skip


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


def raw_query(params: dict[str, str]) -> str:
    """A query string as a client would put it on the wire: UTF-8, lone surrogates included."""
    return "&".join(
        f"{quote(k.encode('utf-8', 'surrogatepass'))}={quote(v.encode('utf-8', 'surrogatepass'))}"
        for k, v in params.items()
    )


def assert_refused(response: Any, field: str, code: str = "invalid") -> None:
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == code
    assert field in body["errors"], body


@pytest.mark.parametrize(("path", "name"), ID_FILTERS)
@pytest.mark.parametrize("value", NOT_IDS)
def test_every_id_filter_refuses_what_is_not_an_ascii_whole_number(
    coordinator, course, path, name, value
):
    response = client_for(coordinator).get(f"{path}?{raw_query({name: value})}")

    assert_refused(response, name, "invalid_filter")


@pytest.mark.parametrize(("path", "name"), ID_FILTERS)
def test_every_id_filter_reads_a_plain_id_from_one_to_the_largest_bigint(
    coordinator, course, path, name
):
    client = client_for(coordinator)
    ids = {"care_team": course.care_team_id, "course": course.pk}

    for value in ("1", "007", str(ids[name]), str(MAX_ID)):
        assert client.get(path, {name: value}).status_code == 200, value
    assert client.get("/api/v1/courses/", {"care_team": course.care_team_id}).json()["results"]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(value=st.text(max_size=25))
def test_an_id_filter_accepts_exactly_the_ascii_numbers_in_range(coordinator, course, value):
    response = client_for(coordinator).get(f"/api/v1/lab-results/?{raw_query({'course': value})}")

    # An id is written with ASCII digits only, at most 19 of them (a bigint), from 1.
    is_id = value.isascii() and value.isdigit() and len(value) <= 19 and 1 <= int(value) <= MAX_ID
    assert response.status_code == (200 if is_id else 400), (value, response.content[:200])


@pytest.mark.parametrize("path", LIST_PATHS)
@pytest.mark.parametrize("value", UNSTORABLE)
def test_an_unstorable_character_in_any_query_parameter_is_refused_by_name(
    coordinator, course, path, value
):
    for name in ("kind", "state", "cursor", "anything"):
        response = client_for(coordinator).get(f"{path}?{raw_query({name: value})}")

        # A lone surrogate arrives percent-encoded and Django reads it as U+FFFD: then the
        # parameter is simply a wrong value (or ignored), never a server error.
        assert response.status_code in (200, 400), response.content[:300]
        if "\x00" in value:
            assert_refused(response, name)


def test_an_unstorable_character_in_a_parameter_name_is_refused(coordinator, course):
    response = client_for(coordinator).get("/api/v1/courses/?a%00b=1")

    assert_refused(response, "non_field_errors")


def registration(team_id: int, **patient: Any) -> dict:
    return {
        "patient": factories.patient_data(mrn="U1", birth_date="1961-04-02") | patient,
        "care_team": team_id,
        "diagnosis": factories.diagnosis_data(diagnosed_on="2026-01-10"),
        "surgery": factories.surgery_data(performed_on="2026-02-01"),
    }


@pytest.mark.parametrize("value", UNSTORABLE)
def test_an_unstorable_character_anywhere_in_a_json_body_is_refused_and_writes_nothing(
    coordinator, team_a, course, value
):
    client = client_for(coordinator)
    before = (Patient.objects.count(), CourseEvent.objects.count())
    cases = [
        ("/api/v1/courses/", registration(team_a.pk, given_name=value), "patient.given_name"),
        ("/api/v1/courses/", registration(team_a.pk) | {value: 1}, "non_field_errors"),
        (f"/api/v1/courses/{course.pk}/events/",
         {"type": "recurrence_detected", "occurred_on": "2026-08-01",
          "data": {"site": value, "resectable": True}}, "data.site"),
        (f"/api/v1/courses/{course.pk}/events/",
         {"type": "course_closed", "occurred_on": "2026-08-01",
          "data": {"reason": "discharged"}, "reason": ["fine", value]}, "reason.1"),
    ]  # fmt: skip
    for path, body, field in cases:
        # ensure_ascii writes a lone surrogate as the escape "\ud800", as JSON allows.
        response = client.post(path, json.dumps(body), content_type="application/json")

        assert_refused(response, field)
    patch = client.patch(
        f"/api/v1/patients/{course.patient_id}/",
        json.dumps({"phone": value}),
        content_type="application/json",
    )
    assert_refused(patch, "phone")
    assert (Patient.objects.count(), CourseEvent.objects.count()) == before


@pytest.mark.parametrize("value", ("a\x00b", "a\ud800b"))
def test_a_token_request_with_an_unstorable_username_or_password_is_a_400(coordinator, value):
    client = APIClient()
    for body in ({"username": value, "password": "x"},
                 {"username": coordinator.username, "password": value}):  # fmt: skip
        response = client.post(
            "/api/v1/auth/token/", json.dumps(body), content_type="application/json"
        )

        assert response.status_code == 400, response.content[:300]
        assert response.json()["code"] == "invalid"


def test_form_encoded_logins_with_a_nul_are_refused_not_a_server_error(coordinator):
    client = APIClient()
    body = "username=a%00b&password=x"
    form = "application/x-www-form-urlencoded"

    admin = client.post("/admin/login/", body, content_type=form)
    api = client.post("/api/v1/auth/token/", body, content_type=form)

    assert admin.status_code == 400
    assert_refused(api, "username")


def test_an_idempotency_key_with_a_nul_is_refused(coordinator, team_a):
    response = client_for(coordinator).post(
        "/api/v1/courses/",
        json.dumps(registration(team_a.pk)),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k\x00",
    )

    assert_refused(response, "Idempotency-Key")
    assert not Patient.objects.filter(mrn="U1").exists()


# --- References inside event data --------------------------------------------------------


def check_on(course, actor) -> SymptomCheck:
    return surveillance.symptom_check_record(
        course=course, actor=actor, reported_on=dt.date(2026, 9, 1), **CALM
    ).check


@pytest.fixture
def neighbour(clinician, team_a):
    return factories.register(clinician, team_a, given_name="Nina", family_name="Next")


@pytest.fixture
def course_b(coordinator2, team_b):
    return factories.register(coordinator2, team_b, given_name="Bea", family_name="Other")


def test_event_data_may_name_a_symptom_check_of_the_same_course(clinician, course):
    own = check_on(course, clinician)

    recorded = services.record_event(
        course=course, type="symptoms_reported", occurred_on=dt.date(2026, 9, 2),
        data={"symptom_check": own.pk}, actor=clinician,
    )  # fmt: skip

    assert recorded.event.data == {"symptom_check": own.pk}


@pytest.mark.parametrize("whose", ["other team", "same team, other course", "missing"])
def test_event_data_naming_a_record_not_of_the_course_is_refused_on_that_field(
    clinician, coordinator2, course, course_b, neighbour, whose
):
    target = {
        "other team": lambda: check_on(course_b, coordinator2).pk,
        "same team, other course": lambda: check_on(neighbour, clinician).pk,
        "missing": lambda: 10**12,
    }[whose]()
    before = CourseEvent.objects.filter(course=course).count()

    response = client_for(clinician).post(
        f"/api/v1/courses/{course.pk}/events/",
        {"type": "symptoms_reported", "occurred_on": "2026-09-02",
         "data": {"symptom_check": target}},
        format="json",
    )  # fmt: skip

    assert_refused(response, "data.symptom_check")
    assert CourseEvent.objects.filter(course=course).count() == before


def test_an_imaging_study_of_another_team_is_refused_by_the_shared_service(
    clinician, coordinator2, course, course_b
):
    factories.advance(
        course, clinician, ("recurrence_detected", {"site": "liver", "resectable": False}),
        ("ssa_started", factories.SSA),
    )  # fmt: skip
    theirs = surveillance.imaging_record(
        course=course_b, actor=coordinator2, performed_on=dt.date(2026, 9, 1), modality="ct",
        purpose="surveillance", result="ned",
    ).study  # fmt: skip

    # The admin's event form and the API both record events through this service.
    with pytest.raises(DomainError) as refused:
        services.record_event(
            course=course, type="progression_detected", occurred_on=dt.date(2026, 9, 3),
            data={"recist": "PD", "imaging_study": theirs.pk}, actor=clinician,
        )  # fmt: skip

    assert refused.value.status == 400
    assert "data.imaging_study" in refused.value.as_body()["errors"]
    assert not CourseEvent.objects.filter(course=course, type="progression_detected").exists()
