"""The course's states, its event types and the transition table between them.

Pure data and pure functions: no ORM, no clock, no I/O. The table is the one published in
docs/api.md#event-types and explained in
docs/clinical-rules.md#states-and-transitions; the words events use (sites, margins, agents, regimens, close reasons) are
defined here once, for the payload models, the guards and the forms alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

# --------------------------------------------------------------------------------------------
# States, events, line categories
# --------------------------------------------------------------------------------------------


class State(StrEnum):
    """Where a course stands (docs/clinical-rules.md#states-and-transitions)."""

    SURVEILLANCE = "surveillance"
    RECURRENCE = "recurrence"
    RESECTION = "resection"
    SSA = "ssa"
    PROGRESSION = "progression"
    PRRT = "prrt"
    EVEROLIMUS = "everolimus"
    CHEMOTHERAPY = "chemotherapy"
    SUPPORTIVE = "supportive"
    CLOSED = "closed"


OPEN_STATES: Final[frozenset[State]] = frozenset(s for s in State if s is not State.CLOSED)

# A course is registered after a complete resection, so it starts with nothing to treat.
INITIAL_STATE: Final = State.SURVEILLANCE


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


@dataclass(frozen=True)
class Transition:
    """One row of the events table.

    ``target`` None means the course stays where it is (``symptoms_reported``). A row with
    ``branch_on`` picks ``target`` when that boolean data field is true, else ``otherwise``:
    ``resection_completed`` returns to surveillance only when the operation left no evidence
    of disease.
    """

    event: EventType
    sources: tuple[State, ...]
    target: State | None
    branch_on: str | None = None
    otherwise: State | None = None

    def __post_init__(self) -> None:
        if (self.branch_on is None) != (self.otherwise is None):
            raise ValueError("branch_on and otherwise go together.")

    def resolve(self, source: State, data: Mapping[str, Any]) -> State:
        """The state after this event from ``source`` given its (validated) data."""
        if self.otherwise is not None and data.get(self.branch_on or "") is not True:
            return self.otherwise
        return source if self.target is None else self.target

    def outcomes(self, source: State) -> Iterator[tuple[State, str | None]]:
        """Every (target, condition label) this row can lead to from ``source``."""
        primary = source if self.target is None else self.target
        if self.branch_on is None or self.otherwise is None:
            yield primary, None
        else:
            yield primary, self.branch_on
            yield self.otherwise, f"not {self.branch_on}"


_OPEN_IN_ORDER: Final = tuple(s for s in State if s in OPEN_STATES)

TRANSITIONS: Final[Mapping[EventType, Transition]] = {
    t.event: t
    for t in (
        Transition(EventType.RECURRENCE_DETECTED, (State.SURVEILLANCE,), State.RECURRENCE),
        Transition(EventType.RESECTION_STARTED, (State.RECURRENCE,), State.RESECTION),
        Transition(
            EventType.RESECTION_COMPLETED,
            (State.RESECTION,),
            State.SURVEILLANCE,
            branch_on="ned",
            otherwise=State.RECURRENCE,
        ),
        Transition(
            EventType.SSA_STARTED,
            (State.RECURRENCE, State.RESECTION, State.PROGRESSION),
            State.SSA,
        ),
        Transition(
            EventType.PROGRESSION_DETECTED,
            (State.SSA, State.PRRT, State.EVEROLIMUS, State.CHEMOTHERAPY, State.SUPPORTIVE),
            State.PROGRESSION,
        ),
        Transition(EventType.PRRT_STARTED, (State.PROGRESSION,), State.PRRT),
        Transition(EventType.EVEROLIMUS_STARTED, (State.PROGRESSION,), State.EVEROLIMUS),
        Transition(
            EventType.CHEMOTHERAPY_STARTED,
            (State.RECURRENCE, State.PROGRESSION),
            State.CHEMOTHERAPY,
        ),
        Transition(
            EventType.SUPPORTIVE_CARE_STARTED,
            (State.RECURRENCE, State.PROGRESSION),
            State.SUPPORTIVE,
        ),
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


def allowed_events(state: State | str) -> tuple[str, ...]:
    """Event types allowed from ``state``, in table order (the 409 body lists these)."""
    state = State(state)
    return tuple(str(e) for e, t in TRANSITIONS.items() if state in t.sources)


def target_state(
    event_type: str, data: Mapping[str, Any], source: State | str | None = None
) -> State:
    """Resolve where ``event_type`` with ``data`` leads.

    ``source`` is needed only for ``symptoms_reported`` (it stays in place); when given, it is
    also checked against the table and ``TransitionNotAllowedError`` is raised for an illegal move.
    """
    event = event_type_of(event_type)
    transition = TRANSITIONS[event]
    if source is None:
        if transition.target is None:
            raise ValueError(f"{event} stays in its source state: pass source=.")
        return transition.resolve(State.CLOSED, data)  # source unused for fixed targets
    source = State(source)
    if source not in transition.sources:
        raise TransitionNotAllowedError(str(event), source)
    return transition.resolve(source, data)


def replay(initial: State | str, events: Iterable[tuple[str, Mapping[str, Any]]]) -> State:
    """Fold an event log over the table: a course's stored state always equals this.

    Raises TransitionNotAllowedError at the first step the table does not allow.
    """
    state = State(initial)
    for event_type, data in events:
        state = target_state(event_type, data, state)
    return state


def edges() -> Iterator[tuple[State, EventType, State, str | None]]:
    """Every (from, event, to, condition) edge of the table, in table order."""
    for event, transition in TRANSITIONS.items():
        for source in transition.sources:
            for target, condition in transition.outcomes(source):
                yield source, event, target, condition


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
