"""The API's POST answers that return a patient's data log the read, as its GETs do.

The same helper (api.readlog.log_reads) writes the rows for both doors; the admin's
side is tested in test_admin_history_and_reads.py.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from alerts import services as alerts
from api.models import ReadAccess
from tests.api.test_course_walk import REGISTRATION
from tests.api.test_results import NEGATIVE

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def logged(user, path: str) -> list[tuple[int, str]]:
    return list(
        ReadAccess.objects.filter(actor=user, endpoint=path).values_list("patient_id", "method")
    )


def test_each_post_answering_with_patient_data_logs_one_row_for_that_patient(
    coordinator, clinician, course, team_a
):
    staff = client_for(coordinator)
    alert = alerts.alert_raise(course=course, kind="decision_pending", severity="high")
    other = alerts.alert_raise(course=course, kind="imaging_overdue", severity="high")
    posts = [
        ("/api/v1/imaging-studies/", {"course": course.pk, "performed_on": "2026-08-03",
         "modality": "ct", "purpose": "surveillance", "result": "ned"}),
        ("/api/v1/lab-results/", {"course": course.pk, "analyte": "chromogranin_a",
         "value": "90", "unit": "ng/mL", "collected_on": "2026-08-03"}),
        ("/api/v1/symptom-checks/", NEGATIVE | {"course": course.pk}),
        (f"/api/v1/alerts/{alert.pk}/acknowledge/", {}),
        (f"/api/v1/alerts/{other.pk}/resolve/", {"note": "imaging booked"}),
    ]  # fmt: skip

    for path, body in posts:
        response = staff.post(path, body, format="json")

        assert response.status_code in (200, 201), (path, response.content)
        assert logged(coordinator, path) == [(course.patient_id, "POST")], path

    registered = client_for(clinician).post(
        "/api/v1/courses/", REGISTRATION | {"care_team": team_a.pk}, format="json"
    )
    assert registered.status_code == 201, registered.content
    assert logged(clinician, "/api/v1/courses/") == [(registered.json()["patient"]["id"], "POST")]


def test_a_refused_post_logs_no_read(coordinator, course):
    response = client_for(coordinator).post(
        "/api/v1/lab-results/",
        {"course": course.pk, "analyte": "chromogranin_a", "value": "90", "unit": "mg/24h",
         "collected_on": "2026-08-03"},
        format="json",
    )  # fmt: skip

    assert response.status_code == 400
    assert not ReadAccess.objects.exists()
