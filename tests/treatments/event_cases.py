"""The events table of docs/api.md written out literally, and payloads that pass every check.

Shared by the machine, payload, diagram and line tests. The table is copied as it reads in
the documentation, not imported from the code, so a change to ``TRANSITIONS`` that drifts
from the published contract fails the tests.
"""

from __future__ import annotations

import dataclasses

from treatments.machine import CourseFacts, LineFacts, State

# --- The docs/api.md "Event types" table, copied as it reads ---------------------------------

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
