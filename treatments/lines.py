"""Treatment lines: what an event does to a course's lines, for the service to apply.

Pure: no ORM, no clock. ``line_effects`` answers which open lines end (and why), which line
starts (``line_spec``) and which line changes (dose, agent, interval, hold) or gets a PRRT
cycle; ``treatments.services`` turns the answer into TreatmentLine and PrrtCycle rows, and
``treatments.machine.replay_course`` applies the same answer to ``LineFacts``. Several lines
may be open at once (docs/clinical-rules.md#lines-that-run-together). The logic lives in
``treatments.machine.effects`` so that the machine's targets and the lines cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import machine
from .machine.effects import (
    AGENT_ROUTE_INTERVAL,
    COMPLETED,
    NO_EVIDENCE_OF_DISEASE,
    PROGRESSION,
    SWITCHED,
    WATCHFUL_WAITING,
    LineChange,
    LineEffects,
    LineEnd,
    LineNotFoundError,
    apply_effects,
    chosen_line,
    continue_ssa_default,
    line_effects,
    line_spec,
)

__all__ = [
    "AGENT_ROUTE_INTERVAL",
    "COMPLETED",
    "NO_EVIDENCE_OF_DISEASE",
    "PROGRESSION",
    "SWITCHED",
    "WATCHFUL_WAITING",
    "LineChange",
    "LineEffects",
    "LineEnd",
    "LineNotFoundError",
    "apply_effects",
    "chosen_line",
    "continue_ssa_default",
    "line_effects",
    "line_end_reason",
    "line_spec",
]


def line_end_reason(event_type: str, data: Mapping[str, Any]) -> str | None:
    """Why the single running line ends with this event, or None if it goes on (version 1).

    Kept for callers that track one running line; ``line_effects`` is the version 2 answer
    for several open lines. Progression ends the line it happened on; starting another line
    switches; closing the course ends everything with the closing reason. ValueError for an
    unknown event type.
    """
    event = machine.EventType(event_type)
    if event is machine.EventType.PROGRESSION_DETECTED:
        return "progression"
    if event is machine.EventType.COURSE_CLOSED:
        return str(data.get("reason") or "closed")
    if machine.line_category(event) is not None:
        return "switched"
    return None
