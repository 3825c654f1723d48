"""What is due next on one course: plan + what was done + today -> due items.

Pure: ``today`` is an argument, so the API, the admin, the periodic sweep and the tests get
the same answer and can show *why* an item is due.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from .facts import CLOSED, DueItem, Facts, Kind, Status, _months, _Planned
from .imaging import _next_imaging
from .plans import DUE_WINDOW_DAYS, SSA_INJECTION_DAYS, SSA_WINDOW_DAYS, PlanParams
from .sources import (
    SOURCE_CGA,
    SOURCE_SSA_INJECTION,
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


def _item(kind: Kind, planned: _Planned, facts: Facts, today: date) -> DueItem:
    due_on, why, source = planned.due_on, planned.why, planned.source
    if due_on < facts.surgery_on:
        # Only reachable from facts recorded before the course opened (docs/clinical-rules.md#dates
        # refuses those); clamping keeps the sweep going instead of scheduling into the past.
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
    """The course's next deadline (docs/architecture.md#what-is-due: denormalised and indexed for
    the sweep)."""
    return min((item.due_on for item in items), default=None)
