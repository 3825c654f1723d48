"""The course state machine: states, transitions, payload checks and guideline guards.

Pure: no ORM, no clock, no I/O. ``treatments.services.record_event`` asks this module three
questions in order (DESIGN.md, "The event flow"):

1. is the payload well formed?            ``validate_data``  -> 400 with field errors
2. is the event allowed from this state?  ``evaluate``       -> 409 with ``allowed_events``
3. do the guideline guards hold?          ``evaluate``       -> 422 unless a clinician overrides

The transition table is the API.md "Events" table; the guards are CLINICAL.md §3. Every
refusal and warning is a ``GuardResult`` that carries its reason, its source and the evidence
level, so the API and the admin can show why. No FSM library is used: none models "guard
failed, a clinician may override with a reason" (STYLE.md, library picks).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

__all__ = [
    "ADJUVANT_RULE",
    "CLOSED_RULE",
    "EVENT_FIELDS",
    "GUARDS",
    "INITIAL_STATE",
    "LINE_CATEGORY_BY_EVENT",
    "OPEN_STATES",
    "TRANSITIONS",
    "Category",
    "CourseFacts",
    "Decision",
    "EventType",
    "FieldSpec",
    "Guard",
    "GuardResult",
    "LineFacts",
    "State",
    "Transition",
    "TransitionNotAllowedError",
    "allowed_events",
    "edges",
    "evaluate",
    "guards_for",
    "line_category",
    "replay",
    "target_state",
    "to_dot",
    "to_mermaid",
    "validate_data",
]


# --------------------------------------------------------------------------------------------
# States, events, line categories
# --------------------------------------------------------------------------------------------


class State(StrEnum):
    """Where a course stands (DESIGN.md, "The course state machine")."""

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
    """Event types, in the order of the API.md "Events" table."""

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
# The transition table (API.md "Events": type, from, to)
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


def _event(event_type: str) -> EventType:
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
    event = _event(event_type)
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
    """Fold an event log over the table: the stored state must equal this (RELIABILITY.md 17)."""
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
# Diagrams, drawn from the table itself so they cannot drift from it
# --------------------------------------------------------------------------------------------


def _edge_label(event: EventType, condition: str | None) -> str:
    return str(event) if condition is None else f"{event} ({condition})"


def _highlighted(highlight: str | None) -> State | None:
    if highlight is None:
        return None
    try:
        return State(highlight)
    except ValueError:
        raise ValueError(f"Unknown state {highlight!r} to highlight.") from None


def _terminal_states() -> list[State]:
    left = {source for source, *_ in edges()}
    return [s for s in State if s not in left]


def to_mermaid(highlight: str | None = None) -> str:
    """A Mermaid ``stateDiagram-v2``: one line per (from, event, to) edge of ``TRANSITIONS``."""
    marked = _highlighted(highlight)
    lines = ["stateDiagram-v2", f"    [*] --> {INITIAL_STATE}"]
    for source, event, target, condition in edges():
        lines.append(f"    {source} --> {target} : {_edge_label(event, condition)}")
    lines.extend(f"    {state} --> [*]" for state in _terminal_states())
    if marked is not None:
        lines.append("    classDef highlight fill:#ffd54f,stroke:#e65100,stroke-width:3px")
        lines.append(f"    class {marked} highlight")
    return "\n".join(lines) + "\n"


def to_dot(highlight: str | None = None) -> str:
    """A Graphviz digraph: one edge statement per (from, event, to) edge of ``TRANSITIONS``."""
    marked = _highlighted(highlight)
    lines = [
        "digraph course {",
        "    rankdir=LR;",
        '    node [shape=box, style="rounded"];',
    ]
    for state in State:
        attributes = ""
        if state is marked:
            attributes = ' [style="rounded,filled,bold", fillcolor="#ffd54f", penwidth=3]'
        elif state is State.CLOSED:
            attributes = " [peripheries=2]"
        lines.append(f'    "{state}"{attributes};')
    for source, event, target, condition in edges():
        lines.append(f'    "{source}" -> "{target}" [label="{_edge_label(event, condition)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Payload validation (API.md "Events" data column)
# --------------------------------------------------------------------------------------------

REQUIRED: Final = "This field is required."
NOT_NULL: Final = "This field may not be null."
UNKNOWN_FIELD: Final = "Unknown field."

_ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


class _InvalidValueError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _fmt(number: float) -> str:
    return f"{number:g}"


def _as_number(value: Any) -> float | int:
    # bool is an int subclass and "30" is what a form would send: both are wrong types here.
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise _InvalidValueError("Must be a number.")
    if isinstance(value, Decimal):
        value = float(value)  # cleaned data is stored as JSON
    if isinstance(value, float) and not math.isfinite(value):
        raise _InvalidValueError("Must be a finite number.")
    return value


def _choice(*choices: str) -> Callable[[Any], Any]:
    def clean(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise _InvalidValueError(f"Must be one of: {', '.join(choices)}.")
        return value

    return clean


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _InvalidValueError("Must be true or false.")
    return value


def _number(*, above: float, up_to: float) -> Callable[[Any], Any]:
    def clean(value: Any) -> float | int:
        number = _as_number(value)
        if not above < number <= up_to:
            raise _InvalidValueError(
                f"Must be greater than {_fmt(above)} and at most {_fmt(up_to)}."
            )
        return number

    return clean


def _integer(*, low: int, high: int | None = None) -> Callable[[Any], Any]:
    def clean(value: Any) -> int:
        number = _as_number(value)
        if isinstance(number, float):
            if not number.is_integer():
                raise _InvalidValueError("Must be a whole number.")
            number = int(number)
        if number < low or (high is not None and number > high):
            if high is None:
                raise _InvalidValueError(f"Must be a whole number of {low} or more.")
            raise _InvalidValueError(f"Must be a whole number from {low} to {high}.")
        return number

    return clean


def _text(*, max_length: int) -> Callable[[Any], Any]:
    def clean(value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise _InvalidValueError("Must be a non-empty text.")
        value = value.strip()
        if len(value) > max_length:
            raise _InvalidValueError(f"Must be at most {max_length} characters.")
        return value

    return clean


def _iso_date(value: Any) -> str:
    # datetime is a date subclass; a timestamp where a calendar day is meant is refused.
    if isinstance(value, datetime):
        raise _InvalidValueError("Must be a date (YYYY-MM-DD), not a date and time.")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise _InvalidValueError("Must be a date in the form YYYY-MM-DD.")


@dataclass(frozen=True)
class FieldSpec:
    """One data field of an event: whether it is required, and how to clean it.

    ``refers_to`` names the model ("app_label.Model") of a field that holds the id of another
    record; the service checks that record belongs to the event's course.
    """

    required: bool
    clean: Callable[[Any], Any] = field(compare=False)
    description: str = ""
    refers_to: str = ""


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

EVENT_FIELDS: Final[Mapping[EventType, Mapping[str, FieldSpec]]] = {
    EventType.RECURRENCE_DETECTED: {
        "site": FieldSpec(True, _choice(*RECURRENCE_SITES), "where the recurrence was found"),
        "resectable": FieldSpec(True, _boolean, "judged resectable by the tumour board"),
    },
    EventType.RESECTION_STARTED: {
        "procedure": FieldSpec(True, _text(max_length=200), "planned operation"),
        "planned_on": FieldSpec(False, _iso_date, "planned date"),
    },
    EventType.RESECTION_COMPLETED: {
        "performed_on": FieldSpec(True, _iso_date, "date of the operation"),
        "margin": FieldSpec(True, _choice(*MARGINS), "resection margin"),
        "ned": FieldSpec(True, _boolean, "no evidence of disease after the operation"),
    },
    EventType.SSA_STARTED: {
        "agent": FieldSpec(True, _choice(*SSA_AGENTS), "somatostatin analogue"),
        "dose_mg": FieldSpec(True, _number(above=0, up_to=1000), "dose per injection, mg"),
        "interval_days": FieldSpec(True, _integer(low=1, high=365), "days between injections"),
    },
    EventType.PROGRESSION_DETECTED: {
        "recist": FieldSpec(True, _choice("PD"), "RECIST 1.1 progressive disease"),
        "imaging_study": FieldSpec(
            False, _integer(low=1), "id of the study that showed it", "surveillance.ImagingStudy"
        ),
    },
    EventType.PRRT_STARTED: {
        "agent": FieldSpec(True, _choice(*PRRT_AGENTS), "radiopharmaceutical"),
        "activity_gbq": FieldSpec(True, _number(above=0, up_to=50), "activity per cycle, GBq"),
        "cycles_planned": FieldSpec(True, _integer(low=1, high=10), "cycles planned"),
    },
    EventType.EVEROLIMUS_STARTED: {
        "dose_mg": FieldSpec(True, _number(above=0, up_to=100), "daily dose, mg"),
    },
    EventType.CHEMOTHERAPY_STARTED: {
        "regimen": FieldSpec(True, _choice(*CHEMOTHERAPY_REGIMENS), "chemotherapy regimen"),
    },
    EventType.SUPPORTIVE_CARE_STARTED: {},
    EventType.SYMPTOMS_REPORTED: {
        "symptom_check": FieldSpec(
            False, _integer(low=1), "id of the symptom check", "surveillance.SymptomCheck"
        ),
    },
    EventType.COURSE_CLOSED: {
        "reason": FieldSpec(True, _choice(*CLOSE_REASONS), "why the course closed"),
    },
}


def validate_data(
    event_type: str, data: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Clean an event's ``data`` against the API.md fields: (cleaned data, field errors).

    Strict on purpose: unknown keys are errors (a misspelt ``ned`` must not silently send a
    patient back to surveillance), numbers must be JSON numbers and not booleans, and dates
    come back as ISO strings so the cleaned data can be stored as JSON. Optional fields sent
    as null are dropped.
    """
    try:
        event = EventType(event_type)
    except ValueError:
        return {}, {"type": [f"Unknown event type. Expected one of: {', '.join(EventType)}."]}
    if not isinstance(data, Mapping):
        return {}, {"data": ["Must be an object."]}

    specs = EVENT_FIELDS[event]
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for key in data:
        if key not in specs:
            errors[str(key)] = [UNKNOWN_FIELD]
    for name, spec in specs.items():
        if name not in data:
            if spec.required:
                errors[name] = [REQUIRED]
            continue
        value = data[name]
        if value is None:
            if spec.required:
                errors[name] = [NOT_NULL]
            continue
        try:
            cleaned[name] = spec.clean(value)
        except _InvalidValueError as invalid:
            errors[name] = [invalid.message]
    return cleaned, errors


