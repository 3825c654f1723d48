"""What an event does to a course's treatment lines: which end, which starts, which changes.

Pure: the service applies the answer to its TreatmentLine rows, and ``replay`` applies it to
``LineFacts``, so both evolve the lines the same way. Several lines may run at once: an SSA
may go on beside PRRT, everolimus or chemotherapy (``continue_ssa``), and an SSA given for
syndrome control outlives the anticancer lines (docs/clinical-rules.md#treatment-lines).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from .facts import ANTIPROLIFERATIVE, CourseFacts, LineFacts, PrrtCycleFacts
from .states import Category, EventType, State, event_type_of, line_category

# Route and interval of each agent; the dose comes from the event. Sources: the agents'
# labels, NETTER-1 (every 8 weeks), RADIANT-4 (once a day), CAPTEM (28-day cycles).
SSA_INTERVAL_DAYS: Final = 28
AGENT_ROUTE_INTERVAL: Final[Mapping[str, tuple[str, int | None]]] = {
    "octreotide_lar": ("intramuscular", SSA_INTERVAL_DAYS),
    "lanreotide": ("deep subcutaneous", SSA_INTERVAL_DAYS),
    "lu177_dotatate": ("intravenous", 56),  # every 8 weeks (NETTER-1)
    "everolimus": ("oral", 1),  # once a day (RADIANT-4)
    "temozolomide": ("oral", 28),
    "capecitabine_temozolomide": ("oral", 28),  # CAPTEM, 28-day cycles
    "cisplatin_etoposide": ("intravenous", 21),
    "carboplatin_etoposide": ("intravenous", 21),
}

# Why a line ends (TreatmentLine.end_reason), beside the course's closing reasons and the
# reasons of line_stopped (toxicity, patient_choice, other).
SWITCHED: Final = "switched"
PROGRESSION: Final = "progression"
COMPLETED: Final = "completed"
NO_EVIDENCE_OF_DISEASE: Final = "no_evidence_of_disease"
WATCHFUL_WAITING: Final = "watchful_waiting"


class LineNotFoundError(ValueError):
    """The event names no open line of the course, or more than one is open and none is named.

    ``field`` is the data field to attach the message to ("line").
    """

    field = "line"


def line_spec(event_type: str, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The treatment line an event starts, as TreatmentLine fields, or None if it starts none.

    Keys: category, agent, dose (mg or GBq per the event, None for a regimen), dose_unit
    ("mg", "GBq" or ""), route, interval_days (the event's own, else the agent's usual one),
    and planned_cycles. ``data`` is the cleaned event data (``payloads.validate_data``); a missing required key
    raises KeyError.
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


@dataclass(frozen=True)
class LineEnd:
    """An open line that ends with the event, and why (TreatmentLine.end_reason)."""

    line: LineFacts
    reason: str


@dataclass(frozen=True)
class LineChange:
    """A change to one open line; None leaves a value as it is.

    ``held`` True puts the line on hold (nothing falls due), False resumes it.
    """

    line: LineFacts
    change: str  # "dose", "agent", "interval", "hold", "resume"
    agent: str | None = None
    dose_mg: float | None = None
    interval_days: int | None = None
    held: bool | None = None


@dataclass(frozen=True)
class LineEffects:
    """What one event does to the lines: apply ``ends``, then ``change``, ``cycle``, ``starts``.

    ``starts`` is a ``line_spec`` dict plus ``intent`` ("antiproliferative" or
    "syndrome_control" for an SSA, else ""); ``cycle`` is a PRRT cycle given on the open PRRT line
    (``prrt_cycle_given``) or on the line ``starts`` opens (``prrt_started`` is cycle 1).
    """

    ends: tuple[LineEnd, ...] = ()
    starts: dict[str, Any] | None = None
    change: LineChange | None = None
    cycle: PrrtCycleFacts | None = None

    def remaining(self, lines: tuple[LineFacts, ...]) -> tuple[LineFacts, ...]:
        """The open lines of ``lines`` that this event does not end (the new line excluded)."""
        ending = [end.line for end in self.ends]
        return tuple(
            line for line in lines if line.is_open and not any(_same(line, o) for o in ending)
        )


def continue_ssa_default(event_type: str, facts: CourseFacts) -> bool:
    """Whether the running SSA stays open when ``event_type`` starts a line and the body is silent.

    True for PRRT (the label gives octreotide LAR after each cycle); for everolimus and
    chemotherapy only when the tumour is functional or carcinoid syndrome is recorded (the
    SSA then controls the syndrome). Sources: Lutathera SmPC/USPI; NETTER-1 and NETTER-2 arms.
    """
    event = event_type_of(event_type)
    if event is EventType.PRRT_STARTED:
        return True
    if event in (EventType.EVEROLIMUS_STARTED, EventType.CHEMOTHERAPY_STARTED):
        return facts.syndrome
    return False


def chosen_line(
    facts: CourseFacts, data: Mapping[str, Any], category: str | None = None
) -> LineFacts:
    """The open line an event acts on: ``data["line"]`` (an id), else the only candidate.

    Candidates are the open lines (of ``category`` when given). Raises LineNotFoundError when
    the id names no open line of the course, when no line is open, or when several are open
    and none is named.
    """
    candidates = [
        line for line in facts.open_lines if category is None or line.category == category
    ]
    wanted = data.get("line")
    if wanted is not None:
        for line in candidates:
            if line.id == wanted:
                return line
        raise LineNotFoundError("This is not an open treatment line of this course.")
    if not candidates:
        raise LineNotFoundError("No treatment line is open on this course.")
    if len(candidates) > 1:
        raise LineNotFoundError("Several treatment lines are open: name the line.")
    return candidates[0]


def _end_reason(facts: CourseFacts) -> str:
    # A line ended by the decision that follows progression ended because of it.
    return PROGRESSION if facts.state is State.PROGRESSION else SWITCHED


def line_effects(
    event_type: str,
    data: Mapping[str, Any],
    facts: CourseFacts,
    *,
    on: dt.date | None = None,
) -> LineEffects:
    """What ``event_type`` with cleaned ``data`` does to the lines of a course in ``facts``.

    ``on`` is the event's day (the PRRT cycle's day when ``given_on`` is absent). Rules
    (docs/clinical-rules.md#lines-that-run-together):

    - a line-starting event opens its line; ``ssa_started`` ends every other open line;
      PRRT, everolimus and chemotherapy end the other open lines except the SSA lines when
      ``continue_ssa`` (default ``continue_ssa_default``); supportive care ends the anticancer
      lines and keeps an SSA given for syndrome control; lines ended from ``progression`` end
      with "progression", otherwise "switched";
    - ``progression_detected`` ends the open lines other than SSA with "progression"; the SSA
      runs on until the decision (it may go on beside the next line, or be escalated);
    - ``watchful_waiting_started`` ends the anticancer lines (observation has none);
    - ``line_changed`` changes the named (or only) open line; ``line_stopped`` ends it with
      its ``reason``; ``line_completed`` ends the line of the course's state ("completed");
    - ``prrt_cycle_given`` adds a cycle to the open PRRT line;
    - ``resection_completed`` with ``ned`` ends the anticancer lines ("no_evidence_of_disease");
    - ``course_closed`` ends every open line with the closing reason.

    Raises LineNotFoundError when the event names a line that is not open (or must name one),
    ValueError for an unknown event type.
    """
    event = event_type_of(event_type)
    open_lines = facts.open_lines
    if event in (
        EventType.SSA_STARTED,
        EventType.PRRT_STARTED,
        EventType.EVEROLIMUS_STARTED,
        EventType.CHEMOTHERAPY_STARTED,
        EventType.SUPPORTIVE_CARE_STARTED,
    ):
        reason = _end_reason(facts)
        if event is EventType.SSA_STARTED:
            ending = open_lines
        elif event is EventType.SUPPORTIVE_CARE_STARTED:
            ending = tuple(line for line in open_lines if line.is_anticancer)
        else:
            keep_ssa = data.get("continue_ssa")
            if keep_ssa is None:
                keep_ssa = continue_ssa_default(event, facts)
            ending = tuple(
                line for line in open_lines if not (keep_ssa and line.category == Category.SSA)
            )
        spec = line_spec(event, data)
        assert spec is not None  # every event of this branch starts a line
        spec["intent"] = (
            str(data.get("intent") or ANTIPROLIFERATIVE) if event is EventType.SSA_STARTED else ""
        )
        cycle = None
        if event is EventType.PRRT_STARTED:
            cycle = PrrtCycleFacts(1, on, data.get("activity_gbq"))
        return LineEffects(
            ends=tuple(LineEnd(line, reason) for line in ending), starts=spec, cycle=cycle
        )
    if event is EventType.PROGRESSION_DETECTED:
        return LineEffects(
            ends=tuple(
                LineEnd(line, PROGRESSION) for line in open_lines if line.category != Category.SSA
            )
        )
    if event is EventType.WATCHFUL_WAITING_STARTED:
        return LineEffects(
            ends=tuple(
                LineEnd(
                    line,
                    _end_reason(facts) if facts.state is State.PROGRESSION else WATCHFUL_WAITING,
                )
                for line in open_lines
                if line.is_anticancer
            )
        )
    if event is EventType.LINE_CHANGED:
        return LineEffects(change=_change(chosen_line(facts, data), data))
    if event is EventType.LINE_STOPPED:
        line = chosen_line(facts, data)
        return LineEffects(ends=(LineEnd(line, str(data.get("reason", "other"))),))
    if event is EventType.LINE_COMPLETED:
        category = facts.state.value if facts.state.value in set(Category) else None
        line = chosen_line(facts, data, category)
        return LineEffects(ends=(LineEnd(line, COMPLETED),))
    if event is EventType.PRRT_CYCLE_GIVEN:
        line = chosen_line(facts, {}, Category.PRRT)
        given_on = data.get("given_on")
        day = dt.date.fromisoformat(given_on) if isinstance(given_on, str) else given_on or on
        return LineEffects(
            change=LineChange(line, "cycle"),
            cycle=PrrtCycleFacts(int(data["cycle"]), day, data.get("activity_gbq")),
        )
    if event is EventType.RESECTION_COMPLETED and data.get("ned") is True:
        return LineEffects(
            ends=tuple(
                LineEnd(line, NO_EVIDENCE_OF_DISEASE) for line in open_lines if line.is_anticancer
            )
        )
    if event is EventType.COURSE_CLOSED:
        reason = str(data.get("reason") or "closed")
        return LineEffects(ends=tuple(LineEnd(line, reason) for line in open_lines))
    return LineEffects()


def _change(line: LineFacts, data: Mapping[str, Any]) -> LineChange:
    change = str(data.get("change", ""))
    if change == "hold":
        return LineChange(line, change, held=True)
    if change == "resume":
        return LineChange(line, change, held=False)
    return LineChange(
        line,
        change,
        agent=data.get("agent"),
        dose_mg=data.get("dose_mg"),
        interval_days=data.get("interval_days"),
    )


def changed_line(line: LineFacts, change: LineChange) -> LineFacts:
    """``line`` with ``change`` applied (the prescription after a ``line_changed``)."""
    updates: dict[str, Any] = {}
    if change.agent is not None:
        updates["agent"] = change.agent
    if change.dose_mg is not None:
        updates["dose_mg"] = change.dose_mg
    if change.interval_days is not None:
        updates["interval_days"] = change.interval_days
    if change.held is not None:
        updates["held"] = change.held
    return dataclasses.replace(line, **updates)


def apply_effects(
    lines: tuple[LineFacts, ...],
    effects: LineEffects,
    *,
    on: dt.date | None = None,
    new_id: int | None = None,
) -> tuple[LineFacts, ...]:
    """``lines`` after ``effects``: ended lines get their reason, the change and cycle are
    applied, and the started line (id ``new_id``, started ``on``) is appended."""
    result = []
    for line in lines:
        reason = next((end.reason for end in effects.ends if _same(line, end.line)), None)
        if reason is not None and line.is_open:
            line = dataclasses.replace(line, ended_reason=reason)
        elif effects.change is not None and _same(line, effects.change.line):
            line = changed_line(line, effects.change)
            if effects.cycle is not None:
                line = dataclasses.replace(line, cycles=(*line.cycles, effects.cycle))
        result.append(line)
    if effects.starts is not None:
        spec = effects.starts
        started = LineFacts(
            category=spec["category"],
            agent=spec["agent"],
            id=new_id,
            started_on=on,
            intent=spec.get("intent", ""),
            dose_mg=spec["dose"] if spec.get("dose_unit") == "mg" else None,
            interval_days=spec.get("interval_days"),
            cycles=(effects.cycle,) if effects.cycle is not None else (),
        )
        result.append(started)
    return tuple(result)


def _same(line: LineFacts, other: LineFacts) -> bool:
    # Identity first (replay builds the objects), then the database id when both carry one.
    return line is other or (line.id is not None and line.id == other.id)
