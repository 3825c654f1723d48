"""List views: search by MRN and name, the filters and the date hierarchy, scoped to the team."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests import factories
from treatments.models import Course

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]


@pytest.fixture
def ours(clinician, team_a) -> Course:
    course = factories.register(
        clinician, team_a, patient=factories.patient_data(mrn="OURS-5", family_name="Nakamura")
    )
    return factories.advance(
        course, clinician, ("recurrence_detected", {"site": "liver", "resectable": True})
    )


@pytest.fixture
def theirs(coordinator2, team_b) -> Course:
    return factories.register(
        coordinator2, team_b, patient=factories.patient_data(mrn="THEIRS-5", family_name="Nakamura")
    )


def listed(client, model: str, **params: str) -> list:
    response = client.get(reverse(f"admin:treatments_{model}_changelist"), params)
    assert response.status_code == 200, response.content.decode()[:500]
    return list(response.context["cl"].result_list)


@pytest.mark.parametrize(
    ("model", "params"),
    [
        ("course", {"q": "OURS-5"}),
        ("course", {"q": "Nakamura"}),
        ("course", {"state__exact": "recurrence"}),
        ("course", {"diagnosis__stage": "III"}),
        ("course", {"diagnosis__grade": "G2"}),
        ("course", {"opened_on__year": "2026"}),
        ("patient", {"q": "Nakamura"}),
        ("patient", {"courses__state__exact": "recurrence"}),
        ("patient", {"diagnoses__grade": "G2"}),
        ("patient", {"created_at__year": "2026"}),
        ("diagnosis", {"q": "OURS-5"}),
        ("diagnosis", {"diagnosed_on__year": "2026"}),
        ("surgery", {"q": "Nakamura", "margin__exact": "R0"}),
        ("courseevent", {"q": "OURS-5", "type__exact": "recurrence_detected"}),
    ],
)
def test_searches_and_filters_find_the_teams_record_and_never_another_teams(
    as_coordinator, ours, theirs, model, params
):
    rows = listed(as_coordinator, model, **params)

    assert len(rows) == 1
    row = rows[0]
    patient = row if model == "patient" else getattr(row, "patient", None) or row.course.patient
    assert patient == ours.patient


def test_the_care_team_filter_offers_only_the_users_teams(as_coordinator, ours, theirs):
    response = as_coordinator.get(reverse("admin:treatments_course_changelist"))

    text = response.content.decode()
    assert "Team A" in text
    assert "Team B" not in text
