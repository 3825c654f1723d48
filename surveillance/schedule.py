"""What is due next for one course: surveillance plan + what was done + today -> due items.

Pure rules (STYLE.md habit 1): values in, values out, no ORM and no clock. ``today`` is an
argument, so the API, the admin, the periodic sweep and the tests all get the same answer and
can show *why* an item is due. Every figure cites CLINICAL.md (the product decision) and the
guideline behind it; clinical-sources.md has the full references.

The module also scores the patient-reported symptom check (CLINICAL.md §5) and holds the rules
for results (which imaging answers the imaging item, what to warn about, the lab analytes with
their allowed units: CLINICAL.md §2, §6), so each threshold lives in exactly one place.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from dateutil.relativedelta import relativedelta
from django.db.models.enums import TextChoices

# ---------------------------------------------------------------------------------------------
# Sources, quoted in every refusal message and due item so the admin can show why.
# ---------------------------------------------------------------------------------------------

SOURCE_RISK_GROUPS = (
    "CLINICAL.md §2 'Default schedule by risk group' (product choice anchored on the "
    "guideline summary 2025, ESMO 2020, ENETS and NCCN)"
)
SOURCE_FIRST_IMAGING = (
    "CLINICAL.md §2 'first follow-up': 3–12 months after surgery "
    "(guideline summary 2025; NCCN: 12 weeks to 12 months)"
)
SOURCE_LATER_IMAGING = (
    "CLINICAL.md §2 'later follow-up': every 6–12 months "
    "(guideline summary 2025; ESMO 2020: 6–12 months for G1/G2, shorter for G3)"
)
SOURCE_IMAGING_CAP = (
    "CLINICAL.md §2 'maximum gap between imaging': never beyond 12 months between imaging "
    "(guideline summary 2025; hard cap, stricter than NCCN's 12–24 months)"
)
SOURCE_DURATION = (
    "CLINICAL.md §2 'duration': default 10 years, 5 years to lifelong "
    "(NCCN: up to 10 years; ENETS: long-term, even lifelong for small-intestinal NET)"
)
SOURCE_DUE_WINDOW = (
    "CLINICAL.md §2 mechanics: due from 30 days before the date, overdue after it (product choice)"
)
SOURCE_RESPONSE_IMAGING = (
    "CLINICAL.md §2 mechanics: on an active line, response imaging about 3 months after the "
    "line starts, then every 3–6 months"
)
SOURCE_VISIT = (
    "CLINICAL.md §2 'each visit': history and examination with each imaging item "
    "(guideline summary 2025; NCCN)"
)
SOURCE_CGA = (
    "CLINICAL.md §2 'chromogranin A': only if elevated before surgery (guideline summary 2025)"
)
SOURCE_SYMPTOM_CHECK = (
    "CLINICAL.md §2 risk table 'symptom check' and §5 (product choice: no guideline fixes "
    "the frequency of patient-reported checks)"
)
SOURCE_SSA_INJECTION = (
    "CLINICAL.md §3: somatostatin analogue every 28 days, window ±7 days "
    "(PROMID: octreotide LAR 30 mg; CLARINET: lanreotide 120 mg)"
)
SOURCE_SURGERY_FLOOR = "CLINICAL.md §6: nothing is dated before the surgery that opened the course"
SOURCE_SYMPTOM_SCORING = "CLINICAL.md §5 'The symptom check', scoring"
SOURCE_TELESTAR = (
    "TELESTAR trial: 4 or more bowel movements a day = uncontrolled carcinoid diarrhoea"
)

# ---------------------------------------------------------------------------------------------
# Schedule constants
# ---------------------------------------------------------------------------------------------

# Hard cap, not overridable: recurrence can occur years later and early detection allows a
# curative re-resection (CLINICAL.md §2, §4 "never let surveillance imaging slip").
IMAGING_CAP_MONTHS = 12
# An item is "due" from 30 days before its date and "overdue" after it (CLINICAL.md §2).
DUE_WINDOW_DAYS = 30
# The interval in years 1–3 applies while the due date falls within this many years of the
# anchor; the years 4–10 interval after (CLINICAL.md §2 risk table).
EARLY_PHASE_YEARS = 3
# Default length of surveillance (CLINICAL.md §2 'duration'; NCCN up to 10 years).
DEFAULT_DURATION_YEARS = 10
# Below this duration a plan is accepted with a warning (CLINICAL.md §2: "warn below 10").
RECOMMENDED_MIN_DURATION_YEARS = 10

# SSA injection every 4 weeks with a ±7-day window (CLINICAL.md §3; PROMID, CLARINET).
SSA_INJECTION_DAYS = 28
SSA_WINDOW_DAYS = 7

# Response imaging on an active line (CLINICAL.md §2 mechanics): first about 3 months after
# the line starts, then the plan's early interval clamped to 3–6 months.
RESPONSE_IMAGING_FIRST_MONTHS = 3
RESPONSE_IMAGING_MIN_MONTHS = 3
RESPONSE_IMAGING_MAX_MONTHS = 6


class RiskGroup(StrEnum):
    LOW = "low"
    STANDARD = "standard"
    HIGH = "high"


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


# Course states (DESIGN.md "The course state machine"); treatments/machine.py owns the
# transitions, this module only needs to know which states schedule what.
SURVEILLANCE = "surveillance"
CLOSED = "closed"
ACTIVE_LINE_STATES = frozenset({"ssa", "prrt", "everolimus", "chemotherapy"})
# No line running: a decision is pending or care is supportive. Imaging stays on the
# surveillance schedule so it never slips while the decision is made.
NO_LINE_STATES = frozenset({"recurrence", "resection", "progression", "supportive"})
COURSE_STATES = frozenset({SURVEILLANCE, CLOSED}) | ACTIVE_LINE_STATES | NO_LINE_STATES

_NO_LINE_REASON = {
    "recurrence": "recurrence recorded, treatment decision pending",
    "resection": "re-resection planned or under way",
    "progression": "progression recorded, next-line decision pending",
    "supportive": "best supportive care, no active line",
}


# ---------------------------------------------------------------------------------------------
# Risk group
# ---------------------------------------------------------------------------------------------

_STAGES = frozenset({"I", "II", "III", "IV", "UNKNOWN"})
_GRADES = frozenset({"G1", "G2", "G3", "NEC", "MINEN", "UNKNOWN"})
_HIGH_GRADES = frozenset({"G3", "NEC", "MINEN"})
_MARGINS = frozenset({"R0", "R1", "R2", "RX", "UNKNOWN"})
# R2 is incomplete resection, a fortiori high risk although the table names only R1.
_HIGH_MARGINS = frozenset({"R1", "R2"})
# Product choice for the Ki-67 cut (clinical-sources.md §2.4; CommNETs: Ki-67 > 5 % and node
# positivity call for more frequent follow-up).
HIGH_RISK_KI67_ABOVE = 10.0


def _normalise_grade(grade: str) -> str:
    compact = re.sub(r"[\s_\-]", "", grade).upper()
    # Accept "NET G2" / "net_g2" as well as "G2": the WHO category name carries the prefix.
    if compact.startswith("NETG"):
        compact = compact[3:]
    return compact


def risk_group(stage: str, grade: str, ki67_percent: float | None, margin: str) -> RiskGroup:
    """Risk group at registration (CLINICAL.md §2 'Default schedule by risk group').

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
        # CLINICAL.md §2 table. Low risk has no SSA-specific cadence in the table, so it keeps
        # "every 3 months"; standard is "every 3 months, monthly while on SSA"; high "monthly".
        RiskGroup.LOW: PlanParams(RiskGroup.LOW, 6, 12, 12, DEFAULT_DURATION_YEARS, 3, 3),
        RiskGroup.STANDARD: PlanParams(RiskGroup.STANDARD, 6, 6, 12, DEFAULT_DURATION_YEARS, 3, 1),
        RiskGroup.HIGH: PlanParams(RiskGroup.HIGH, 3, 3, 6, DEFAULT_DURATION_YEARS, 1, 1),
    }
)


