"""Recording events on a course (docs/architecture.md#the-event-flow; docs/api.md#event-types).

Every course is registered and moved through `record_event`; the expected transitions are the
docs/api.md table written out here, so a drift of the machine or the service fails a test.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from core import events
from core.errors import (
    GuidelineGuard,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StaleVersion,
    TransitionNotAllowed,
)
from tests import factories
from tests.treatments.support import (
    ACT_ON,
    CAPTEM,
    CLOSED,
    EVEROLIMUS,
    OPEN_STATES,
    PATHS,
    PROGRESSION,
    RECURRENCE,
    RESECTED_NED,
    RESECTED_NOT_NED,
    RESECTION,
    STATES,
    TODAY,
    UNRESECTABLE,
    WATCHFUL_WAITING,
    Snapshot,
    course_in,
    walk,
)
from treatments import domain_events, machine, services
from treatments.models import AppendOnlyError, Course, CourseEvent, TreatmentLine

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]

LINE_SOURCES = {"ssa", "prrt", "everolimus", "chemotherapy", "supportive"}
# States with known disease and no line, and every state with known disease.
UNTREATED = ("recurrence", "residual_disease", "observation")
KNOWN_DISEASE = (*UNTREATED, "resection", "progression", *sorted(LINE_SOURCES))
# A data value replaced by the id of the course's current line when the event is recorded.
CURRENT = "<current line>"
HOLD = {"change": "hold", "line": CURRENT}
STOP = {"reason": "toxicity", "line": CURRENT}
CYCLE_2 = {"cycle": 2, "activity_gbq": 7.4}
PROCEDURE = {"procedure": "ablation", "target": "liver"}
STATUS = {"sstr_imaging": "positive", "sstr_uptake_vs_liver": "above"}

# The docs/api.md "Event types" table (version 2), one row per (from, event) with the data sent
# and the state expected after it, for a course brought to each state by its path in
# tests/treatments/support.py. Rows whose target depends on the course (an SSA line still open,
# an open resection) are written for those paths: the SSA runs on beside PRRT (continue_ssa
# defaults to true), not beside everolimus for the seed's non-functional tumour.
TABLE: list[tuple[str, str, dict[str, Any], str]] = [
    ("surveillance", "recurrence_detected", RECURRENCE, "recurrence"),
    *[(s, "resection_started", RESECTION, "resection")
      for s in (*UNTREATED, "progression", "ssa", "prrt", "everolimus", "chemotherapy")],
    ("resection", "resection_completed", RESECTED_NED, "surveillance"),
    ("resection", "resection_completed", RESECTED_NOT_NED, "recurrence"),
    *[(s, "ssa_started", factories.SSA, "ssa") for s in (*UNTREATED, "resection", "progression")],
    *[(s, "progression_detected", PROGRESSION, "progression")
      for s in (*UNTREATED, *sorted(LINE_SOURCES))],
    *[(s, "prrt_started", factories.PRRT, "prrt") for s in (*UNTREATED, "progression")],
    *[(s, "everolimus_started", EVEROLIMUS, "everolimus") for s in (*UNTREATED, "progression")],
    *[(s, "chemotherapy_started", CAPTEM, "chemotherapy") for s in (*UNTREATED, "progression")],
    *[(s, "supportive_care_started", {}, "supportive")
      for s in (*UNTREATED, "progression", "ssa", "prrt", "everolimus", "chemotherapy")],
    *[(s, "watchful_waiting_started", WATCHFUL_WAITING, "observation")
      for s in ("recurrence", "residual_disease", "progression")],
    # From progression the change is the decision: back to the changed line's state.
    *[(s, "line_changed", HOLD, s) for s in sorted(LINE_SOURCES)],
    ("progression", "line_changed", HOLD, "ssa"),
    ("prrt", "prrt_cycle_given", CYCLE_2, "prrt"),
    ("prrt", "line_completed", {"best_response": "stable"}, "ssa"),
    ("chemotherapy", "line_completed", {"best_response": "stable"}, "observation"),
    ("ssa", "line_stopped", STOP, "observation"),
    ("progression", "line_stopped", STOP, "progression"),
    ("prrt", "line_stopped", STOP, "ssa"),
    *[(s, "line_stopped", STOP, "observation") for s in ("everolimus", "chemotherapy", "supportive")],
    *[(s, "procedure_recorded", PROCEDURE, s) for s in KNOWN_DISEASE],
    *[(s, "status_updated", STATUS, s) for s in OPEN_STATES],
    # A symptom check id must name one of the course's checks (tests/security/test_input_rules.py);
    # the transition itself does not depend on it.
    *[(s, "symptoms_reported", {}, s) for s in OPEN_STATES],
    *[(s, "course_closed", CLOSED, "closed") for s in OPEN_STATES],
]  # fmt: skip
# Rows the table allows but the seed patient's guards refuse: a clinician overrides them. First-
# line PRRT needs Ki-67 of 10-55 % (NETTER-2; the seed has 4 %); everolimus needs progression
# within 6 months (RADIANT-4; the paths' progression is older than that on ACT_ON).
NEEDS_OVERRIDE = {
    *[(s, "prrt_started") for s in UNTREATED],
    *[(s, "everolimus_started") for s in (*UNTREATED, "progression")],
}
ALLOWED = {(source, event) for source, event, _, _ in TABLE}
# In the table's order (docs/api.md#event-types), which the 409's allowed_events keeps.
EVENT_TYPES = [
    "recurrence_detected", "resection_started", "resection_completed", "ssa_started",
    "progression_detected", "prrt_started", "everolimus_started", "chemotherapy_started",
    "supportive_care_started", "watchful_waiting_started", "line_changed", "prrt_cycle_given",
    "line_completed", "line_stopped", "procedure_recorded", "status_updated",
    "symptoms_reported", "course_closed",
]  # fmt: skip
# Line-starting events and the category of the line they open (docs/clinical-rules.md#treatment-lines).
OPENS_LINE = {
    "ssa_started": "ssa",
    "prrt_started": "prrt",
    "everolimus_started": "everolimus",
    "chemotherapy_started": "chemotherapy",
    "supportive_care_started": "supportive",
}
VALID_DATA = {event: data for _, event, data, _ in TABLE}


def _resolved(course: Course | int, data: Any) -> Any:
    """``data`` with CURRENT replaced by the course's current line id."""
    if not isinstance(data, dict) or data.get("line") != CURRENT:
        return data
    pk = course.pk if isinstance(course, Course) else course
    return data | {"line": Course.objects.get(pk=pk).current_line_id}


