"""Every read of a patient's data through the API is logged, or not served at all (S20).

One ReadAccess row per patient per request, with the actor and the endpoint; nothing for
reads that return nothing (another team's object, a refused role); and when the log cannot be
written the request fails closed with 503 and no patient data.
"""

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from django.db import DatabaseError

from alerts import services as alerts
from api.models import ReadAccess
from surveillance import services as surveillance
from surveillance.models import ScheduledItem
from tests.api.figures import report

pytestmark = pytest.mark.django_db


@pytest.fixture
def results(course, neighbour_course, course_b, clinician, coordinator2) -> None:
    """Two imaging studies of the seed patient (one log row per patient, not per row), one of
    the neighbour, and labs, checks, alerts and reminders of every course."""
    for course_, actor in (
        (course, clinician),
        (neighbour_course, clinician),
        (course_b, coordinator2),
    ):
        surveillance.imaging_record(course=course_, actor=actor, performed_on=dt.date(2026, 8, 3),
                                    modality="ct", purpose="surveillance", result="ned")  # fmt: skip
        surveillance.lab_record(course=course_, actor=actor, analyte="chromogranin_a",
                                value=Decimal(90), unit="ng/mL", collected_on=dt.date(2026, 8, 3))  # fmt: skip
        surveillance.symptom_check_record(
            course=course_, actor=actor, reported_on=dt.date(2026, 8, 3), flushing_per_day=0,
            stools_per_day=1, wheezing=False, abdominal_pain=0, vomiting=False,
            no_stool_or_gas=False, palpitations_or_swelling=False, weight_loss_kg=0,
        )  # fmt: skip
        alerts.alert_raise(course=course_, kind="decision_pending", severity="high")
    surveillance.imaging_record(course=course, actor=clinician, performed_on=dt.date(2026, 8, 4),
                                modality="mri", purpose="surveillance", result="ned")  # fmt: skip
    first_due = ScheduledItem.objects.filter(course=course).order_by("due_on").first().due_on
    alerts.sweep(today=first_due)


STAFF_READS = [
    "/api/v1/courses/", "/api/v1/courses/{course}/", "/api/v1/courses/{course}/events/",
    "/api/v1/courses/{course}/history/", "/api/v1/patients/", "/api/v1/patients/{patient}/",
    "/api/v1/imaging-studies/", "/api/v1/lab-results/", "/api/v1/symptom-checks/",
    "/api/v1/reminders/", "/api/v1/alerts/", "/api/v1/courses/{course}/fhir/",
]  # fmt: skip
PATIENT_READS = [
    "/api/v1/courses/", "/api/v1/courses/{course}/", "/api/v1/courses/{course}/events/",
    "/api/v1/patients/me/", "/api/v1/patients/me/schedule/", "/api/v1/patients/{patient}/",
    "/api/v1/symptom-checks/", "/api/v1/reminders/", "/api/v1/courses/{course}/fhir/",
]  # fmt: skip
LISTS = {"/api/v1/courses/", "/api/v1/patients/", "/api/v1/imaging-studies/",
         "/api/v1/lab-results/", "/api/v1/symptom-checks/", "/api/v1/reminders/",
         "/api/v1/alerts/"}  # fmt: skip


def _paths(templates: list[str], course) -> list[str]:
    return [t.format(course=course.pk, patient=course.patient_id) for t in templates]


@pytest.mark.parametrize("persona", ["coordinator", "patient"])
def test_every_read_of_patient_data_writes_one_row_per_patient(
    api, persona, coordinator, patient_user, course, neighbour_course, results
):
    user = {"coordinator": coordinator, "patient": patient_user}[persona]
    client = api(user)
    templates = STAFF_READS if persona == "coordinator" else PATIENT_READS
    # Staff see both of team A's patients in every list; the patient only itself.
    listed = (
        {course.patient_id, neighbour_course.patient_id}
        if persona == "coordinator"
        else {course.patient_id}
    )
    reads = rows = 0
    for template, path in zip(templates, _paths(templates, course), strict=True):
        before = ReadAccess.objects.count()

        response = client.get(path)

        assert response.status_code == 200, (path, response.content[:200])
        logged = ReadAccess.objects.order_by("id")[before:]
        expected = listed if template in LISTS else {course.patient_id}
        assert Counter(r.patient_id for r in logged) == Counter(expected), path
        assert {(r.actor_id, r.endpoint, r.method) for r in logged} == {(user.pk, path, "GET")}
        reads += 1
        rows += len(logged)
    report("read log", f"{persona}: {reads} reads made, {rows} rows logged")


def test_a_row_records_who_read_which_patient_where_and_when(api, coordinator, course):
    api(coordinator).get(f"/api/v1/courses/{course.pk}/")

    row = ReadAccess.objects.get()
    assert (row.actor, row.patient_id, row.endpoint, row.method) == (
        coordinator, course.patient_id, f"/api/v1/courses/{course.pk}/", "GET",
    )  # fmt: skip
    assert row.at is not None


def test_reads_of_another_teams_data_write_nothing(api, coordinator2, course, results):
    other = api(coordinator2)
    for path in _paths(STAFF_READS, course):
        if path not in LISTS:
            assert other.get(path).status_code == 404, path
    for path in ("imaging-studies", "lab-results", "symptom-checks", "reminders"):
        assert other.get(f"/api/v1/{path}/", {"course": course.pk}).json()["results"] == []

    assert not ReadAccess.objects.filter(patient_id=course.patient_id).exists()


def test_refused_reads_write_nothing(api, integration, patient_user, course, results):
    api(integration).get(f"/api/v1/courses/{course.pk}/")
    api(integration).get("/api/v1/patients/")
    api(patient_user).get(f"/api/v1/courses/{course.pk}/history/")
    api(patient_user).get("/api/v1/courses/", {"due_before": "not-a-date"})

    assert not ReadAccess.objects.exists()


@pytest.fixture
def broken_read_log(monkeypatch) -> None:
    """The read-log table refuses inserts, as a full disk or a revoked grant would."""

    def refuse(*args, **kwargs):
        raise DatabaseError("could not extend file: No space left on device")

    monkeypatch.setattr("api.readlog._insert_rows", refuse)


@pytest.mark.parametrize("persona", ["coordinator", "patient"])
def test_a_read_that_cannot_be_logged_fails_closed(
    api, persona, coordinator, patient_user, course, results, broken_read_log
):
    client = api({"coordinator": coordinator, "patient": patient_user}[persona])
    templates = STAFF_READS if persona == "coordinator" else PATIENT_READS
    patient = course.patient

    for path in _paths(templates, course):
        response = client.get(path)

        assert response.status_code == 503, path
        assert response.json() == {
            "code": "read_log_unavailable",
            "detail": "The read-access log cannot be written; no patient data is returned.",
            "errors": {},
        }
        for secret in (patient.mrn, patient.family_name, patient.email):
            assert secret not in response.content.decode(), (path, secret)
        assert "No space left" not in response.content.decode()