def default_plan(group: RiskGroup | str) -> PlanParams:
    """The default plan for a risk group (CLINICAL.md §2 'Default schedule by risk group')."""
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
    """Check a plan against CLINICAL.md §2. Blocking issues refuse the plan (400); the rest warn.

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


# ---------------------------------------------------------------------------------------------
# Facts and due items
# ---------------------------------------------------------------------------------------------


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


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _imaging_since_anchor(facts: Facts) -> date | None:
    # Imaging before the anchor belongs to the previous series: a curative re-resection
    # restarts the schedule from the new operation (CLINICAL.md §2 mechanics).
    if facts.last_imaging_on is not None and facts.last_imaging_on >= facts.anchor_on:
        return facts.last_imaging_on
    return None


def _surveillance_years_label(plan: PlanParams) -> str:
    if plan.duration_years is None:
        return "from year 4 onward"
    return f"in years 4–{plan.duration_years}"


def _surveillance_imaging(plan: PlanParams, facts: Facts, last: date | None) -> _Planned:
    group = f"{plan.risk_group} risk"
    if last is None:
        return _Planned(
            facts.anchor_on + _months(plan.first_imaging_months),
            f"First multiphase CT or MRI {plan.first_imaging_months} months after the resection "
            f"that achieved no evidence of disease ({group}; guideline summary 2025, NCCN: "
            f"3–12 months; never more than {IMAGING_CAP_MONTHS} months apart)",
            SOURCE_FIRST_IMAGING,
        )
    early_due = last + _months(plan.early_interval_months)
    if early_due <= facts.anchor_on + relativedelta(years=EARLY_PHASE_YEARS):
        return _Planned(
            early_due,
            f"Multiphase CT or MRI every {plan.early_interval_months} months in years 1–3 after "
            f"resection ({group}; ESMO 2020 / ENETS; never more than {IMAGING_CAP_MONTHS} "
            "months apart)",
            SOURCE_RISK_GROUPS,
        )
    return _Planned(
        last + _months(plan.late_interval_months),
        f"Multiphase CT or MRI every {plan.late_interval_months} months "
        f"{_surveillance_years_label(plan)} after resection ({group}; ESMO 2020 / ENETS; "
        f"never more than {IMAGING_CAP_MONTHS} months apart)",
        SOURCE_LATER_IMAGING,
    )


def _response_imaging(
    plan: PlanParams, facts: Facts, last: date | None, line_started_on: date
) -> _Planned:
    # A line recorded before the current anchor cannot pull imaging before that resection:
    # response is measured from whichever came later.
    line = max(line_started_on, facts.anchor_on)
    if last is not None and last >= line:
        months = _clamp(
            plan.early_interval_months, RESPONSE_IMAGING_MIN_MONTHS, RESPONSE_IMAGING_MAX_MONTHS
        )
        return _Planned(
            last + _months(months),
            f"Response imaging (multiphase CT or MRI) every {months} months on the "
            f"{facts.state} line (plan interval held within {RESPONSE_IMAGING_MIN_MONTHS}–"
            f"{RESPONSE_IMAGING_MAX_MONTHS} months on treatment; never more than "
            f"{IMAGING_CAP_MONTHS} months apart)",
            SOURCE_RESPONSE_IMAGING,
        )
    if line == line_started_on:
        started = f"the {facts.state} line started on {line.isoformat()}"
    else:
        started = (
            f"the resection on {line.isoformat()} (the {facts.state} line started earlier, on "
            f"{line_started_on.isoformat()})"
        )
    return _Planned(
        line + _months(RESPONSE_IMAGING_FIRST_MONTHS),
        f"First response imaging (multiphase CT or MRI) {RESPONSE_IMAGING_FIRST_MONTHS} months "
        f"after {started} (never more than {IMAGING_CAP_MONTHS} months apart)",
        SOURCE_RESPONSE_IMAGING,
    )


def _next_imaging(plan: PlanParams, facts: Facts) -> _Planned | None:
    """The next imaging due date, or None when surveillance is complete or the course closed."""
    if facts.state == CLOSED:
        return None
    last = _imaging_since_anchor(facts)
    if facts.state in ACTIVE_LINE_STATES and facts.line_started_on is not None:
        planned = _response_imaging(plan, facts, last, facts.line_started_on)
    else:
        planned = _surveillance_imaging(plan, facts, last)
        if facts.state in ACTIVE_LINE_STATES:
            planned = _Planned(
                planned.due_on,
                f"{planned.why}; the start of the {facts.state} line is not recorded, so "
                "imaging stays on the surveillance schedule",
                planned.source,
            )
        elif facts.state in NO_LINE_STATES:
            planned = _Planned(
                planned.due_on,
                f"{planned.why}; {_NO_LINE_REASON[facts.state]}: imaging stays due on the "
                "surveillance schedule so it never slips",
                planned.source,
            )

    # The hard cap is applied last so that no plan value and no state can defer imaging beyond
    # 12 months after the previous study (or the anchor when none was done since).
    cap_on = (last or facts.anchor_on) + _months(IMAGING_CAP_MONTHS)
    if planned.due_on > cap_on:
        planned = _Planned(
            cap_on,
            f"{planned.why}. Brought forward to {IMAGING_CAP_MONTHS} months after the "
            f"{'last imaging' if last else 'anchor resection'}: never beyond "
            f"{IMAGING_CAP_MONTHS} months between imaging",
            f"{planned.source}; {SOURCE_IMAGING_CAP}",
        )

    # Duration ends surveillance only while there is no evidence of disease; once recurrence
    # is recorded, follow-up continues whatever the plan's duration.
    if (
        facts.state == SURVEILLANCE
        and plan.duration_years is not None
        and planned.due_on > facts.anchor_on + relativedelta(years=plan.duration_years)
    ):
        return None
    return planned


def surveillance_complete(plan: PlanParams, facts: Facts, today: date) -> bool:
    """True when, in surveillance, the next imaging would fall after anchor + duration.

    The course may then close with ``surveillance_completed`` (CLINICAL.md §2 'duration').
    ``today`` is taken for the same shape as every rule here; completion depends only on what
    was done, so a final study that is overdue keeps surveillance open.
    """
    del today
    return (
        facts.state == SURVEILLANCE
        and plan.duration_years is not None
        and _next_imaging(plan, facts) is None
    )


def imaging_gap_exceeded(plan: PlanParams, facts: Facts, today: date) -> bool:
    """True when more than 12 months have passed since the last imaging (or the anchor).

    CLINICAL.md §2: "a gap past 12 months is a critical alert". Completed surveillance and
    closed courses raise nothing: no further imaging is planned there.
    """
    if facts.state == CLOSED or surveillance_complete(plan, facts, today):
        return False
    last = _imaging_since_anchor(facts) or facts.anchor_on
    return today > last + _months(IMAGING_CAP_MONTHS)


def _status(due_on: date, window_start: date, window_end: date | None, today: date) -> Status:
    if today > (window_end or due_on):
        return Status.OVERDUE
    if today >= window_start:
        return Status.DUE
    return Status.UPCOMING


def status_of(
    kind: str, due_on: date, window_start: date, window_end: date | None, today: date
) -> Status:
    """Status on ``today`` of a stored due item, by the same rule as ``due_items``.

    The stored rows keep dates, not statuses: a status depends on the day it is read
    (SOURCE_DUE_WINDOW; SSA injections use their ±7-day window, SOURCE_SSA_INJECTION).
    """
    Kind(kind)  # an unknown kind is a caller's mistake, not a status
    return _status(due_on, window_start, window_end, today)


def _item(kind: Kind, planned: _Planned, facts: Facts, today: date) -> DueItem:
    due_on, why, source = planned.due_on, planned.why, planned.source
    if due_on < facts.surgery_on:
        # Only reachable from facts recorded before the course opened (CLINICAL.md §6 refuses
        # those); clamping keeps the sweep going instead of scheduling into the past.
        due_on = facts.surgery_on
        why = (
            f"{why}. Moved to the date of surgery ({facts.surgery_on.isoformat()}): nothing is "
            "due before the operation that opened the course"
        )
        source = f"{source}; {SOURCE_SURGERY_FLOOR}"
    if kind is Kind.SSA_INJECTION:
        window_start = due_on - timedelta(days=SSA_WINDOW_DAYS)
        window_end: date | None = due_on + timedelta(days=SSA_WINDOW_DAYS)
    else:
        window_start = due_on - timedelta(days=DUE_WINDOW_DAYS)
        window_end = None
    return DueItem(
        kind=kind,
        due_on=due_on,
        window_start=window_start,
        window_end=window_end,
        status=_status(due_on, window_start, window_end, today),
        why=why,
        source=source,
    )


def due_items(plan: PlanParams, facts: Facts, today: date) -> list[DueItem]:
    """Everything due next on the course, sorted by due date then kind.

    One item per kind: imaging, then a visit and (if CgA was elevated before surgery) a CgA
    test on the imaging's date, the symptom check, and the SSA injection while on SSA.
    A closed course has nothing due.
    """
    if facts.state == CLOSED:
        return []
    items: list[DueItem] = []

    imaging = _next_imaging(plan, facts)
    if imaging is not None:
        items.append(_item(Kind.IMAGING, imaging, facts, today))
        items.append(
            _item(
                Kind.VISIT,
                _Planned(
                    imaging.due_on,
                    "Clinic visit with history and examination, with each imaging study: ask "
                    "about symptoms of hormonal excess (flushing, diarrhoea, wheeze) and of "
                    "bowel obstruction (guideline summary 2025; NCCN)",
                    SOURCE_VISIT,
                ),
                facts,
                today,
            )
        )
        if facts.cga_elevated_preop:
            items.append(
                _item(
                    Kind.CGA,
                    _Planned(
                        imaging.due_on,
                        "Chromogranin A with each imaging study, because it was elevated before "
                        "surgery; proton-pump inhibitors (also renal failure, atrophic gastritis, "
                        "heart failure) raise CgA falsely, and the same assay must be used over "
                        "time (guideline summary 2025)",
                        SOURCE_CGA,
                    ),
                    facts,
                    today,
                )
            )

    months = plan.symptom_check_months_on_ssa if facts.on_ssa else plan.symptom_check_months
    check_base = facts.last_symptom_check_on or facts.anchor_on
    items.append(
        _item(
            Kind.SYMPTOM_CHECK,
            _Planned(
                check_base + _months(months),
                f"Carcinoid-syndrome symptom check every {months} month"
                f"{'' if months == 1 else 's'}{' while on SSA' if facts.on_ssa else ''} "
                f"({plan.risk_group} risk): new flushing or diarrhoea can signal recurrence in "
                "the liver",
                SOURCE_SYMPTOM_CHECK,
            ),
            facts,
            today,
        )
    )

    if facts.on_ssa:
        injection_base = facts.last_ssa_injection_on or facts.line_started_on
        if injection_base is None:
            # Guessing a start date would either nag daily or let injections slip silently.
            raise ValueError(
                "on_ssa needs last_ssa_injection_on or line_started_on to schedule injections."
            )
        items.append(
            _item(
                Kind.SSA_INJECTION,
                _Planned(
                    injection_base + timedelta(days=SSA_INJECTION_DAYS),
                    f"Somatostatin analogue injection every {SSA_INJECTION_DAYS} days, within "
                    f"±{SSA_WINDOW_DAYS} days (octreotide LAR or lanreotide; PROMID, CLARINET)",
                    SOURCE_SSA_INJECTION,
                ),
                facts,
                today,
            )
        )

    items.sort(key=lambda item: (item.due_on, str(item.kind)))
    return items


def next_due_by_kind(items: Iterable[DueItem]) -> dict[str, date]:
    """Earliest due date per kind, e.g. for the course's denormalised columns."""
    result: dict[str, date] = {}
    for item in items:
        key = str(item.kind)
        if key not in result or item.due_on < result[key]:
            result[key] = item.due_on
    return result