def record(course: Course | int, actor, kind: str, data: Any = None, **options: Any):
    options.setdefault("occurred_on", ACT_ON)
    return services.record_event(
        course=course,
        type=kind,
        data=_resolved(course, VALID_DATA.get(kind, {}) if data is None else data),
        actor=actor,
        reason=options.pop("reason", "tumour board"),
        **options,
    )


def refused(error: type[Exception], course: Course, actor, kind: str, data: Any = None, **opts):
    """Assert that the event is refused with `error` and that nothing at all was written."""
    before = Snapshot.of(course)
    with pytest.raises(error) as refusal:
        record(course, actor, kind, data, **opts)
    assert Snapshot.of(course) == before
    return refusal.value


@pytest.mark.parametrize("state", STATES)
def test_the_table_lists_exactly_the_events_the_machine_allows_for_each_path(
    clinician, team_a, state
):
    # Guards the completeness of the parametrised tests below, in both directions: the
    # machine asked with the facts the service reads for a course brought to ``state``.
    course = course_in(state, clinician, team_a)

    allowed = machine.allowed_events(state, services.course_facts(course))

    assert list(allowed) == [e for e in EVENT_TYPES if (state, e) in ALLOWED]


def test_every_target_of_the_table_is_an_edge_of_the_machine():
    machine_edges = {(str(s), str(e), str(t)) for s, e, t, _ in machine.edges()}
    assert {(source, event, target) for source, event, _, target in TABLE} <= machine_edges


