"""The events table of docs/api.md written out literally, and payloads that pass every check.

Shared by the machine, payload, diagram and line tests. The table is copied as it reads in
the documentation, not imported from the code, so a change to ``TRANSITIONS`` that drifts
from the published contract fails the tests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from treatments.machine import CourseFacts, LineFacts, PrrtCycleFacts, State

# --- The docs/api.md "Event types" table, copied as it reads ---------------------------------

ALL_STATES = [
    "surveillance",
    "recurrence",
    "residual_disease",
    "observation",
    "resection",
    "ssa",
    "progression",
    "prrt",
    "everolimus",
    "chemotherapy",
    "supportive",
    "closed",
]
LINE_STATES = ["ssa", "prrt", "everolimus", "chemotherapy", "supportive"]
KNOWN_DISEASE = "recurrence, residual_disease, observation, ssa, progression, prrt, everolimus, chemotherapy, supportive"
API_EVENTS_TABLE = [
    # (type, from, to) as docs/api.md#event-types reads (version 2)
    ("recurrence_detected", "surveillance", "recurrence"),
    (
        "resection_started",
        "recurrence, residual_disease, observation, progression, ssa, prrt, everolimus, "
        "chemotherapy",
        "resection",
    ),
    (
        "resection_completed",
        "any open state but surveillance",
        "surveillance if ned, else see resection",
    ),
    ("ssa_started", "recurrence, residual_disease, observation, resection, progression", "ssa"),
    (
        "progression_detected",
        "recurrence, residual_disease, observation, ssa, prrt, everolimus, chemotherapy, "
        "supportive",
        "progression",
    ),
    ("prrt_started", "recurrence, residual_disease, observation, progression", "prrt"),
    ("everolimus_started", "recurrence, residual_disease, observation, progression", "everolimus"),
    (
        "chemotherapy_started",
        "recurrence, residual_disease, observation, progression; surveillance for NEC",
        "chemotherapy",
    ),
    (
        "supportive_care_started",
        "recurrence, residual_disease, observation, ssa, progression, prrt, everolimus, "
        "chemotherapy",
        "supportive",
    ),
    ("watchful_waiting_started", "recurrence, residual_disease, progression", "observation"),
    ("line_changed", "any open state", "(same); from progression, the line's state"),
    ("prrt_cycle_given", "prrt", "(same)"),
    ("line_completed", "prrt, chemotherapy", "after the line ends"),
    ("line_stopped", "any open state", "after the line ends"),
    (
        "procedure_recorded",
        "recurrence, residual_disease, observation, resection, ssa, progression, prrt, "
        "everolimus, chemotherapy, supportive",
        "(same)",
    ),
    ("status_updated", "any open state", "(same)"),
    ("symptoms_reported", "any open state", "(same)"),
    ("course_closed", "any open state", "closed"),
]
EVENT_ORDER = [row[0] for row in API_EVENTS_TABLE]
# Rows that also need a fact of the course: an open line, an open resection, none open.
NEEDS = {
    "line_changed": "open line",
    "line_stopped": "open line",
    "resection_completed": "open resection",
    "resection_started": "no open resection",
}


def sources_of(from_cell: str) -> list[tuple[str, str | None]]:
    """(source, condition) pairs; the condition is the fact a conditional source needs."""
    if from_cell == "any open state":
        return [(s, None) for s in ALL_STATES if s != "closed"]
    if from_cell == "any open state but surveillance":
        return [(s, None) for s in ALL_STATES if s not in ("closed", "surveillance")]
    listed, _, conditional = from_cell.partition("; ")
    pairs: list[tuple[str, str | None]] = [(s, None) for s in listed.split(", ")]
    if conditional == "surveillance for NEC":
        pairs.append(("surveillance", "neuroendocrine_carcinoma"))
    return pairs


def targets_of(event: str, to_cell: str, source: str) -> list[tuple[str, str | None]]:
    """(target, condition) pairs a cell of the "to" column stands for."""
    if to_cell == "(same)":
        return [(source, None)]
    if to_cell == "surveillance if ned, else see resection":
        # From resection, no evidence of disease returns to surveillance, else to recurrence;
        # from any other state (a resection opened beside a line) the course stays.
        if source != "resection":
            return [("surveillance", "ned"), (source, "not ned")]
        running = [(s, "not ned, its line running") for s in LINE_STATES if s != "supportive"]
        return [("surveillance", "ned"), ("recurrence", "not ned"), *running]
    if to_cell == "(same); from progression, the line's state":
        return (
            [("ssa", "the changed line is an SSA")] if source == "progression" else [(source, None)]
        )
    if to_cell == "after the line ends":
        pairs = []
        if event == "line_completed":
            pairs.append(("progression", "best_response progression"))
        if source not in LINE_STATES:
            return [*pairs, (source, None)]
        if source != "ssa":
            pairs.append(("ssa", "an SSA line still open"))
            if event == "line_stopped":
                pairs.append((source, "another line stopped"))
        return [*pairs, ("observation", "no line left")]
    return [(to_cell, None)]


def _joined(fact: str | None, condition: str | None) -> str | None:
    if fact is None:
        return condition
    return fact if condition is None else f"{fact}, {condition}"


EXPECTED_EDGES = [
    (source, event, target, _joined(fact, condition))
    for event, from_cell, to_cell in API_EVENTS_TABLE
    for source, fact in sources_of(from_cell)
    for target, condition in targets_of(event, to_cell, source)
]


def normally_allowed(source: str, event: str) -> bool:
    """Whether a course in ``source`` with what it normally has may record ``event``.

    A course normally has an open line in a line state or in progression, and an open
    resection only in ``resection``; conditional sources (NEC) are not normal.
    """
    listed = [
        s for s, fact in sources_of({e: f for e, f, _ in API_EVENTS_TABLE}[event]) if fact is None
    ]
    if source not in listed:
        return False
    need = NEEDS.get(event)
    if need == "open line":
        return source in LINE_STATES or source == "progression"
    if need == "open resection":
        return source == "resection"
    if need == "no open resection":
        return source != "resection"
    return True


ALLOWED_PAIRS = {(s, e) for s in ALL_STATES for e in EVENT_ORDER if normally_allowed(s, e)}

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
    "watchful_waiting_started": {"rationale": "low_volume_stable"},
    "line_changed": {"change": "dose", "dose_mg": 30},
    "prrt_cycle_given": {"cycle": 2, "activity_gbq": 7.4},
    "line_completed": {"best_response": "stable"},
    "line_stopped": {"reason": "toxicity"},
    "procedure_recorded": {"procedure": "tace", "target": "liver"},
    "status_updated": {"sstr_imaging": "positive", "sstr_uptake_vs_liver": "above"},
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
        progression_documented_on=dt.date(2026, 6, 1),
    )
    return dataclasses.replace(facts, **changes)


# The lines a course in each state normally has open (besides the ended SSA of ``course``).
OPEN_SSA = LineFacts(
    "ssa", "octreotide_lar", id=11, intent="antiproliferative", dose_mg=30, interval_days=28
)
TYPICAL_OPEN_LINES = {
    "ssa": (OPEN_SSA,),
    "progression": (OPEN_SSA,),
    "prrt": (
        LineFacts(
            "prrt", "lu177_dotatate", id=12, cycles=(PrrtCycleFacts(1, dt.date(2026, 7, 1), 7.4),)
        ),
    ),
    "everolimus": (LineFacts("everolimus", "everolimus", id=13, dose_mg=10, interval_days=1),),
    "chemotherapy": (LineFacts("chemotherapy", "capecitabine_temozolomide", id=14),),
    "supportive": (LineFacts("supportive", "best_supportive_care", id=15),),
}


def typical(state: str = "progression", **changes) -> CourseFacts:
    """``course(state)`` with what a course in that state normally has: its open line, and an
    open resection in ``resection``."""
    facts = course(
        state,
        lines=(SSA_ENDED_BY_PROGRESSION, *TYPICAL_OPEN_LINES.get(state, ())),
        resection_open=state == "resection",
    )
    return dataclasses.replace(facts, **changes)


def data_for(event: str, **changes) -> dict:
    return {**VALID_DATA[event], **changes}
