"""The course state machine: states, transitions and guideline guards.

Pure: no ORM, no clock, no I/O. ``treatments.services.record_event`` asks it two questions
and ``treatments.payloads`` a third, in this order (docs/architecture.md#the-event-flow):

1. is the event allowed from this state?  ``not_allowed`` / ``evaluate``  -> 409
2. is the payload well formed?            ``treatments.payloads.validate_data`` -> 400
3. do the guideline guards hold?          ``evaluate``  -> 422 unless a clinician overrides

The transition table is the one in docs/api.md#event-types; the guards are those of
docs/clinical-rules.md#treatment-lines, whose guard table is generated from ``GUARDS``.
Every refusal and warning is a ``GuardResult`` that carries its reason, its source and the
evidence level, so the API and the admin can show why. No FSM library is used: none models
"guard failed, a clinician may override with a reason".

The module is a package of three parts: ``states`` (states, events, the table and the words
events use), ``guards`` (the facts guards read and the guards) and ``decisions`` (the
answer for one event). Everything public is importable from ``treatments.machine``.
"""

from .decisions import Decision, evaluate, not_allowed
from .guards import (
    ADJUVANT_RULE,
    CLOSED_RULE,
    EVEROLIMUS_DOSES_MG,
    GUARDS,
    PRRT_ACTIVITY_GBQ,
    PRRT_LABEL_CYCLES,
    SSA_ALLOWED_DOSES_MG,
    SSA_INTERVAL_DAYS,
    CourseFacts,
    Guard,
    GuardResult,
    LineFacts,
    guards_for,
)
from .states import (
    CHEMOTHERAPY_REGIMENS,
    CLOSE_REASONS,
    INITIAL_STATE,
    LINE_CATEGORY_BY_EVENT,
    MARGINS,
    OPEN_STATES,
    PLATINUM_REGIMENS,
    PRRT_AGENTS,
    RECURRENCE_SITES,
    SSA_AGENTS,
    TEMOZOLOMIDE_REGIMENS,
    TRANSITIONS,
    Category,
    EventType,
    State,
    Transition,
    TransitionNotAllowedError,
    allowed_events,
    edges,
    event_type_of,
    line_category,
    replay,
    target_state,
)

__all__ = [
    "ADJUVANT_RULE",
    "CHEMOTHERAPY_REGIMENS",
    "CLOSED_RULE",
    "CLOSE_REASONS",
    "EVEROLIMUS_DOSES_MG",
    "GUARDS",
    "INITIAL_STATE",
    "LINE_CATEGORY_BY_EVENT",
    "MARGINS",
    "OPEN_STATES",
    "PLATINUM_REGIMENS",
    "PRRT_ACTIVITY_GBQ",
    "PRRT_AGENTS",
    "PRRT_LABEL_CYCLES",
    "RECURRENCE_SITES",
    "SSA_AGENTS",
    "SSA_ALLOWED_DOSES_MG",
    "SSA_INTERVAL_DAYS",
    "TEMOZOLOMIDE_REGIMENS",
    "TRANSITIONS",
    "Category",
    "CourseFacts",
    "Decision",
    "EventType",
    "Guard",
    "GuardResult",
    "LineFacts",
    "State",
    "Transition",
    "TransitionNotAllowedError",
    "allowed_events",
    "edges",
    "evaluate",
    "event_type_of",
    "guards_for",
    "line_category",
    "not_allowed",
    "replay",
    "target_state",
]
