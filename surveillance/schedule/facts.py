"""The facts of a course that planning reads, the kinds of due item, and the item itself.

Pure values: the services layer reads them from the models; ``due`` and ``imaging`` plan from
them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from dateutil.relativedelta import relativedelta

from treatments.machine import State
from treatments.rules_version import RULE_VERSION


class Kind(StrEnum):
    IMAGING = "imaging"
    VISIT = "visit"
    CGA = "cga"
    SYMPTOM_CHECK = "symptom_check"
    SSA_INJECTION = "ssa_injection"
    # Version 2 (docs/clinical-rules.md#version-2-surveillance-and-monitoring, #monitoring-on-a-line).
    U5HIAA = "u5hiaa"
    NT_PROBNP = "nt_probnp"
    ECHOCARDIOGRAPHY = "echocardiography"
    VITAMIN_B12 = "vitamin_b12"
    VITAMIN_D = "vitamin_d"
    PRRT_LABS = "prrt_labs"
    BLOOD_COUNTS = "blood_counts"
    METABOLIC_PANEL = "metabolic_panel"


class Status(StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"


# Which states schedule what; treatments.machine owns the states and their transitions, so a
# state added there and not placed here fails the partition test instead of scheduling nothing.
# Groups hold the stored strings, so they also name states the machine adds (a StrEnum member
# equals its string in a set).
SURVEILLANCE: Final = State.SURVEILLANCE
CLOSED: Final = State.CLOSED
ACTIVE_LINE_STATES: Final[frozenset[str]] = frozenset(
    {State.SSA, State.PRRT, State.EVEROLIMUS, State.CHEMOTHERAPY}
)
# Known disease with no anticancer line running: watch-and-wait, or a decision pending. Imaging
# is restaging there, every 3–6 months (docs/clinical-rules.md#version-2-surveillance-and-monitoring;
# ESMO 2020).
RESTAGING_STATES: Final[frozenset[str]] = frozenset(
    {"recurrence", "residual_disease", "observation", "progression"}
)
# No line running and no restaging rhythm of their own: a re-resection under way, or supportive
# care. Imaging stays on the surveillance schedule so it never slips.
NO_LINE_STATES: Final[frozenset[str]] = frozenset({State.RESECTION, State.SUPPORTIVE})
COURSE_STATES: Final[frozenset[str]] = frozenset(State) | RESTAGING_STATES

NO_LINE_REASON: Final[Mapping[str, str]] = MappingProxyType(
    {
        State.RESECTION: "re-resection planned or under way",
        State.SUPPORTIVE: "best supportive care, no active line",
    }
)
RESTAGING_REASON: Final[Mapping[str, str]] = MappingProxyType(
    {
        "recurrence": "recurrence recorded, treatment decision pending",
        "residual_disease": "disease left after surgery, treatment decision pending",
        "observation": "known disease under observation (watch-and-wait or after a line)",
        "progression": "progression recorded, next-line decision pending",
    }
)


@dataclass(frozen=True)
class SsaLine:
    """One open somatostatin-analogue line, as planning reads it.

    ``interval_days`` is the prescribed interval (None: the standard 28 days); a ``held`` line
    has nothing due until it is resumed; ``last_injection_on`` counts injections given on or
    after the line's start.
    """

    started_on: date
    interval_days: int | None = None
    held: bool = False
    last_injection_on: date | None = None
    line_id: int | None = None
    resumed_on: date | None = None  # the newest resumption after a hold


@dataclass(frozen=True)
class PrrtCourse:
    """An open PRRT line: the days its cycles were given (cycle 1 is the line's start)."""

    cycle_dates: tuple[date, ...]
    planned_cycles: int | None = None


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
    # Version 2 (docs/clinical-rules.md#version-2-surveillance-and-monitoring).
    ssa_lines: tuple[SsaLine, ...] = ()
    prrt: PrrtCourse | None = None
    last_prrt_cycle_on: date | None = None  # any PRRT ever given: yearly blood counts after it
    everolimus_started_on: date | None = None  # an open everolimus line
    chemotherapy_started_on: date | None = None  # an open chemotherapy line
    chemotherapy_interval_days: int | None = None  # its cycle length
    state_entered_on: date | None = None  # the event that brought the course into its state
    functional: bool = False
    carcinoid_syndrome: bool = False
    carcinoid_heart_disease: bool = False
    nec: bool = False  # poorly differentiated neuroendocrine carcinoma
    ileal_resection: bool = False  # ileal or ileocecal resection, or right hemicolectomy
    # The newest day each kind of test was done (keys: Kind values), e.g. {"u5hiaa": date}.
    last_done: Mapping[str, date] = field(default_factory=dict)
    # Echocardiography triggers: the newest NT-proBNP (pg/mL) and 5-HIAA (µmol/24 h) values
    # with their dates, and the newest check reporting palpitations, swelling or breathlessness.
    latest_nt_probnp: tuple[date, float] | None = None
    latest_u5hiaa: tuple[date, float] | None = None
    heart_symptoms_on: date | None = None
    # The newest positive symptom check that is more than a weight-only alert.
    symptom_alert_on: date | None = None
    # The day a functional tumour or carcinoid syndrome became known (None: the anchor).
    syndrome_since: date | None = None

    @property
    def syndrome(self) -> bool:
        """Functional tumour or carcinoid syndrome: either drives 5-HIAA and heart screening
        (docs/clinical-rules.md#version-2-surveillance-and-monitoring)."""
        return self.functional or self.carcinoid_syndrome

    def open_ssa_lines(self) -> tuple[SsaLine, ...]:
        """The open SSA lines; a first-release caller's ``on_ssa`` reads as one 28-day line."""
        if self.ssa_lines or not self.on_ssa:
            return self.ssa_lines
        started = self.line_started_on or self.last_ssa_injection_on
        if started is None:
            # Guessing a start date would either nag daily or let injections slip silently.
            raise ValueError(
                "on_ssa needs last_ssa_injection_on or line_started_on to schedule injections."
            )
        return (SsaLine(started_on=started, last_injection_on=self.last_ssa_injection_on),)

    def __post_init__(self) -> None:
        if self.anchor_on < self.surgery_on:
            raise ValueError(
                "anchor_on precedes surgery_on: the anchor is the resection that achieved no "
                "evidence of disease, on or after the operation that opened the course."
            )
        if str(self.state) not in COURSE_STATES:
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
    # The clinical rule set that planned the item (docs/clinical-rules.md#rule-versions),
    # stored with it in surveillance.ScheduledItem.
    rule_version: str = RULE_VERSION

    Kind = Kind  # so callers holding only DueItem can name the kinds

    def as_dict(self) -> dict[str, str | None]:
        """The item as JSON values: dates as ISO strings, window_end None when open."""
        return {
            "kind": str(self.kind),
            "due_on": self.due_on.isoformat(),
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat() if self.window_end else None,
            "status": str(self.status),
            "why": self.why,
            "source": self.source,
            "rule_version": self.rule_version,
        }


@dataclass(frozen=True)
class _Planned:
    due_on: date
    why: str
    source: str
    # An explicit window (injections, PRRT labs); None: the kind's default.
    window_start: date | None = None
    window_end: date | None = None


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
