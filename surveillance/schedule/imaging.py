"""When the next imaging is due: surveillance intervals, response imaging, the 12-month cap.

Pure: plan and facts in, a planned date with its reason and source out.
"""

from __future__ import annotations

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta

from .facts import (
    ACTIVE_LINE_STATES,
    CLOSED,
    NO_LINE_REASON,
    NO_LINE_STATES,
    RESTAGING_REASON,
    RESTAGING_STATES,
    SURVEILLANCE,
    Facts,
    _imaging_since_anchor,
    _months,
    _Planned,
)
from .plans import (
    EARLY_PHASE_YEARS,
    IMAGING_CAP_MONTHS,
    LATE_PHASE_INTERVAL_MONTHS,
    LATE_PHASE_START_YEARS,
    RESPONSE_IMAGING_FIRST_MONTHS,
    RESPONSE_IMAGING_MAX_MONTHS,
    RESPONSE_IMAGING_MIN_MONTHS,
    RESTAGING_FIRST_MONTHS,
    RESTAGING_LATER_MONTHS,
    RESTAGING_NEC_MONTHS,
    RESTAGING_YEAR_ONE_MONTHS,
    PlanParams,
)
from .sources import (
    SOURCE_DURATION,
    SOURCE_FIRST_IMAGING,
    SOURCE_IMAGING_CAP,
    SOURCE_LATER_IMAGING,
    SOURCE_RESPONSE_IMAGING,
    SOURCE_RESTAGING,
    SOURCE_RISK_GROUPS,
    SOURCE_SYMPTOMS_BRING_FORWARD,
)

# A positive symptom check brings the next imaging forward to within 4 weeks
# (docs/clinical-rules.md#version-2-surveillance-and-monitoring: new symptoms are a red flag).
SYMPTOM_IMAGING_WITHIN_DAYS = 28


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def _surveillance_years_label(plan: PlanParams) -> str:
    if plan.duration_years is None:
        return f"in years 4–{LATE_PHASE_START_YEARS}"
    return f"in years 4–{min(plan.duration_years, LATE_PHASE_START_YEARS)}"


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
    late_due = last + _months(plan.late_interval_months)
    if late_due <= facts.anchor_on + relativedelta(years=LATE_PHASE_START_YEARS):
        return _Planned(
            late_due,
            f"Multiphase CT or MRI every {plan.late_interval_months} months "
            f"{_surveillance_years_label(plan)} after resection ({group}; ESMO 2020 / ENETS; "
            f"never more than {IMAGING_CAP_MONTHS} months apart)",
            SOURCE_LATER_IMAGING,
        )
    duration = "lifelong" if plan.duration_years is None else f"to year {plan.duration_years}"
    return _Planned(
        last + _months(LATE_PHASE_INTERVAL_MONTHS),
        f"Multiphase CT or MRI every {LATE_PHASE_INTERVAL_MONTHS} months from year "
        f"{LATE_PHASE_START_YEARS} after resection, {duration} ({group}; ESMO 2020: lifelong "
        "for small-intestine NET, late recurrences past 20 years)",
        SOURCE_DURATION,
    )


def _restaging_imaging(facts: Facts, last: date | None) -> _Planned:
    """Restaging in known disease without a line (docs/clinical-rules.md#version-2-surveillance-and-monitoring).

    3 months after the event that brought the course into its state, then every 3 months in the
    first year after it and every 6 after; NEC every 3 months (ESMO 2020).
    """
    reason = RESTAGING_REASON[str(facts.state)]
    entered = facts.state_entered_on
    if entered is None or entered < facts.anchor_on:
        entered = facts.anchor_on
    if last is None or last < entered:
        return _Planned(
            entered + _months(RESTAGING_FIRST_MONTHS),
            f"Restaging (multiphase CT or MRI) {RESTAGING_FIRST_MONTHS} months after "
            f"{entered.isoformat()}: {reason} (ESMO 2020: every 3–6 months in advanced disease)",
            SOURCE_RESTAGING,
        )
    if facts.nec:
        months, phase = RESTAGING_NEC_MONTHS, "for neuroendocrine carcinoma (ESMO 2020: 2–3 months)"
    elif last < entered + relativedelta(years=1):
        months, phase = RESTAGING_YEAR_ONE_MONTHS, "in the first year"
    else:
        months, phase = RESTAGING_LATER_MONTHS, "after the first year"
    return _Planned(
        last + _months(months),
        f"Restaging (multiphase CT or MRI) every {months} months {phase}: {reason} "
        "(ESMO 2020: every 3–6 months in advanced disease)",
        SOURCE_RESTAGING,
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
    elif facts.state in RESTAGING_STATES:
        planned = _restaging_imaging(facts, last)
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
                f"{planned.why}; {NO_LINE_REASON[facts.state]}: imaging stays due on the "
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
        planned = None
    return _brought_forward(planned, facts, last)


def _symptom_trigger(facts: Facts, last: date | None) -> date | None:
    """The positive check not yet answered by imaging, or None."""
    alert = facts.symptom_alert_on
    if alert is None or alert < facts.anchor_on or (last is not None and last >= alert):
        return None
    return alert


def _brought_forward(planned: _Planned | None, facts: Facts, last: date | None) -> _Planned | None:
    """A positive symptom check not yet followed by imaging brings imaging within 4 weeks.

    It also reopens imaging after completed surveillance: new symptoms are a red flag
    (docs/clinical-rules.md#version-2-surveillance-and-monitoring).
    """
    alert = _symptom_trigger(facts, last)
    if alert is None:
        return planned
    by = alert + timedelta(days=SYMPTOM_IMAGING_WITHIN_DAYS)
    if planned is not None and planned.due_on <= by:
        return planned
    why = (
        f"Imaging brought forward to within {SYMPTOM_IMAGING_WITHIN_DAYS // 7} weeks of the "
        f"positive symptom check of {alert.isoformat()}: new symptoms can signal recurrence"
    )
    if planned is not None:
        why = f"{why} (planned for {planned.due_on.isoformat()}: {planned.why})"
    source = SOURCE_SYMPTOMS_BRING_FORWARD
    return _Planned(by, why, source if planned is None else f"{source}; {planned.source}")


def surveillance_complete(plan: PlanParams, facts: Facts, today: date) -> bool:
    """True when, in surveillance, the next imaging would fall after anchor + duration.

    The course may then close with ``surveillance_completed`` (docs/clinical-rules.md#duration).
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

    docs/clinical-rules.md#allowed-ranges-and-the-12-month-cap: "a gap past 12 months is a critical
    alert". Completed surveillance and closed courses raise nothing: no further imaging is
    planned there.
    """
    if facts.state == CLOSED or surveillance_complete(plan, facts, today):
        return False
    last = _imaging_since_anchor(facts) or facts.anchor_on
    return today > last + _months(IMAGING_CAP_MONTHS)
