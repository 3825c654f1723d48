"""The facts of a course that planning reads, the kinds of due item, and the item itself.

Pure values: the services layer reads them from the models; ``due`` and ``imaging`` plan from
them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from dateutil.relativedelta import relativedelta

from treatments.machine import State


class Kind(StrEnum):
    IMAGING = "imaging"
    VISIT = "visit"
    CGA = "cga"
    SYMPTOM_CHECK = "symptom_check"
    SSA_INJECTION = "ssa_injection"


class Status(StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"


# Which states schedule what; treatments.machine owns the states and their transitions, so a
# state added there and not placed here fails the partition test instead of scheduling nothing.
SURVEILLANCE: Final = State.SURVEILLANCE
CLOSED: Final = State.CLOSED
ACTIVE_LINE_STATES: Final[frozenset[State]] = frozenset(
    {State.SSA, State.PRRT, State.EVEROLIMUS, State.CHEMOTHERAPY}
)
# No line running: a decision is pending or care is supportive. Imaging stays on the
# surveillance schedule so it never slips while the decision is made.
NO_LINE_STATES: Final[frozenset[State]] = frozenset(
    {State.RECURRENCE, State.RESECTION, State.PROGRESSION, State.SUPPORTIVE}
)
COURSE_STATES: Final[frozenset[State]] = frozenset(State)

NO_LINE_REASON: Final[Mapping[State, str]] = MappingProxyType(
    {
        State.RECURRENCE: "recurrence recorded, treatment decision pending",
        State.RESECTION: "re-resection planned or under way",
        State.PROGRESSION: "progression recorded, next-line decision pending",
        State.SUPPORTIVE: "best supportive care, no active line",
    }
)


@dataclass(frozen=True)
class Facts:
    """What was done on the course, as values (the services layer reads them from the models).

    ``last_visit_on`` and ``last_cga_on`` are carried for display: a visit and a CgA test
    follow each imaging item's due date (one per imaging), whatever was done in between.
    """

    surgery_on: date
    anchor_on: date
    state: str
    cga_elevated_preop: bool = False
    last_imaging_on: date | None = None
    last_visit_on: date | None = None
    last_cga_on: date | None = None
    last_symptom_check_on: date | None = None
    line_started_on: date | None = None
    last_ssa_injection_on: date | None = None
    on_ssa: bool = False

    def __post_init__(self) -> None:
        if self.anchor_on < self.surgery_on:
            raise ValueError(
                "anchor_on precedes surgery_on: the anchor is the resection that achieved no "
                "evidence of disease, on or after the operation that opened the course."
            )
        if self.state not in COURSE_STATES:
            raise ValueError(
                f"Unknown course state {self.state!r}; expected one of "
                f"{', '.join(sorted(COURSE_STATES))}."
            )


@dataclass(frozen=True)
class DueItem:
    kind: str
    due_on: date
    window_start: date
    window_end: date | None
    status: str
    why: str
    source: str

    Kind = Kind  # so callers holding only DueItem can name the kinds

    def as_dict(self) -> dict[str, str | None]:
        return {
            "kind": str(self.kind),
            "due_on": self.due_on.isoformat(),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "status": str(self.status),
            "why": self.why,
            "source": self.source,
        }


@dataclass(frozen=True)
class _Planned:
    due_on: date
    why: str
    source: str


def _months(n: int) -> relativedelta:
    # relativedelta clamps to the month's last day (31 Jan + 1 month = 28/29 Feb), so a due
    # date never spills into the following month.
    return relativedelta(months=n)


def _imaging_since_anchor(facts: Facts) -> date | None:
    # Imaging before the anchor belongs to the previous series: a curative re-resection
    # restarts the schedule from the new operation (docs/clinical-rules.md#schedule-mechanics).
    if facts.last_imaging_on is not None and facts.last_imaging_on >= facts.anchor_on:
        return facts.last_imaging_on
    return None
