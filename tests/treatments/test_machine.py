"""The course state machine against the API.md events table and the CLINICAL.md §3 guards.

The expected table is written here as literal rows copied from API.md, not imported from the
code, so a change to ``TRANSITIONS`` that drifts from the contract fails here.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treatments.machine import (
    ADJUVANT_RULE,
    CLOSED_RULE,
    EVENT_FIELDS,
    GUARDS,
    LINE_CATEGORY_BY_EVENT,
    OPEN_STATES,
    TRANSITIONS,
    Category,
    CourseFacts,
    Decision,
    EventType,
    GuardResult,
    LineFacts,
    State,
    TransitionNotAllowedError,
    allowed_events,
    edges,
    evaluate,
    guards_for,
    line_category,
    replay,
    target_state,
    to_dot,
    to_mermaid,
    validate_data,
)

# --- The API.md "Events" table, copied as it reads -----------------------------------------

ALL_STATES = [
    "surveillance",
    "recurrence",
    "resection",
    "ssa",
    "progression",
    "prrt",
    "everolimus",
    "chemotherapy",
    "supportive",
    "closed",
]
API_EVENTS_TABLE = [
    # (type, from, to)
    ("recurrence_detected", "surveillance", "recurrence"),
    ("resection_started", "recurrence", "resection"),
    ("resection_completed", "resection", "surveillance if ned, else recurrence"),
    ("ssa_started", "recurrence, resection, progression", "ssa"),
    ("progression_detected", "ssa, prrt, everolimus, chemotherapy, supportive", "progression"),
    ("prrt_started", "progression", "prrt"),
    ("everolimus_started", "progression", "everolimus"),
    ("chemotherapy_started", "recurrence, progression", "chemotherapy"),
    ("supportive_care_started", "recurrence, progression", "supportive"),
    ("symptoms_reported", "any open state", "(same)"),
    ("course_closed", "any open state", "closed"),
]
EVENT_ORDER = [row[0] for row in API_EVENTS_TABLE]


def sources_of(from_cell: str) -> list[str]:
    if from_cell == "any open state":
        return [s for s in ALL_STATES if s != "closed"]
    return from_cell.split(", ")


def targets_of(to_cell: str, source: str) -> list[tuple[str, str | None]]:
    """(target, condition) pairs a cell of the "to" column stands for."""
    if to_cell == "(same)":
        return [(source, None)]
    if to_cell == "surveillance if ned, else recurrence":
        return [("surveillance", "ned"), ("recurrence", "not ned")]
    return [(to_cell, None)]


EXPECTED_EDGES = [
    (source, event, target, condition)
    for event, from_cell, to_cell in API_EVENTS_TABLE
    for source in sources_of(from_cell)
    for target, condition in targets_of(to_cell, source)
]
ALLOWED_PAIRS = {(source, event) for source, event, _, _ in EXPECTED_EDGES}

# --- Valid payloads and a course that passes every guard -----------------------------------

VALID_DATA = {
    "recurrence_detected": {"site": "liver", "resectable": True},
    "resection_started": {"procedure": "right hepatectomy", "planned_on": "2026-10-01"},
    "resection_completed": {"performed_on": "2026-10-01", "margin": "R0", "ned": True},
    "ssa_started": {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28},
    "progression_detected": {"recist": "PD", "imaging_study": 12},
    "prrt_started": {"agent": "lu177_dotatate", "activity_gbq": 7.4, "cycles_planned": 4},
    "everolimus_started": {"dose_mg": 10},
    "chemotherapy_started": {"regimen": "capecitabine_temozolomide"},
    "supportive_care_started": {},
    "symptoms_reported": {"symptom_check": 3},
    "course_closed": {"reason": "deceased"},
}
SSA_ENDED_BY_PROGRESSION = LineFacts(category="ssa", agent="lanreotide", ended_reason="progression")


def course(state: str = "progression", **changes) -> CourseFacts:
    """A well-differentiated G2, SSTR-positive, non-functional course after SSA progression."""
    facts = CourseFacts(
        state=State(state),
        differentiation="well",
        grade="G2",
        ki67_percent=8.0,
        sstr_imaging="positive",
        functional=False,
        lines=(SSA_ENDED_BY_PROGRESSION,),
        last_recurrence={"site": "liver", "resectable": True},
    )
    return dataclasses.replace(facts, **changes)


def data_for(event: str, **changes) -> dict:
    return {**VALID_DATA[event], **changes}


def failed(decision: Decision) -> list[str]:
    return [f.guard for f in decision.failures]


def warned(decision: Decision) -> list[str]:
    return [w.guard for w in decision.warnings]


# --- The table ------------------------------------------------------------------------------


def test_the_literal_table_names_every_state_and_event_of_the_code():
    assert [str(s) for s in State] == ALL_STATES
    assert [str(e) for e in EventType] == EVENT_ORDER
    assert {str(s) for s in OPEN_STATES} == set(ALL_STATES) - {"closed"}


def test_the_transition_table_in_code_is_the_api_table():
    assert [(str(s), str(e), str(t), c) for s, e, t, c in edges()] == EXPECTED_EDGES
    assert list(TRANSITIONS) == EVENT_ORDER


@pytest.mark.parametrize(("state", "event"), list(itertools.product(ALL_STATES, EVENT_ORDER)))
def test_every_event_is_allowed_from_exactly_the_states_the_api_table_lists(state, event):
    decision = evaluate(course(state), event, VALID_DATA[event])

    assert decision.source_state == state
    assert decision.event == event
    if (state, event) in ALLOWED_PAIRS:
        assert decision.allowed_from_state
        assert decision.not_allowed_reason is None
        expected = [
            t for s, e, t, c in EXPECTED_EDGES if (s, e) == (state, event) and c != "not ned"
        ]
        assert decision.target == expected[0]
    else:
        assert not decision.allowed_from_state
        assert not decision.ok
        assert not decision.overridable
        assert decision.target is None
        assert decision.failures == () and decision.warnings == ()
        reason = decision.not_allowed_reason
        assert isinstance(reason, GuardResult)
        assert reason.blocking and not reason.overridable
        assert reason.reason and reason.source and reason.evidence


@pytest.mark.parametrize("state", ALL_STATES)
def test_allowed_events_lists_the_api_table_rows_in_table_order(state):
    expected = tuple(e for e in EVENT_ORDER if (state, e) in ALLOWED_PAIRS)
    assert allowed_events(state) == expected
    assert evaluate(course(state), "symptoms_reported", {}).allowed_events == expected


def test_a_registered_course_may_record_a_recurrence_or_close():
    # API.md registration response: "allowed_events": ["recurrence_detected", "course_closed"]
    # plus the symptom reports every open state accepts.
    assert allowed_events("surveillance") == (
        "recurrence_detected",
        "symptoms_reported",
        "course_closed",
    )


@pytest.mark.parametrize(("ned", "target"), [(True, "surveillance"), (False, "recurrence")])
def test_a_completed_resection_returns_to_surveillance_only_without_residual_disease(ned, target):
    decision = evaluate(
        course("resection"), "resection_completed", data_for("resection_completed", ned=ned)
    )
    assert decision.ok
    assert decision.target == target
    assert target_state("resection_completed", {"ned": ned, "margin": "R0"}) == target


@pytest.mark.parametrize("state", sorted(OPEN_STATES))
def test_symptom_reports_leave_the_course_where_it_is(state):
    assert evaluate(course(state), "symptoms_reported", {}).target == state
    assert target_state("symptoms_reported", {}, state) == state


def test_resolving_a_symptom_report_needs_its_source_state():
    with pytest.raises(ValueError, match="source"):
        target_state("symptoms_reported", {})


@pytest.mark.parametrize(
    "event",
    [
        "resection_started",
        "ssa_started",
        "prrt_started",
        "everolimus_started",
        "chemotherapy_started",
    ],
)
def test_it_refuses_treatment_from_surveillance_with_the_adjuvant_rule(event):
    decision = evaluate(course("surveillance"), event, VALID_DATA[event])
    assert not decision.allowed_from_state
    assert decision.not_allowed_reason == ADJUVANT_RULE
    assert ADJUVANT_RULE.reason.startswith(
        "No systemic therapy is started after complete resection without a recorded recurrence"
    )
    assert ADJUVANT_RULE.evidence == "LoE 4, grade D"
    assert "ESMO 2020" in ADJUVANT_RULE.source and "ENETS" in ADJUVANT_RULE.source
    assert ADJUVANT_RULE.overridable is False


@pytest.mark.parametrize("event", EVENT_ORDER)
def test_nothing_is_recorded_after_a_course_is_closed(event):
    decision = evaluate(course("closed"), event, VALID_DATA[event])
    assert decision.not_allowed_reason == CLOSED_RULE
    assert CLOSED_RULE.reason == "Nothing is recorded after a course is closed."
    assert not CLOSED_RULE.overridable
    assert decision.allowed_events == ()


def test_an_event_out_of_sequence_names_the_states_it_is_recorded_from():
    decision = evaluate(course("recurrence"), "prrt_started", VALID_DATA["prrt_started"])
    assert decision.not_allowed_reason is not None
    assert decision.not_allowed_reason.guard == "transition_not_allowed"
    assert "progression" in decision.not_allowed_reason.reason


def test_it_refuses_an_unknown_event_type():
    with pytest.raises(ValueError, match="Unknown event type"):
        evaluate(course(), "cured", {})


# --- Guards -------------------------------------------------------------------------------

# Where each event is recorded in the guard tests: a state the table allows it from.
GUARD_STATE = {
    "recurrence_detected": "surveillance",
    "resection_started": "recurrence",
    "resection_completed": "resection",
    "ssa_started": "progression",
    "progression_detected": "ssa",
    "prrt_started": "progression",
    "everolimus_started": "progression",
    "chemotherapy_started": "progression",
    "supportive_care_started": "progression",
    "symptoms_reported": "prrt",
    "course_closed": "everolimus",
}

EXPECTED_GUARDS = {
    "recurrence_detected": [],
    "resection_started": [("resection_requires_resectable_recurrence", True)],
    "resection_completed": [("resection_ned_with_incomplete_margin_warns", False)],
    "ssa_started": [
        ("ssa_with_gallbladder_in_place_warns", False),
        ("ssa_requires_well_differentiated", True),
        ("ssa_grade_g3_warns", False),
        ("ssa_requires_positive_sstr_imaging", True),
        ("ssa_dose_in_allowed_set", True),
        ("ssa_octreotide_20mg_warns", False),
    ],
    "progression_detected": [],
    "prrt_started": [
        ("prrt_requires_positive_sstr_imaging", True),
        ("prrt_requires_progression_on_ssa", True),
        ("prrt_activity_in_range", True),
        ("prrt_more_than_four_cycles_warns", False),
    ],
    "everolimus_started": [
        ("everolimus_requires_documented_progression", True),
        ("everolimus_functional_tumour_warns", False),
        ("everolimus_dose_in_allowed_set", True),
    ],
    "chemotherapy_started": [
        ("platinum_etoposide_requires_poorly_differentiated", True),
        ("temozolomide_grade_g1_warns", False),
    ],
    "supportive_care_started": [],
    "symptoms_reported": [],
    "course_closed": [],
}


def test_the_guard_registry_is_enumerable_and_each_guard_cites_its_source():
    registry = {str(e): [(g.name, g.blocking) for g in gs] for e, gs in GUARDS.items()}
    assert registry == EXPECTED_GUARDS
    names = [g.name for gs in GUARDS.values() for g in gs]
    assert len(names) == len(set(names))
    for event, guards in GUARDS.items():
        assert guards_for(event) == guards
        for guard in guards:
            assert guard.event == event
            assert guard.reason.endswith(".")
            assert guard.source and guard.evidence
            # Every guideline guard may be overridden by a clinician with a written reason.
            assert guard.overridable


@pytest.mark.parametrize("event", EVENT_ORDER)
def test_a_typical_course_passes_every_guard_of_every_event(event):
    decision = evaluate(course(GUARD_STATE[event]), event, VALID_DATA[event])
    assert decision.ok, decision.failures
    assert decision.warnings == ()


@pytest.mark.parametrize("sstr", ["negative", "equivocal", "not_done"])
def test_it_refuses_ssa_without_positive_receptor_imaging(sstr):
    decision = evaluate(course(sstr_imaging=sstr), "ssa_started", VALID_DATA["ssa_started"])
    assert failed(decision) == ["ssa_requires_positive_sstr_imaging"]
    assert decision.overridable
    assert "CLARINET" in decision.failures[0].source


@pytest.mark.parametrize(("differentiation", "grade"), [("poor", "NEC"), ("mixed", "MiNEN")])
def test_it_refuses_ssa_for_disease_that_is_not_well_differentiated(differentiation, grade):
    decision = evaluate(
        course(differentiation=differentiation, grade=grade),
        "ssa_started",
        VALID_DATA["ssa_started"],
    )
    assert failed(decision) == ["ssa_requires_well_differentiated"]
    assert decision.overridable


def test_it_warns_but_allows_ssa_for_a_g3_net():
    decision = evaluate(
        course(grade="G3", ki67_percent=25.0), "ssa_started", VALID_DATA["ssa_started"]
    )
    assert decision.ok
    assert warned(decision) == ["ssa_grade_g3_warns"]
    assert not decision.warnings[0].blocking


@pytest.mark.parametrize(
    "schedule",
    [
        {"agent": "octreotide_lar", "dose_mg": 30, "interval_days": 28},
        {"agent": "octreotide_lar", "dose_mg": 20.0, "interval_days": 28},
        {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28},
    ],
)
def test_it_accepts_the_labelled_ssa_schedules(schedule):
    assert evaluate(course(), "ssa_started", schedule).ok


@pytest.mark.parametrize(
    "schedule",
    [
        {"agent": "octreotide_lar", "dose_mg": 10, "interval_days": 28},
        {"agent": "octreotide_lar", "dose_mg": 60, "interval_days": 28},
        {"agent": "octreotide_lar", "dose_mg": 30, "interval_days": 21},
        {"agent": "lanreotide", "dose_mg": 90, "interval_days": 28},
        {"agent": "lanreotide", "dose_mg": 120, "interval_days": 14},  # CLARINET FORTE
        {"agent": "lanreotide", "dose_mg": 30, "interval_days": 28},  # an octreotide dose
    ],
)
def test_it_refuses_ssa_doses_outside_the_labelled_set_unless_overridden(schedule):
    decision = evaluate(course(), "ssa_started", schedule)
    assert failed(decision) == ["ssa_dose_in_allowed_set"]
    assert decision.overridable
    assert decision.failures[0].evidence == "label"


def test_it_warns_that_the_antiproliferative_evidence_for_octreotide_is_for_30_mg():
    decision = evaluate(
        course(), "ssa_started", {"agent": "octreotide_lar", "dose_mg": 20, "interval_days": 28}
    )
    assert decision.ok
    assert warned(decision) == ["ssa_octreotide_20mg_warns"]
    assert "PROMID" in decision.warnings[0].source
    assert "30 mg" in decision.warnings[0].reason


@pytest.mark.parametrize("sstr", ["negative", "equivocal", "not_done"])
def test_it_refuses_prrt_without_positive_receptor_imaging(sstr):
    decision = evaluate(course(sstr_imaging=sstr), "prrt_started", VALID_DATA["prrt_started"])
    assert failed(decision) == ["prrt_requires_positive_sstr_imaging"]
    assert decision.overridable


@pytest.mark.parametrize(
    "lines",
    [
        (),
        (LineFacts("ssa", "lanreotide", None),),  # still running
        (LineFacts("ssa", "octreotide_lar", "toxicity"),),
        (LineFacts("chemotherapy", "temozolomide", "progression"),),  # progression, not on SSA
    ],
)
def test_it_refuses_prrt_without_progression_on_a_somatostatin_analogue(lines):
    decision = evaluate(course(lines=lines), "prrt_started", VALID_DATA["prrt_started"])
    assert failed(decision) == ["prrt_requires_progression_on_ssa"]
    # NETTER-2 supports first-line PRRT for Ki-67 10-55 %: a clinician may override.
    assert decision.overridable
    assert "NETTER-1" in decision.failures[0].source
    assert "NETTER-2" in decision.failures[0].source


def test_prrt_after_an_earlier_ssa_progression_passes_even_after_other_lines():
    lines = (
        SSA_ENDED_BY_PROGRESSION,
        LineFacts("everolimus", "everolimus", "progression"),
    )
    assert evaluate(course(lines=lines), "prrt_started", VALID_DATA["prrt_started"]).ok


@pytest.mark.parametrize(("activity", "ok"), [(3.6, False), (3.7, True), (7.4, True), (7.5, False)])
def test_it_refuses_prrt_activity_outside_3_7_to_7_4_gbq(activity, ok):
    decision = evaluate(course(), "prrt_started", data_for("prrt_started", activity_gbq=activity))
    assert decision.ok is ok
    if not ok:
        assert failed(decision) == ["prrt_activity_in_range"]
        assert decision.overridable


@pytest.mark.parametrize(("cycles", "warns"), [(1, False), (4, False), (5, True), (10, True)])
def test_it_warns_when_more_than_four_prrt_cycles_are_planned(cycles, warns):
    decision = evaluate(course(), "prrt_started", data_for("prrt_started", cycles_planned=cycles))
    assert decision.ok
    assert warned(decision) == (["prrt_more_than_four_cycles_warns"] if warns else [])


@pytest.mark.parametrize(
    "lines",
    [(), (LineFacts("ssa", "lanreotide", None),), (LineFacts("ssa", "lanreotide", "toxicity"),)],
)
def test_it_refuses_everolimus_without_documented_progression(lines):
    decision = evaluate(course(lines=lines), "everolimus_started", VALID_DATA["everolimus_started"])
    assert failed(decision) == ["everolimus_requires_documented_progression"]
    assert decision.overridable


def test_everolimus_accepts_progression_on_any_prior_line():
    lines = (LineFacts("prrt", "lu177_dotatate", "progression"),)
    decision = evaluate(course(lines=lines), "everolimus_started", VALID_DATA["everolimus_started"])
    assert decision.ok


def test_it_warns_about_everolimus_for_a_functional_tumour():
    decision = evaluate(
        course(functional=True), "everolimus_started", VALID_DATA["everolimus_started"]
    )
    assert decision.ok
    assert warned(decision) == ["everolimus_functional_tumour_warns"]
    assert "RADIANT-4" in decision.warnings[0].source
    assert decision.warnings[0].evidence == "label"


@pytest.mark.parametrize(
    ("dose", "ok"), [(5, True), (10, True), (10.0, True), (7.5, False), (20, False)]
)
def test_it_refuses_everolimus_doses_other_than_10_or_5_mg(dose, ok):
    decision = evaluate(course(), "everolimus_started", {"dose_mg": dose})
    assert decision.ok is ok
    if not ok:
        assert failed(decision) == ["everolimus_dose_in_allowed_set"]
        assert decision.overridable


@pytest.mark.parametrize("regimen", ["cisplatin_etoposide", "carboplatin_etoposide"])
@pytest.mark.parametrize("grade", ["G1", "G2", "G3"])
def test_it_refuses_platinum_etoposide_for_well_differentiated_net(regimen, grade):
    decision = evaluate(course(grade=grade), "chemotherapy_started", {"regimen": regimen})
    assert failed(decision) == ["platinum_etoposide_requires_poorly_differentiated"]
    assert decision.overridable
    assert "ENETS 2023" in decision.failures[0].source


@pytest.mark.parametrize("regimen", ["cisplatin_etoposide", "carboplatin_etoposide"])
def test_it_allows_platinum_etoposide_for_neuroendocrine_carcinoma(regimen):
    facts = course(differentiation="poor", grade="NEC", ki67_percent=70.0)
    assert evaluate(facts, "chemotherapy_started", {"regimen": regimen}).ok


@pytest.mark.parametrize("regimen", ["temozolomide", "capecitabine_temozolomide"])
def test_it_warns_about_temozolomide_for_a_g1_tumour(regimen):
    decision = evaluate(
        course(grade="G1", ki67_percent=1.0), "chemotherapy_started", {"regimen": regimen}
    )
    assert decision.ok
    assert warned(decision) == ["temozolomide_grade_g1_warns"]
    assert decision.warnings[0].evidence == "LoE 3, grade B/C"


@pytest.mark.parametrize("grade", ["G2", "G3"])
def test_temozolomide_for_aggressive_disease_needs_no_warning(grade):
    decision = evaluate(course(grade=grade), "chemotherapy_started", {"regimen": "temozolomide"})
    assert decision.ok and decision.warnings == ()


@pytest.mark.parametrize(
    "last_recurrence",
    [None, {"site": "peritoneal", "resectable": False}, {"site": "liver"}],
)
def test_it_refuses_resection_of_a_recurrence_not_judged_resectable(last_recurrence):
    decision = evaluate(
        course("recurrence", last_recurrence=last_recurrence),
        "resection_started",
        VALID_DATA["resection_started"],
    )
    assert failed(decision) == ["resection_requires_resectable_recurrence"]
    assert decision.overridable


@pytest.mark.parametrize(
    ("margin", "ned", "warns"),
    [("R0", True, False), ("R1", True, True), ("R2", True, True), ("R2", False, False)],
)
def test_it_warns_when_no_evidence_of_disease_is_recorded_after_an_incomplete_margin(
    margin, ned, warns
):
    decision = evaluate(
        course("resection"),
        "resection_completed",
        data_for("resection_completed", margin=margin, ned=ned),
    )
    assert decision.ok
    assert warned(decision) == (["resection_ned_with_incomplete_margin_warns"] if warns else [])


def test_several_guards_fail_together_and_warnings_stay_separate():
    facts = course(differentiation="mixed", grade="G3", sstr_imaging="negative")
    schedule = {"agent": "octreotide_lar", "dose_mg": 20, "interval_days": 14}
    decision = evaluate(facts, "ssa_started", schedule)
    assert failed(decision) == [
        "ssa_requires_well_differentiated",
        "ssa_requires_positive_sstr_imaging",
        "ssa_dose_in_allowed_set",
    ]
    assert warned(decision) == ["ssa_grade_g3_warns", "ssa_octreotide_20mg_warns"]
    assert all(f.blocking for f in decision.failures)
    assert not any(w.blocking for w in decision.warnings)
    assert decision.overridable and not decision.ok


def test_a_decision_is_not_overridable_when_any_failure_is_not():
    hard = dataclasses.replace(ADJUVANT_RULE, guard="hard")
    soft = GUARDS[EventType.SSA_STARTED][0].result()
    base = Decision("ssa_started", True, State.PROGRESSION, State.SSA, ("ssa_started",))
    assert base.ok and not base.overridable
    assert dataclasses.replace(base, failures=(soft,)).overridable
    assert not dataclasses.replace(base, failures=(soft, hard)).overridable


def test_a_guard_result_serialises_with_its_reason_source_and_evidence():
    result = GUARDS[EventType.PRRT_STARTED][1].result()
    as_dict = result.as_dict()
    assert as_dict == {
        "guard": "prrt_requires_progression_on_ssa",
        "reason": result.reason,
        "source": result.source,
        "evidence": result.evidence,
        "overridable": True,
        "blocking": True,
    }
    json.dumps(as_dict)


facts_strategy = st.builds(
    CourseFacts,
    state=st.sampled_from(list(State)),
    differentiation=st.sampled_from(["well", "poor", "mixed"]),
    grade=st.sampled_from(["G1", "G2", "G3", "NEC", "MiNEN"]),
    ki67_percent=st.none() | st.floats(0, 100),
    sstr_imaging=st.sampled_from(["positive", "negative", "equivocal", "not_done"]),
    functional=st.booleans(),
    lines=st.lists(
        st.builds(
            LineFacts,
            category=st.sampled_from(list(Category)),
            agent=st.just("agent"),
            ended_reason=st.sampled_from([None, "progression", "toxicity", "completed"]),
        ),
        max_size=4,
    ).map(tuple),
    last_recurrence=st.none()
    | st.fixed_dictionaries({"site": st.just("liver"), "resectable": st.booleans()}),
)


@settings(max_examples=200, deadline=None)
@given(facts=facts_strategy, event=st.sampled_from(EVENT_ORDER))
def test_every_decision_is_consistent_with_the_table_and_its_guards(facts, event):
    decision = evaluate(facts, event, VALID_DATA[event])
    allowed = (str(facts.state), event) in ALLOWED_PAIRS
    assert decision.allowed_from_state is allowed
    assert (decision.not_allowed_reason is None) is allowed
    assert decision.ok == (allowed and not decision.failures)
    assert all(f.blocking for f in decision.failures)
    assert not any(w.blocking for w in decision.warnings)
    if decision.failures:
        assert decision.overridable  # every guideline guard may be overridden
    if not allowed:
        assert decision.not_allowed_reason is not None
        assert not decision.not_allowed_reason.overridable


def test_course_facts_accept_a_state_by_name():
    assert course().state is State.PROGRESSION
    assert CourseFacts("ssa", "well", "G1", 1.0, "positive", False).state is State.SSA


def test_each_line_starting_event_names_its_category():
    assert {str(e): str(c) for e, c in LINE_CATEGORY_BY_EVENT.items()} == {
        "ssa_started": "ssa",
        "prrt_started": "prrt",
        "everolimus_started": "everolimus",
        "chemotherapy_started": "chemotherapy",
        "supportive_care_started": "supportive",
    }
    assert line_category("prrt_started") is Category.PRRT
    assert line_category("progression_detected") is None
    assert line_category("nonsense") is None


# --- Payload validation ---------------------------------------------------------------------

# Required fields per event, copied from the API.md data column.
REQUIRED_FIELDS = [
    ("recurrence_detected", "site"),
    ("recurrence_detected", "resectable"),
    ("resection_started", "procedure"),
    ("resection_completed", "performed_on"),
    ("resection_completed", "margin"),
    ("resection_completed", "ned"),
    ("ssa_started", "agent"),
    ("ssa_started", "dose_mg"),
    ("ssa_started", "interval_days"),
    ("progression_detected", "recist"),
    ("prrt_started", "agent"),
    ("prrt_started", "activity_gbq"),
    ("prrt_started", "cycles_planned"),
    ("everolimus_started", "dose_mg"),
    ("chemotherapy_started", "regimen"),
    ("course_closed", "reason"),
]
OPTIONAL_FIELDS = [
    ("resection_started", "planned_on"),
    ("progression_detected", "imaging_study"),
    ("symptoms_reported", "symptom_check"),
]


@pytest.mark.parametrize("event", EVENT_ORDER)
def test_a_valid_payload_is_cleaned_unchanged(event):
    cleaned, errors = validate_data(event, VALID_DATA[event])
    assert errors == {}
    assert cleaned == VALID_DATA[event]
    json.dumps(cleaned)


def test_it_rejects_an_unknown_event_type():
    cleaned, errors = validate_data("cured", {})
    assert cleaned == {}
    assert list(errors) == ["type"]
    assert errors["type"][0].startswith("Unknown event type.")


def test_it_rejects_data_that_is_not_an_object():
    _, errors = validate_data("ssa_started", ["lanreotide"])  # type: ignore[arg-type]
    assert list(errors) == ["data"]


@pytest.mark.parametrize("event", EVENT_ORDER)
def test_it_rejects_unknown_keys(event):
    cleaned, errors = validate_data(event, {**VALID_DATA[event], "neD": True, "state": "closed"})
    assert errors == {"neD": ["Unknown field."], "state": ["Unknown field."]}
    assert cleaned == VALID_DATA[event]


@pytest.mark.parametrize(("event", "field"), REQUIRED_FIELDS)
def test_it_rejects_a_payload_missing_a_required_field(event, field):
    data = dict(VALID_DATA[event])
    del data[field]
    assert validate_data(event, data)[1] == {field: ["This field is required."]}
    assert validate_data(event, {**data, field: None})[1] == {
        field: ["This field may not be null."]
    }


@pytest.mark.parametrize(("event", "field"), OPTIONAL_FIELDS)
def test_optional_fields_may_be_left_out_or_null(event, field):
    data = dict(VALID_DATA[event])
    del data[field]
    assert validate_data(event, data) == (data, {})
    assert validate_data(event, {**data, field: None}) == (data, {})


def test_every_field_the_api_names_is_known_and_no_other():
    named = set(REQUIRED_FIELDS + OPTIONAL_FIELDS)
    in_code = {(str(e), f) for e, fields in EVENT_FIELDS.items() for f in fields}
    assert in_code == named
    required = {
        (str(e), f) for e, fields in EVENT_FIELDS.items() for f, s in fields.items() if s.required
    }
    assert required == set(REQUIRED_FIELDS)


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ("ssa_started", "dose_mg"),
        ("ssa_started", "interval_days"),
        ("prrt_started", "activity_gbq"),
        ("prrt_started", "cycles_planned"),
        ("everolimus_started", "dose_mg"),
        ("progression_detected", "imaging_study"),
        ("symptoms_reported", "symptom_check"),
    ],
)
@pytest.mark.parametrize("value", [True, False, "10", "ten", [10], {"value": 10}])
def test_it_rejects_booleans_and_text_where_a_number_is_expected(event, field, value):
    _, errors = validate_data(event, data_for(event, **{field: value}))
    assert list(errors) == [field]


@pytest.mark.parametrize(
    ("event", "field", "value"),
    [
        ("recurrence_detected", "site", "brain"),
        ("recurrence_detected", "site", 1),
        ("recurrence_detected", "resectable", "yes"),
        ("recurrence_detected", "resectable", 1),
        ("resection_completed", "ned", 0),
        ("resection_completed", "margin", "R3"),
        ("resection_completed", "margin", "r0"),
        ("ssa_started", "agent", "pasireotide"),
        ("progression_detected", "recist", "SD"),
        ("progression_detected", "recist", "pd"),
        ("prrt_started", "agent", "lu177_psma"),
        ("chemotherapy_started", "regimen", "folfox"),
        ("course_closed", "reason", "cured"),
    ],
)
def test_it_rejects_values_outside_the_allowed_choices(event, field, value):
    _, errors = validate_data(event, data_for(event, **{field: value}))
    assert list(errors) == [field]


@pytest.mark.parametrize(
    ("event", "field", "value"),
    [
        ("ssa_started", "dose_mg", 0),
        ("ssa_started", "dose_mg", -30),
        ("ssa_started", "dose_mg", 1000.5),
        ("ssa_started", "dose_mg", float("nan")),
        ("ssa_started", "dose_mg", float("inf")),
        ("ssa_started", "interval_days", 0),
        ("ssa_started", "interval_days", 366),
        ("ssa_started", "interval_days", 28.5),
        ("prrt_started", "activity_gbq", 0),
        ("prrt_started", "activity_gbq", 50.1),
        ("prrt_started", "cycles_planned", 0),
        ("prrt_started", "cycles_planned", 11),
        ("everolimus_started", "dose_mg", 0),
        ("everolimus_started", "dose_mg", 100.1),
        ("progression_detected", "imaging_study", 0),
        ("progression_detected", "imaging_study", -4),
        ("symptoms_reported", "symptom_check", 0),
    ],
)
def test_it_rejects_numbers_out_of_range(event, field, value):
    _, errors = validate_data(event, data_for(event, **{field: value}))
    assert list(errors) == [field]


@pytest.mark.parametrize(
    ("event", "field", "value"),
    [
        ("ssa_started", "dose_mg", 1000),
        ("ssa_started", "interval_days", 365),
        ("ssa_started", "interval_days", 1),
        ("prrt_started", "activity_gbq", 50),
        ("prrt_started", "cycles_planned", 10),
        ("everolimus_started", "dose_mg", 100),
    ],
)
def test_it_accepts_the_edges_of_each_range(event, field, value):
    assert validate_data(event, data_for(event, **{field: value}))[1] == {}


def test_a_whole_number_sent_as_a_float_is_cleaned_to_an_int():
    cleaned, errors = validate_data("ssa_started", data_for("ssa_started", interval_days=28.0))
    assert errors == {}
    assert cleaned["interval_days"] == 28 and isinstance(cleaned["interval_days"], int)


@pytest.mark.parametrize(
    ("value", "cleaned"),
    [("2026-10-01", "2026-10-01"), (date(2026, 10, 1), "2026-10-01")],
)
def test_dates_are_cleaned_to_iso_strings(value, cleaned):
    result, errors = validate_data(
        "resection_completed", data_for("resection_completed", performed_on=value)
    )
    assert errors == {}
    assert result["performed_on"] == cleaned


@pytest.mark.parametrize(
    "value",
    [
        "2026-02-30",
        "01/10/2026",
        "20261001",
        "2026-10-01T10:00:00",
        "",
        20261001,
        datetime(2026, 10, 1, 9, 30),
    ],
)
def test_it_rejects_anything_but_a_calendar_date(value):
    _, errors = validate_data(
        "resection_completed", data_for("resection_completed", performed_on=value)
    )
    assert list(errors) == ["performed_on"]
    _, errors = validate_data("resection_started", data_for("resection_started", planned_on=value))
    assert list(errors) == ["planned_on"]


@pytest.mark.parametrize("procedure", ["", "   ", "x" * 201, 42])
def test_it_rejects_an_empty_or_overlong_procedure(procedure):
    _, errors = validate_data("resection_started", {"procedure": procedure})
    assert list(errors) == ["procedure"]


def test_the_procedure_is_trimmed():
    cleaned, errors = validate_data("resection_started", {"procedure": "  segmentectomy "})
    assert (cleaned, errors) == ({"procedure": "segmentectomy"}, {})


def test_every_message_is_a_short_sentence():
    _, errors = validate_data(
        "ssa_started", {"agent": "x", "dose_mg": True, "interval_days": 0, "extra": 1}
    )
    for messages in errors.values():
        for message in messages:
            assert message[0].isupper() and message.endswith(".") and len(message) < 120


field_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(
    event=st.sampled_from(EVENT_ORDER),
    extra=st.dictionaries(field_names, st.integers(), max_size=3),
)
def test_any_key_the_api_does_not_name_is_an_error_under_that_key(event, extra):
    known = {f for e, f in REQUIRED_FIELDS + OPTIONAL_FIELDS if e == event}
    extra = {k: v for k, v in extra.items() if k not in known}
    cleaned, errors = validate_data(event, {**VALID_DATA[event], **extra})
    assert errors == {k: ["Unknown field."] for k in extra}
    assert cleaned == VALID_DATA[event]


@settings(max_examples=200, deadline=None)
@given(
    agent=st.sampled_from(["octreotide_lar", "lanreotide"]),
    dose=st.floats(min_value=0, max_value=2000, allow_nan=False) | st.integers(-10, 2000),
    interval=st.integers(-10, 400),
)
def test_ssa_numbers_are_accepted_exactly_inside_their_ranges(agent, dose, interval):
    data = {"agent": agent, "dose_mg": dose, "interval_days": interval}
    cleaned, errors = validate_data("ssa_started", data)
    assert ("dose_mg" in errors) == (not 0 < dose <= 1000)
    assert ("interval_days" in errors) == (not 1 <= interval <= 365)
    if not errors:
        assert cleaned == data


# --- Diagrams -------------------------------------------------------------------------------


def label(event: str, condition: str | None) -> str:
    return event if condition is None else f"{event} ({condition})"


def test_the_mermaid_diagram_draws_every_edge_of_the_table_once():
    lines = to_mermaid().splitlines()
    assert lines[0] == "stateDiagram-v2"
    for source, event, target, condition in EXPECTED_EDGES:
        assert lines.count(f"    {source} --> {target} : {label(event, condition)}") == 1
    edge_lines = [line for line in lines if " : " in line]
    assert len(edge_lines) == len(EXPECTED_EDGES)
    assert "class" not in to_mermaid()


def test_the_dot_diagram_draws_every_edge_of_the_table_once():
    dot = to_dot()
    lines = dot.splitlines()
    assert lines[0] == "digraph course {" and lines[-1] == "}"
    for source, event, target, condition in EXPECTED_EDGES:
        edge = f'    "{source}" -> "{target}" [label="{label(event, condition)}"];'
        assert lines.count(edge) == 1
    assert len([line for line in lines if " -> " in line]) == len(EXPECTED_EDGES)
    for state in ALL_STATES:
        assert any(line.startswith(f'    "{state}"') for line in lines)
    assert "fillcolor" not in dot


@pytest.mark.parametrize("state", ALL_STATES)
def test_the_diagrams_highlight_the_given_state(state):
    mermaid = to_mermaid(highlight=state)
    assert f"    class {state} highlight" in mermaid.splitlines()
    assert "classDef highlight" in mermaid
    dot_lines = to_dot(highlight=state).splitlines()
    styled = [
        line for line in dot_lines if line.startswith(f'    "{state}" [') and "fillcolor" in line
    ]
    assert len(styled) == 1
    assert sum("fillcolor" in line for line in dot_lines) == 1


def test_the_diagrams_refuse_to_highlight_an_unknown_state():
    with pytest.raises(ValueError, match="Unknown state"):
        to_mermaid(highlight="remission")
    with pytest.raises(ValueError, match="Unknown state"):
        to_dot(highlight="remission")


# --- Replay ---------------------------------------------------------------------------------

REALISTIC_LOG = [
    ("recurrence_detected", {"site": "locoregional", "resectable": True}),
    ("resection_started", {"procedure": "mesenteric lymphadenectomy"}),
    ("resection_completed", {"performed_on": "2027-03-02", "margin": "R0", "ned": True}),
    ("symptoms_reported", {"symptom_check": 41}),
    ("recurrence_detected", {"site": "liver", "resectable": False}),
    ("ssa_started", {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28}),
    ("progression_detected", {"recist": "PD"}),
    ("prrt_started", {"agent": "lu177_dotatate", "activity_gbq": 7.4, "cycles_planned": 4}),
    ("progression_detected", {"recist": "PD", "imaging_study": 88}),
    ("everolimus_started", {"dose_mg": 10}),
    ("course_closed", {"reason": "deceased"}),
]


def test_replay_folds_a_realistic_log_through_every_stage():
    visited = [
        str(state)
        for state in itertools.accumulate(
            REALISTIC_LOG,
            lambda state, event: target_state(*event, state),
            initial=State.SURVEILLANCE,
        )
    ]
    assert visited == [
        "surveillance",
        "recurrence",
        "resection",
        "surveillance",
        "surveillance",
        "recurrence",
        "ssa",
        "progression",
        "prrt",
        "progression",
        "everolimus",
        "closed",
    ]
    assert replay("surveillance", REALISTIC_LOG) is State.CLOSED
    for event, data in REALISTIC_LOG:
        assert validate_data(event, data)[1] == {}


def test_replay_refuses_a_log_with_an_illegal_step():
    log = [*REALISTIC_LOG, ("symptoms_reported", {})]
    with pytest.raises(TransitionNotAllowedError) as caught:
        replay(State.SURVEILLANCE, log)
    assert caught.value.state is State.CLOSED


def test_a_resection_that_leaves_disease_returns_the_course_to_recurrence():
    log = [
        ("recurrence_detected", {"site": "liver", "resectable": True}),
        ("resection_started", {"procedure": "hepatectomy"}),
        ("resection_completed", {"performed_on": "2027-01-01", "margin": "R2", "ned": False}),
    ]
    assert replay("surveillance", log) is State.RECURRENCE


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_replay_of_any_legal_walk_ends_where_the_api_table_says(data):
    state = "surveillance"
    log = []
    for _ in range(data.draw(st.integers(0, 25), label="steps")):
        choices = [(e, t, c) for s, e, t, c in EXPECTED_EDGES if s == state]
        if not choices:
            break
        event, target, condition = data.draw(st.sampled_from(choices))
        payload = dict(VALID_DATA[event])
        if event == "resection_completed":
            payload["ned"] = condition == "ned"
        assert evaluate(course(state), event, payload).allowed_from_state
        log.append((event, payload))
        state = target
    assert replay("surveillance", log) == state


def test_it_suggests_cholecystectomy_only_when_ssa_starts_with_the_gallbladder_in_place():
    with_gallbladder = evaluate(
        course(gallbladder_in_place=True), "ssa_started", VALID_DATA["ssa_started"]
    )
    without = evaluate(course(gallbladder_in_place=False), "ssa_started", VALID_DATA["ssa_started"])
    other_line = evaluate(
        course(gallbladder_in_place=True), "everolimus_started", VALID_DATA["everolimus_started"]
    )

    assert [w.guard for w in with_gallbladder.warnings] == ["ssa_with_gallbladder_in_place_warns"]
    assert with_gallbladder.ok
    assert without.warnings == ()
    assert other_line.warnings == ()


@pytest.mark.parametrize(
    ("event", "data", "category", "agent", "route", "interval"),
    [
        ("ssa_started", {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28},
         "ssa", "lanreotide", "deep subcutaneous", 28),
        ("ssa_started", {"agent": "octreotide_lar", "dose_mg": 30, "interval_days": 28},
         "ssa", "octreotide_lar", "intramuscular", 28),
        ("prrt_started", {"agent": "lu177_dotatate", "activity_gbq": 7.4, "cycles_planned": 4},
         "prrt", "lu177_dotatate", "intravenous", 56),
        ("everolimus_started", {"dose_mg": 10}, "everolimus", "everolimus", "oral", 1),
        ("chemotherapy_started", {"regimen": "cisplatin_etoposide"},
         "chemotherapy", "cisplatin_etoposide", "intravenous", 21),
        ("supportive_care_started", {}, "supportive", "best_supportive_care", "", None),
    ],
)  # fmt: skip
def test_each_line_starting_event_describes_its_line(event, data, category, agent, route, interval):
    from treatments.machine import line_spec

    spec = line_spec(event, data)

    assert (spec["category"], spec["agent"], spec["route"], spec["interval_days"]) == (
        category, agent, route, interval,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("event", "data", "expected"),
    [
        ("progression_detected", {"recist": "PD"}, "progression"),
        ("course_closed", {"reason": "deceased"}, "deceased"),
        ("prrt_started", {"agent": "lu177_dotatate", "activity_gbq": 7.4, "cycles_planned": 4},
         "switched"),
        ("symptoms_reported", {}, None),
        ("recurrence_detected", {"site": "liver", "resectable": True}, None),
    ],
)  # fmt: skip
def test_progression_closing_and_a_new_line_end_the_running_line(event, data, expected):
    from treatments.machine import line_end_reason, line_spec

    assert line_end_reason(event, data) == expected
    assert (line_spec(event, data) is None) == (
        event
        in {"progression_detected", "course_closed", "symptoms_reported", "recurrence_detected"}
    )


def test_registration_warns_of_few_nodes_an_incomplete_margin_and_distant_disease():
    from treatments.machine import registration_warnings

    assert registration_warnings(nodes_examined=8, margin="R0", m="M0") == []
    names = [w.guard for w in registration_warnings(nodes_examined=7, margin="R1", m="M1a")]
    assert names == [
        "too_few_lymph_nodes_examined",
        "incomplete_resection_margin",
        "distant_metastasis_at_registration",
    ]
    assert [w.guard for w in registration_warnings(nodes_examined=20, margin="R2", m="M0")] == [
        "incomplete_resection_margin"
    ]