# --- Every transition ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "event", "data", "target"),
    TABLE,
    ids=[f"{s}-{e}-{t}" for s, e, _, t in TABLE],
)
def test_each_transition_of_the_table_moves_the_course(
    clinician, team_a, source, event, data, target
):
    course = course_in(source, clinician, team_a)
    before = Snapshot.of(course)
    line_before = course.current_line
    max_line = max(
        TreatmentLine.objects.filter(course=course).values_list("number", flat=True), default=0
    )

    options = OVERRIDE if (source, event) in NEEDS_OVERRIDE else {}
    open_before = {ln.pk: ln.category for ln in course.lines.filter(end_reason="")}

    recorded = record(course, clinician, event, data, reason="tumour board 2026-10-01", **options)

    course.refresh_from_db()
    assert course.state == target
    assert course.version == before.version + 1
    assert CourseEvent.objects.filter(course=course).count() == before.events + 1
    assert course.history.count() == before.course_history + 1
    event_row = CourseEvent.objects.get(course=course, seq=before.version)
    assert event_row.pk == recorded.event.pk
    assert (event_row.type, event_row.from_state, event_row.to_state) == (event, source, target)
    assert event_row.actor == clinician
    assert event_row.occurred_on == ACT_ON
    assert event_row.reason == "tumour board 2026-10-01"
    assert event_row.override is bool(options)
    assert recorded.course.state == target

    lines = TreatmentLine.objects.filter(course=course)
    still_open = {ln.pk: ln for ln in lines.filter(end_reason="")}
    # The current line is always the newest open one (several may run together).
    assert course.current_line_id == max(still_open, default=None)
    if event in OPENS_LINE:
        assert lines.count() == before.lines + 1
        line = course.current_line
        assert line.number == max_line + 1
        assert line.category == OPENS_LINE[event]
        assert line.started_on == ACT_ON
        assert line.ended_on is None
        assert event_row.line == line
        opened = line.history.get()
        assert opened.history_user == clinician
        assert opened.history_change_reason.startswith("tumour board 2026-10-01")
    elif event == "progression_detected":
        # Progression ends the running lines but the SSA, which waits for the decision.
        assert lines.count() == before.lines
        ended = {ln.pk: ln.end_reason for ln in lines if ln.pk in open_before}
        assert ended == {
            pk: ("" if category == "ssa" else "progression") for pk, category in open_before.items()
        }
        assert all(ln.ended_on in (None, ACT_ON) for ln in lines if ln.pk in open_before)
    elif event == "course_closed":
        assert still_open == {}
        assert course.current_line is None
        assert course.closed_on == ACT_ON
        assert course.closed_reason == "deceased"
        assert {ln.end_reason for ln in lines if ln.pk in open_before} <= {"deceased"}
    elif event in ("symptoms_reported", "status_updated", "procedure_recorded"):
        assert lines.count() == before.lines
        assert set(still_open) == set(open_before)
        assert course.current_line_id == before.current_line_id
    if line_before is not None and event not in OPENS_LINE:
        line_before.refresh_from_db()
        assert line_before.ended_on in (None, ACT_ON)


def test_line_numbers_increase_along_the_course_and_each_line_ends_for_its_reason(
    clinician, team_a
):
    course = factories.register(clinician, team_a)

    course = walk(
        course,
        clinician,
        [
            ("recurrence_detected", RECURRENCE),
            ("ssa_started", factories.SSA),
            ("progression_detected", PROGRESSION),
            ("prrt_started", factories.PRRT),
            ("progression_detected", PROGRESSION),
            ("everolimus_started", EVEROLIMUS),
            ("course_closed", {"reason": "transferred"}),
        ],
    )

    lines = list(TreatmentLine.objects.filter(course=course).order_by("number"))
    assert [(line.number, line.category, line.end_reason) for line in lines] == [
        (1, "ssa", "progression"),
        (2, "prrt", "progression"),
        (3, "everolimus", "transferred"),
    ]
    assert [line.agent for line in lines] == ["lanreotide", "lu177_dotatate", "everolimus"]
    assert all(line.ended_on is not None for line in lines)
    assert course.state == "closed"
    assert course.closed_reason == "transferred"
    assert course.closed_on == lines[-1].ended_on
    assert course.current_line is None


# --- Refused transitions (409) ---------------------------------------------------------------

REFUSED = [(s, e) for s in STATES for e in EVENT_TYPES if (s, e) not in ALLOWED]


@pytest.mark.parametrize(("source", "event"), REFUSED, ids=[f"{s}-{e}" for s, e in REFUSED])
def test_an_event_not_in_the_table_for_the_state_is_a_409_and_writes_nothing(
    clinician, team_a, source, event
):
    course = course_in(source, clinician, team_a)

    error = refused(TransitionNotAllowed, course, clinician, event)

    assert error.status == 409
    assert error.code == "transition_not_allowed"
    assert error.extra["state"] == source
    expected = [e for e in EVENT_TYPES if (source, e) in ALLOWED]
    assert error.extra["allowed_events"] == expected


# Every fourth refused pair: the order of the checks does not depend on the pair, and the
# full list above already proves each refusal.
REFUSED_SAMPLE = REFUSED[::4]


@pytest.mark.parametrize(
    ("source", "event"), REFUSED_SAMPLE, ids=[f"{s}-{e}" for s, e in REFUSED_SAMPLE]
)
@pytest.mark.parametrize(
    "mistakes",
    [
        {"data": {}},
        {"data": ["not", "an", "object"]},
        {"data": {"unknown": 1}, "occurred_on": TODAY + dt.timedelta(days=3)},
        {"data": {}, "override": True, "override_reason": ""},
    ],
    ids=["empty-payload", "payload-not-an-object", "unknown-field-future-date", "no-reason"],
)
def test_an_event_the_state_refuses_is_a_409_before_any_complaint_about_its_input(
    clinician, team_a, source, event, mistakes
):
    # Filling in a payload is wasted work for an event that cannot be recorded now.
    course = course_in(source, clinician, team_a)
    options = {k: v for k, v in mistakes.items() if k != "data"}

    error = refused(TransitionNotAllowed, course, clinician, event, mistakes["data"], **options)

    assert error.status == 409
    assert error.extra["state"] == source


