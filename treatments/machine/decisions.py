"""The machine's answer for one event on one course: allowed from the state, then guarded.

Two questions, in this order: is the event in the table for the course's state (else 409,
never overridable), and do its guideline guards hold (else 422, a clinician may override).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .guards import ADJUVANT_RULE, CLOSED_RULE, GUARDS, CourseFacts, GuardResult
from .states import TRANSITIONS, EventType, State, allowed_events, event_type_of

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


def not_allowed(state: State | str, event_type: str) -> GuardResult | None:
    """Why ``event_type`` cannot be recorded from ``state`` (a 409), or None if the table allows it.

    A closed course and a treatment started from surveillance get their clinical rule
    (``CLOSED_RULE``, ``ADJUVANT_RULE``); any other absent row gets the table's own reason.
    None of them can be overridden. Raises ValueError for an unknown state or event type.
    """
    state, event = State(state), event_type_of(event_type)
    if state in TRANSITIONS[event].sources:
        return None
    if state is State.CLOSED:
        return CLOSED_RULE
    if state is State.SURVEILLANCE and event in _TREATMENT_EVENTS:
        return ADJUVANT_RULE
    sources = ", ".join(TRANSITIONS[event].sources)
    return GuardResult(
        guard="transition_not_allowed",
        reason=f"{event} is recorded only from {sources}; the course is in {state}.",
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


def evaluate(facts: CourseFacts, event_type: str, data: Mapping[str, Any]) -> Decision:
    """Decide whether ``event_type`` may be recorded on a course described by ``facts``.

    ``data`` must already be cleaned by ``treatments.payloads.validate_data``. Guards are not
    evaluated for an event that the table does not allow from the state: the state conflict
    is the answer. Raises ValueError for an unknown event type.
    """
    event = event_type_of(event_type)
    source = facts.state
    allowed = allowed_events(source)
    transition = TRANSITIONS[event]
    refusal = not_allowed(source, event)
    if refusal is not None:
        return Decision(
            event=str(event),
            allowed_from_state=False,
            source_state=source,
            target=None,
            allowed_events=allowed,
            not_allowed_reason=refusal,
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