# --------------------------------------------------------------------------------------------
# Facts the guards read
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineFacts:
    """A treatment line as the guards see it."""

    category: str  # a Category value
    agent: str
    ended_reason: str | None = None  # "progression", ...; None while the line runs


@dataclass(frozen=True)
class CourseFacts:
    """What the guards need to know about a course, read by the service from the database."""

    state: State
    differentiation: str  # "well", "poor", "mixed"
    grade: str  # "G1", "G2", "G3", "NEC", "MiNEN"
    ki67_percent: float | None
    sstr_imaging: str  # "positive", "negative", "equivocal", "not_done"
    functional: bool
    lines: tuple[LineFacts, ...] = ()  # oldest first
    # data of the latest recurrence_detected event, e.g. {"site": "liver", "resectable": True}
    last_recurrence: Mapping[str, Any] | None = field(default=None, hash=False)
    # The gallbladder is still in place (no cholecystectomy recorded): CLINICAL.md §4.
    gallbladder_in_place: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", State(self.state))
        object.__setattr__(self, "lines", tuple(self.lines))


# --------------------------------------------------------------------------------------------
# Guards (CLINICAL.md §3; clinical-sources.md §3.9)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuardResult:
    """Why an event is refused or warned about, with its source and evidence level."""

    guard: str
    reason: str
    source: str
    evidence: str
    overridable: bool
    blocking: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "guard": self.guard,
            "reason": self.reason,
            "source": self.source,
            "evidence": self.evidence,
            "overridable": self.overridable,
            "blocking": self.blocking,
        }


