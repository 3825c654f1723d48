"""The admin's history is read-only for every tracked model, and its reads are logged.

Pages are found from ``admin.site``: a model registered later with a history is covered
without editing this file.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import DatabaseError
from django.urls import reverse

from alerts.models import CoordinatorAlert
from api.models import ReadAccess
from surveillance.models import LabResult
from tests.admin.conftest import logged_in
from tests.security.test_admin_walk import fingerprint, team_a_rows
from treatments.models import Course, Patient

pytestmark = [pytest.mark.django_db]


def history_tracked() -> list[type]:
    return [
        model
        for model in admin.site._registry
        if hasattr(model, "history")
        and model._meta.app_label in ("treatments", "surveillance", "alerts")
    ]


def test_every_model_with_a_history_is_walked():
    # The project's tracked models; a new one must show up in the admin walk below.
    labels = {model._meta.label for model in history_tracked()}
    assert {
        "treatments.CareTeam", "treatments.Patient", "treatments.Diagnosis", "treatments.Surgery",
        "treatments.Course", "surveillance.SurveillancePlan", "surveillance.ImagingStudy",
        "surveillance.LabResult", "surveillance.SymptomCheck", "surveillance.ClinicVisit",
        "surveillance.Injection", "alerts.CoordinatorAlert",
    } <= labels  # fmt: skip


@pytest.mark.parametrize("persona", ["coordinator", "clinician"])
def test_no_history_form_accepts_a_post_even_from_the_owning_team(
    morning, team_a, coordinator, clinician, persona
):
    client = logged_in({"coordinator": coordinator, "clinician": clinician}[persona])
    rows = team_a_rows(team_a)
    before = fingerprint()
    answers = {}
    for model in history_tracked():
        obj = rows[model].order_by("pk").first()
        oldest = obj.history.order_by("history_id").first()
        opts = model._meta
        target = reverse(
            f"admin:{opts.app_label}_{opts.model_name}_simple_history",
            args=[obj.pk, oldest.history_id],
        )
        shown = client.get(target).status_code
        # Only the CSRF token and a save, as a revert form would send.
        refused = client.post(target, {"_save": "Save"}).status_code
        answers[opts.label] = (shown, refused)

    assert answers == dict.fromkeys(answers, (200, 403))
    assert fingerprint() == before  # the resolved alert stays resolved, the plan unchanged
    alert = rows[CoordinatorAlert].get(note="imaging booked")
    assert (alert.note, alert.resolved_by) == ("imaging booked", coordinator)


@pytest.mark.parametrize("bad", ["abc", "1.5", "²", "-", "9" * 30])
def test_a_malformed_id_in_an_admin_url_answers_404(morning, team_a, coordinator, bad):
    client = logged_in(coordinator)
    course = team_a_rows(team_a)[Course].first()
    version = course.history.first().history_id
    paths = [
        f"/admin/treatments/course/{bad}/change/",
        f"/admin/treatments/course/{bad}/history/",
        f"/admin/treatments/course/{bad}/delete/",
        f"/admin/treatments/course/{bad}/",
        f"/admin/treatments/course/{bad}/history/{version}/",
        f"/admin/treatments/course/{course.pk}/history/{bad}/",
        f"/admin/surveillance/labresult/{bad}/history/1/",
        f"/admin/alerts/coordinatoralert/{bad}/history/",
        f"/admin/treatments/course/{bad}/record-event/symptoms_reported/",
    ]

    assert {path: client.get(path).status_code for path in paths} == dict.fromkeys(paths, 404)


# --- The read-access log ---------------------------------------------------------------------


def rows_for(user, path: str) -> set[int]:
    return set(
        ReadAccess.objects.filter(actor=user, endpoint=path).values_list("patient_id", flat=True)
    )


def test_each_admin_page_showing_a_patient_logs_one_row_per_patient_shown(
    morning, team_a, coordinator
):
    client = logged_in(coordinator)
    rows = team_a_rows(team_a)
    course = morning.progression
    lab = rows[LabResult].get()
    alert = rows[CoordinatorAlert].get(note="imaging booked")
    version = alert.history.order_by("history_id").first().history_id
    team_a_patients = set(rows[Patient].values_list("pk", flat=True))
    alerted = set(rows[CoordinatorAlert].values_list("course__patient_id", flat=True))
    pages = {
        f"/admin/treatments/patient/{course.patient_id}/change/": {course.patient_id},
        f"/admin/treatments/course/{course.pk}/change/": {course.patient_id},
        f"/admin/treatments/course/{course.pk}/history/": {course.patient_id},
        f"/admin/treatments/course/{course.pk}/record-event/symptoms_reported/": {
            course.patient_id
        },
        "/admin/surveillance/labresult/": {lab.course.patient_id},
        f"/admin/surveillance/labresult/{lab.pk}/change/": {lab.course.patient_id},
        "/admin/alerts/coordinatoralert/": alerted,
        f"/admin/alerts/coordinatoralert/{alert.pk}/history/{version}/": {alert.course.patient_id},
        "/admin/treatments/patient/": team_a_patients,
    }

    for path, expected in pages.items():
        assert client.get(path).status_code == 200, path
        assert rows_for(coordinator, path) == expected, path
    # One row per patient per request, not one per row shown (the course has several alerts).
    assert ReadAccess.objects.filter(actor=coordinator).count() == sum(map(len, pages.values()))


def test_the_worklist_logs_the_patients_it_names_and_only_the_teams(morning, team_a, coordinator):
    client = logged_in(coordinator)

    response = client.get("/admin/")

    logged = rows_for(coordinator, "/admin/")
    named = {morning.gap.patient_id, morning.late.patient_id, morning.recurrence.patient_id,
             morning.progression.patient_id}  # fmt: skip
    assert response.status_code == 200
    assert named <= logged
    assert logged <= set(team_a_rows(team_a)[Patient].values_list("pk", flat=True))


def test_a_list_showing_no_patient_logs_nothing(morning, coordinator):
    client = logged_in(coordinator)

    response = client.get("/admin/surveillance/labresult/", {"q": "no such patient"})

    assert response.status_code == 200
    assert not ReadAccess.objects.exists()


@pytest.fixture
def broken_read_log(monkeypatch) -> None:
    """The read-log table refuses inserts, as a full disk or a revoked grant would."""

    def refuse(*args, **kwargs):
        raise DatabaseError("could not extend file: No space left on device")

    monkeypatch.setattr("api.readlog._insert_rows", refuse)


def test_an_admin_page_whose_read_cannot_be_logged_is_not_served(
    morning, coordinator, broken_read_log
):
    client = logged_in(coordinator)
    course = morning.progression
    patient = course.patient

    for path in (
        "/admin/",
        f"/admin/treatments/patient/{patient.pk}/change/",
        f"/admin/treatments/course/{course.pk}/change/",
        "/admin/treatments/patient/",
    ):
        response = client.get(path)

        assert response.status_code == 503, path
        assert patient.mrn not in response.content.decode(), path
        assert patient.family_name not in response.content.decode(), path


def test_the_course_page_offers_no_save_button_and_refuses_a_post(morning, clinician):
    client = logged_in(clinician)
    course = morning.progression
    target = f"/admin/treatments/course/{course.pk}/change/"
    before = Course.objects.filter(pk=course.pk).values().get()

    page = client.get(target).content.decode()
    response = client.post(target, {"opened_on": "2020-01-01", "_save": "Save"})

    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert "record-event" in page  # the events are the way to change the course
    assert response.status_code == 403
    assert Course.objects.filter(pk=course.pk).values().get() == before


# --- Filters' choices ------------------------------------------------------------------------


def offered(client, path: str) -> dict[str, set[str]]:
    """The values each filter of a changelist offers, by the filter's title."""
    response = client.get(path)
    assert response.status_code == 200, path
    return {
        str(spec.title): {
            str(choice["query_string"]) for choice in spec.choices(response.context["cl"])
        }
        for spec in response.context["cl"].filter_specs
    }


def test_filters_offer_only_values_and_teams_found_in_the_users_own_records(
    team_a, team_b, clinician, coordinator2
):
    from tests import factories

    factories.register(clinician, team_a, patient=factories.patient_data(language="fr"))
    factories.register(coordinator2, team_b, patient=factories.patient_data(language="en"))
    # A second team for coordinator2, so that its team filters have choices to show.
    team_c = factories.team("Team C", "Clinic 3")
    team_c.members.add(coordinator2)
    factories.register(coordinator2, team_c)
    ours, theirs = logged_in(clinician), logged_in(coordinator2)

    mine = offered(ours, "/admin/treatments/patient/")
    other = offered(theirs, "/admin/treatments/patient/")

    assert any("language=fr" in q for q in mine["language"])
    assert not any("language=fr" in q for q in other["language"])
    for path in ("/admin/treatments/patient/", "/admin/treatments/course/",
                 "/admin/treatments/diagnosis/", "/admin/treatments/surgery/"):  # fmt: skip
        teams = {q for qs in offered(theirs, path).values() for q in qs if "care_team__id" in q}
        assert any(f"care_team__id__exact={team_c.pk}" in q for q in teams), path
        assert not any(f"care_team__id__exact={team_a.pk}" in q for q in teams), path