def earliest_due(items: Iterable[DueItem]) -> date | None:
    """The course's next deadline (DESIGN.md: denormalised and indexed for the sweep)."""
    return min((item.due_on for item in items), default=None)


# ---------------------------------------------------------------------------------------------
# Symptom check scoring (CLINICAL.md §5)
# ---------------------------------------------------------------------------------------------

# Carcinoid syndrome: flushing at least daily together with diarrhoea, or frequent flushing
# alone, or wheeze with any flushing (CLINICAL.md §5).
SYNDROME_FLUSHING_WITH_DIARRHOEA_PER_DAY = 1.0
# TELESTAR entry criterion: 4 or more bowel movements a day is uncontrolled carcinoid diarrhoea.
SYNDROME_STOOLS_PER_DAY = 4.0
SYNDROME_FLUSHING_ALONE_PER_DAY = 3.0
# Obstruction: severe pain (7 or more on 0–10) with vomiting or no stool or gas (CLINICAL.md §5).
OBSTRUCTION_PAIN_SCORE = 7
# Weight loss since the last check that raises an alert (CLINICAL.md §5).
WEIGHT_LOSS_ALERT_KG = 5.0

SYMPTOM_RANGES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "flushing_per_day": (0, 50),
        "stools_per_day": (0, 30),
        "abdominal_pain": (0, 10),
        "weight_loss_kg": (0, 50),
    }
)
_SYMPTOM_FLAGS = ("wheezing", "vomiting", "no_stool_or_gas", "palpitations_or_swelling")

