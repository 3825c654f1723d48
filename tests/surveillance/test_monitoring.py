"""Version 2 monitoring through the services: what the records make due
(docs/clinical-rules.md#version-2-surveillance-and-monitoring and #version-2-treatment-lines).

Lines are set up through the event log; a line's prescribed interval or hold is written as
``line_changed`` leaves it, so these tests read the schedule's side of that contract.
"""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import InvalidInput
from surveillance import services
from tests import factories
from tests.surveillance.support import due, due_dates, record
from treatments import services as treatment_services
from treatments.models import TreatmentLine

pytestmark = pytest.mark.django_db

CALM = {
    "flushing_per_day": 0,
    "stools_per_day": 2,
    "wheezing": False,
    "abdominal_pain": 0,
    "vomiting": False,
    "no_stool_or_gas": False,
    "palpitations_or_swelling": False,
    "weight_loss_kg": 0,
}
SSA_ON = dt.date(2026, 9, 1)


def on_ssa(course, clinician):
    factories.advance(
        course,
        clinician,
        ("recurrence_detected", {"site": "liver", "resectable": False}),
        ("ssa_started", factories.SSA),
        on=SSA_ON,
    )
    return TreatmentLine.objects.get(course=course, category="ssa")


def check(course, actor, on, **answers):
    return services.symptom_check_record(
        course=course, actor=actor, reported_on=on, **(CALM | answers)
    )


def test_an_ssa_line_every_14_days_has_its_injection_14_days_on_within_3_days(course, clinician):
    line = on_ssa(course, clinician)
    TreatmentLine.objects.filter(pk=line.pk).update(interval_days=14)

    services.replan(course=course)

    injection = due(course)["ssa_injection"]
    assert injection.due_on == dt.date(2026, 9, 15)
    assert (injection.window_start, injection.window_end) == (
        dt.date(2026, 9, 12),
        dt.date(2026, 9, 18),
    )


def test_a_held_ssa_line_has_nothing_due_until_it_is_resumed(course, clinician):
    line = on_ssa(course, clinician)
    TreatmentLine.objects.filter(pk=line.pk).update(held_since=dt.date(2026, 9, 10))
    services.replan(course=course)
    assert "ssa_injection" not in due(course)

    TreatmentLine.objects.filter(pk=line.pk).update(held_since=None)
    services.replan(course=course)
    assert due_dates(course)["ssa_injection"] == dt.date(2026, 9, 29)


def test_an_ssa_line_brings_vitamin_d_and_keeps_vitamin_b12_yearly(course, clinician):
    on_ssa(course, clinician)

    dates = due_dates(course)
    assert dates["vitamin_d"] == dt.date(2027, 9, 1)
    # Already yearly after the right hemicolectomy of 2026-02-01.
    assert dates["vitamin_b12"] == dt.date(2027, 2, 1)


def test_a_lab_result_answers_its_item(course, clinician):
    services.lab_record(
        course=course,
        actor=clinician,
        analyte="vitamin_b12",
        value=350,
        unit="pmol/L",
        collected_on=dt.date(2026, 10, 1),
    )
    assert due_dates(course)["vitamin_b12"] == dt.date(2027, 10, 1)


def test_a_functional_tumour_has_5_hiaa_and_heart_screening(clinician, team_a):
    course = factories.register(
        clinician, team_a, diagnosis=factories.diagnosis_data(functional=True)
    )

    dates = due_dates(course)
    assert dates["u5hiaa"] == dates["imaging"] == dt.date(2026, 8, 1)
    assert dates["nt_probnp"] == dates["echocardiography"] == factories.SURGERY_ON  # baseline

    services.imaging_record(
        course=course,
        actor=clinician,
        performed_on=dt.date(2026, 3, 1),
        modality="echocardiography",
        purpose="baseline",
        result="ned",
    )
    assert "echocardiography" not in due(course)


def test_an_echocardiography_never_records_recurrence(course, clinician):
    with pytest.raises(InvalidInput) as refused:
        services.imaging_record(
            course=course,
            actor=clinician,
            performed_on=dt.date(2026, 3, 1),
            modality="echocardiography",
            purpose="baseline",
            result="recurrence",
        )
    assert "result" in refused.value.errors


def test_a_positive_check_brings_imaging_within_4_weeks_and_chromogranin_a_due_now(
    course, patient_user
):
    check(course, patient_user, dt.date(2026, 3, 10), stools_per_day=6)

    dates = due_dates(course)
    assert dates["imaging"] == dates["visit"] == dt.date(2026, 4, 7)
    assert dates["cga"] == dt.date(2026, 3, 10)  # elevated before surgery


