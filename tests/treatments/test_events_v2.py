"""Recording the clinical model's version 2 events through the service.

Several open lines, holds, PRRT cycles, procedures, status updates, the open resection and
the date order with its correction (docs/api.md#dates), all through `record_event`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from core.errors import GuidelineGuard, InvalidInput, PermissionDenied, TransitionNotAllowed
from surveillance import services as surveillance
from tests import factories
from tests.treatments.support import PROGRESSION, RECURRENCE, UNRESECTABLE, walk
from treatments import services
from treatments.models import Course, PrrtCycle, Surgery, TreatmentLine
from treatments.services import facts as fact_sources

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]

D = dt.date


def record(course: Course, actor, type_: str, on: dt.date, data: dict | None = None, **kw: Any):
    return services.record_event(
        course=course, type=type_, occurred_on=on, data=data or {}, actor=actor,
        reason=kw.pop("reason", "tumour board"), **kw,
    )  # fmt: skip


@pytest.fixture
def on_ssa(clinician, team_a) -> Course:
    """A registered course on lanreotide since 2026-03-02."""
    course = factories.register(clinician, team_a)
    return walk(course, clinician, [("recurrence_detected", UNRESECTABLE),
                                    ("ssa_started", factories.SSA)])  # fmt: skip


# --- The one rule for written reasons ------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "override_reason", "correction", "reason", "missing"),
    [
        (False, "", False, "", set()),
        (True, "", False, "", {"override_reason"}),
        (True, "  ", False, "board", {"override_reason"}),
        (True, "board", False, "", set()),
        (False, "", True, "", {"reason"}),
        (False, "", True, " \n", {"reason"}),
        (False, "", True, "dated wrongly", set()),
        (True, "", True, "", {"override_reason", "reason"}),
    ],
)
def test_a_reason_is_required_only_for_an_override_or_a_correction(
    override, override_reason, correction, reason, missing
):
    found = services.missing_reasons(
        override=override, override_reason=override_reason, correction=correction, reason=reason
    )

    assert set(found) == missing


# --- Date order -------------------------------------------------------------------------


def test_a_state_changing_event_before_the_state_entry_names_that_event_and_its_date(
    clinician, team_a
):
    course = factories.register(clinician, team_a)
    record(course, clinician, "recurrence_detected", D(2026, 10, 1), UNRESECTABLE)

    with pytest.raises(InvalidInput) as refused:
        record(course, clinician, "ssa_started", D(2026, 9, 30), factories.SSA)

    message = " ".join(refused.value.errors["occurred_on"])
    assert "recurrence_detected" in message and "2026-10-01" in message
    assert Course.objects.get(pk=course.pk).state == "recurrence"


def test_an_event_that_keeps_the_state_may_be_dated_before_the_state_entry(clinician, team_a):
    course = factories.register(clinician, team_a)
    record(course, clinician, "recurrence_detected", D(2026, 10, 1), UNRESECTABLE)

    recorded = record(course, clinician, "symptoms_reported", D(2026, 9, 1))

    assert recorded.course.state == "recurrence"


def test_a_correction_needs_a_clinician_and_a_reason_and_then_keeps_the_sequence_order(
    clinician, coordinator, team_a
):
    course = factories.register(clinician, team_a)
    record(course, clinician, "recurrence_detected", D(2026, 10, 1), UNRESECTABLE)

    with pytest.raises(PermissionDenied):
        record(course, coordinator, "ssa_started", D(2026, 3, 1), factories.SSA,
               correction=True, reason="started elsewhere")  # fmt: skip
    with pytest.raises(InvalidInput) as unexplained:
        record(course, clinician, "ssa_started", D(2026, 3, 1), factories.SSA,
               correction=True, reason=" ")  # fmt: skip
    assert list(unexplained.value.errors) == ["reason"]

    corrected = record(course, clinician, "ssa_started", D(2026, 3, 1), factories.SSA,
                       correction=True, reason="started at the referring hospital")  # fmt: skip

    assert (corrected.event.seq, corrected.course.state) == (2, "ssa")


# --- Lines ------------------------------------------------------------------------------


def test_a_hold_sets_held_since_and_a_resume_clears_it(clinician, on_ssa):
    line = on_ssa.current_line

    record(on_ssa, clinician, "line_changed", D(2026, 10, 2), {"change": "hold"})
    line.refresh_from_db()
    assert line.held_since == D(2026, 10, 2)

    record(on_ssa, clinician, "line_changed", D(2026, 10, 20), {"change": "resume"})
    line.refresh_from_db()
    assert line.held_since is None
    assert [h.held_since for h in line.history.order_by("history_id")][-2:] == [
        D(2026, 10, 2), None,
    ]  # fmt: skip


def test_prrt_beside_an_ssa_keeps_both_lines_open_and_records_cycles(clinician, on_ssa):
    walk(on_ssa, clinician, [("progression_detected", PROGRESSION)], start=D(2026, 6, 1))
    record(on_ssa, clinician, "prrt_started", D(2026, 6, 10),
           factories.PRRT | {"continue_ssa": True})  # fmt: skip
    record(on_ssa, clinician, "prrt_cycle_given", D(2026, 8, 5),
           {"cycle": 2, "activity_gbq": 7.4})  # fmt: skip

    course = Course.objects.get(pk=on_ssa.pk)
    open_lines = [(ln.category, ln.end_reason) for ln in course.lines.order_by("number")]
    assert open_lines == [("ssa", ""), ("prrt", "")]
    assert course.current_line.category == "prrt"
    assert [(c.number, c.given_on) for c in PrrtCycle.objects.order_by("number")] == [
        (1, D(2026, 6, 10)), (2, D(2026, 8, 5)),
    ]  # fmt: skip


def test_an_event_naming_no_open_line_when_several_run_is_a_field_error(clinician, on_ssa):
    walk(on_ssa, clinician, [("progression_detected", PROGRESSION)], start=D(2026, 6, 1))
    record(on_ssa, clinician, "prrt_started", D(2026, 6, 10),
           factories.PRRT | {"continue_ssa": True})  # fmt: skip
    ended = TreatmentLine.objects.create(
        course=on_ssa, number=99, category="ssa", agent="lanreotide", started_on=D(2026, 3, 1),
        ended_on=D(2026, 4, 1), end_reason="switched",
    )  # fmt: skip

    for data in ({"reason": "toxicity"}, {"reason": "toxicity", "line": ended.pk}):
        with pytest.raises(InvalidInput) as refused:
            record(on_ssa, clinician, "line_stopped", D(2026, 7, 1), data)
        assert list(refused.value.errors) == ["data.line"]


# --- Procedures, status updates, the open resection --------------------------------------


def test_a_cholecystectomy_records_the_gallbladder_as_removed(clinician, on_ssa):
    assert Surgery.objects.get(course=on_ssa).gallbladder_removed is False

    record(on_ssa, clinician, "procedure_recorded", D(2026, 10, 2),
           {"procedure": "cholecystectomy", "target": "other"})  # fmt: skip

    surgery = Surgery.objects.get(course=on_ssa)
    assert surgery.gallbladder_removed is True
    assert surgery.history.latest("history_id").history_change_reason == "tumour board"


def test_a_procedure_in_surveillance_is_refused_as_it_implies_disease(clinician, team_a):
    course = factories.register(clinician, team_a)

    with pytest.raises(TransitionNotAllowed):
        record(course, clinician, "procedure_recorded", D(2026, 10, 2),
               {"procedure": "cholecystectomy", "target": "other"})  # fmt: skip
    assert Surgery.objects.get(course=course).gallbladder_removed is False


def test_the_newest_status_update_wins_over_older_ones_and_the_diagnosis(clinician, on_ssa):
    record(on_ssa, clinician, "status_updated", D(2026, 10, 2), {"sstr_imaging": "negative"})
    record(on_ssa, clinician, "status_updated", D(2026, 10, 9),
           {"sstr_imaging": "positive", "carcinoid_syndrome": True})  # fmt: skip
    record(on_ssa, clinician, "status_updated", D(2026, 10, 10), {"ki67_percent": 25.0})

    facts = services.course_facts(Course.objects.get(pk=on_ssa.pk))

    assert (facts.sstr_imaging, facts.carcinoid_syndrome, facts.functional) == (
        "positive", True, False,
    )  # fmt: skip
    assert (facts.ki67_percent, facts.grade) == (25.0, "G3")


def test_an_open_resection_is_tracked_apart_from_the_state(clinician, team_a):
    course = factories.register(clinician, team_a)
    walk(course, clinician, [("recurrence_detected", RECURRENCE),
                             ("resection_started", {"procedure": "segmentectomy"}),
                             ("ssa_started", factories.SSA)])  # fmt: skip
    assert Course.objects.get(pk=course.pk).resection_open is True

    record(course, clinician, "resection_completed", D(2026, 10, 1),
           {"performed_on": "2026-10-01", "margin": "R1", "ned": False})  # fmt: skip

    assert Course.objects.get(pk=course.pk).resection_open is False


# --- Facts other apps answer ---------------------------------------------------------------


def test_the_last_long_acting_injection_comes_from_the_fact_source_surveillance_registers(
    clinician, on_ssa
):
    assert services.course_facts(on_ssa).last_long_acting_injection_on is None

    for day in (D(2026, 3, 3), D(2026, 3, 31)):
        surveillance.injection_record(course=on_ssa, actor=clinician, given_on=day)

    assert services.course_facts(on_ssa).last_long_acting_injection_on == D(2026, 3, 31)


def test_without_a_registered_source_the_fact_is_unknown(clinician, on_ssa):
    surveillance.injection_record(course=on_ssa, actor=clinician, given_on=D(2026, 3, 3))
    source = fact_sources._SOURCES[fact_sources.LAST_LONG_ACTING_INJECTION]
    fact_sources.unregister_fact_source(fact_sources.LAST_LONG_ACTING_INJECTION)
    try:
        assert services.course_facts(on_ssa).last_long_acting_injection_on is None
    finally:
        services.register_fact_source(fact_sources.LAST_LONG_ACTING_INJECTION, source)


def test_a_prrt_cycle_out_of_sequence_is_refused_even_with_an_override(clinician, on_ssa):
    walk(on_ssa, clinician, [("progression_detected", PROGRESSION)], start=D(2026, 6, 1))
    record(on_ssa, clinician, "prrt_started", D(2026, 6, 10), factories.PRRT)

    with pytest.raises(GuidelineGuard) as refused:
        record(on_ssa, clinician, "prrt_cycle_given", D(2026, 8, 5),
               {"cycle": 3, "activity_gbq": 7.4}, override=True,
               override_reason="cycle 2 given elsewhere")  # fmt: skip

    assert refused.value.extra["override_allowed"] is False
    assert "prrt_cycle_is_the_next" in [f["guard"] for f in refused.value.extra["failures"]]
    assert list(PrrtCycle.objects.values_list("number", flat=True)) == [1]
