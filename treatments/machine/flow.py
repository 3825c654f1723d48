"""Moving a course through the table: which events are allowed, where they lead, replay.

Pure: no ORM, no clock, no I/O. Most rows of ``TRANSITIONS`` depend only on the state; a few
also on the course's lines or an open resection (``CourseFacts``), and their targets on the
lines left open (docs/clinical-rules.md#states-and-transitions). ``replay`` folds an event
log through the same functions the service uses, lines included, so a course's stored state
and lines always equal the replay of its log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .effects import apply_effects, line_effects
from .facts import CourseFacts, LineFacts
from .states import (
    AFTER_LINE_ENDS,
    AFTER_RESECTION,
    CARCINOMA,
    LINE_STATE,
    LINE_STATES,
    NO_RESECTION_OPEN,
    OPEN_LINE,
    RESECTION_OPEN,
    STATE_OF_CATEGORY,
    TRANSITIONS,
    Category,
    EventType,
    State,
    TransitionNotAllowedError,
    event_type_of,
)


def _holds(fact: str, state: State, facts: CourseFacts | None) -> bool:
    """Whether ``fact`` holds; without facts, what a course in ``state`` normally has."""
    if facts is None:
        return {
            OPEN_LINE: state in LINE_STATES or state is State.PROGRESSION,
            RESECTION_OPEN: state is State.RESECTION,
            NO_RESECTION_OPEN: state is not State.RESECTION,
            CARCINOMA: False,
        }[fact]
    return {
        OPEN_LINE: bool(facts.open_lines),
        RESECTION_OPEN: facts.resection_open,
        NO_RESECTION_OPEN: not facts.resection_open,
        CARCINOMA: facts.neuroendocrine_carcinoma,
    }[fact]


def is_allowed(state: State | str, event_type: str, facts: CourseFacts | None = None) -> bool:
    """Whether the table allows ``event_type`` from ``state`` for a course with ``facts``.

    Without ``facts`` a row that needs a fact is judged by what a course in ``state``
    normally has (an open line in a line state or ``progression``, an open resection in
    ``resection``). Raises ValueError for an unknown state or event type.
    """
    state, transition = State(state), TRANSITIONS[event_type_of(event_type)]
    if state in transition.sources:
        return transition.needs is None or _holds(transition.needs, state, facts)
    fact = transition.conditional_sources.get(state)
    return fact is not None and _holds(fact, state, facts)


def allowed_events(state: State | str, facts: CourseFacts | None = None) -> tuple[str, ...]:
    """Event types allowed from ``state``, in table order (the 409 body lists these)."""
    state = State(state)
    return tuple(str(e) for e in TRANSITIONS if is_allowed(state, e, facts))


def _newest_line_state(lines: Sequence[LineFacts]) -> State | None:
    # The newest line other than an SSA names the state (an SSA may run beside it).
    for line in reversed(lines):
        if line.category != Category.SSA:
            return STATE_OF_CATEGORY[Category(line.category)]
    return State.SSA if lines else None


def _resolve(source: State, event: EventType, data: Mapping[str, Any], facts: CourseFacts) -> State:
    transition = TRANSITIONS[event]
    if transition.resolver == AFTER_LINE_ENDS:
        if data.get("best_response") == "progression":
            return State.PROGRESSION
        remaining = line_effects(event, data, facts).remaining(facts.lines)
        if source not in LINE_STATES:
            return source  # a decision or a resection is still what the course is in
        if any(line.category == source.value for line in remaining):
            return source
        if any(line.category == Category.SSA for line in remaining):
            return State.SSA
        return _newest_line_state(remaining) or State.OBSERVATION
    if transition.resolver == LINE_STATE:
        if source is not State.PROGRESSION:
            return source
        line = line_effects(event, data, facts).change
        assert line is not None  # line_changed always changes a line
        return STATE_OF_CATEGORY[Category(line.line.category)]
    if transition.resolver == AFTER_RESECTION:
        if data.get("ned") is True:
            return State.SURVEILLANCE
        if source is not State.RESECTION:
            return source
        return _newest_line_state(facts.open_lines) or State.RECURRENCE
    return transition.resolve(source, data)


def _bare_facts(state: State) -> CourseFacts:
    # Facts for a caller that gives none: no lines, the resection open only in `resection`.
    return CourseFacts(
        state=state,
        differentiation="well",
        grade="G1",
        ki67_percent=None,
        sstr_imaging="not_done",
        functional=False,
        resection_open=state is State.RESECTION,
    )


def target_state(
    state: State | str,
    event_type: str,
    data: Mapping[str, Any],
    facts: CourseFacts | None = None,
) -> State:
    """Where ``event_type`` with cleaned ``data`` leads a course in ``state``.

    ``facts`` (the course's lines and open resection) decide the rows whose target depends
    on them: ``line_completed``/``line_stopped`` go to ``progression`` when the best response
    is progression, stay in a state that is not a line's (``progression``, ``resection``,
    ``observation``...) or whose line still runs, else to ``ssa`` when an SSA line stays open,
    else to ``observation``; ``line_changed`` from ``progression`` returns to the changed
    line's state; ``resection_completed`` goes to ``surveillance`` with ``ned``, otherwise
    stays where the course is (from ``resection``: the running line's state, else
    ``recurrence``). Raises TransitionNotAllowedError when the table does not allow the
    event from ``state`` with ``facts``; LineNotFoundError when the event names no open line.
    """
    state, event = State(state), event_type_of(event_type)
    if not is_allowed(state, event, facts):
        raise TransitionNotAllowedError(str(event), state)
    if facts is None:
        facts = _bare_facts(state)
    elif facts.state is not state:
        facts = replace(facts, state=state)
    return _resolve(state, event, data, facts)


@dataclass(frozen=True)
class Replayed:
    """A course after its log: the state, every line (oldest first), an open resection."""

    state: State
    lines: tuple[LineFacts, ...]
    resection_open: bool


def replay_course(
    initial: State | str,
    events: Iterable[tuple[str, Mapping[str, Any]] | tuple[str, Mapping[str, Any], dt.date]],
    *,
    facts: CourseFacts | None = None,
    line_ids: Sequence[int] | None = None,
) -> Replayed:
    """Fold an event log over the table and ``line_effects``: the state and the lines.

    Each event is (type, cleaned data) or (type, data, occurred_on). ``facts`` gives the
    findings the log does not carry (``continue_ssa`` defaults read ``functional``);
    ``line_ids`` are the ids the lines got in the order they were opened (default 1, 2, ...),
    so ``line`` fields in the data find their line. Raises TransitionNotAllowedError at the
    first step the table does not allow.
    """
    state = State(initial)
    current = replace(facts or _bare_facts(state), state=state, lines=(), resection_open=False)
    opened = 0
    for step in events:
        event_type, data = step[0], step[1]
        on = step[2] if len(step) > 2 else None  # type: ignore[misc]
        target = target_state(state, event_type, data, current)
        effects = line_effects(event_type, data, current, on=on)
        new_id = None
        if effects.starts is not None:
            opened += 1
            new_id = line_ids[opened - 1] if line_ids is not None else opened
        lines = apply_effects(current.lines, effects, on=on, new_id=new_id)
        event = EventType(event_type)
        resection_open = current.resection_open
        if event is EventType.RESECTION_STARTED:
            resection_open = True
        elif event is EventType.RESECTION_COMPLETED:
            resection_open = False
        state = target
        current = replace(current, state=state, lines=lines, resection_open=resection_open)
    return Replayed(state, current.lines, current.resection_open)


def replay(initial: State | str, events: Iterable[tuple[str, Mapping[str, Any]]]) -> State:
    """The state a course reaches from ``initial`` through its log (see ``replay_course``).

    Raises TransitionNotAllowedError at the first step the table does not allow.
    """
    return replay_course(initial, events).state


def edges() -> Iterator[tuple[State, EventType, State, str | None]]:
    """Every (from, event, to, condition) edge of the table, in table order.

    Conditional sources (``chemotherapy_started`` from ``surveillance`` for a carcinoma)
    are included with their condition.
    """
    for event, transition in TRANSITIONS.items():
        for source in transition.all_sources():
            fact = transition.conditional_sources.get(source)
            for target, condition in transition.outcomes(source):
                if fact is not None:
                    condition = fact if condition is None else f"{fact}, {condition}"
                yield source, event, target, condition