# Preparation the reminder text must carry (CLINICAL.md §5).
PREPARATION_5HIAA = (
    "24-hour urine 5-HIAA needs a diet free of serotonin-rich foods (bananas, avocados, "
    "pineapple, plums, walnuts, tomatoes, kiwi) for the preceding days."
)
PREPARATION_CGA = (
    "Chromogranin A is falsely raised by proton-pump inhibitors: ask the clinician whether to "
    "pause them before the test."
)


class AlertKind(StrEnum):
    CARCINOID_SYNDROME = "carcinoid_syndrome"
    OBSTRUCTION = "obstruction"
    CARCINOID_HEART = "carcinoid_heart"
    WEIGHT_LOSS = "weight_loss"
    CARCINOID_CRISIS = "carcinoid_crisis"


class Severity(TextChoices):
    """How soon a coordinator must act, lowest first; THE one definition for every app.

    A ``TextChoices`` (a plain ``str`` enum with ``values``/``choices`` for model fields and
    API enums) so alerts store and filter it without a copy. Order is meaning: ``rank`` is
    NORMAL 0, HIGH 1, URGENT 2, CRITICAL 3, and an open alert's severity only ever rises.
    """

    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for NORMAL up to 3 for CRITICAL: compare ranks, never the strings."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK: Mapping[str, int] = MappingProxyType(
    {Severity.NORMAL: 0, Severity.HIGH: 1, Severity.URGENT: 2, Severity.CRITICAL: 3}
)


