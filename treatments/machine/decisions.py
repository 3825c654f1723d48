"""The machine's answer for one event on one course: allowed from the state, then guarded.

Two questions, in this order: is the event in the table for the course's state (else 409,
never overridable), and do its guideline guards hold (else 422, a clinician may override).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from .effects import LineNotFoundError, chosen_line
from .facts import CourseFacts
from .flow import allowed_events, is_allowed, target_state
from .guard_base import ADJUVANT_RULE, CLOSED_RULE, PROCEDURE_RULE, GuardResult
from .guards import GUARDS
from .states import (
    NO_RESECTION_OPEN,
    OPEN_LINE,
    RESECTION_OPEN,
    TRANSITIONS,
    EventType,
    State,
    event_type_of,
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


_NEEDS_REASON: Final = {
    OPEN_LINE: "{event} needs an open treatment line; none is open.",
    RESECTION_OPEN: "{event} needs a started resection; none is open.",
    NO_RESECTION_OPEN: "A resection is already open: record resection_completed first.",
}


def not_allowed(
    state: State | str, event_type: str, facts: CourseFacts | None = None
) -> GuardResult | None:
    """Why ``event_type`` cannot be recorded from ``state`` (a 409), or None if the table allows it.

    A closed course, a treatment started from surveillance and a procedure in surveillance
    get their clinical rule (``CLOSED_RULE``, ``ADJUVANT_RULE``, ``PROCEDURE_RULE``); a row
    whose fact does not hold (no open line, no open resection) says which; any other absent
    row gets the table's own reason. None of them can be overridden. ``facts`` decide the
    rows that depend on the lines (see ``flow.is_allowed``). Raises ValueError for an unknown
    state or event type.
    """
    state, event = State(state), event_type_of(event_type)
    if is_allowed(state, event, facts):
        return None
    transition = TRANSITIONS[event]
    if state is State.CLOSED:
        return CLOSED_RULE
    if state is State.SURVEILLANCE and event in _TREATMENT_EVENTS:
        return ADJUVANT_RULE
    if state is State.SURVEILLANCE and event is EventType.PROCEDURE_RECORDED:
        return PROCEDURE_RULE
    if state in transition.sources and transition.needs is not None:
        reason = _NEEDS_REASON[transition.needs].format(event=event)
    else:
        sources = ", ".join(transition.sources)
        reason = f"{event} is recorded only from {sources}; the course is in {state}."
    return GuardResult(
        guard="transition_not_allowed",
        reason=reason,
        source="Events table, docs/api.md#event-types (NetCare course state machine)",
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


def evaluate(
    facts: CourseFacts,
    event_type: str,
    data: Mapping[str, Any],
    *,
    occurred_on: dt.date | None = None,
) -> Decision:
    """Decide whether ``event_type`` may be recorded on a course described by ``facts``.

    ``data`` must already be cleaned by ``treatments.payloads.validate_data``; ``occurred_on``
    is the event's day (guards that count days read it: PRRT washout and cycle spacing, the
    everolimus progression window). Guards are not evaluated for an event that the table
    does not allow from the state: the state conflict is the answer. Raises ValueError for an
    unknown event type and LineNotFoundError (a ValueError with ``field`` "line") when the
    event names no open line.
    """
    event = event_type_of(event_type)
    if occurred_on is not None:
        facts = replace(facts, occurred_on=occurred_on)
    source = facts.state
    allowed = allowed_events(source, facts)
    refusal = not_allowed(source, event, facts)
    if refusal is not None:
        return Decision(
            event=str(event),
            allowed_from_state=False,
            source_state=source,
            target=None,
            allowed_events=allowed,
            not_allowed_reason=refusal,
        )
    # Which lines the event acts on is settled first: an event naming no open line (or not
    # naming one of several) is a field error on `line`, not a guard's business.
    if event in (EventType.LINE_CHANGED, EventType.LINE_STOPPED):
        chosen_line(facts, data)
    failed = [guard.result() for guard in GUARDS[event] if not guard.holds(facts, data)]
    return Decision(
        event=str(event),
        allowed_from_state=True,
        source_state=source,
        target=target_state(source, event, data, facts),
        allowed_events=allowed,
        failures=tuple(r for r in failed if r.blocking),
        warnings=tuple(r for r in failed if not r.blocking),
    )


# Events that never move the course: the date-order rule does not apply to them.
_STAYING_EVENTS: Final = frozenset(
    {
        EventType.SYMPTOMS_REPORTED,
        EventType.STATUS_UPDATED,
        EventType.PROCEDURE_RECORDED,
        EventType.PRRT_CYCLE_GIVEN,
    }
)


def date_order_error(
    facts: CourseFacts,
    event_type: str,
    occurred_on: dt.date,
    *,
    target: State | None = None,
    correction: bool = False,
) -> str | None:
    """The 400 message for ``occurred_on`` when a state-changing event is dated too early.

    A state-changing event (one whose ``target`` differs from the course's state; without
    ``target``, any event that can move a course) dated before the event that brought the
    course into its state (``facts.state_entered_by`` on ``facts.state_entered_on``) is
    refused, naming that event and its date, unless it is a ``correction`` (the service lets
    only clinicians send one, with a reason). Events that do not change state keep the
    version 1 rule (not before the last event of their kind), which the service checks.
    The state is replayed in sequence order, never re-sorted by date
    (docs/clinical-rules.md#dates). Returns None when the date is in order.
    """
    event = event_type_of(event_type)
    if correction or facts.state_entered_on is None:
        return None
    if target is not None and target is facts.state:
        return None
    if target is None and event in _STAYING_EVENTS:
        return None
    if occurred_on >= facts.state_entered_on:
        return None
    entered_by = facts.state_entered_by or "the event"
    return (
        f"Must not be before {facts.state_entered_on.isoformat()}, the date of "
        f"{entered_by} that brought the course into {facts.state}; send "
        '"correction": true with a reason to record an earlier date.'
    )


__all__ = ["Decision", "LineNotFoundError", "date_order_error", "evaluate", "not_allowed"]
