"""The surveillance admin: scoped to the user's care teams, writing only through the services."""

from __future__ import annotations

import datetime as dt

import pytest

from surveillance import services
from surveillance.models import ImagingStudy, SurveillancePlan, SymptomCheck
from tests import factories
from tests.surveillance.support import due_dates, writes

pytestmark = pytest.mark.django_db


def url(model: str, action: str = "changelist", *args) -> str:
    from django.urls import reverse

    return reverse(f"admin:surveillance_{model}_{action}", args=args)


def test_a_coordinator_lists_only_the_studies_of_their_care_teams(
    client, course, coordinator, coordinator2, team_b
):
    ours = services.imaging_record(course=course, actor=coordinator, performed_on=dt.date(2026, 8, 1),
                                   modality="ct", purpose="surveillance", result="ned").study  # fmt: skip
    other = factories.register(coordinator2, team_b)
    theirs = services.imaging_record(course=other, actor=coordinator2, performed_on=dt.date(2026, 8, 1),
                                     modality="mri", purpose="surveillance", result="ned").study  # fmt: skip
    client.force_login(coordinator)

    listed = client.get(url("imagingstudy"))

    assert listed.status_code == 200
    assert list(listed.context["cl"].result_list) == [ours]
    assert client.get(url("imagingstudy", "change", theirs.pk)).status_code == 404  # not found
    assert client.get(url("imagingstudy", "change", ours.pk)).status_code == 200


def test_a_coordinator_records_a_recurrence_in_the_admin_and_the_course_moves(
    client, course, coordinator
):
    client.force_login(coordinator)

    response = client.post(
        url("imagingstudy", "add"),
        {
            "course": course.pk,
            "performed_on": "2026-08-01",
            "modality": "mri",
            "purpose": "surveillance",
            "result": "recurrence",
            "notes": "two liver lesions",
            "site": "liver",
            "resectable": "on",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    study = ImagingStudy.objects.get()
    assert study.recorded_by == coordinator
    assert study.event.data == {"site": "liver", "resectable": True}
    course.refresh_from_db()
    assert course.state == "recurrence"


def test_the_admin_shows_the_services_refusal_on_the_form_and_writes_nothing(
    client, course, coordinator
):
    client.force_login(coordinator)
    before = writes(course)

    response = client.post(
        url("imagingstudy", "add"),
        {
            "course": course.pk,
            "performed_on": "2026-01-15",  # before the surgery
            "modality": "ct",
            "purpose": "surveillance",
            "result": "ned",
            "site": "other",
        },
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "before the surgery" in errors["performed_on"][0]
    assert writes(course) == before


def test_a_lab_result_with_a_unit_not_allowed_is_refused_in_the_admin(client, course, coordinator):
    client.force_login(coordinator)

    response = client.post(
        url("labresult", "add"),
        {"course": course.pk, "analyte": "chromogranin_a", "value": "85", "unit": "mg/dL",
         "collected_on": "2026-08-01", "on_ppi": "unknown"},
    )  # fmt: skip

    assert response.status_code == 200
    assert "unit" in response.context["adminform"].form.errors


def test_a_positive_symptom_check_entered_in_the_admin_records_its_event(
    client, course, coordinator
):
    client.force_login(coordinator)

    response = client.post(
        url("symptomcheck", "add"),
        {"course": course.pk, "reported_on": "2026-10-01", "flushing_per_day": "4",
         "stools_per_day": "2", "abdominal_pain": "0", "weight_loss_kg": "0"},
    )  # fmt: skip

    assert response.status_code == 302, response.context["adminform"].form.errors
    check = SymptomCheck.objects.get()
    assert check.assessment["carcinoid_syndrome_suspected"] is True
    assert course.events.get().type == "symptoms_reported"
    assert client.get(url("symptomcheck", "change", check.pk)).status_code == 200


def test_a_coordinator_may_not_add_to_another_teams_course(
    client, coordinator, coordinator2, team_b
):
    other = factories.register(coordinator2, team_b)
    client.force_login(coordinator)

    response = client.post(
        url("clinicvisit", "add"), {"course": other.pk, "visited_on": "2026-08-01"}
    )

    assert response.status_code == 200
    assert "course" in response.context["adminform"].form.errors


def test_the_plan_page_shows_the_courses_due_items(client, course, coordinator):
    client.force_login(coordinator)
    plan = SurveillancePlan.objects.get(course=course)

    page = client.get(url("surveillanceplan", "change", plan.pk))

    assert page.status_code == 200
    assert b"multiphase CT or MRI" in page.content
    assert b"2026-08-01" in page.content or b"Aug. 1, 2026" in page.content


def test_a_coordinator_sees_the_plan_but_may_not_change_it(client, course, coordinator):
    client.force_login(coordinator)
    plan = SurveillancePlan.objects.get(course=course)

    response = client.post(
        url("surveillanceplan", "change", plan.pk),
        plan_form(plan, early_interval_months=3, reason="faster"),
    )

    assert response.status_code == 403
    assert SurveillancePlan.objects.get(pk=plan.pk).early_interval_months == 6


def plan_form(plan: SurveillancePlan, **changes) -> dict:
    values = {name: getattr(plan, name) for name in services.PLAN_FIELDS}
    values["duration_years"] = values["duration_years"] or ""
    return values | changes


def test_a_clinician_changes_the_plan_in_the_admin_with_a_reason(client, course, clinician):
    client.force_login(clinician)
    plan = SurveillancePlan.objects.get(course=course)

    response = client.post(
        url("surveillanceplan", "change", plan.pk),
        plan_form(plan, first_imaging_months=3, reason="tumour board: Ki-67 revised"),
    )

    assert response.status_code == 302
    plan.refresh_from_db()
    assert plan.first_imaging_months == 3
    assert plan.history.first().history_change_reason == "tumour board: Ki-67 revised"
    assert plan.history.first().history_user == clinician
    assert due_dates(course)["imaging"] == dt.date(2026, 5, 1)


def test_the_admin_refuses_an_interval_beyond_twelve_months(client, course, clinician):
    client.force_login(clinician)
    plan = SurveillancePlan.objects.get(course=course)

    response = client.post(
        url("surveillanceplan", "change", plan.pk),
        plan_form(plan, late_interval_months=18, reason="stable disease"),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "never beyond 12 months between imaging" in errors["late_interval_months"][0]
    assert SurveillancePlan.objects.get(pk=plan.pk).late_interval_months == 12


def test_the_scheduled_items_list_filters_by_kind_and_is_read_only(client, course, coordinator):
    client.force_login(coordinator)

    listed = client.get(url("scheduleditem"), {"kind": "imaging"})

    assert listed.status_code == 200
    assert [item.kind for item in listed.context["cl"].result_list] == ["imaging"]
    assert client.get(url("scheduleditem", "add")).status_code == 403