def test_an_unknown_event_type_is_still_a_field_error_before_the_state_is_asked(clinician, team_a):
    course = course_in("closed", clinician, team_a)

    error = refused(InvalidInput, course, clinician, "relapse", {})

    assert list(error.errors) == ["type"]


@pytest.mark.parametrize(
    "event", ["resection_started", "ssa_started", "prrt_started", "everolimus_started",
              "chemotherapy_started"],
)  # fmt: skip
def test_no_treatment_starts_from_surveillance_even_with_a_clinicians_override(
    clinician, team_a, event
):
    # No adjuvant therapy after complete resection (docs/clinical-rules.md); clinicians
    # cannot override it: a recurrence must be recorded first.
    course = course_in("surveillance", clinician, team_a)

    error = refused(
        TransitionNotAllowed,
        course,
        clinician,
        event,
        override=True,
        override_reason="patient wishes adjuvant treatment",
    )

    assert error.extra["reason"]["guard"] == "no_adjuvant_therapy_after_complete_resection"
    assert error.extra["reason"]["overridable"] is False
    assert error.extra["allowed_events"] == ["recurrence_detected", "status_updated",
                                             "symptoms_reported", "course_closed"]  # fmt: skip


@pytest.mark.parametrize("event", EVENT_TYPES)
def test_nothing_is_recorded_after_the_course_is_closed_even_with_an_override(
    clinician, team_a, event
):
    course = course_in("closed", clinician, team_a)

    error = refused(
        TransitionNotAllowed,
        course,
        clinician,
        event,
        override=True,
        override_reason="reopening",
    )

    assert error.extra["state"] == "closed"
    assert error.extra["allowed_events"] == []
    assert error.extra["reason"]["guard"] == "course_closed_is_final"


# --- Guideline guards (422) and the clinician's override -------------------------------------

OVERRIDE = {"override": True, "override_reason": "tumour board 2026-10-01: NETTER-2 criteria"}
NEC = {"differentiation": "poor", "ki67_percent": 60.0}
SSA_OVERRIDDEN = [
    ("recurrence_detected", RECURRENCE, {}),
    ("ssa_started", factories.SSA, OVERRIDE),
    ("progression_detected", PROGRESSION, {}),
]