def severity_rank(severity: str) -> int:
    """Rank of a severity given as a member or its string value (``"high"`` -> 1).

    Raises ``ValueError`` for a string that is not one of ``Severity.values``.
    """
    return Severity(severity).rank


@dataclass(frozen=True)
class SymptomAnswers:
    flushing_per_day: float
    stools_per_day: float
    wheezing: bool  # wheezing or shortness of breath with flushing
    abdominal_pain: int  # 0–10
    vomiting: bool
    no_stool_or_gas: bool  # no stool or wind for more than a day
    palpitations_or_swelling: bool
    weight_loss_kg: float  # since the last check


@dataclass(frozen=True)
class Finding:
    kind: str
    severity: str
    reason: str
    advice: str  # for the coordinator
    patient_advice: str | None = None  # told to the patient at once by app and message
    source: str = SOURCE_SYMPTOM_SCORING


@dataclass(frozen=True)
class SymptomAssessment:
    carcinoid_syndrome_suspected: bool
    obstruction_suspected: bool
    carcinoid_heart_suspected: bool
    weight_loss_flag: bool
    carcinoid_crisis_suspected: bool
    findings: tuple[Finding, ...]

    @property
    def positive(self) -> bool:
        """True when any alert is raised (the symptom check's ``escalated``)."""
        return bool(self.findings)

    @property
    def highest_severity(self) -> str | None:
        if not self.findings:
            return None
        return max((Severity(f.severity) for f in self.findings), key=severity_rank)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_symptom_answers(answers: SymptomAnswers) -> dict[str, list[str]]:
    """Field errors for answers outside CLINICAL.md §5's ranges; empty when valid."""
    errors: dict[str, list[str]] = {}
    for field, (low, high) in SYMPTOM_RANGES.items():
        value = getattr(answers, field)
        if not _is_number(value) or not math.isfinite(value):
            errors.setdefault(field, []).append("Must be a number.")
            continue
        if field == "abdominal_pain" and not float(value).is_integer():
            errors.setdefault(field, []).append("Must be a whole number from 0 to 10.")
            continue
        if not (low <= value <= high):
            errors.setdefault(field, []).append(
                f"Must be between {low:g} and {high:g} (CLINICAL.md §5)."
            )
    for field in _SYMPTOM_FLAGS:
        if not isinstance(getattr(answers, field), bool):
            errors.setdefault(field, []).append("Must be yes or no (true or false).")
    return errors