@dataclass(frozen=True)
class Guard:
    """A named precondition of one event.

    ``holds`` returns True when the event may go ahead; a guard that does not apply to the
    data (the platinum rule for a temozolomide regimen) holds. A non-blocking guard is a
    warning: it never refuses, so it needs no override (``overridable`` is True).
    """

    name: str
    event: EventType
    reason: str
    source: str
    evidence: str
    blocking: bool
    overridable: bool
    holds: Callable[[CourseFacts, Mapping[str, Any]], bool] = field(compare=False, repr=False)

    def result(self) -> GuardResult:
        return GuardResult(
            guard=self.name,
            reason=self.reason,
            source=self.source,
            evidence=self.evidence,
            overridable=self.overridable,
            blocking=self.blocking,
        )


Check = Callable[[CourseFacts, Mapping[str, Any]], bool]


def _refuse(
    name: str, event: EventType, reason: str, source: str, evidence: str, holds: Check
) -> Guard:
    """A blocking guard a clinician may override with a written reason."""
    return Guard(
        name, event, reason, source, evidence, blocking=True, overridable=True, holds=holds
    )


def _warn(
    name: str, event: EventType, reason: str, source: str, evidence: str, holds: Check
) -> Guard:
    """A warning: shown with the decision, never refuses."""
    return Guard(
        name, event, reason, source, evidence, blocking=False, overridable=True, holds=holds
    )


