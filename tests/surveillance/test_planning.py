"""Surveillance plans: created at registration, re-planned by every domain event, tuned by a
clinician within the allowed ranges (docs/clinical-rules.md#allowed-ranges-and-the-12-month-cap;
docs/architecture.md#what-is-due)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from core.errors import InvalidInput, PermissionDenied
from surveillance import schedule, services
from surveillance.models import ScheduledItem, SurveillancePlan
from tests import factories
from tests.surveillance.conftest import TODAY
from tests.surveillance.support import due, due_dates, record, writes
from treatments.models import TreatmentLine

pytestmark = pytest.mark.django_db

SURGERY_ON = factories.SURGERY_ON  # 2026-02-01


# --- Schedule per stage and grade, through registration ------------------------------------------


def test_the_seed_patient_is_standard_risk_with_first_imaging_six_months_after_surgery(course):
    plan = SurveillancePlan.objects.get(course=course)

    assert plan.risk_group == "standard"
    assert plan.anchor_on == SURGERY_ON
    assert (plan.first_imaging_months, plan.early_interval_months) == (6, 6)
    assert plan.late_interval_months == 12
    assert due_dates(course) == {
        "imaging": dt.date(2026, 8, 1),
        "visit": dt.date(2026, 8, 1),
        "cga": dt.date(2026, 8, 1),
        "symptom_check": dt.date(2026, 5, 1),
        # A right hemicolectomy removes the terminal ileum: vitamin B12 yearly.
        "vitamin_b12": dt.date(2027, 2, 1),
    }
    assert plan.duration_years is None  # standard risk: lifelong (ESMO 2020)


def test_a_g3_tumour_resected_with_an_r1_margin_is_high_risk_with_imaging_at_three_months(
    high_risk_course,
):
    plan = SurveillancePlan.objects.get(course=high_risk_course)

    assert plan.risk_group == "high"
    assert (plan.first_imaging_months, plan.early_interval_months) == (3, 3)
    assert due_dates(high_risk_course)["imaging"] == dt.date(2026, 5, 1)
    assert due_dates(high_risk_course)["symptom_check"] == dt.date(2026, 3, 1)  # monthly


def test_a_stage_i_g1_r0_tumour_is_low_risk_and_images_yearly_after_the_first_study(
    low_risk_course, clinician
):
    assert SurveillancePlan.objects.get(course=low_risk_course).risk_group == "low"
    assert due_dates(low_risk_course)["imaging"] == dt.date(2026, 8, 1)

    services.imaging_record(
        course=low_risk_course,
        actor=clinician,
        performed_on=dt.date(2026, 8, 1),
        modality="mri",
        purpose="surveillance",
        result="ned",
    )

    assert due_dates(low_risk_course)["imaging"] == dt.date(2027, 8, 1)


def test_the_plan_records_who_created_it_and_why(course, clinician):
    created = SurveillancePlan.objects.get(course=course).history.get()

    assert created.history_type == "+"
    assert created.history_user == clinician
    assert created.history_change_reason == "Default plan for standard risk at registration"


def test_it_schedules_chromogranin_a_only_when_it_was_elevated_before_surgery(
    course, low_risk_course
):
    assert "cga" in due(course)
    assert "cga" not in due(low_risk_course)


def test_the_scheduled_items_say_why_they_are_due_and_cite_their_source(course):
    imaging = due(course)["imaging"]

    assert "6 months after the resection" in imaging.why
    assert "docs/clinical-rules.md#" in imaging.source
    assert imaging.window_start == dt.date(2026, 8, 1) - dt.timedelta(days=30)


# --- Re-planning on every domain event -----------------------------------------------------------


def test_a_recurrence_brings_restaging_3_months_after_it_while_the_decision_is_pending(
    course, clinician
):
    record(course, clinician, "recurrence_detected", {"site": "liver", "resectable": True},
           dt.date(2026, 9, 1))  # fmt: skip

    course.refresh_from_db()
    assert course.state == "recurrence"
    assert due_dates(course)["imaging"] == dt.date(2026, 12, 1)
    assert due_dates(course)["visit"] == dt.date(2026, 12, 1)
    assert "treatment decision pending" in due(course)["imaging"].why


def test_a_resection_back_to_no_evidence_of_disease_re_anchors_the_plan_on_the_operation(
    course, clinician
):
    record(course, clinician, "recurrence_detected", {"site": "liver", "resectable": True},
           dt.date(2026, 8, 20))  # fmt: skip
    record(course, clinician, "resection_started", {"procedure": "hepatectomy"},
           dt.date(2026, 9, 1))  # fmt: skip

    record(course, clinician, "resection_completed",
           {"performed_on": "2026-09-10", "margin": "R0", "ned": True},
           dt.date(2026, 9, 15))  # fmt: skip

    plan = SurveillancePlan.objects.get(course=course)
    assert plan.anchor_on == dt.date(2026, 9, 10)
    assert plan.history.first().history_change_reason == (
        "Re-anchored on the curative resection of 2026-09-10"
    )
    assert plan.history.first().history_user == clinician
    assert due_dates(course)["imaging"] == dt.date(2027, 3, 10)


def test_a_resection_that_leaves_disease_does_not_re_anchor(course, clinician):
    record(course, clinician, "recurrence_detected", {"site": "liver", "resectable": True},
           dt.date(2026, 8, 20))  # fmt: skip
    record(course, clinician, "resection_started", {"procedure": "hepatectomy"},
           dt.date(2026, 9, 1))  # fmt: skip

    record(course, clinician, "resection_completed",
           {"performed_on": "2026-09-10", "margin": "R1", "ned": False},
           dt.date(2026, 9, 15))  # fmt: skip

    assert SurveillancePlan.objects.get(course=course).anchor_on == SURGERY_ON
    # Disease left: restaging 3 months after the operation's outcome was recorded.
    assert due_dates(course)["imaging"] == dt.date(2026, 12, 15)


def test_starting_an_ssa_schedules_an_injection_28_days_later_and_monthly_symptom_checks(
    course, clinician
):
    assert "ssa_injection" not in due(course)

    factories.advance(
        course,
        clinician,
        ("recurrence_detected", {"site": "liver", "resectable": False}),
        ("ssa_started", factories.SSA),
        on=dt.date(2026, 9, 1),
    )

    injection = due(course)["ssa_injection"]
    assert injection.due_on == dt.date(2026, 9, 29)
    assert (injection.window_start, injection.window_end) == (
        dt.date(2026, 9, 22),
        dt.date(2026, 10, 6),
    )
    # Response imaging 3 months after the line starts; symptom checks monthly on SSA.
    assert due_dates(course)["imaging"] == dt.date(2026, 12, 1)
    assert due_dates(course)["symptom_check"] == dt.date(2026, 3, 1)


def test_progression_on_ssa_keeps_the_injections_until_the_line_is_stopped(course, clinician):
    factories.advance(
        course,
        clinician,
        ("recurrence_detected", {"site": "liver", "resectable": False}),
        ("ssa_started", factories.SSA),
        ("progression_detected", {"recist": "PD"}),
        on=dt.date(2026, 9, 1),
    )
    # The SSA runs on until the decision (it may continue beside the next line).
    assert due(course)["ssa_injection"].due_on == dt.date(2026, 9, 29)
    assert due(course)["imaging"].due_on == dt.date(2026, 12, 1)  # restaging, 3 months

    record(course, clinician, "line_stopped", {"reason": "other"}, dt.date(2026, 9, 2))

    assert "ssa_injection" not in due(course)
    assert ScheduledItem.objects.get(course=course, kind="ssa_injection").active is False


def test_the_new_due_dates_roll_back_with_the_event_that_moved_them(course, clinician):
    before = due_dates(course)

    with pytest.raises(RuntimeError), transaction.atomic():
        factories.advance(
            course,
            clinician,
            ("recurrence_detected", {"site": "liver", "resectable": False}),
            ("ssa_started", factories.SSA),
        )
        assert "ssa_injection" in due(course)
        raise RuntimeError("the request failed after the events were recorded")

    assert due_dates(course) == before


def test_closing_the_course_deactivates_everything(course, clinician):
    record(course, clinician, "course_closed", {"reason": "transferred"}, dt.date(2026, 9, 1))

    assert due(course) == {}
    assert ScheduledItem.objects.filter(course=course).count() == 5
    assert services.replan(course=course) == []


PATH = [
    ("recurrence_detected", {"site": "liver", "resectable": True}),
    ("resection_started", {"procedure": "hepatectomy"}),
    ("resection_completed", {"performed_on": "2026-03-05", "margin": "R1", "ned": False}),
    ("ssa_started", factories.SSA),
    ("symptoms_reported", {}),
    ("progression_detected", {"recist": "PD"}),
    ("prrt_started", factories.PRRT),
    ("progression_detected", {"recist": "PD"}),
    ("everolimus_started", {"dose_mg": 10}),
    ("progression_detected", {"recist": "PD"}),
    ("chemotherapy_started", {"regimen": "capecitabine_temozolomide"}),
    ("progression_detected", {"recist": "PD"}),
    ("supportive_care_started", {}),
    ("course_closed", {"reason": "deceased"}),
]


def test_every_event_re_plans_the_course_in_the_transaction_that_recorded_it(course, clinician):
    for step, (kind, data) in enumerate(PATH):
        on = dt.date(2026, 3, 1) + dt.timedelta(days=14 * step)

        record(course, clinician, kind, data, on)

        course.refresh_from_db()
        plan = SurveillancePlan.objects.get(course=course)
        fresh = course.__class__.objects.select_related(
            "plan", "surgery", "diagnosis", "current_line"
        ).get(pk=course.pk)
        expected = schedule.due_items(plan.params(), services.facts_for(fresh), TODAY)
        assert due_dates(course) == {str(i.kind): i.due_on for i in expected}, (kind, course.state)
        ssa_open = TreatmentLine.objects.filter(
            course=course, category="ssa", ended_on__isnull=True, end_reason=""
        ).exists()
        assert ("ssa_injection" in due(course)) is ssa_open, kind
    assert course.state == "closed"
    assert due(course) == {}


# --- A clinician tunes the plan --------------------------------------------------------------------


def test_a_clinician_shortens_the_interval_with_a_reason_and_imaging_moves(course, clinician):
    services.imaging_record(course=course, actor=clinician, performed_on=dt.date(2026, 8, 1),
                            modality="ct", purpose="surveillance", result="ned")  # fmt: skip
    assert due_dates(course)["imaging"] == dt.date(2027, 2, 1)

    updated = services.plan_update(
        course=course, actor=clinician, reason="tumour board: rising CgA", early_interval_months=3
    )

    assert updated.changed is True
    assert updated.plan.early_interval_months == 3
    assert due_dates(course)["imaging"] == dt.date(2026, 11, 1)
    last = updated.plan.history.first()
    assert (last.history_user, last.history_change_reason) == (
        clinician,
        "tumour board: rising CgA",
    )


@pytest.mark.parametrize(
    "field", ["first_imaging_months", "early_interval_months", "late_interval_months"]
)
def test_it_refuses_an_imaging_interval_of_13_months_with_the_cap_as_reason(
    course, clinician, field
):
    before = writes(course)

    with pytest.raises(services.PlanRefused) as refusal:
        services.plan_update(
            course=course, actor=clinician, reason="patient request", **{field: 13}
        )

    assert refusal.value.status == 400
    assert refusal.value.issues[0]["code"] == "exceeds_imaging_cap"
    assert "never beyond 12 months between imaging" in refusal.value.errors[field][0]
    assert refusal.value.as_body()["issues"][0]["field"] == field
    assert writes(course) == before


def test_twelve_months_is_the_longest_interval_a_clinician_may_set(course, clinician):
    updated = services.plan_update(
        course=course, actor=clinician, reason="stable for years", early_interval_months=12
    )

    assert updated.plan.early_interval_months == 12


def test_it_refuses_a_first_imaging_earlier_than_three_months(course, clinician):
    with pytest.raises(services.PlanRefused) as refusal:
        services.plan_update(course=course, actor=clinician, reason="x", first_imaging_months=2)

    assert refusal.value.issues[0]["code"] == "out_of_range"


def test_a_coordinator_may_not_change_the_plan(course, coordinator):
    before = writes(course)

    with pytest.raises(PermissionDenied):
        services.plan_update(
            course=course, actor=coordinator, reason="faster", early_interval_months=3
        )

    assert writes(course) == before


def test_changing_a_plan_needs_a_reason(course, clinician):
    with pytest.raises(InvalidInput) as refusal:
        services.plan_update(course=course, actor=clinician, reason=" ", early_interval_months=3)

    assert "reason" in refusal.value.errors


def test_it_refuses_fields_a_plan_does_not_have(course, clinician):
    with pytest.raises(InvalidInput) as refusal:
        services.plan_update(course=course, actor=clinician, reason="x", anchor_on=TODAY)

    assert refusal.value.errors == {"anchor_on": ["Unknown field."]}


def test_a_short_duration_is_accepted_with_a_warning(course, clinician):
    updated = services.plan_update(
        course=course, actor=clinician, reason="comorbidity", duration_years=5
    )

    assert updated.plan.duration_years == 5
    assert [w["code"] for w in updated.warnings] == ["below_recommended_duration"]


def test_raising_the_risk_group_applies_that_groups_default_intervals(course, clinician):
    updated = services.plan_update(
        course=course, actor=clinician, reason="Ki-67 revised to 15 %", risk_group="high"
    )

    assert updated.plan.risk_group == "high"
    assert (updated.plan.first_imaging_months, updated.plan.early_interval_months) == (3, 3)
    assert due_dates(course)["imaging"] == dt.date(2026, 5, 1)


def test_an_update_that_changes_nothing_writes_nothing(course, clinician):
    before = writes(course)

    updated = services.plan_update(
        course=course, actor=clinician, reason="review", early_interval_months=6
    )

    assert updated.changed is False
    assert writes(course) == before


def test_a_closed_courses_plan_cannot_change(course, clinician):
    record(course, clinician, "course_closed", {"reason": "deceased"}, dt.date(2026, 9, 1))

    with pytest.raises(services.CourseClosed) as refusal:
        services.plan_update(course=course, actor=clinician, reason="x", early_interval_months=3)

    assert (refusal.value.status, refusal.value.code) == (409, "course_closed")


def test_a_long_reason_is_kept_whole_in_history(course, clinician):
    long_reason = "tumour board asked for closer imaging " * 10
    updated = services.plan_update(
        course=course, actor=clinician, reason=long_reason, early_interval_months=3
    )

    assert updated.plan.history.first().history_change_reason == long_reason.strip()