def assess_symptoms(answers: SymptomAnswers) -> SymptomAssessment:
    """Score a symptom check exactly as CLINICAL.md §5 says. Invalid answers raise ValueError."""
    errors = validate_symptom_answers(answers)
    if errors:
        raise ValueError(f"Invalid symptom answers: {errors}")

    flushing = answers.flushing_per_day
    stools = answers.stools_per_day
    any_flushing = flushing > 0
    # The wheeze question is asked "with flushing": without flushing it is not the syndrome.
    wheeze_with_flushing = answers.wheezing and any_flushing

    syndrome_reasons: list[str] = []
    if flushing >= SYNDROME_FLUSHING_WITH_DIARRHOEA_PER_DAY and stools >= SYNDROME_STOOLS_PER_DAY:
        syndrome_reasons.append(
            f"flushing {flushing:g} a day with {stools:g} bowel movements a day "
            f"(≥ {SYNDROME_FLUSHING_WITH_DIARRHOEA_PER_DAY:g} with ≥ {SYNDROME_STOOLS_PER_DAY:g}; "
            f"{SOURCE_TELESTAR})"
        )
    if flushing >= SYNDROME_FLUSHING_ALONE_PER_DAY:
        syndrome_reasons.append(
            f"flushing {flushing:g} a day (≥ {SYNDROME_FLUSHING_ALONE_PER_DAY:g})"
        )
    if wheeze_with_flushing:
        syndrome_reasons.append("wheezing or shortness of breath with flushing")
    syndrome = bool(syndrome_reasons)

    obstruction_reasons: list[str] = []
    if answers.vomiting and answers.no_stool_or_gas:
        obstruction_reasons.append("vomiting with no stool or wind for more than a day")
    if answers.abdominal_pain >= OBSTRUCTION_PAIN_SCORE and (
        answers.vomiting or answers.no_stool_or_gas
    ):
        obstruction_reasons.append(
            f"abdominal pain {answers.abdominal_pain}/10 (≥ {OBSTRUCTION_PAIN_SCORE}) with "
            + ("vomiting" if answers.vomiting else "no stool or wind")
        )
    obstruction = bool(obstruction_reasons)

    heart = answers.palpitations_or_swelling
    weight = answers.weight_loss_kg >= WEIGHT_LOSS_ALERT_KG
    # Severe breathlessness or wheeze together with flushing: possible carcinoid crisis. The
    # questionnaire has no fainting item, so wheeze with flushing is the only trigger here.
    crisis = wheeze_with_flushing

    findings: list[Finding] = []
    if crisis:
        findings.append(
            Finding(
                kind=AlertKind.CARCINOID_CRISIS,
                severity=Severity.URGENT,
                reason="Wheezing or shortness of breath together with flushing: possible "
                "carcinoid crisis.",
                advice="Urgent: contact the patient now and confirm emergency care was sought.",
                patient_advice="Seek emergency care now: call the emergency number or go to the "
                "nearest emergency department, and say you have a neuroendocrine tumour.",
            )
        )
    if obstruction:
        findings.append(
            Finding(
                kind=AlertKind.OBSTRUCTION,
                severity=Severity.URGENT,
                reason="Possible bowel obstruction: " + "; ".join(obstruction_reasons) + ".",
                advice="Urgent: contact the patient today; mesenteric disease can obstruct the "
                "bowel and may need emergency surgery.",
                patient_advice="Please seek medical care today: vomiting, severe abdominal pain "
                "or no stool or wind can mean a blocked bowel.",
            )
        )
    if syndrome:
        findings.append(
            Finding(
                kind=AlertKind.CARCINOID_SYNDROME,
                severity=Severity.HIGH,
                reason="Carcinoid syndrome suspected: " + "; ".join(syndrome_reasons) + ".",
                advice="Ask for chromogranin A and 24-hour urinary 5-HIAA and bring imaging "
                "forward: new flushing or diarrhoea can signal recurrence in the liver. "
                f"{PREPARATION_5HIAA} {PREPARATION_CGA}",
            )
        )
    if heart:
        findings.append(
            Finding(
                kind=AlertKind.CARCINOID_HEART,
                severity=Severity.HIGH,
                reason="Palpitations or swelling of the legs or abdomen: possible carcinoid heart "
                "disease.",
                advice="Arrange NT-proBNP and echocardiography.",
            )
        )
    if weight:
        findings.append(
            Finding(
                kind=AlertKind.WEIGHT_LOSS,
                severity=Severity.NORMAL,
                reason=f"Weight loss of {answers.weight_loss_kg:g} kg since the last check "
                f"(≥ {WEIGHT_LOSS_ALERT_KG:g} kg).",
                advice="Review the weight loss with the clinician and consider nutrition "
                "screening.",
            )
        )

    return SymptomAssessment(
        carcinoid_syndrome_suspected=syndrome,
        obstruction_suspected=obstruction,
        carcinoid_heart_suspected=heart,
        weight_loss_flag=weight,
        carcinoid_crisis_suspected=crisis,
        findings=tuple(findings),
    )