def _has_line_ended_by_progression(facts: CourseFacts, category: str | None = None) -> bool:
    return any(
        line.ended_reason == "progression" and (category is None or line.category == category)
        for line in facts.lines
    )


SSA_SOURCE: Final = "PROMID; CLARINET; ENETS 2024 small-intestine NET guidance"
SSA_EVIDENCE: Final = "trial evidence (PROMID and CLARINET randomised trials)"
PRRT_EVIDENCE: Final = "LoE 3, grade B (seed); NETTER-1 randomised trial"
EVEROLIMUS_EVIDENCE: Final = (
    "LoE 1, grade A (seed, extrapolated from pancreatic NET); RADIANT-4 randomised trial"
)

# Allowed SSA schedules: the labelled antiproliferative doses every 4 weeks. Escalations
# (lanreotide every 14 days, octreotide LAR 60 mg) exist but are off-label: override only.
SSA_ALLOWED_DOSES_MG: Final[Mapping[str, tuple[float, ...]]] = {
    "octreotide_lar": (20.0, 30.0),
    "lanreotide": (120.0,),
}
SSA_INTERVAL_DAYS: Final = 28
PRRT_ACTIVITY_GBQ: Final = (3.7, 7.4)
PRRT_LABEL_CYCLES: Final = 4
EVEROLIMUS_DOSES_MG: Final = (5.0, 10.0)