def test_a_weight_only_alert_does_not_move_imaging(course, patient_user):
    recorded = check(course, patient_user, dt.date(2026, 3, 10), weight_loss_kg=6)

    assert recorded.assessment["escalated"] is True
    assert recorded.assessment["severity"] == "normal"
    assert due_dates(course)["imaging"] == dt.date(2026, 8, 1)


def test_a_check_is_compared_with_the_previous_one(course, patient_user):
    first = check(course, patient_user, dt.date(2026, 3, 10), stools_per_day=2, weight_kg=80)
    assert first.assessment["worsening"] is False

    second = check(course, patient_user, dt.date(2026, 4, 10), stools_per_day=5, weight_kg=79)
    assert second.assessment["worsening"] is True
    assert second.assessment["severity"] == "high"
    assert second.check.weight_kg == 79

    third = check(course, patient_user, dt.date(2026, 5, 10), stools_per_day=5, weight_kg=75.5)
    assert third.assessment["weight_loss_flag"] is True  # 4.5 kg is over 5 % of 80 kg
    assert third.assessment["worsening"] is False


@pytest.mark.parametrize(
    ("answers", "field"),
    [({"weight_kg": 19}, "weight_kg"), ({"weight_kg": 301}, "weight_kg"), ({"fainting": "no"}, "fainting")],
)  # fmt: skip
def test_a_check_with_an_answer_out_of_range_is_refused(course, patient_user, answers, field):
    with pytest.raises(InvalidInput) as refused:
        check(course, patient_user, dt.date(2026, 3, 10), **answers)
    assert field in refused.value.errors


def test_an_injection_is_recorded_while_an_ssa_line_is_held_with_a_warning(course, clinician):
    line = on_ssa(course, clinician)
    TreatmentLine.objects.filter(pk=line.pk).update(held_since=dt.date(2026, 9, 10))

    recorded = services.injection_record(
        course=course, actor=clinician, given_on=dt.date(2026, 9, 20)
    )

    assert [w["code"] for w in recorded.warnings] == ["line_held"]


def test_beside_prrt_the_ssa_injection_falls_due_on_the_cycle_day_and_labs_before_the_next(
    course, clinician
):
    on_ssa(course, clinician)
    cycle_1 = dt.date(2026, 10, 1)
    record(course, clinician, "progression_detected", {"recist": "PD"}, cycle_1)
    treatment_services.record_event(
        course=course,
        type="prrt_started",
        occurred_on=cycle_1,
        data=factories.PRRT | {"continue_ssa": True},
        actor=clinician,
        reason="test",
        override=True,
        override_reason="tumour board",
    )

    injection = due(course)["ssa_injection"]
    assert (injection.due_on, injection.window_end) == (cycle_1, dt.date(2026, 10, 2))
    labs = due(course)["prrt_labs"]
    # The next cycle 8 weeks on (2026-11-26): labs 4 to 2 weeks before it.
    assert (labs.window_start, labs.due_on) == (dt.date(2026, 10, 29), dt.date(2026, 11, 12))

    on_cycle_day = services.injection_record(course=course, actor=clinician, given_on=cycle_1)
    assert on_cycle_day.warnings == []
    # After the injection of the cycle day, the next falls on the next cycle, 8 weeks on.
    assert due_dates(course)["ssa_injection"] == dt.date(2026, 11, 26)
    early = services.injection_record(
        course=course, actor=clinician, given_on=dt.date(2026, 10, 10)
    )
    assert early.warnings == []  # 47 days before the next cycle


def test_a_line_held_and_resumed_through_events_has_its_injection_due_on_resuming(
    course, clinician
):
    on_ssa(course, clinician)
    record(course, clinician, "line_changed", {"change": "hold"}, dt.date(2026, 9, 10))
    assert "ssa_injection" not in due(course)

    record(course, clinician, "line_changed", {"change": "resume"}, dt.date(2026, 10, 10))

    # The last injection was the line's start (2026-09-01): 28 days on is past, so the next
    # is due on the day the line resumed, not born overdue.
    assert due_dates(course)["ssa_injection"] == dt.date(2026, 10, 10)


def test_carcinoid_syndrome_newly_recorded_brings_imaging_forward_and_heart_screening(
    course, clinician
):
    record(course, clinician, "status_updated", {"carcinoid_syndrome": True}, dt.date(2026, 3, 5))

    dates = due_dates(course)
    assert dates["imaging"] == dates["visit"] == dt.date(2026, 4, 2)  # within 4 weeks
    assert dates["u5hiaa"] == dates["cga"] == dt.date(2026, 3, 5)  # due now
    assert dates["nt_probnp"] == dates["echocardiography"] == dt.date(2026, 3, 5)  # baseline
