"""What is due next on one course: plan + what was done + today -> due items.

Pure: ``today`` is an argument, so the API, the admin, the periodic sweep and the tests get
the same answer and can show *why* an item is due.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from . import monitoring
from .facts import CLOSED, DueItem, Facts, Kind, Status, _months, _Planned
from .imaging import _next_imaging
from .plans import DUE_WINDOW_DAYS, SSA_WINDOW_DAYS, PlanParams
from .sources import (
    SOURCE_SURGERY_FLOOR,
    SOURCE_SYMPTOM_CHECK,
    SOURCE_VISIT,
)


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


# Kinds whose rhythm the course's lines set, so an event can restart it.
_LINE_RHYTHM_KINDS = frozenset(
    {Kind.SSA_INJECTION, Kind.PRRT_LABS, Kind.BLOOD_COUNTS, Kind.METABOLIC_PANEL}
)


def _item(kind: Kind, planned: _Planned, facts: Facts, today: date) -> DueItem:
    due_on, why, source = planned.due_on, planned.why, planned.source
    window_start, window_end = planned.window_start, planned.window_end
    if due_on < facts.surgery_on:
        # Only reachable from facts recorded before the course opened (docs/clinical-rules.md#dates
        # refuses those); clamping keeps the sweep going instead of scheduling into the past.
        due_on = facts.surgery_on
        window_start = window_end = None
        why = (
            f"{why}. Moved to the date of surgery ({facts.surgery_on.isoformat()}): nothing is "
            "due before the operation that opened the course"
        )
        source = f"{source}; {SOURCE_SURGERY_FLOOR}"
    entered = facts.state_entered_on
    if (
        kind in _LINE_RHYTHM_KINDS
        and entered is not None
        and due_on < entered
        and facts.surgery_on <= entered
    ):
        # A line's rhythm that the event changed would date the item before the event itself
        # (an injection falling back to its interval when PRRT stops): it is due from the
        # event's day, never born overdue. Other kinds keep their date, overdue or not.
        due_on, window_start, window_end = entered, None, None
        why = f"{why}. Due from {entered.isoformat()}, when the course entered {facts.state}"
    if window_start is None:
        if kind is Kind.SSA_INJECTION:
            window_start = due_on - timedelta(days=SSA_WINDOW_DAYS)
            window_end = due_on + timedelta(days=SSA_WINDOW_DAYS)
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
    """Everything due next on the course, sorted by due date then kind; one item per kind.

    Imaging (surveillance, restaging or response), a visit on the imaging's date, CgA (if
    elevated before surgery) and 24-hour urinary 5-HIAA (functional tumour or carcinoid
    syndrome) with each imaging or at once after a positive symptom check, the symptom check,
    the SSA injection per open line, NT-proBNP and echocardiography (carcinoid heart disease),
    vitamins B12 and D, PRRT labs, blood counts and the metabolic panel on the lines that need
    them (docs/clinical-rules.md#version-2-surveillance-and-monitoring). A closed course has nothing due.
    Raises ValueError when ``on_ssa`` is set with no line start nor injection to count from.
    """
    if facts.state == CLOSED:
        return []
    planned: dict[Kind, _Planned | None] = {}

    imaging = _next_imaging(plan, facts)
    planned[Kind.IMAGING] = imaging
    if imaging is not None:
        planned[Kind.VISIT] = _Planned(
            imaging.due_on,
            "Clinic visit with history and examination, with each imaging study: ask about "
            "symptoms of hormonal excess (flushing, diarrhoea, wheeze) and of bowel obstruction "
            "(guideline summary 2025; NCCN)",
            SOURCE_VISIT,
        )
    planned[Kind.CGA] = monitoring.cga(facts, imaging)
    planned[Kind.U5HIAA] = monitoring.u5hiaa(facts, imaging)

    months = plan.symptom_check_months_on_ssa if facts.on_ssa else plan.symptom_check_months
    check_base = facts.last_symptom_check_on or facts.anchor_on
    check_on = check_base + _months(months)
    entered = facts.state_entered_on
    if entered is not None and check_on < entered <= check_base + _months(
        plan.symptom_check_months
    ):
        # The shorter cadence on SSA starts with the line: a check that was not yet due under
        # the usual cadence is due from the line's start, not before it.
        check_on = entered
    planned[Kind.SYMPTOM_CHECK] = _Planned(
        check_on,
        f"Carcinoid-syndrome symptom check every {months} month"
        f"{'' if months == 1 else 's'}{' while on SSA' if facts.on_ssa else ''} "
        f"({plan.risk_group} risk): new flushing or diarrhoea can signal recurrence in the liver",
        SOURCE_SYMPTOM_CHECK,
    )

    ssa = facts.open_ssa_lines()
    planned[Kind.SSA_INJECTION] = monitoring.ssa_injection(facts, ssa)
    planned[Kind.NT_PROBNP] = monitoring.nt_probnp(facts)
    planned[Kind.ECHOCARDIOGRAPHY] = monitoring.echocardiography(facts)
    planned[Kind.VITAMIN_B12] = monitoring.vitamin_b12(facts, ssa)
    planned[Kind.VITAMIN_D] = monitoring.vitamin_d(facts, ssa)
    planned[Kind.PRRT_LABS] = monitoring.prrt_labs(facts)
    planned[Kind.BLOOD_COUNTS] = monitoring.blood_counts(facts)
    planned[Kind.METABOLIC_PANEL] = monitoring.metabolic_panel(facts)

    items = [
        _item(kind, value, facts, today) for kind, value in planned.items() if value is not None
    ]
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
    """The course's next deadline (docs/architecture.md#what-is-due: denormalised and indexed for
    the sweep)."""
    return min((item.due_on for item in items), default=None)