GUARDS: Final[Mapping[EventType, tuple[Guard, ...]]] = {
    EventType.RECURRENCE_DETECTED: (),
    EventType.RESECTION_STARTED: (
        _refuse(
            "resection_requires_resectable_recurrence",
            EventType.RESECTION_STARTED,
            "Re-resection is for locoregional or oligometastatic recurrence judged resectable; "
            "the last recorded recurrence was not judged resectable.",
            "ESMO 2020; ENETS 2024 small-intestine NET guidance; guideline summary 2025 "
            "(10-year overall survival 50.4 % after hepatic resection of NET metastases)",
            "observational series (no level given)",
            lambda facts, data: bool(
                facts.last_recurrence and facts.last_recurrence.get("resectable") is True
            ),
        ),
    ),
    EventType.RESECTION_COMPLETED: (
        _warn(
            "resection_ned_with_incomplete_margin_warns",
            EventType.RESECTION_COMPLETED,
            "No evidence of disease is recorded although the margin is R1 or R2; surveillance "
            "assumes a complete resection.",
            "Guideline summary 2025 (surveillance after complete resection); CLINICAL.md §2",
            "guideline summary (no level given)",
            lambda facts, data: (
                not (data.get("ned") is True and data.get("margin") in ("R1", "R2"))
            ),
        ),
    ),
    EventType.SSA_STARTED: (
        _warn(
            "ssa_with_gallbladder_in_place_warns",
            EventType.SSA_STARTED,
            "Long-term somatostatin analogues raise the risk of gallstones and the gallbladder "
            "is in place: consider prophylactic cholecystectomy at any further abdominal "
            "operation.",
            "Guideline summary 2025 (pitfalls); ENETS 2024 small-intestine NET guidance",
            "expert consensus (no level given)",
            lambda facts, data: not facts.gallbladder_in_place,
        ),
        _refuse(
            "ssa_requires_well_differentiated",
            EventType.SSA_STARTED,
            "A somatostatin analogue is for well-differentiated NET; poorly differentiated or "
            "mixed neoplasms need another line.",
            SSA_SOURCE,
            SSA_EVIDENCE,
            lambda facts, data: facts.differentiation == "well",
        ),
        _warn(
            "ssa_grade_g3_warns",
            EventType.SSA_STARTED,
            "NET G3: the somatostatin-analogue trials enrolled G1/G2 disease (CLARINET Ki-67 "
            "below 10 %); starting one is a clinician decision.",
            SSA_SOURCE,
            SSA_EVIDENCE,
            lambda facts, data: facts.grade != "G3",
        ),
        _refuse(
            "ssa_requires_positive_sstr_imaging",
            EventType.SSA_STARTED,
            "Somatostatin-receptor imaging must be positive before a somatostatin analogue is "
            "started.",
            "CLARINET (required SSTR scintigraphy uptake); PROMID; "
            "ENETS 2024 small-intestine NET guidance",
            SSA_EVIDENCE,
            lambda facts, data: facts.sstr_imaging == "positive",
        ),
        _refuse(
            "ssa_dose_in_allowed_set",
            EventType.SSA_STARTED,
            "The somatostatin-analogue dose must be octreotide LAR 20 or 30 mg or lanreotide "
            "120 mg, every 28 days.",
            "Octreotide LAR and lanreotide labels; PROMID; CLARINET",
            "label",
            lambda facts, data: (
                data.get("dose_mg") in SSA_ALLOWED_DOSES_MG.get(data.get("agent", ""), ())
                and data.get("interval_days") == SSA_INTERVAL_DAYS
            ),
        ),
        _warn(
            "ssa_octreotide_20mg_warns",
            EventType.SSA_STARTED,
            "The antiproliferative evidence for octreotide LAR (PROMID) is for 30 mg every "
            "28 days; 20 mg is a symptom-control dose.",
            "PROMID (octreotide LAR 30 mg, midgut NET)",
            "trial evidence (PROMID randomised trial)",
            lambda facts, data: (
                not (data.get("agent") == "octreotide_lar" and data.get("dose_mg") == 20)
            ),
        ),
    ),
    EventType.PROGRESSION_DETECTED: (),
    EventType.PRRT_STARTED: (
        _refuse(
            "prrt_requires_positive_sstr_imaging",
            EventType.PRRT_STARTED,
            "PRRT needs positive somatostatin-receptor imaging (uptake at least that of normal "
            "liver).",
            "NETTER-1; 177Lu-DOTATATE label",
            PRRT_EVIDENCE,
            lambda facts, data: facts.sstr_imaging == "positive",
        ),
        _refuse(
            "prrt_requires_progression_on_ssa",
            EventType.PRRT_STARTED,
            "PRRT follows progression on a somatostatin analogue; no SSA line ended with "
            "progression. First-line PRRT (Ki-67 10-55 %) needs a clinician override.",
            "NETTER-1 (midgut NET progressing on SSA); NETTER-2 (first line, Ki-67 10-55 %)",
            "LoE 3, grade B (seed); NETTER-1 and NETTER-2 randomised trials",
            lambda facts, data: _has_line_ended_by_progression(facts, Category.SSA),
        ),
        _refuse(
            "prrt_activity_in_range",
            EventType.PRRT_STARTED,
            "177Lu-DOTATATE activity must be 3.7 to 7.4 GBq per cycle (7.4 GBq standard).",
            "177Lu-DOTATATE label; NETTER-1",
            "label",
            lambda facts, data: (
                PRRT_ACTIVITY_GBQ[0] <= data.get("activity_gbq", -1) <= PRRT_ACTIVITY_GBQ[1]
            ),
        ),
        _warn(
            "prrt_more_than_four_cycles_warns",
            EventType.PRRT_STARTED,
            "More than 4 PRRT cycles planned: the label gives 4 cycles 8 weeks apart; more is "
            "retreatment.",
            "177Lu-DOTATATE label; NETTER-2 (retreatment after benefit)",
            "label",
            lambda facts, data: data.get("cycles_planned", 0) <= PRRT_LABEL_CYCLES,
        ),
    ),
    EventType.EVEROLIMUS_STARTED: (
        _refuse(
            "everolimus_requires_documented_progression",
            EventType.EVEROLIMUS_STARTED,
            "Everolimus is for progressive NET; no prior line ended with documented progression.",
            "RADIANT-4; everolimus label (progressive NET)",
            EVEROLIMUS_EVIDENCE,
            lambda facts, data: _has_line_ended_by_progression(facts),
        ),
        _warn(
            "everolimus_functional_tumour_warns",
            EventType.EVEROLIMUS_STARTED,
            "The everolimus label excludes functional carcinoid tumours; RADIANT-4 studied "
            "non-functional NET.",
            "Everolimus label; RADIANT-4",
            "label",
            lambda facts, data: not facts.functional,
        ),
        _refuse(
            "everolimus_dose_in_allowed_set",
            EventType.EVEROLIMUS_STARTED,
            "The everolimus dose must be 10 mg once a day, or 5 mg as a reduction.",
            "Everolimus label; RADIANT-4 (10 mg once daily)",
            "label",
            lambda facts, data: data.get("dose_mg") in EVEROLIMUS_DOSES_MG,
        ),
    ),
    EventType.CHEMOTHERAPY_STARTED: (
        _refuse(
            "platinum_etoposide_requires_poorly_differentiated",
            EventType.CHEMOTHERAPY_STARTED,
            "Platinum-etoposide is reserved for poorly differentiated neuroendocrine carcinoma "
            "(NEC); it is not given for well-differentiated NET.",
            "ENETS 2023 digestive NEC guidance; guideline summary 2025",
            "guideline recommendation (no level given)",
            lambda facts, data: (
                data.get("regimen") not in PLATINUM_REGIMENS
                or facts.differentiation == "poor"
                or facts.grade == "NEC"
            ),
        ),
        _warn(
            "temozolomide_grade_g1_warns",
            EventType.CHEMOTHERAPY_STARTED,
            "Temozolomide-based chemotherapy is for aggressive disease (G2 with high Ki-67, or "
            "G3); this tumour is G1.",
            "Guideline summary 2025; E2211 (CAPTEM, pancreatic NET)",
            "LoE 3, grade B/C",
            lambda facts, data: (
                data.get("regimen") not in TEMOZOLOMIDE_REGIMENS or facts.grade != "G1"
            ),
        ),
    ),
    EventType.SUPPORTIVE_CARE_STARTED: (),
    EventType.SYMPTOMS_REPORTED: (),
    EventType.COURSE_CLOSED: (),
}