# guard -> (diagnosis changes, path as (type, data, options), event, data)
GUARD_CASES: dict[str, tuple[dict, list, str, dict]] = {
    "resection_requires_resectable_recurrence": (
        {},
        [("recurrence_detected", UNRESECTABLE, {})],
        "resection_started",
        RESECTION,
    ),
    "ssa_requires_well_differentiated": (
        NEC,
        [("recurrence_detected", RECURRENCE, {})],
        "ssa_started",
        factories.SSA,
    ),
    "ssa_requires_positive_sstr_imaging": (
        {"sstr_imaging": "negative"},
        [("recurrence_detected", RECURRENCE, {})],
        "ssa_started",
        factories.SSA,
    ),
    "ssa_dose_in_allowed_set": (
        {},
        [("recurrence_detected", RECURRENCE, {})],
        "ssa_started",
        {"agent": "lanreotide", "dose_mg": 90, "interval_days": 28},
    ),
    "prrt_requires_positive_sstr_imaging": (
        {"sstr_imaging": "equivocal"},
        SSA_OVERRIDDEN,
        "prrt_started",
        factories.PRRT,
    ),
    "prrt_line_position": (
        {},
        [("recurrence_detected", RECURRENCE, {})],
        "prrt_started",
        factories.PRRT,
    ),
    "prrt_requires_well_differentiated": (
        NEC,
        [("recurrence_detected", RECURRENCE, {})],
        "prrt_started",
        factories.PRRT,
    ),
    "prrt_activity_in_range": (
        {},
        [(kind, data, {}) for kind, data in PATHS["progression"]],
        "prrt_started",
        {**factories.PRRT, "activity_gbq": 8.0},
    ),
    "everolimus_requires_recent_progression": (
        {},
        [("recurrence_detected", RECURRENCE, {})],
        "everolimus_started",
        EVEROLIMUS,
    ),
    "everolimus_requires_well_differentiated": (
        NEC,
        [("recurrence_detected", RECURRENCE, {})],
        "everolimus_started",
        EVEROLIMUS,
    ),
    "everolimus_dose_in_allowed_set": (
        {},
        [(kind, data, {}) for kind, data in PATHS["progression"]],
        "everolimus_started",
        {"dose_mg": 7.5},
    ),
    "platinum_etoposide_requires_poorly_differentiated": (
        {},
        [("recurrence_detected", RECURRENCE, {})],
        "chemotherapy_started",
        {"regimen": "cisplatin_etoposide"},
    ),
    "adjuvant_chemotherapy_for_carcinoma_needs_override": (
        NEC,
        [],
        "chemotherapy_started",
        {"regimen": "carboplatin_etoposide"},
    ),
    "ssa_syndrome_control_requires_a_syndrome": (
        {},
        [("recurrence_detected", RECURRENCE, {})],
        "ssa_started",
        {**factories.SSA, "intent": "syndrome_control"},
    ),
    "line_change_within_label": (
        {},
        [(kind, data, {}) for kind, data in PATHS["ssa"]],
        "line_changed",
        {"change": "interval", "interval_days": 14},
    ),
    # PATHS["prrt"] gives cycle 1 on 2026-03-05: cycle 2 two weeks later is too early.
    "prrt_cycle_interval_at_least_49_days": (
        {},
        [(kind, data, {}) for kind, data in PATHS["prrt"]],
        "prrt_cycle_given",
        {**CYCLE_2, "given_on": "2026-03-19"},
    ),
    "prrt_cycle_activity_in_range": (
        {},
        [(kind, data, {}) for kind, data in PATHS["prrt"]],
        "prrt_cycle_given",
        {**CYCLE_2, "activity_gbq": 9.0},
    ),
}
# Guards no clinician may override (a change that does not fit its line, a cycle out of
# sequence) are refusals of the record itself: test_events_v2.py and test_machine.py cover them.
NOT_OVERRIDABLE = {"line_change_fits_the_line", "prrt_cycle_is_the_next"}
# The PRRT lab limits need lab results recorded in surveillance, not only events:
# test_prrt_lab_limits.py refuses and overrides them through the service.
CASED_WITH_LABS = {"prrt_labs_within_netter1_limits", "prrt_cycle_labs_within_netter1_limits"}


def course_for_guard(guard: str, clinician, team) -> tuple[Course, str, dict]:
    changes, path, event, data = GUARD_CASES[guard]
    course = factories.register(clinician, team, diagnosis=factories.diagnosis_data(**changes))
    for offset, (kind, step_data, options) in enumerate(path):
        services.record_event(
            course=course,
            type=kind,
            occurred_on=dt.date(2026, 3, 2) + dt.timedelta(days=offset),
            data=step_data,
            actor=clinician,
            reason="path",
            **options,
        )
    return Course.objects.get(pk=course.pk), event, data


def test_every_blocking_guard_has_a_case():
    blocking = {g.name for guards in machine.GUARDS.values() for g in guards if g.blocking}
    assert set(GUARD_CASES) == blocking - NOT_OVERRIDABLE - CASED_WITH_LABS


@pytest.mark.parametrize("guard", GUARD_CASES)
def test_a_failing_guard_is_a_422_with_its_reason_and_writes_nothing(clinician, team_a, guard):
    course, event, data = course_for_guard(guard, clinician, team_a)

    error = refused(GuidelineGuard, course, clinician, event, data)

    assert error.status == 422
    assert error.code == "guideline_guard"
    # Several guards may fail at once (a carcinoma is also outside PRRT's line position).
    assert error.extra["guard"] in [f["guard"] for f in error.extra["failures"]]
    assert error.extra["reason"]
    assert error.extra["source"]
    assert error.extra["override_allowed"] is True
    assert guard in [f["guard"] for f in error.extra["failures"]]


@pytest.mark.parametrize("guard", GUARD_CASES)
def test_a_clinicians_override_with_a_reason_records_the_event(clinician, team_a, guard):
    course, event, data = course_for_guard(guard, clinician, team_a)
    before = Snapshot.of(course)

    recorded = record(course, clinician, event, data, **OVERRIDE)

    course.refresh_from_db()
    assert course.version == before.version + 1
    row = CourseEvent.objects.get(pk=recorded.event.pk)
    assert row.override is True
    assert row.override_reason == OVERRIDE["override_reason"]
    assert guard in [g["guard"] for g in row.overridden_guards]
    reason = course.history.order_by("-history_id").first().history_change_reason
    assert "override" in reason
    assert OVERRIDE["override_reason"] in reason


