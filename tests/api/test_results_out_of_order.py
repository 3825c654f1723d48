"""A result whose event would break the date order is stored, its event is not recorded, and a
coordinator alert asks a clinician to review it (docs/api.md#dates)."""

import datetime as dt

import pytest

from alerts.models import CoordinatorAlert
from surveillance.models import ImagingStudy
from tests import factories
from treatments import services
from treatments.models import CourseEvent

pytestmark = pytest.mark.django_db

D = dt.date
UNRESECTABLE = {"site": "peritoneal", "resectable": False}


@pytest.fixture
def on_ssa(course, clinician):
    """The course on lanreotide: recurrence on 2026-05-04, the analogue from 2026-06-01."""
    for kind, on, data in [
        ("recurrence_detected", D(2026, 5, 4), UNRESECTABLE),
        ("ssa_started", D(2026, 6, 1), factories.SSA),
    ]:
        services.record_event(
            course=course, type=kind, occurred_on=on, data=data, actor=clinician, reason="board"
        )
    course.refresh_from_db()
    return course


def progression_scan(course, on: str) -> dict:
    return {"course": course.pk, "performed_on": on, "modality": "ct",
            "purpose": "response_assessment", "result": "progression"}  # fmt: skip


def out_of_order_alerts(course):
    return CoordinatorAlert.objects.filter(
        course=course, kind="result_out_of_order", resolved_at__isnull=True
    )


@pytest.mark.parametrize(
    ("performed_on", "conflicts_with", "conflict_on"),
    [
        # Between the recurrence and the analogue: before the event that opened the line state.
        ("2026-05-20", "ssa_started", "2026-06-01"),
        # Before both: the conflict is still the event that brought the course into its state.
        ("2026-03-15", "ssa_started", "2026-06-01"),
        # The day before the state was entered is already too early.
        ("2026-05-31", "ssa_started", "2026-06-01"),
    ],
)
def test_a_progression_dated_before_the_current_state_is_stored_without_its_event_and_alerts(
    api, integration, on_ssa, django_capture_on_commit_callbacks, performed_on, conflicts_with,
    conflict_on,
):  # fmt: skip
    events_before = CourseEvent.objects.filter(course=on_ssa).count()

    with django_capture_on_commit_callbacks(execute=True):
        response = api(integration).post(
            "/api/v1/imaging-studies/", progression_scan(on_ssa, performed_on), format="json"
        )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["event"] is None
    (warning,) = [w for w in body["warnings"] if w["code"] == "event_out_of_order"]
    for named in ("progression_detected", performed_on, conflicts_with, conflict_on):
        assert named in warning["detail"]
    study = ImagingStudy.objects.get(course=on_ssa, performed_on=performed_on)
    assert study.event is None
    (stored,) = [w for w in study.warnings if w["code"] == "event_out_of_order"]
    assert (stored["event"], stored["conflicts_with"], stored["conflict_on"]) == (
        "progression_detected", conflicts_with, conflict_on,
    )  # fmt: skip
    assert CourseEvent.objects.filter(course=on_ssa).count() == events_before
    on_ssa.refresh_from_db()
    assert on_ssa.state != "progression"
    (alert,) = out_of_order_alerts(on_ssa)
    assert alert.severity == "high"
    assert alert.details["result_id"] == study.pk
    assert alert.details["event_type"] == "progression_detected"
    assert alert.details["conflicts_with"] == conflicts_with


def test_a_progression_in_date_order_records_its_event_and_raises_no_review(
    api, integration, on_ssa, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api(integration).post(
            "/api/v1/imaging-studies/", progression_scan(on_ssa, "2026-09-01"), format="json"
        )

    assert response.status_code == 201, response.json()
    assert response.json()["event"]["type"] == "progression_detected"
    assert not [w for w in response.json()["warnings"] if w["code"] == "event_out_of_order"]
    on_ssa.refresh_from_db()
    assert on_ssa.state == "progression"
    assert not out_of_order_alerts(on_ssa).exists()


def test_two_out_of_order_results_count_as_two_occurrences_of_one_open_review(
    api, integration, on_ssa, django_capture_on_commit_callbacks
):
    client = api(integration)
    for day in ("2026-05-10", "2026-05-20"):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/v1/imaging-studies/", progression_scan(on_ssa, day), format="json"
            )
        assert response.status_code == 201, response.json()

    (alert,) = out_of_order_alerts(on_ssa)
    assert alert.occurrences == 2


def test_a_refusal_other_than_the_date_order_keeps_its_own_warning_and_raises_no_review(
    api, integration, course, django_capture_on_commit_callbacks
):
    # Progression is not an event of a course in surveillance: the machine refuses it (409).
    with django_capture_on_commit_callbacks(execute=True):
        response = api(integration).post(
            "/api/v1/imaging-studies/", progression_scan(course, "2026-09-01"), format="json"
        )

    assert response.status_code == 201, response.json()
    codes = [w["code"] for w in response.json()["warnings"]]
    assert "event_not_recorded" in codes and "event_out_of_order" not in codes
    assert not out_of_order_alerts(course).exists()
