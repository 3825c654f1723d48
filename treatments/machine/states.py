"""The course's states, its event types and the transition table between them.

Pure data and pure functions: no ORM, no clock, no I/O. The table is the one published in
docs/api.md#event-types and explained in
docs/clinical-rules.md#states-and-transitions; the words events use (sites, margins, agents, regimens, close reasons) are
defined here once, for the payload models, the guards and the forms alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

# --------------------------------------------------------------------------------------------
# States, events, line categories
# --------------------------------------------------------------------------------------------


class State(StrEnum):
    """Where a course stands (docs/clinical-rules.md#states-and-transitions)."""

    SURVEILLANCE = "surveillance"
    RECURRENCE = "recurrence"
    RESIDUAL_DISEASE = "residual_disease"
    OBSERVATION = "observation"
    RESECTION = "resection"
    SSA = "ssa"
    PROGRESSION = "progression"
    PRRT = "prrt"
    EVEROLIMUS = "everolimus"
    CHEMOTHERAPY = "chemotherapy"
    SUPPORTIVE = "supportive"
    CLOSED = "closed"


OPEN_STATES: Final[frozenset[State]] = frozenset(s for s in State if s is not State.CLOSED)

# A course is registered after a complete resection, so it starts with nothing to treat;
# a surgery that left disease starts it in RESIDUAL_DISEASE instead (the service decides).
INITIAL_STATE: Final = State.SURVEILLANCE
INITIAL_STATES: Final = (State.SURVEILLANCE, State.RESIDUAL_DISEASE)

# States whose line of treatment is the state's own name.
LINE_STATES: Final[frozenset[State]] = frozenset(
    {State.SSA, State.PRRT, State.EVEROLIMUS, State.CHEMOTHERAPY, State.SUPPORTIVE}
)
# Where the course has known disease (docs/clinical-rules.md#states-and-transitions): what
# version 1 called "recurrence or progression recorded".
KNOWN_DISEASE_STATES: Final[frozenset[State]] = LINE_STATES | frozenset(
    {State.RECURRENCE, State.RESIDUAL_DISEASE, State.OBSERVATION, State.PROGRESSION}
)
# A decision is pending in these states (the decision_pending alert follows them).
DECISION_STATES: Final[frozenset[State]] = frozenset(
    {State.RECURRENCE, State.RESIDUAL_DISEASE, State.PROGRESSION}
)


class EventType(StrEnum):
    """Event types, in the order of the events table (docs/api.md#event-types)."""

    RECURRENCE_DETECTED = "recurrence_detected"
    RESECTION_STARTED = "resection_started"
    RESECTION_COMPLETED = "resection_completed"
    SSA_STARTED = "ssa_started"
    PROGRESSION_DETECTED = "progression_detected"
    PRRT_STARTED = "prrt_started"
    EVEROLIMUS_STARTED = "everolimus_started"
    CHEMOTHERAPY_STARTED = "chemotherapy_started"
    SUPPORTIVE_CARE_STARTED = "supportive_care_started"
    WATCHFUL_WAITING_STARTED = "watchful_waiting_started"
    LINE_CHANGED = "line_changed"
    PRRT_CYCLE_GIVEN = "prrt_cycle_given"
    LINE_COMPLETED = "line_completed"
    LINE_STOPPED = "line_stopped"
    PROCEDURE_RECORDED = "procedure_recorded"
    STATUS_UPDATED = "status_updated"
    SYMPTOMS_REPORTED = "symptoms_reported"
    COURSE_CLOSED = "course_closed"


class Category(StrEnum):
    """Treatment-line categories; a line is opened by the event that starts it."""

    SSA = "ssa"
    PRRT = "prrt"
    EVEROLIMUS = "everolimus"
    CHEMOTHERAPY = "chemotherapy"
    SUPPORTIVE = "supportive"


LINE_CATEGORY_BY_EVENT: Final[Mapping[EventType, Category]] = {
    EventType.SSA_STARTED: Category.SSA,
    EventType.PRRT_STARTED: Category.PRRT,
    EventType.EVEROLIMUS_STARTED: Category.EVEROLIMUS,
    EventType.CHEMOTHERAPY_STARTED: Category.CHEMOTHERAPY,
    EventType.SUPPORTIVE_CARE_STARTED: Category.SUPPORTIVE,
}


STATE_OF_CATEGORY: Final[Mapping[Category, State]] = {
    Category.SSA: State.SSA,
    Category.PRRT: State.PRRT,
    Category.EVEROLIMUS: State.EVEROLIMUS,
    Category.CHEMOTHERAPY: State.CHEMOTHERAPY,
    Category.SUPPORTIVE: State.SUPPORTIVE,
}


def line_category(event_type: str) -> Category | None:
    """The line category an event starts, or None for events that start no line."""
    try:
        return LINE_CATEGORY_BY_EVENT.get(EventType(event_type))
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# The transition table (docs/api.md#event-types: type, from, to)
# --------------------------------------------------------------------------------------------


class TransitionNotAllowedError(ValueError):
    """An event replayed or resolved from a state the table does not allow it from."""

    def __init__(self, event: str, state: State) -> None:
        super().__init__(f"{event} is not allowed from {state}.")
        self.event = event
        self.state = state


# What must hold of the course, beyond its state, for a row to apply (checked in ``flow``).
OPEN_LINE: Final = "open_line"  # some treatment line is open
RESECTION_OPEN: Final = "resection_open"  # a resection_started is not yet completed
NO_RESECTION_OPEN: Final = "no_resection_open"
CARCINOMA: Final = "neuroendocrine_carcinoma"  # poorly differentiated or mixed disease
# Targets that depend on the lines left open (resolved in ``flow.target_state``).
AFTER_LINE_ENDS: Final = "after_line_ends"
LINE_STATE: Final = "line_state"
AFTER_RESECTION: Final = "after_resection"


@dataclass(frozen=True)
class Transition:
    """One row of the events table.

    ``target`` None means the course stays where it is (``symptoms_reported``). A row with
    ``branch_on`` picks ``target`` when that boolean data field is true, else ``otherwise``:
    ``resection_completed`` returns to surveillance only when the operation left no evidence
    of disease. ``needs`` names a fact that must hold from every source (``OPEN_LINE``,
    ``RESECTION_OPEN``, ``NO_RESECTION_OPEN``); ``conditional_sources`` are further sources
    allowed only when their fact holds. ``resolver`` names a target that depends on the
    course's lines (``AFTER_LINE_ENDS``, ``LINE_STATE``, ``AFTER_RESECTION``).
    """

    event: EventType
    sources: tuple[State, ...]
    target: State | None
    branch_on: str | None = None
    otherwise: State | None = None
    needs: str | None = None
    conditional_sources: Mapping[State, str] = field(default_factory=dict)
    resolver: str | None = None

    def __post_init__(self) -> None:
        if (self.branch_on is None) != (self.otherwise is None):
            raise ValueError("branch_on and otherwise go together.")

    def resolve(self, source: State, data: Mapping[str, Any]) -> State:
        """The state after this event from ``source`` given its data, ignoring ``resolver``."""
        if self.otherwise is not None and data.get(self.branch_on or "") is not True:
            return self.otherwise
        return source if self.target is None else self.target

    def outcomes(self, source: State) -> Iterator[tuple[State, str | None]]:
        """Every (target, condition label) this row can lead to from ``source``."""
        if self.resolver == AFTER_LINE_ENDS:
            yield from _after_line_ends_outcomes(self.event, source)
            return
        if self.resolver == LINE_STATE and source is State.PROGRESSION:
            yield State.SSA, "the changed line is an SSA"
            return
        if self.resolver == AFTER_RESECTION and source is not State.RESECTION:
            yield State.SURVEILLANCE, "ned"
            yield source, "not ned"
            return
        if self.resolver == AFTER_RESECTION:
            yield State.SURVEILLANCE, "ned"
            yield State.RECURRENCE, "not ned"
            for line_state in (State.SSA, State.PRRT, State.EVEROLIMUS, State.CHEMOTHERAPY):
                yield line_state, "not ned, its line running"
            return
        primary = source if self.target is None else self.target
        if self.branch_on is None or self.otherwise is None:
            yield primary, None
        else:
            yield primary, self.branch_on
            yield self.otherwise, f"not {self.branch_on}"

    def all_sources(self) -> tuple[State, ...]:
        """The sources, then the conditional sources, in state order."""
        return self.sources + tuple(s for s in self.conditional_sources if s not in self.sources)


def _after_line_ends_outcomes(
    event: EventType, source: State
) -> Iterator[tuple[State, str | None]]:
    if event is EventType.LINE_COMPLETED:
        yield State.PROGRESSION, "best_response progression"
    if source not in LINE_STATES:
        yield source, None
        return
    if source is not State.SSA:
        yield State.SSA, "an SSA line still open"
        if event is EventType.LINE_STOPPED:
            yield source, "another line stopped"
    yield State.OBSERVATION, "no line left"


_OPEN_IN_ORDER: Final = tuple(s for s in State if s in OPEN_STATES)
_KNOWN_IN_ORDER: Final = tuple(s for s in State if s in KNOWN_DISEASE_STATES)
_FROM_UNTREATED: Final = (State.RECURRENCE, State.RESIDUAL_DISEASE, State.OBSERVATION)

TRANSITIONS: Final[Mapping[EventType, Transition]] = {
    t.event: t
    for t in (
        Transition(EventType.RECURRENCE_DETECTED, (State.SURVEILLANCE,), State.RECURRENCE),
        Transition(
            EventType.RESECTION_STARTED,
            (
                *_FROM_UNTREATED,
                State.PROGRESSION,
                State.SSA,
                State.PRRT,
                State.EVEROLIMUS,
                State.CHEMOTHERAPY,
            ),
            State.RESECTION,
            needs=NO_RESECTION_OPEN,
        ),
        Transition(
            EventType.RESECTION_COMPLETED,
            # Never open in surveillance: completing with ned closes it, and nothing else
            # leads there while one is open.
            tuple(s for s in _OPEN_IN_ORDER if s is not State.SURVEILLANCE),
            State.SURVEILLANCE,
            branch_on="ned",
            otherwise=State.RECURRENCE,
            needs=RESECTION_OPEN,
            resolver=AFTER_RESECTION,
        ),
        Transition(
            EventType.SSA_STARTED,
            (*_FROM_UNTREATED, State.RESECTION, State.PROGRESSION),
            State.SSA,
        ),
        Transition(
            EventType.PROGRESSION_DETECTED,
            tuple(s for s in _KNOWN_IN_ORDER if s is not State.PROGRESSION),
            State.PROGRESSION,
        ),
        Transition(EventType.PRRT_STARTED, (*_FROM_UNTREATED, State.PROGRESSION), State.PRRT),
        Transition(
            EventType.EVEROLIMUS_STARTED, (*_FROM_UNTREATED, State.PROGRESSION), State.EVEROLIMUS
        ),
        Transition(
            EventType.CHEMOTHERAPY_STARTED,
            (*_FROM_UNTREATED, State.PROGRESSION),
            State.CHEMOTHERAPY,
            conditional_sources={State.SURVEILLANCE: CARCINOMA},
        ),
        Transition(
            EventType.SUPPORTIVE_CARE_STARTED,
            tuple(s for s in _KNOWN_IN_ORDER if s is not State.SUPPORTIVE),
            State.SUPPORTIVE,
        ),
        Transition(
            EventType.WATCHFUL_WAITING_STARTED,
            (State.RECURRENCE, State.RESIDUAL_DISEASE, State.PROGRESSION),
            State.OBSERVATION,
        ),
        Transition(
            EventType.LINE_CHANGED, _OPEN_IN_ORDER, None, needs=OPEN_LINE, resolver=LINE_STATE
        ),
        Transition(EventType.PRRT_CYCLE_GIVEN, (State.PRRT,), None),
        Transition(
            EventType.LINE_COMPLETED,
            (State.PRRT, State.CHEMOTHERAPY),
            State.OBSERVATION,
            resolver=AFTER_LINE_ENDS,
        ),
        Transition(
            EventType.LINE_STOPPED,
            _OPEN_IN_ORDER,
            None,
            needs=OPEN_LINE,
            resolver=AFTER_LINE_ENDS,
        ),
        Transition(
            EventType.PROCEDURE_RECORDED,
            tuple(s for s in _OPEN_IN_ORDER if s is not State.SURVEILLANCE),
            None,
        ),
        Transition(EventType.STATUS_UPDATED, _OPEN_IN_ORDER, None),
        Transition(EventType.SYMPTOMS_REPORTED, _OPEN_IN_ORDER, None),
        Transition(EventType.COURSE_CLOSED, _OPEN_IN_ORDER, State.CLOSED),
    )
}


def event_type_of(event_type: str) -> EventType:
    """The EventType named ``event_type``; ValueError naming it when there is none."""
    try:
        return EventType(event_type)
    except ValueError:
        raise ValueError(f"Unknown event type {event_type!r}.") from None


# --------------------------------------------------------------------------------------------
# The words events use: one list each, for payloads, guards and forms
# --------------------------------------------------------------------------------------------

RECURRENCE_SITES: Final = ("locoregional", "liver", "peritoneal", "bone", "lung", "other")
MARGINS: Final = ("R0", "R1", "R2")
SSA_AGENTS: Final = ("octreotide_lar", "lanreotide")
PRRT_AGENTS: Final = ("lu177_dotatate",)
TEMOZOLOMIDE_REGIMENS: Final = ("temozolomide", "capecitabine_temozolomide")
PLATINUM_REGIMENS: Final = ("cisplatin_etoposide", "carboplatin_etoposide")
CHEMOTHERAPY_REGIMENS: Final = TEMOZOLOMIDE_REGIMENS + PLATINUM_REGIMENS
CLOSE_REASONS: Final = (
    "deceased",
    "discharged",
    "lost_to_follow_up",
    "transferred",
    "surveillance_completed",
)
WATCHFUL_WAITING_RATIONALES: Final = ("low_volume_stable", "patient_choice", "comorbidity", "other")
LINE_CHANGES: Final = ("dose", "agent", "interval", "hold", "resume")
BEST_RESPONSES: Final = (
    "complete_response",
    "partial_response",
    "stable",
    "progression",
    "not_assessed",
)
STOP_REASONS: Final = ("toxicity", "patient_choice", "other")
PROCEDURES: Final = ("ablation", "tae", "tace", "sirt", "radiotherapy", "cholecystectomy", "other")
PROCEDURE_TARGETS: Final = ("liver", "bone", "lymph_nodes", "peritoneum", "primary", "other")
SSTR_RESULTS: Final = ("positive", "negative")
SSTR_UPTAKE: Final = ("above", "equal", "below")
DIFFERENTIATIONS: Final = ("well", "poor", "mixed")