def test_an_override_needs_a_written_reason(clinician, team_a):
    course, event, data = course_for_guard("ssa_requires_positive_sstr_imaging", clinician, team_a)

    for blank in ("", "   "):
        error = refused(
            InvalidInput, course, clinician, event, data, override=True, override_reason=blank
        )
        assert "override_reason" in error.errors


def test_a_coordinator_may_not_override_a_guard(clinician, coordinator, team_a):
    course, event, data = course_for_guard("ssa_requires_positive_sstr_imaging", clinician, team_a)

    error = refused(PermissionDenied, course, coordinator, event, data, **OVERRIDE)

    assert error.status == 403


def test_a_coordinator_records_an_event_whose_guards_hold(coordinator, team_a):
    course = course_in("recurrence", coordinator, team_a)

    recorded = record(course, coordinator, "ssa_started", factories.SSA)

    assert recorded.course.state == "ssa"
    assert recorded.event.override is False


def test_an_override_where_no_guard_fails_is_not_marked_as_one(clinician, team_a):
    course = course_in("recurrence", clinician, team_a)

    recorded = record(course, clinician, "ssa_started", factories.SSA, **OVERRIDE)

    row = CourseEvent.objects.get(pk=recorded.event.pk)
    assert (row.override, row.override_reason, row.overridden_guards) == (False, "", [])


def test_warnings_go_with_the_recorded_event(clinician, team_a):
    # The seed patient's gallbladder is in place: SSA raises the risk of gallstones
    # (docs/clinical-rules.md#pitfalls).
    course = course_in("recurrence", clinician, team_a)

    recorded = record(course, clinician, "ssa_started", factories.SSA)

    guards = [w["guard"] for w in recorded.warnings]
    assert "ssa_with_gallbladder_in_place_warns" in guards
    assert CourseEvent.objects.get(pk=recorded.event.pk).warnings == recorded.warnings


def test_an_event_on_a_course_that_does_not_exist_is_not_found(clinician, team_a):
    with pytest.raises(NotFound):
        record(987_654, clinician, "recurrence_detected")


# --- Versions --------------------------------------------------------------------------------


def test_a_stale_expected_version_is_a_409_and_writes_nothing(clinician, team_a):
    course = course_in("recurrence", clinician, team_a)
    assert course.version == 2

    error = refused(StaleVersion, course, clinician, "ssa_started", expected_version=1)

    assert error.status == 409
    assert error.code == "stale_version"
    recorded = record(course, clinician, "ssa_started", expected_version=2)
    assert recorded.course.version == 3


# --- Dates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "good"),
    [
        (TODAY + dt.timedelta(days=1), TODAY),
        (factories.SURGERY_ON - dt.timedelta(days=1), factories.SURGERY_ON),
    ],
    ids=["future", "before-surgery"],
)
def test_an_event_dated_in_the_future_or_before_the_surgery_is_refused(
    clinician, team_a, bad, good
):
    course = course_in("surveillance", clinician, team_a)

    error = refused(InvalidInput, course, clinician, "recurrence_detected", occurred_on=bad)

    assert "occurred_on" in error.errors
    assert record(course, clinician, "recurrence_detected", occurred_on=good).course.version == 2


@pytest.mark.parametrize(
    ("bad", "good"),
    [
        (TODAY + dt.timedelta(days=1), ACT_ON),
        (factories.SURGERY_ON - dt.timedelta(days=1), factories.SURGERY_ON),
    ],
    ids=["future", "before-surgery"],
)
def test_a_re_resection_dated_in_the_future_or_before_the_surgery_is_refused(
    clinician, team_a, bad, good
):
    # Its date re-anchors surveillance, so it must be a real operation of this course.
    course = course_in("resection", clinician, team_a)
    data = RESECTED_NED | {"performed_on": bad.isoformat()}

    error = refused(InvalidInput, course, clinician, "resection_completed", data)

    assert "data.performed_on" in error.errors
    done = record(
        course, clinician, "resection_completed", data | {"performed_on": good.isoformat()}
    )
    assert done.course.state == "surveillance"


def test_a_date_and_time_is_not_a_date(clinician, team_a):
    course = course_in("surveillance", clinician, team_a)

    error = refused(
        InvalidInput,
        course,
        clinician,
        "recurrence_detected",
        occurred_on=dt.datetime(2026, 9, 1, 10, 0, tzinfo=dt.UTC),
    )

    assert "occurred_on" in error.errors