# ---------------------------------------------------------------------------------------------
# Results: which imaging counts, what to warn about, lab analytes and units (CLINICAL.md §2, §6)
# ---------------------------------------------------------------------------------------------

SOURCE_IMAGING_MODALITY = (
    "CLINICAL.md §2 'imaging modality': multiphase CT or MRI (guideline summary 2025; liver MRI "
    "with diffusion weighting is the more sensitive for liver metastases)"
)
SOURCE_FUNCTIONAL_IMAGING = (
    "CLINICAL.md §2 'functional imaging': Octreoscan, SSTR-PET and FDG-PET are not for routine "
    "surveillance, only for suspected recurrence (guideline summary 2025; SSTR-PET also decides "
    "PRRT eligibility)"
)
SOURCE_CGA_PPI = (
    "CLINICAL.md §2 'chromogranin A': proton-pump inhibitors (also renal failure, atrophic "
    "gastritis, heart failure) raise CgA falsely; use the same assay over time"
)
SOURCE_LAB_UNITS = "CLINICAL.md §6: lab values negative or with a unit not allowed are refused"
SOURCE_LAB_CEILING = (
    "Product choice: plausibility ceilings far above any value a patient can have, so that a "
    "misplaced decimal point or a wrong unit is refused (CLINICAL.md §6 'absurd values')"
)

# Only multiphase CT or MRI answers the surveillance imaging item (CLINICAL.md §2); other
# studies are recorded but leave the item due.
SURVEILLANCE_IMAGING_MODALITIES = frozenset({"ct", "mri"})
FUNCTIONAL_IMAGING_MODALITIES = frozenset({"sstr_pet", "octreoscan", "fdg_pet"})
_ROUTINE_PURPOSE = "surveillance"


@dataclass(frozen=True)
class Notice:
    """A warning attached to an accepted input: the thing is recorded, the reader is told."""

    code: str
    detail: str
    source: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail, "source": self.source}


def imaging_warnings(modality: str, purpose: str) -> list[Notice]:
    """Warnings for an imaging study that happened but is not what surveillance asks for."""
    if purpose != _ROUTINE_PURPOSE:
        return []
    if modality in FUNCTIONAL_IMAGING_MODALITIES:
        return [
            Notice(
                "functional_imaging_not_for_surveillance",
                "Functional imaging (Octreoscan, SSTR-PET, FDG-PET) is not for routine "
                "surveillance: use it when recurrence is suspected or to decide PRRT. The study "
                "is recorded; the multiphase CT or MRI surveillance imaging stays due.",
                SOURCE_FUNCTIONAL_IMAGING,
            )
        ]
    if modality not in SURVEILLANCE_IMAGING_MODALITIES:
        return [
            Notice(
                "not_surveillance_imaging",
                f"Surveillance imaging is multiphase CT or MRI, not {modality}. The study is "
                "recorded; the surveillance imaging stays due.",
                SOURCE_IMAGING_MODALITY,
            )
        ]
    return []


@dataclass(frozen=True)
class LabUnit:
    unit: str  # the spelling stored
    ceiling: float  # plausibility ceiling in this unit (SOURCE_LAB_CEILING)
    aliases: tuple[str, ...] = ()  # other spellings accepted on input


@dataclass(frozen=True)
class Analyte:
    label: str
    units: tuple[LabUnit, ...]
    source: str


_MICRO_G_L = ("μg/L", "ug/L", "mcg/L")  # Greek mu and ASCII spellings of the micro sign

