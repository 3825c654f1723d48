"""The facts the machine reads about a course: its lines, its PRRT cycles, its findings.

Pure data: the service reads these from the database (the newest ``status_updated`` finding,
else the diagnosis; the lines and their cycles; the events) and the machine decides on them.
Every field added in version 2 has a default, so a caller that knows only the version 1
facts still builds them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .states import Category, State

# Why a line is given: to slow the tumour, or to control a hormone syndrome.
ANTIPROLIFERATIVE: Final = "antiproliferative"
SYNDROME_CONTROL: Final = "syndrome_control"
SSA_INTENTS: Final = (ANTIPROLIFERATIVE, SYNDROME_CONTROL)
# Categories that treat the tumour itself (an SSA only when its intent is antiproliferative).
ANTICANCER_CATEGORIES: Final = frozenset(
    {Category.SSA, Category.PRRT, Category.EVEROLIMUS, Category.CHEMOTHERAPY}
)


@dataclass(frozen=True)
class PrrtCycleFacts:
    """One given PRRT cycle: its number (1 is the ``prrt_started`` dose), day and activity (GBq)."""

    number: int
    given_on: dt.date | None
    activity_gbq: float | None = None


@dataclass(frozen=True)
class LineFacts:
    """A treatment line as the machine sees it; open while ``ended_reason`` is None.

    ``intent`` is "antiproliferative", "syndrome_control" or "" (lines other than SSA);
    ``dose_mg`` and ``interval_days`` are the current prescription (after any
    ``line_changed``); ``held`` is true while the line is on hold; ``cycles`` are the PRRT
    cycles given, oldest first.
    """

    category: str  # a Category value
    agent: str
    ended_reason: str | None = None  # "progression", "switched", ...; None while the line runs
    id: int | None = None
    started_on: dt.date | None = None
    intent: str = ""
    dose_mg: float | None = None
    interval_days: int | None = None
    held: bool = False
    cycles: tuple[PrrtCycleFacts, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "cycles", tuple(self.cycles))

    @property
    def is_open(self) -> bool:
        """The line runs (it may be on hold)."""
        return self.ended_reason is None

    @property
    def is_anticancer(self) -> bool:
        """The line treats the tumour: PRRT, everolimus, chemotherapy or an antiproliferative SSA."""
        if self.category == Category.SSA:
            return self.intent != SYNDROME_CONTROL
        return self.category in ANTICANCER_CATEGORIES


@dataclass(frozen=True)
class CourseFacts:
    """What the machine needs to know about a course, read by the service from the database.

    Findings (``sstr_imaging``, ``functional``, ``carcinoid_syndrome``, ``grade``,
    ``ki67_percent``, ``differentiation``) are the newest recorded: a ``status_updated`` event
    when there is one, else the diagnosis. ``state_entered_on``/``state_entered_by`` are the
    day and type of the event that brought the course into its state (the date-order rule);
    ``occurred_on`` is the day of the event being decided (set by ``evaluate``).
    """

    state: State
    differentiation: str  # "well", "poor", "mixed"
    grade: str  # "G1", "G2", "G3", "NEC", "MiNEN"
    ki67_percent: float | None
    sstr_imaging: str  # "positive", "negative", "equivocal", "not_done"
    functional: bool
    lines: tuple[LineFacts, ...] = ()  # oldest first
    # data of the latest recurrence_detected event, e.g. {"site": "liver", "resectable": True}
    last_recurrence: Mapping[str, Any] | None = field(default=None, hash=False)
    # The gallbladder is still in place (no cholecystectomy recorded):
    # docs/clinical-rules.md#pitfalls.
    gallbladder_in_place: bool = False
    carcinoid_syndrome: bool = False
    carcinoid_heart_disease: bool = False
    sstr_uptake_vs_liver: str | None = None  # "above", "equal", "below"
    resection_open: bool = False  # a resection_started not yet completed
    last_long_acting_injection_on: dt.date | None = None
    # The newest PRRT lab value of each analyte (blood counts in 10^9/L, haemoglobin and
    # albumin in g/L, creatinine and bilirubin in µmol/L, clearance in mL/min); empty if none.
    latest_prrt_labs: Mapping[str, float] = field(default_factory=dict, hash=False)
    state_entered_on: dt.date | None = None
    state_entered_by: str | None = None  # an EventType value, "registration" or None
    progression_documented_on: dt.date | None = None  # the newest progression_detected
    occurred_on: dt.date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", State(self.state))
        object.__setattr__(self, "lines", tuple(self.lines))

    @property
    def open_lines(self) -> tuple[LineFacts, ...]:
        """The lines that run now, oldest first."""
        return tuple(line for line in self.lines if line.is_open)

    @property
    def syndrome(self) -> bool:
        """A hormone syndrome is recorded: a functional tumour or carcinoid syndrome."""
        return self.functional or self.carcinoid_syndrome

    @property
    def neuroendocrine_carcinoma(self) -> bool:
        """Poorly differentiated or mixed disease (NEC, MiNEN): the NET trials excluded it."""
        return self.differentiation != "well" or self.grade in ("NEC", "MiNEN")

    @property
    def had_anticancer_line(self) -> bool:
        """Any anticancer line, running or ended, was given on this course."""
        return any(line.is_anticancer for line in self.lines)