def test_an_event_dated_before_the_last_one_of_its_kind_needs_to_be_a_correction(clinician, team_a):
    course = course_in("recurrence", clinician, team_a)
    record(course, clinician, "symptoms_reported", occurred_on=dt.date(2026, 9, 10))

    error = refused(
        InvalidInput, course, clinician, "symptoms_reported", occurred_on=dt.date(2026, 9, 9)
    )

    assert "occurred_on" in error.errors
    # Another kind of event may be dated earlier, and so may the same kind on the same day.
    record(course, clinician, "ssa_started", occurred_on=dt.date(2026, 9, 1))
    record(course, clinician, "symptoms_reported", occurred_on=dt.date(2026, 9, 10))
    corrected = record(
        course,
        clinician,
        "symptoms_reported",
        occurred_on=dt.date(2026, 9, 9),
        correction=True,
    )
    assert corrected.event.occurred_on == dt.date(2026, 9, 9)
    assert corrected.course.version == 6


# --- Malformed payloads (400) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "data", "field"),
    [
        ("relapse", {}, "type"),
        ("recurrence_detected", {**RECURRENCE, "stage": "IV"}, "data.stage"),
        ("recurrence_detected", {"site": "liver", "resectable": "yes"}, "data.resectable"),
        ("recurrence_detected", {"site": "brain", "resectable": True}, "data.site"),
        ("recurrence_detected", {"site": "liver"}, "data.resectable"),
        ("recurrence_detected", ["liver"], "data"),
        ("course_closed", {"reason": "cured"}, "data.reason"),
    ],
    ids=["unknown-type", "unknown-key", "bool-as-text", "unknown-site", "missing", "not-object",
         "unknown-close-reason"],
)  # fmt: skip
def test_a_malformed_event_is_refused_with_a_field_error(clinician, team_a, kind, data, field):
    course = course_in("surveillance", clinician, team_a)

    error = refused(InvalidInput, course, clinician, kind, data)

    assert field in error.errors


@pytest.mark.parametrize(
    "data",
    [
        {"agent": "lanreotide", "dose_mg": "120", "interval_days": 28},
        {"agent": "lanreotide", "dose_mg": True, "interval_days": 28},
        {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28.5},
    ],
    ids=["number-as-text", "bool-as-number", "fractional-days"],
)
def test_wrong_types_in_the_data_are_field_errors(clinician, team_a, data):
    course = course_in("recurrence", clinician, team_a)

    error = refused(InvalidInput, course, clinician, "ssa_started", data)

    assert set(error.errors) & {"data.dose_mg", "data.interval_days"}


# --- The log is append-only ------------------------------------------------------------------


def test_a_recorded_event_cannot_be_saved_again_or_deleted(clinician, team_a):
    course = course_in("recurrence", clinician, team_a)
    event = CourseEvent.objects.get(course=course)

    event.reason = "rewritten"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()

    assert CourseEvent.objects.get(pk=event.pk).reason == "path step 1"


def test_bulk_update_and_delete_of_the_log_are_refused(clinician, team_a):
    course = course_in("recurrence", clinician, team_a)
    events = CourseEvent.objects.filter(course=course)

    with pytest.raises(AppendOnlyError):
        events.update(reason="rewritten")
    with pytest.raises(AppendOnlyError):
        events.delete()

    assert list(events.values_list("reason", flat=True)) == ["path step 1"]


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE treatments_courseevent SET reason = 'rewritten' WHERE course_id = %s",
        "DELETE FROM treatments_courseevent WHERE course_id = %s",
    ],
    ids=["update", "delete"],
)
def test_the_database_refuses_raw_sql_that_rewrites_the_log(clinician, team_a, sql):
    course = course_in("recurrence", clinician, team_a)

    # The savepoint keeps the test's transaction usable after the trigger's error.
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [course.pk])

    assert list(CourseEvent.objects.filter(course=course).values_list("reason", flat=True)) == [
        "path step 1"
    ]


# --- The state is the replay of the log ------------------------------------------------------


def data_for(kind: str, rng: random.Random) -> dict[str, Any]:
    if kind == "resection_completed":
        return rng.choice([RESECTED_NED, RESECTED_NOT_NED])
    if kind == "recurrence_detected":
        return rng.choice([RECURRENCE, UNRESECTABLE])
    return VALID_DATA[kind]