def guards_for(event_type: str) -> tuple[Guard, ...]:
    """The guards of one event, in the order they are checked."""
    return GUARDS[_event(event_type)]


# Why an event is absent from the table for a state. Neither can be overridden: they are the
# 409 "not allowed from this state", not the 422 "guideline guard".
ADJUVANT_RULE: Final = GuardResult(
    guard="no_adjuvant_therapy_after_complete_resection",
    reason="No systemic therapy is started after complete resection without a recorded "
    "recurrence; record the recurrence first.",
    source="ESMO 2020; ENETS (no adjuvant therapy outside trials); guideline summary 2025",
    evidence="LoE 4, grade D",
    overridable=False,
    blocking=True,
)
CLOSED_RULE: Final = GuardResult(
    guard="course_closed_is_final",
    reason="Nothing is recorded after a course is closed.",
    source="NetCare course state machine (DESIGN.md): closed is terminal",
    evidence="product rule",
    overridable=False,
    blocking=True,
)

# Treating disease that has not been shown to be back is the adjuvant question. Supportive
# care is not antitumour therapy, so from surveillance it gets the plain table reason.
_TREATMENT_EVENTS: Final = frozenset(
    {
        EventType.RESECTION_STARTED,
        EventType.SSA_STARTED,
        EventType.PRRT_STARTED,
        EventType.EVEROLIMUS_STARTED,
        EventType.CHEMOTHERAPY_STARTED,
    }
)


