"""Treatment lines: what a line-starting event records, and which events end the running line.

Pure: no ORM, no clock. ``treatments.services`` turns these answers into TreatmentLine rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from . import machine

# Route and interval of each agent (docs/clinical-rules.md#treatment-lines); the dose comes
# from the event.
AGENT_ROUTE_INTERVAL: Final[Mapping[str, tuple[str, int | None]]] = {
    "octreotide_lar": ("intramuscular", machine.SSA_INTERVAL_DAYS),
    "lanreotide": ("deep subcutaneous", machine.SSA_INTERVAL_DAYS),
    "lu177_dotatate": ("intravenous", 56),  # every 8 weeks (NETTER-1)
    "everolimus": ("oral", 1),  # once a day (RADIANT-4)
    "temozolomide": ("oral", 28),
    "capecitabine_temozolomide": ("oral", 28),  # CAPTEM, 28-day cycles
    "cisplatin_etoposide": ("intravenous", 21),
    "carboplatin_etoposide": ("intravenous", 21),
}


def line_spec(event_type: str, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The treatment line an event starts, as TreatmentLine fields, or None if it starts none.

    Keys: category, agent, dose (mg or GBq per the event, None for a regimen), dose_unit
    ("mg", "GBq" or ""), route, interval_days (the event's own, else the agent's usual one)
    and planned_cycles. ``data`` is the cleaned event data (``payloads.validate_data``); a
    missing required key raises KeyError. Routes and intervals: the agents' labels, NETTER-1
    (every 8 weeks), RADIANT-4 (once a day), CAPTEM (28-day cycles).
    """
    category = machine.line_category(event_type)
    if category is None:
        return None
    event = machine.EventType(event_type)
    if event is machine.EventType.SSA_STARTED:
        agent, dose, unit = data["agent"], data["dose_mg"], "mg"
    elif event is machine.EventType.PRRT_STARTED:
        agent, dose, unit = data["agent"], data["activity_gbq"], "GBq"
    elif event is machine.EventType.EVEROLIMUS_STARTED:
        agent, dose, unit = "everolimus", data["dose_mg"], "mg"
    elif event is machine.EventType.CHEMOTHERAPY_STARTED:
        agent, dose, unit = data["regimen"], None, ""
    else:
        agent, dose, unit = "best_supportive_care", None, ""
    route, interval = AGENT_ROUTE_INTERVAL.get(agent, ("", None))
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
    another line switches; closing the course ends everything with the closing reason
    (docs/clinical-rules.md#treatment-lines). ValueError for an unknown event type.
    """
    event = machine.EventType(event_type)
    if event is machine.EventType.PROGRESSION_DETECTED:
        return "progression"
    if event is machine.EventType.COURSE_CLOSED:
        return str(data.get("reason") or "closed")
    if machine.line_category(event) is not None:
        return "switched"
    return None
