"""Which due kinds a clinical event can move: the rule that lets a re-plan touch only those.

Pure: event type names and kinds in, kinds out. The planning rules (``due``, ``imaging``,
``monitoring``) read a course only through ``Facts``; an event can move a due item only by
changing a fact that the item's rule reads. This module writes down, per event, which facts it
changes and which kinds read them (docs/clinical-rules.md#schedule-mechanics). The surveillance services ask it after every event; the equivalence test in
tests/surveillance/test_partial_replan.py replays random event sequences and checks that
re-planning only these kinds leaves exactly the rows a full re-plan writes.
"""

from __future__ import annotations

from typing import Final

from treatments.machine import EventType

from .facts import Kind

ALL_KINDS: Final[frozenset[Kind]] = frozenset(Kind)

# The kinds whose rule reads the status facts a ``status_updated`` event carries (functional
# tumour, carcinoid syndrome, carcinoid heart disease) or what follows from them (the day a
# syndrome became known, a new syndrome bringing imaging forward like a positive check):
# imaging (``imaging``: symptom_alert_on), the visit and CgA that go with imaging, 5-HIAA
# (syndrome), NT-proBNP and echocardiography (syndrome, heart disease;
# docs/clinical-rules.md#version-2-surveillance-and-monitoring).
STATUS_KINDS: Final[frozenset[Kind]] = frozenset(
    {
        Kind.IMAGING,
        Kind.VISIT,
        Kind.CGA,
        Kind.U5HIAA,
        Kind.NT_PROBNP,
        Kind.ECHOCARDIOGRAPHY,
    }
)

# The kinds whose rule reads the open lines (their start, interval, hold and resumption, PRRT
# cycles, any PRRT ever given): response imaging counts from the line's start, and the visit,
# CgA and 5-HIAA follow imaging; the symptom check is monthly on SSA; injections, vitamins on
# SSA, PRRT labs, blood counts and the metabolic panel follow their line
# (docs/clinical-rules.md#monitoring-on-a-line). Only NT-proBNP and echocardiography read no line.
LINE_KINDS: Final[frozenset[Kind]] = ALL_KINDS - {Kind.NT_PROBNP, Kind.ECHOCARDIOGRAPHY}

_LINE_EVENTS: Final[frozenset[str]] = frozenset(
    {
        EventType.SSA_STARTED,
        EventType.PRRT_STARTED,
        EventType.EVEROLIMUS_STARTED,
        EventType.CHEMOTHERAPY_STARTED,
        EventType.SUPPORTIVE_CARE_STARTED,
        EventType.LINE_CHANGED,
        EventType.PRRT_CYCLE_GIVEN,
        EventType.LINE_COMPLETED,
        EventType.LINE_STOPPED,
    }
)

# Events that move the schedule only through the state they lead to: recorded without a change
# of state they change no fact planning reads (a symptom report, a procedure such as a
# cholecystectomy, which the guards read and planning does not; a recurrence, progression or
# resection event reaches planning only as the state and the day it was entered).
_STATE_ONLY_EVENTS: Final[frozenset[str]] = frozenset(
    {
        EventType.SYMPTOMS_REPORTED,
        EventType.PROCEDURE_RECORDED,
        EventType.RECURRENCE_DETECTED,
        EventType.PROGRESSION_DETECTED,
        EventType.RESECTION_STARTED,
        EventType.WATCHFUL_WAITING_STARTED,
        EventType.COURSE_CLOSED,
    }
)


def kinds_affected_by(event_type: str, *, changes_state: bool) -> frozenset[Kind]:
    """The due kinds an event of ``event_type`` can move; the others keep their stored rows.

    ``changes_state``: the event took the course to another state. Then every kind: the state
    and the day it was entered are read by imaging (surveillance, restaging or response),
    the symptom check (its cadence restarts with a line) and the line-rhythm kinds (never due
    before the state was entered), and a closed course has nothing due. Otherwise:

    - a line event (a line started, changed, held, resumed, a PRRT cycle, a line ended):
      ``LINE_KINDS``;
    - ``status_updated``: ``STATUS_KINDS``;
    - a symptom report, a procedure, and the events that act only through the state: none;
    - any other type (one this table does not know yet): every kind, so a new event type
      re-plans in full until it is placed here.

    A curative re-resection re-anchors the plan, which moves every kind; the surveillance
    subscriber re-plans in full then, whatever this answers.
    """
    if changes_state:
        return ALL_KINDS
    if event_type in _LINE_EVENTS:
        return LINE_KINDS
    if event_type == EventType.STATUS_UPDATED:
        return STATUS_KINDS
    if event_type in _STATE_ONLY_EVENTS:
        return frozenset()
    return ALL_KINDS