def _not_allowed_reason(state: State, event: EventType) -> GuardResult:
    if state is State.CLOSED:
        return CLOSED_RULE
    if state is State.SURVEILLANCE and event in _TREATMENT_EVENTS:
        return ADJUVANT_RULE
    sources = ", ".join(TRANSITIONS[event].sources)
    return GuardResult(
        guard="transition_not_allowed",
        reason=f"{event} is recorded only from {sources}; the course is in {state}.",
        source="API.md events table (NetCare course state machine)",
        evidence="product rule",
        overridable=False,
        blocking=True,
    )


@dataclass(frozen=True)
class Decision:
    """The machine's answer for one event on one course."""

    event: str
    allowed_from_state: bool
    source_state: State
    target: State | None
    allowed_events: tuple[str, ...]
    failures: tuple[GuardResult, ...] = ()
    warnings: tuple[GuardResult, ...] = ()
    not_allowed_reason: GuardResult | None = None

    @property
    def ok(self) -> bool:
        """Allowed from the state and no blocking guard failed: record it."""
        return self.allowed_from_state and not self.failures

    @property
    def overridable(self) -> bool:
        """Refused only by guards a clinician may override with a written reason."""
        return (
            self.allowed_from_state
            and bool(self.failures)
            and all(f.overridable for f in self.failures)
        )


def evaluate(facts: CourseFacts, event_type: str, data: Mapping[str, Any]) -> Decision:
    """Decide whether ``event_type`` may be recorded on a course described by ``facts``.

    ``data`` must already be cleaned by ``validate_data``. Guards are not evaluated for an
    event that the table does not allow from the state: the state conflict is the answer.
    Raises ValueError for an unknown event type.
    """
    event = _event(event_type)
    source = facts.state
    allowed = allowed_events(source)
    transition = TRANSITIONS[event]
    if source not in transition.sources:
        return Decision(
            event=str(event),
            allowed_from_state=False,
            source_state=source,
            target=None,
            allowed_events=allowed,
            not_allowed_reason=_not_allowed_reason(source, event),
        )
    failed = [guard.result() for guard in GUARDS[event] if not guard.holds(facts, data)]
    return Decision(
        event=str(event),
        allowed_from_state=True,
        source_state=source,
        target=transition.resolve(source, data),
        allowed_events=allowed,
        failures=tuple(r for r in failed if r.blocking),
        warnings=tuple(r for r in failed if not r.blocking),
    )


# --------------------------------------------------------------------------------------------
# Treatment lines: what a line-starting event records, and which events end the current line
# --------------------------------------------------------------------------------------------