LAB_ANALYTES: Mapping[str, Analyte] = MappingProxyType(
    {
        # CgA and 5-HIAA units are listed in CLINICAL.md §6; 1 nmol/L of CgA is about 49 ng/mL,
        # so the ceilings agree across units.
        "chromogranin_a": Analyte(
            "chromogranin A",
            (
                LabUnit("ng/mL", 1_000_000),
                LabUnit("µg/L", 1_000_000, _MICRO_G_L),
                LabUnit("nmol/L", 20_000),
                LabUnit("U/L", 100_000),
            ),
            f"{SOURCE_LAB_UNITS} (chromogranin A: ng/mL, µg/L, nmol/L, U/L)",
        ),
        # 1 mg of 5-HIAA is 5.23 µmol.
        "u5hiaa": Analyte(
            "24-hour urinary 5-HIAA",
            (
                LabUnit("mg/24h", 10_000, ("mg/24 h", "mg/d", "mg/day")),
                LabUnit("µmol/24h", 50_000, ("μmol/24h", "umol/24h", "µmol/d", "umol/d")),
            ),
            f"{SOURCE_LAB_UNITS} (5-HIAA: mg/24h, µmol/24h)",
        ),
        # NT-proBNP screens for carcinoid heart disease (CLINICAL.md §5).
        "nt_probnp": Analyte(
            "NT-proBNP",
            (LabUnit("pg/mL", 1_000_000), LabUnit("ng/L", 1_000_000)),
            "CLINICAL.md §5 (possible carcinoid heart disease: NT-proBNP and echocardiography)",
        ),
        # Vitamin B12 yearly after ileal resection or on SSA (CLINICAL.md §3); 1 pg/mL = 0.738
        # pmol/L.
        "vitamin_b12": Analyte(
            "vitamin B12",
            (LabUnit("pg/mL", 100_000), LabUnit("pmol/L", 75_000)),
            "CLINICAL.md §3 (after ileal resection or on SSA: vitamin B12 yearly)",
        ),
        # Glucose is monitored on everolimus (CLINICAL.md §3); 1 mmol/L = 18 mg/dL.
        "glucose": Analyte(
            "glucose",
            (LabUnit("mmol/L", 200), LabUnit("mg/dL", 3_600)),
            "CLINICAL.md §3 (everolimus: glucose, lipids, blood counts)",
        ),
    }
)
CGA = "chromogranin_a"


def _unit_key(unit: str) -> str:
    return "".join(unit.split()).casefold()


def lab_unit(analyte: str, unit: str) -> LabUnit | None:
    """The allowed unit matching ``unit`` (spacing and case aside), or None if not allowed."""
    spec = LAB_ANALYTES.get(analyte)
    if spec is None or not isinstance(unit, str):
        return None
    key = _unit_key(unit)
    for allowed in spec.units:
        if key in {_unit_key(u) for u in (allowed.unit, *allowed.aliases)}:
            return allowed
    return None


@dataclass(frozen=True)
class LabCheck:
    unit: str | None  # the stored spelling of the unit when it is allowed
    errors: Mapping[str, list[str]]
    warnings: tuple[Notice, ...]


def check_lab_result(analyte: str, value: object, unit: str, on_ppi: bool | None) -> LabCheck:
    """Field errors (refuse) and warnings (accept) for a lab result (CLINICAL.md §2, §6)."""
    errors: dict[str, list[str]] = {}
    spec = LAB_ANALYTES.get(analyte) if isinstance(analyte, str) else None
    if spec is None:
        errors["analyte"] = [f"Unknown analyte. Expected one of: {', '.join(LAB_ANALYTES)}."]
        return LabCheck(None, errors, ())

    allowed = lab_unit(analyte, unit)
    if allowed is None:
        errors["unit"] = [
            f"Unit {unit!r} is not allowed for {spec.label}: use "
            f"{', '.join(u.unit for u in spec.units)} ({spec.source})."
        ]

    # Decimal comes from serializers and the admin; a signalling NaN cannot even be float()ed.
    if isinstance(value, Decimal):
        number = float(value) if value.is_finite() else None
    else:
        number = float(value) if _is_number(value) else None  # type: ignore[arg-type]
    if number is None or not math.isfinite(number):
        errors["value"] = ["Must be a number."]
    elif number < 0:
        errors["value"] = [f"A {spec.label} value cannot be negative ({SOURCE_LAB_UNITS})."]
    elif allowed is not None and number > allowed.ceiling:
        errors["value"] = [
            f"{value} {allowed.unit} is not a possible {spec.label} value (above "
            f"{allowed.ceiling:,g} {allowed.unit}): check the decimal point and the unit "
            f"({SOURCE_LAB_CEILING})."
        ]

    warnings: list[Notice] = []
    if analyte == CGA and on_ppi is True:
        warnings.append(
            Notice(
                "cga_on_ppi",
                "Chromogranin A measured on a proton-pump inhibitor: PPIs raise CgA falsely, so "
                "a rise may not mean recurrence. Compare with results from the same assay.",
                SOURCE_CGA_PPI,
            )
        )
    return LabCheck(allowed.unit if allowed else None, errors, tuple(warnings))
