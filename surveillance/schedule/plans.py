"""The risk group at registration and the surveillance plan: defaults, allowed ranges, checks.

Pure: values in, values out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from .sources import (
    SOURCE_DURATION,
    SOURCE_FIRST_IMAGING,
    SOURCE_IMAGING_CAP,
    SOURCE_LATER_IMAGING,
    SOURCE_RISK_GROUPS,
    SOURCE_SYMPTOM_CHECK,
)

# ---------------------------------------------------------------------------------------------
# Schedule constants
# ---------------------------------------------------------------------------------------------

# Hard cap, not overridable: recurrence can occur years later and early detection allows a
# curative re-resection (docs/clinical-rules.md#allowed-ranges-and-the-12-month-cap).
IMAGING_CAP_MONTHS = 12
# An item is "due" from 30 days before its date and "overdue" after it
# (docs/clinical-rules.md#schedule-mechanics).
DUE_WINDOW_DAYS = 30
# The interval in years 1–3 applies while the due date falls within this many years of the
# anchor; the years 4–10 interval after (docs/clinical-rules.md#schedule-mechanics).
EARLY_PHASE_YEARS = 3
# Default length of surveillance for low risk, after which closure may be offered
# (docs/clinical-rules.md#duration; NCCN up to 10 years). Standard and high risk default to
# lifelong (ESMO 2020: lifelong for small-intestine NET; late recurrences reported past 20 years).
DEFAULT_DURATION_YEARS = 10
LIFELONG: None = None
# From year 10 on, lifelong (or longer than 10-year) surveillance images every 12 months
# (docs/clinical-rules.md#duration; ESMO 2020; the Norwegian 12-year programme).
LATE_PHASE_START_YEARS = 10
LATE_PHASE_INTERVAL_MONTHS = 12
# Below this duration a plan is accepted with a warning
# (docs/clinical-rules.md#allowed-ranges-and-the-12-month-cap: "warn below 10").
RECOMMENDED_MIN_DURATION_YEARS = 10

# SSA injection every 4 weeks with a ±7-day window (docs/clinical-rules.md#somatostatin-analogues;
# PROMID, CLARINET).
SSA_INJECTION_DAYS = 28
SSA_WINDOW_DAYS = 7

# Response imaging on an active line (docs/clinical-rules.md#schedule-mechanics): first about 3
# months after the line starts, then the plan's early interval clamped to 3–6 months.
RESPONSE_IMAGING_FIRST_MONTHS = 3
RESPONSE_IMAGING_MIN_MONTHS = 3
RESPONSE_IMAGING_MAX_MONTHS = 6

# Restaging in known disease without a running line (observation, recurrence, residual disease,
# progression): 3 months after the event, then every 3 months in the first year and every 6
# after; NEC every 3 months (docs/clinical-rules.md#version-2-surveillance-and-monitoring; ESMO 2020: 3–6
# months in advanced disease, 2–3 months for G3 NEC).
RESTAGING_FIRST_MONTHS = 3
RESTAGING_YEAR_ONE_MONTHS = 3
RESTAGING_LATER_MONTHS = 6
RESTAGING_NEC_MONTHS = 3


class RiskGroup(StrEnum):
    LOW = "low"
    STANDARD = "standard"
    HIGH = "high"


# ---------------------------------------------------------------------------------------------
# Risk group
# ---------------------------------------------------------------------------------------------

_STAGES = frozenset({"I", "II", "III", "IV", "UNKNOWN"})
_GRADES = frozenset({"G1", "G2", "G3", "NEC", "MINEN", "UNKNOWN"})
_HIGH_GRADES = frozenset({"G3", "NEC", "MINEN"})
_MARGINS = frozenset({"R0", "R1", "R2", "RX", "UNKNOWN"})
# R2 is incomplete resection, a fortiori high risk although the table names only R1.
_HIGH_MARGINS = frozenset({"R1", "R2"})
# Product choice for the Ki-67 cut (docs/clinical-rules.md#risk-groups; CommNETs: Ki-67 > 5 % and
# node positivity call for more frequent follow-up).
HIGH_RISK_KI67_ABOVE = 10.0


def _normalise_grade(grade: str) -> str:
    compact = re.sub(r"[\s_\-]", "", grade).upper()
    # Accept "NET G2" / "net_g2" as well as "G2": the WHO category name carries the prefix.
    if compact.startswith("NETG"):
        compact = compact[3:]
    return compact


def risk_group(stage: str, grade: str, ki67_percent: float | None, margin: str) -> RiskGroup:
    """Risk group at registration (docs/clinical-rules.md#risk-groups).

    high: NET G3 (or NEC / MiNEN), Ki-67 > 10 %, or margin R1 (R2 too); low: stage I–II and
    G1 and R0; standard: everything else. Unknown values never make a patient "low": missing
    facts must not lengthen follow-up. Unrecognised values raise ValueError rather than being
    guessed.
    """
    stage_key = stage.strip().upper()
    grade_key = _normalise_grade(grade)
    margin_key = margin.strip().upper()
    if stage_key not in _STAGES:
        raise ValueError(f"Unknown stage {stage!r}: expected I, II, III, IV or unknown.")
    if grade_key not in _GRADES:
        raise ValueError(f"Unknown grade {grade!r}: expected G1, G2, G3, NEC, MiNEN or unknown.")
    if margin_key not in _MARGINS:
        raise ValueError(f"Unknown margin {margin!r}: expected R0, R1, R2, RX or unknown.")
    if ki67_percent is not None and not (0 <= ki67_percent <= 100):
        # Also rejects NaN, which compares false with everything.
        raise ValueError(f"Ki-67 must be 0–100 %, got {ki67_percent!r}.")

    if (
        grade_key in _HIGH_GRADES
        or (ki67_percent is not None and ki67_percent > HIGH_RISK_KI67_ABOVE)
        or margin_key in _HIGH_MARGINS
    ):
        return RiskGroup.HIGH
    if stage_key in {"I", "II"} and grade_key == "G1" and margin_key == "R0":
        return RiskGroup.LOW
    return RiskGroup.STANDARD


# ---------------------------------------------------------------------------------------------
# Plan parameters, defaults and allowed ranges
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanParams:
    risk_group: RiskGroup
    first_imaging_months: int
    early_interval_months: int  # years 1–3 after the anchor
    late_interval_months: int  # years 4–10 (or onward when lifelong)
    duration_years: int | None  # None: lifelong
    symptom_check_months: int
    symptom_check_months_on_ssa: int


_DEFAULT_PLANS: Mapping[RiskGroup, PlanParams] = MappingProxyType(
    {
        # docs/clinical-rules.md#default-schedules. Low risk has no SSA-specific cadence in the
        # table, so it keeps "every 3 months"; standard is "every 3 months, monthly while on SSA";
        # high "monthly".
        RiskGroup.LOW: PlanParams(RiskGroup.LOW, 6, 12, 12, DEFAULT_DURATION_YEARS, 3, 3),
        # Standard and high risk: lifelong (docs/clinical-rules.md#duration; ESMO 2020).
        RiskGroup.STANDARD: PlanParams(RiskGroup.STANDARD, 6, 6, 12, LIFELONG, 3, 1),
        RiskGroup.HIGH: PlanParams(RiskGroup.HIGH, 3, 3, 6, LIFELONG, 1, 1),
    }
)


def default_plan(group: RiskGroup | str) -> PlanParams:
    """The default plan for a risk group (docs/clinical-rules.md#default-schedules)."""
    return _DEFAULT_PLANS[RiskGroup(group)]


@dataclass(frozen=True)
class AllowedRange:
    minimum: int
    maximum: int | None  # None: no upper bound (lifelong)
    unit: str
    label: str
    source: str

    def describe(self) -> str:
        if self.maximum is None:
            return f"{self.minimum} {self.unit} to lifelong"
        return f"{self.minimum}–{self.maximum} {self.unit}"


ALLOWED_RANGES: Mapping[str, AllowedRange] = MappingProxyType(
    {
        "first_imaging_months": AllowedRange(
            3, 12, "months", "First imaging after surgery", SOURCE_FIRST_IMAGING
        ),
        "early_interval_months": AllowedRange(
            3, 12, "months", "Imaging interval in years 1–3", SOURCE_RISK_GROUPS
        ),
        "late_interval_months": AllowedRange(
            6, 12, "months", "Imaging interval in years 4–10", SOURCE_LATER_IMAGING
        ),
        "duration_years": AllowedRange(5, None, "years", "Surveillance duration", SOURCE_DURATION),
        "symptom_check_months": AllowedRange(
            1, 6, "months", "Symptom check interval", SOURCE_SYMPTOM_CHECK
        ),
        "symptom_check_months_on_ssa": AllowedRange(
            1, 6, "months", "Symptom check interval on SSA", SOURCE_SYMPTOM_CHECK
        ),
    }
)
_IMAGING_FIELDS = frozenset(
    {"first_imaging_months", "early_interval_months", "late_interval_months"}
)


@dataclass(frozen=True)
class PlanIssue:
    field: str
    code: str
    message: str
    blocking: bool


def validate_plan(params: PlanParams) -> list[PlanIssue]:
    """Check a plan against docs/clinical-rules.md#allowed-ranges-and-the-12-month-cap. Blocking
    issues refuse the plan (400); the rest warn.

    Any imaging interval over 12 months is refused with its own code: the cap is a hard rule
    that no clinician override lifts.
    """
    issues: list[PlanIssue] = []
    if not isinstance(params.risk_group, RiskGroup):
        try:
            RiskGroup(params.risk_group)
        except ValueError:
            issues.append(
                PlanIssue(
                    "risk_group",
                    "invalid_choice",
                    f"Risk group must be one of low, standard, high ({SOURCE_RISK_GROUPS}).",
                    True,
                )
            )

    for field, allowed in ALLOWED_RANGES.items():
        value = getattr(params, field)
        if field == "duration_years" and value is None:
            continue  # lifelong is allowed (ENETS)
        # bool is an int subclass; True months is a typo, not a plan.
        if isinstance(value, bool) or not isinstance(value, int):
            issues.append(
                PlanIssue(
                    field,
                    "not_a_whole_number",
                    f"{allowed.label} must be a whole number of {allowed.unit}, "
                    f"{allowed.describe()} ({allowed.source}).",
                    True,
                )
            )
            continue
        if field in _IMAGING_FIELDS and value > IMAGING_CAP_MONTHS:
            issues.append(
                PlanIssue(
                    field,
                    "exceeds_imaging_cap",
                    f"{allowed.label} of {value} months refused: never beyond "
                    f"{IMAGING_CAP_MONTHS} months between imaging. Allowed range "
                    f"{allowed.describe()} ({SOURCE_IMAGING_CAP}).",
                    True,
                )
            )
            continue
        too_low = value < allowed.minimum
        too_high = allowed.maximum is not None and value > allowed.maximum
        if too_low or too_high:
            issues.append(
                PlanIssue(
                    field,
                    "out_of_range",
                    f"{allowed.label} of {value} {allowed.unit} refused: allowed range "
                    f"{allowed.describe()} ({allowed.source}).",
                    True,
                )
            )
            continue
        if field == "duration_years" and value < RECOMMENDED_MIN_DURATION_YEARS:
            issues.append(
                PlanIssue(
                    field,
                    "below_recommended_duration",
                    f"Surveillance of {value} years is shorter than the recommended "
                    f"{RECOMMENDED_MIN_DURATION_YEARS}: small-intestinal NETs recur late "
                    f"(median 3 years, up to 24). Accepted with a warning ({SOURCE_DURATION}).",
                    False,
                )
            )
    return issues