# Route and interval of each agent as CLINICAL.md §3 gives them (dose comes from the event).
_AGENT_ROUTE_INTERVAL: Final[Mapping[str, tuple[str, int | None]]] = {
    "octreotide_lar": ("intramuscular", SSA_INTERVAL_DAYS),
    "lanreotide": ("deep subcutaneous", SSA_INTERVAL_DAYS),
    "lu177_dotatate": ("intravenous", 56),  # every 8 weeks (NETTER-1)
    "everolimus": ("oral", 1),  # once a day (RADIANT-4)
    "temozolomide": ("oral", 28),
    "capecitabine_temozolomide": ("oral", 28),  # CAPTEM, 28-day cycles
    "cisplatin_etoposide": ("intravenous", 21),
    "carboplatin_etoposide": ("intravenous", 21),
}


def line_spec(event_type: str, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The treatment line an event starts (category, agent, dose, route, interval, cycles).

    None for events that start no line. ``data`` is the cleaned event data.
    """
    category = line_category(event_type)
    if category is None:
        return None
    event = EventType(event_type)
    if event is EventType.SSA_STARTED:
        agent, dose, unit = data["agent"], data["dose_mg"], "mg"
    elif event is EventType.PRRT_STARTED:
        agent, dose, unit = data["agent"], data["activity_gbq"], "GBq"
    elif event is EventType.EVEROLIMUS_STARTED:
        agent, dose, unit = "everolimus", data["dose_mg"], "mg"
    elif event is EventType.CHEMOTHERAPY_STARTED:
        agent, dose, unit = data["regimen"], None, ""
    else:
        agent, dose, unit = "best_supportive_care", None, ""
    route, interval = _AGENT_ROUTE_INTERVAL.get(agent, ("", None))
    interval = data.get("interval_days", interval)
    return {
        "category": str(category),
        "agent": agent,
        "dose": dose,
        "dose_unit": unit,
        "route": route,
        "interval_days": interval,
        "planned_cycles": data.get("cycles_planned"),
    }


def line_end_reason(event_type: str, data: Mapping[str, Any]) -> str | None:
    """Why the running line ends with this event, or None if it goes on.

    Progression ends the line it happened on (the next line is a new decision); starting
    another line switches; closing the course ends everything with the closing reason.
    """
    event = EventType(event_type)
    if event is EventType.PROGRESSION_DETECTED:
        return "progression"
    if event is EventType.COURSE_CLOSED:
        return str(data.get("reason") or "closed")
    if line_category(event) is not None:
        return "switched"
    return None


# --------------------------------------------------------------------------------------------
# Registration warnings (CLINICAL.md §2 and §4)
# --------------------------------------------------------------------------------------------

MIN_NODES_EXAMINED: Final = 8


def registration_warnings(*, nodes_examined: int, margin: str, m: str) -> list[GuardResult]:
    """What a coordinator is warned about when a course is registered after surgery."""
    warnings = []
    if nodes_examined < MIN_NODES_EXAMINED:
        warnings.append(
            GuardResult(
                guard="too_few_lymph_nodes_examined",
                reason=f"Only {nodes_examined} lymph nodes were examined; adequate "
                f"lymphadenectomy examines at least {MIN_NODES_EXAMINED} (ileal NETs spread to "
                "regional nodes, and inadequate dissection raises the risk of recurrence).",
                source="Surgical consensus; guideline summary 2025 (pitfalls)",
                evidence="expert consensus (no level given)",
                overridable=True,
                blocking=False,
            )
        )
    if margin in ("R1", "R2"):
        warnings.append(
            GuardResult(
                guard="incomplete_resection_margin",
                reason=f"The margin is {margin}: surveillance assumes a complete (R0) resection; "
                "the plan is set to high risk where R1 applies.",
                source="Guideline summary 2025; ESMO 2020",
                evidence="guideline summary (no level given)",
                overridable=True,
                blocking=False,
            )
        )
    if m != "M0":
        warnings.append(
            GuardResult(
                guard="distant_metastasis_at_registration",
                reason="Distant metastasis is recorded on a course registered after complete "
                "resection; check that every site was resected.",
                source="AJCC 8th edition; CLINICAL.md §6",
                evidence="product rule",
                overridable=True,
                blocking=False,
            )
        )
    return warnings