@pytest.mark.parametrize("seed", range(6))
def test_the_state_and_the_open_lines_always_equal_the_replay_of_the_log(clinician, team_a, seed):
    rng = random.Random(seed)
    course = factories.register(clinician, team_a)
    day = dt.date(2026, 3, 1)
    for _ in range(14):
        course = Course.objects.select_related("diagnosis", "surgery").get(pk=course.pk)
        facts = services.course_facts(course)
        choices = [e for e in machine.allowed_events(course.state, facts) if e != "course_closed"]
        if not choices:
            break
        kind = rng.choice(choices)
        data = _resolved(course, data_for(kind, rng))
        if kind == "prrt_cycle_given":
            prrt = next(ln for ln in facts.open_lines if ln.category == "prrt")
            data = data | {"cycle": len(prrt.cycles) + 1}
        try:
            services.record_event(
                course=course, type=kind, occurred_on=day, data=data,
                actor=clinician, reason="walk", **OVERRIDE,
            )  # fmt: skip
        except (InvalidInput, GuidelineGuard):
            continue  # an event this course cannot take with this data: the walk goes on
        day += dt.timedelta(days=7)

        course.refresh_from_db()
        log = CourseEvent.objects.filter(course=course).order_by("seq")
        assert [e.seq for e in log] == list(range(1, course.version))
        lines = TreatmentLine.objects.filter(course=course).order_by("number")
        replayed = machine.replay_course(
            machine.INITIAL_STATE,
            [(e.type, e.data, e.occurred_on) for e in log],
            facts=facts,
            line_ids=[ln.pk for ln in lines],
        )
        assert course.state == replayed.state
        assert [e.to_state for e in log][-1] == course.state
        assert [(ln.id, ln.category) for ln in replayed.lines if ln.is_open] == [
            (ln.pk, ln.category) for ln in lines if ln.is_open
        ]
        assert course.resection_open is replayed.resection_open


# --- Domain events ---------------------------------------------------------------------------


def test_a_subscriber_hears_of_the_event_after_the_commit(
    clinician, team_a, subscribe, django_capture_on_commit_callbacks
):
    course = course_in("surveillance", clinician, team_a)
    heard = []
    subscribe(heard.append)

    with django_capture_on_commit_callbacks(execute=True):
        recorded = record(course, clinician, "recurrence_detected")
        assert heard == []  # not before the commit

    assert len(heard) == 1
    published = heard[0]
    assert isinstance(published, domain_events.CourseEventRecorded)
    assert published.course_id == course.pk
    assert published.event_id == recorded.event.pk
    assert (published.type, published.from_state, published.to_state) == (
        "recurrence_detected",
        "surveillance",
        "recurrence",
    )
    assert published.actor_id == clinician.pk
    assert published.occurred_on == ACT_ON


def test_a_registration_is_published_too(
    clinician, team_a, subscribe, django_capture_on_commit_callbacks
):
    heard = []
    subscribe(heard.append)

    with django_capture_on_commit_callbacks(execute=True):
        course = factories.register(clinician, team_a)

    assert heard == [domain_events.CourseRegistered(course_id=course.pk, actor_id=clinician.pk)]


class Exploding:
    """A callable object (no __qualname__ of its own) that fails."""

    def __call__(self, event) -> None:
        raise RuntimeError("subscriber is down")


def test_a_failing_subscriber_neither_undoes_the_event_nor_stops_the_others(
    clinician, team_a, subscribe, django_capture_on_commit_callbacks
):
    course = course_in("surveillance", clinician, team_a)
    heard = []
    subscribe(Exploding())
    subscribe(heard.append)

    with django_capture_on_commit_callbacks(execute=True):
        record(course, clinician, "recurrence_detected")

    course.refresh_from_db()
    assert course.state == "recurrence"
    assert CourseEvent.objects.filter(course=course).count() == 1
    assert [e.type for e in heard] == ["recurrence_detected"]


def test_nothing_is_published_when_the_event_is_refused(
    clinician, team_a, subscribe, django_capture_on_commit_callbacks
):
    course = course_in("surveillance", clinician, team_a)
    heard = []
    subscribe(heard.append)
    subscribe(heard.append, in_transaction=True)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(TransitionNotAllowed):
            record(course, clinician, "ssa_started")
        with pytest.raises(InvalidInput):
            record(course, clinician, "recurrence_detected", {"site": "moon"})

    assert callbacks == []
    assert heard == []


def test_a_failing_in_transaction_subscriber_undoes_the_event(clinician, team_a, subscribe):
    # In-transaction subscribers (the surveillance re-plan) commit or roll back with the event.
    course = course_in("surveillance", clinician, team_a)

    def replan(event) -> None:
        raise RuntimeError("re-plan failed")

    subscribe(replan, in_transaction=True)

    refused(RuntimeError, course, clinician, "recurrence_detected")


def test_an_unsubscribed_handler_hears_nothing(
    clinician, team_a, django_capture_on_commit_callbacks
):
    course = course_in("surveillance", clinician, team_a)
    heard = []
    events.subscribe(domain_events.DOMAIN_EVENTS, heard.append)
    events.unsubscribe(heard.append)

    with django_capture_on_commit_callbacks(execute=True):
        record(course, clinician, "recurrence_detected")

    assert heard == []
