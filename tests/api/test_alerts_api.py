"""The coordinator's worklist through the API: alerts raised by events, acknowledged, resolved."""

import datetime as dt

import pytest

from tests import factories

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def recurrence(course, clinician, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        factories.advance(
            course, clinician, ("recurrence_detected", {"site": "liver", "resectable": True}),
            on=dt.date(2026, 8, 1),
        )  # fmt: skip
    return course


def test_a_recurrence_puts_a_decision_on_the_worklist_until_it_is_resolved(
    api, coordinator, coordinator2, recurrence
):
    staff = api(coordinator)

    open_alerts = staff.get("/api/v1/alerts/", {"status": "open"}).json()["results"]
    assert [(a["kind"], a["course"]) for a in open_alerts] == [("decision_pending", recurrence.pk)]
    alert_id = open_alerts[0]["id"]

    assert api(coordinator2).get("/api/v1/alerts/").json()["results"] == []
    assert api(coordinator2).post(f"/api/v1/alerts/{alert_id}/acknowledge/").status_code == 404

    acknowledged = staff.post(f"/api/v1/alerts/{alert_id}/acknowledge/")
    assert acknowledged.status_code == 200
    assert (acknowledged.json()["status"], acknowledged.json()["acknowledged_by"]) == (
        "acknowledged", "coordinator",
    )  # fmt: skip

    resolved = staff.post(
        f"/api/v1/alerts/{alert_id}/resolve/", {"note": "MDT booked"}, format="json"
    )
    assert resolved.status_code == 200
    assert (resolved.json()["status"], resolved.json()["note"]) == ("resolved", "MDT booked")
    assert staff.get("/api/v1/alerts/", {"status": "open"}).json()["results"] == []


def test_alert_filters_refuse_unknown_values(api, coordinator):
    response = api(coordinator).get("/api/v1/alerts/", {"severity": "apocalyptic"})

    assert response.status_code == 400
    assert "severity" in response.json()["errors"]


def test_a_patient_cannot_read_the_worklist(api, patient_user):
    assert api(patient_user).get("/api/v1/alerts/").status_code == 403
