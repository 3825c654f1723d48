"""What every surveillance service shares: reading and locking the course, input checks,
recording the clinical event a result implies.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils import timezone

from core.errors import (
    Conflict,
    DomainError,
    GuidelineGuard,
    InvalidInput,
    TransitionNotAllowed,
)
from treatments import machine, staging
from treatments import services as treatment_services
from treatments.models import Course, CourseEvent

from .. import schedule

NOTES_MAX = 5000


class CourseClosed(Conflict):
    """409: nothing is recorded on a closed course (docs/clinical-rules.md#closed-courses)."""

    code = "course_closed"


def _today() -> dt.date:
    return timezone.localdate()


def _risk_group_or_none(value: Any) -> schedule.RiskGroup | None:
    try:
        return schedule.RiskGroup(value)
    except ValueError:
        return None  # validate_plan reports it with its code


def _issue_dict(issue: schedule.PlanIssue) -> dict[str, Any]:
    return {"field": issue.field, "code": issue.code, "detail": issue.message}


def _course(course: Course | int) -> Course:
    """A fresh read: a caller's instance may predate an event that changed the state."""
    pk = course.pk if isinstance(course, Course) else course
    return Course.objects.select_related("surgery", "diagnosis", "current_line", "patient").get(
        pk=pk
    )


def _lock_open(course: Course) -> Course:
    """Lock the course row and refuse a closed course; call inside a transaction.

    ``of=("self",)`` locks the course row only: PostgreSQL cannot lock the nullable side of the
    outer join that fetches the current line.
    """
    locked = (
        Course.objects.select_for_update(of=("self",))
        .select_related("surgery", "diagnosis", "current_line")
        .get(pk=course.pk)
    )
    if locked.state == machine.State.CLOSED:
        raise CourseClosed(
            f"Course {locked.pk} is closed ({locked.closed_reason or 'closed'}): nothing more "
            "is recorded on it.",
            state=locked.state,
        )
    return locked


def _date_errors(name: str, value: Any, course: Course, today: dt.date) -> dict[str, list[str]]:
    """docs/clinical-rules.md#dates: a result is dated neither in the future nor before the surgery.

    Nor before the patient's birth date: the staging module's date rule, asked here.
    """
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        return {name: ["Enter a date (YYYY-MM-DD)."]}
    if value > today:
        return {name: ["Cannot be in the future."]}
    issue = staging.clinical_date_issue(value, birth_date=course.patient.birth_date)
    if issue:
        return {name: [issue]}
    surgery_on = course.surgery.performed_on
    if value < surgery_on:
        return {
            name: [
                f"Cannot be before the surgery that opened the course ({surgery_on.isoformat()})."
            ]
        }
    return {}


def _choice_errors(name: str, value: Any, choices: type[models.TextChoices]) -> dict:
    if value not in choices.values:
        return {name: [f"Expected one of: {', '.join(choices.values)}."]}
    return {}


def _notes_errors(notes: Any) -> dict[str, list[str]]:
    if not isinstance(notes, str):
        return {"notes": ["Must be text."]}
    if len(notes) > NOTES_MAX:
        return {"notes": [f"At most {NOTES_MAX} characters."]}
    return {}


def _model_errors(instance: models.Model, exclude: list[str]) -> dict[str, list[str]]:
    """Field errors the model itself knows (decimal places, digits), as InvalidInput wants."""
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        return {
            name: [m for e in errs for m in e.messages] for name, errs in exc.error_dict.items()
        }
    return {}


def _as_decimal(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return value


def _refusal_warning(event_type: str, refused: DomainError) -> dict[str, Any]:
    return {
        "code": "event_not_recorded",
        "detail": f"Recorded, but {event_type} was not: {refused.detail}",
        "event": str(event_type),
        "refusal": refused.as_body(),
    }


def _is_date_order(refused: DomainError) -> bool:
    # The result's own date was checked before any write (future, before surgery or birth),
    # so the event log's only remaining 400 on "occurred_on" alone is the date-order rule.
    errors = getattr(refused, "errors", None) or {}
    return isinstance(refused, InvalidInput) and set(errors) == {"occurred_on"}


def _out_of_order_warning(
    course: Course, event_type: str, occurred_on: dt.date, refused: DomainError
) -> dict[str, Any]:
    """The warning for an event refused by the date order, naming the event it conflicts with.

    That is the event that brought the course into its state when the result is dated before
    it, else the latest event of the same kind dated after the result (docs/api.md#dates).
    """
    facts = treatment_services.course_facts(course)
    conflicts_with: str | None = None
    conflict_on: dt.date | None = None
    if facts.state_entered_on is not None and occurred_on < facts.state_entered_on:
        conflicts_with = facts.state_entered_by or "registration"
        conflict_on = facts.state_entered_on
    else:
        later = (
            CourseEvent.objects.filter(course=course, type=event_type, occurred_on__gt=occurred_on)
            .order_by("-occurred_on")
            .first()
        )
        if later is not None:
            conflicts_with, conflict_on = later.type, later.occurred_on
    against = f" {conflicts_with} on {conflict_on.isoformat()}" if conflict_on else " the log"
    return {
        "code": "event_out_of_order",
        "detail": (
            f"Recorded, but {event_type} on {occurred_on.isoformat()} was not: it is dated "
            f"before{against}. A clinician must review it and record the event as a "
            "correction, or correct the result's date."
        ),
        "event": str(event_type),
        "occurred_on": occurred_on.isoformat(),
        "conflicts_with": conflicts_with,
        "conflict_on": conflict_on.isoformat() if conflict_on else None,
        "refusal": refused.as_body(),
    }


def _record_result_event(
    *,
    course: Course,
    actor: AbstractBaseUser,
    type: str,
    occurred_on: dt.date,
    data: dict[str, Any],
    reason: str,
    source: models.Model,
    name_date_order: bool = False,
) -> tuple[CourseEvent | None, list[dict[str, Any]]]:
    """Record the event a result implies; a refusal becomes a warning, the result stays.

    The study or check happened whatever the state machine says, so it is kept; the savepoint
    rolls back only the refused event. Input errors of our own were caught before any write,
    so an InvalidInput here is the event log's own rule (e.g. an earlier-dated duplicate).
    With ``name_date_order``, a refusal by the date-order rule (docs/api.md#dates) becomes an
    ``event_out_of_order`` warning naming the event and date it conflicts with
    (``conflicts_with``, ``conflict_on``: ISO date or None) instead of ``event_not_recorded``.
    """
    try:
        with transaction.atomic():
            recorded = treatment_services.record_event(
                course=course,
                type=type,
                occurred_on=occurred_on,
                data=data,
                actor=actor,
                # record_event writes the reason into history rows too: keep it in the column.
                reason=reason or "",
                source=source,
            )
    except (TransitionNotAllowed, GuidelineGuard, InvalidInput) as refused:
        if name_date_order and _is_date_order(refused):
            return None, [_out_of_order_warning(course, type, occurred_on, refused)]
        return None, [_refusal_warning(type, refused)]
    warnings = [
        {"code": w.get("guard", "event_warning"), "detail": w.get("reason", ""), "event": type}
        for w in recorded.warnings
    ]
    return recorded.event, warnings
