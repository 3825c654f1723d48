"""Random event sequences through the pure machine (version 2), with the lines they move.

Each example registers a course (in ``surveillance`` or ``residual_disease``), then draws
events of every type with valid payloads; an event the machine accepts (allowed from the
state, refused at most by guards a clinician may override) is applied with ``line_effects``.
The properties are those of docs/clinical-rules.md#states-and-transitions: the accepted log
replays to the same state and lines, every state keeps its line, a closed course has no line
open, and from every open state the guideline-consistent next steps stay open.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from treatments.machine import (
    CourseFacts,
    EventType,
    LineNotFoundError,
    State,
    allowed_events,
    apply_effects,
    edges,
    evaluate,
    line_effects,
    replay_course,
)

START = dt.date(2026, 1, 5)

# Valid payloads of each event; `line` is drawn from the open lines when the event takes one.
PAYLOADS: dict[str, list[dict]] = {
    "recurrence_detected": [
        {"site": "liver", "resectable": True},
        {"site": "peritoneal", "resectable": False},
    ],
    "resection_started": [{"procedure": "liver metastasectomy"}],
    "resection_completed": [
        {"performed_on": "2026-06-01", "margin": "R0", "ned": True},
        {"performed_on": "2026-06-01", "margin": "R2", "ned": False},
    ],
    "ssa_started": [
        {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28},
        {
            "agent": "octreotide_lar",
            "dose_mg": 30,
            "interval_days": 28,
            "intent": "syndrome_control",
        },
    ],
    "progression_detected": [{"recist": "PD"}],
    "prrt_started": [
        {"agent": "lu177_dotatate", "activity_gbq": 7.4, "cycles_planned": 4},
        {
            "agent": "lu177_dotatate",
            "activity_gbq": 7.4,
            "cycles_planned": 4,
            "continue_ssa": False,
        },
    ],
    "everolimus_started": [{"dose_mg": 10}, {"dose_mg": 10, "continue_ssa": True}],
    "chemotherapy_started": [
        {"regimen": "capecitabine_temozolomide"},
        {"regimen": "carboplatin_etoposide", "continue_ssa": False},
    ],
    "supportive_care_started": [{}],
    "watchful_waiting_started": [{"rationale": "low_volume_stable"}],
    "line_changed": [
        {"change": "interval", "interval_days": 14},
        {"change": "hold"},
        {"change": "resume"},
        {"change": "dose", "dose_mg": 30},
    ],
    "prrt_cycle_given": [{"cycle": 2, "activity_gbq": 7.4}],
    "line_completed": [{"best_response": "stable"}, {"best_response": "progression"}],
    "line_stopped": [{"reason": "toxicity"}, {"reason": "patient_choice"}],
    "procedure_recorded": [{"procedure": "tace", "target": "liver"}],
    "status_updated": [{"carcinoid_syndrome": True}],
    "symptoms_reported": [{}],
    "course_closed": [{"reason": "deceased"}],
}
TAKES_LINE = {"line_changed", "line_stopped"}

# Guideline-consistent next steps that must stay open from each state, whatever the lines
# (docs/clinical-rules.md#states-and-transitions; ESMO 2020; ENETS 2024).
NEXT_STEPS: dict[State, set[str]] = {
    State.SURVEILLANCE: {"recurrence_detected", "status_updated", "course_closed"},
    State.RECURRENCE: {
        "ssa_started",
        "prrt_started",
        "everolimus_started",
        "chemotherapy_started",
        "watchful_waiting_started",
        "supportive_care_started",
        "progression_detected",
    },
    State.OBSERVATION: {
        "progression_detected",
        "ssa_started",
        "prrt_started",
        "supportive_care_started",
    },
    State.PROGRESSION: {
        "ssa_started",
        "prrt_started",
        "everolimus_started",
        "chemotherapy_started",
        "watchful_waiting_started",
        "supportive_care_started",
    },
    State.SSA: {"progression_detected", "line_changed", "line_stopped", "supportive_care_started"},
    State.PRRT: {"prrt_cycle_given", "line_completed", "progression_detected"},
    State.EVEROLIMUS: {"progression_detected", "line_stopped"},
    State.CHEMOTHERAPY: {"line_completed", "progression_detected"},
    State.SUPPORTIVE: {"progression_detected", "course_closed"},
    State.RESECTION: {"resection_completed"},
}
NEXT_STEPS[State.RESIDUAL_DISEASE] = NEXT_STEPS[State.RECURRENCE]
EDGES = {(s, e, t) for s, e, t, _ in edges()}


def facts_for(state: State, lines, resection_open: bool, findings: dict) -> CourseFacts:
    return CourseFacts(
        state=state,
        lines=lines,
        resection_open=resection_open,
        last_recurrence={"site": "liver", "resectable": True},
        **findings,
    )


findings_strategy = st.fixed_dictionaries(
    {
        "differentiation": st.sampled_from(["well", "well", "poor"]),
        "grade": st.sampled_from(["G1", "G2", "G3"]),
        "ki67_percent": st.sampled_from([2.0, 15.0, 30.0]),
        "sstr_imaging": st.sampled_from(["positive", "negative"]),
        "functional": st.booleans(),
        "carcinoid_syndrome": st.booleans(),
    }
)


def check_invariants(state: State, facts: CourseFacts) -> None:
    open_lines = facts.open_lines
    if state is State.CLOSED:
        assert open_lines == ()
        return
    if state.value in ("ssa", "prrt", "everolimus", "chemotherapy", "supportive"):
        assert any(line.category == state.value for line in open_lines), (state, open_lines)
    if state in (State.SURVEILLANCE, State.OBSERVATION):
        assert not any(line.is_anticancer for line in open_lines), (state, open_lines)
    if state is State.RESECTION:
        assert facts.resection_open
    missing = NEXT_STEPS[state] - set(allowed_events(state, facts))
    # A second resection waits for the open one; everything else must stay open.
    assert not missing, (state, missing)


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    findings=findings_strategy,
    start=st.sampled_from(["surveillance", "residual_disease"]),
)
def test_accepted_event_sequences_keep_the_machine_consistent_and_replay_the_same(
    data, findings, start
):
    state = State(start)
    lines: tuple = ()
    resection_open = False
    log: list[tuple[str, dict, dt.date]] = []
    opened = 0
    for step in range(data.draw(st.integers(1, 30), label="steps")):
        facts = facts_for(state, lines, resection_open, findings)
        check_invariants(state, facts)
        if state is State.CLOSED:
            break
        event = data.draw(st.sampled_from([str(e) for e in EventType]), label="event")
        payload = dict(data.draw(st.sampled_from(PAYLOADS[event]), label="payload"))
        if event in TAKES_LINE and facts.open_lines:
            chosen = data.draw(st.sampled_from(facts.open_lines), label="line")
            payload["line"] = chosen.id
        on = START + dt.timedelta(days=60 * step)
        try:
            decision = evaluate(facts, event, payload, occurred_on=on)
        except LineNotFoundError:
            continue  # a 400 on `line`: nothing recorded
        if not decision.allowed_from_state or (not decision.overridable and decision.failures):
            continue  # 409, or a refusal nobody may override
        assert (state, EventType(event), decision.target) in EDGES
        effects = line_effects(event, payload, facts, on=on)
        new_id = None
        if effects.starts is not None:
            opened += 1
            new_id = opened
        lines = apply_effects(lines, effects, on=on, new_id=new_id)
        if event == "resection_started":
            resection_open = True
        elif event == "resection_completed":
            resection_open = False
        state = decision.target
        log.append((event, payload, on))
    check_invariants(state, facts_for(state, lines, resection_open, findings))

    replayed = replay_course(start, log, facts=facts_for(State(start), (), False, findings))
    assert replayed.state is state
    assert replayed.lines == lines
    assert replayed.resection_open is resection_open


def test_the_property_covers_every_open_state_and_event():
    # Guards the completeness of the pools above.
    assert set(PAYLOADS) == {str(e) for e in EventType}
    assert set(NEXT_STEPS) == {s for s in State if s is not State.CLOSED}
    assert dataclasses.is_dataclass(CourseFacts)
