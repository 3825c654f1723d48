"""Coordinator alerts: open one per course and kind, count its occurrences, acknowledge, resolve."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import with_history
from core.errors import NotFound
from surveillance.schedule import Severity
from treatments.models import Course
from treatments.roles import system_user
from treatments.selectors import courses_visible_to

from ..models import CoordinatorAlert, Reminder

logger = logging.getLogger(__name__)

# Alert kinds raised here (symptom findings use surveillance.schedule.AlertKind).
ALERT_REMINDER_FAILED = "reminder_failed"
ALERT_DECISION_PENDING = "decision_pending"
ALERT_GUARD_OVERRIDDEN = "guard_overridden"
# A result stored without its event: its date breaks the date order (docs/api.md#dates).
ALERT_RESULT_OUT_OF_ORDER = "result_out_of_order"


def rank_of(severity: str) -> int:
    """The rank of a stored severity (Severity.rank); 0, as for NORMAL, for a value outside
    the scale: a row holding an unknown value is compared, not a crash of the run."""
    return Severity(severity).rank if severity in Severity.values else 0


def alert_raise(
    *,
    course: Course | int,
    kind: str,
    severity: str,
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    reason: str = "",
    same_when: tuple[str, ...] = (),
) -> CoordinatorAlert:
    """Open an alert, or add an occurrence to the open one of the same course and kind.

    Severity only rises. Safe under concurrency: the partial unique constraint lets one
    insert win; the loser retries and finds the open alert. `same_when` names detail keys
    that identify one occurrence (an overdue item's due date): an open alert with the same
    values and no lower severity is that occurrence already, seen by a concurrent run.
    """
    if severity not in Severity.values:
        raise ValueError(f"unknown severity {severity!r}")
    course_id = course.pk if isinstance(course, Course) else int(course)
    now = now or timezone.now()
    details = dict(details or {})
    actor = system_user()
    for attempt in range(3):
        try:
            with transaction.atomic():
                alert = (
                    CoordinatorAlert.objects.select_for_update()
                    .filter(course_id=course_id, kind=kind, resolved_at__isnull=True)
                    .first()
                )
                if alert is None:
                    alert = CoordinatorAlert(
                        course_id=course_id,
                        kind=kind,
                        severity=severity,
                        opened_at=now,
                        last_seen_at=now,
                        details=details,
                    )
                    with_history(alert, actor=actor, reason=reason or f"{kind} raised")
                elif (
                    same_when
                    and all(alert.details.get(key) == details.get(key) for key in same_when)
                    and rank_of(alert.severity) >= rank_of(severity)
                ):
                    return alert
                else:
                    alert.occurrences += 1
                    alert.last_seen_at = now
                    if rank_of(severity) > rank_of(alert.severity):
                        alert.severity = severity
                    alert.details = {**alert.details, **details}
                    with_history(alert, actor=actor, reason=reason or f"{kind} seen again")
                alert.save()
                return alert
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _visible_alert(alert: CoordinatorAlert, actor: AbstractBaseUser) -> CoordinatorAlert:
    try:
        return CoordinatorAlert.objects.select_for_update().get(
            pk=alert.pk, course__in=courses_visible_to(actor)
        )
    except CoordinatorAlert.DoesNotExist:
        raise NotFound("No such alert.") from None


def alert_acknowledge(
    *, alert: CoordinatorAlert, actor: AbstractBaseUser, now: datetime | None = None
) -> CoordinatorAlert:
    """A coordinator has seen the alert; acknowledging twice changes nothing."""
    with transaction.atomic():
        locked = _visible_alert(alert, actor)
        if locked.acknowledged_at is not None:
            return locked
        locked.acknowledged_by = actor
        locked.acknowledged_at = now or timezone.now()
        with_history(locked, actor=actor, reason="acknowledged")
        locked.save()
    return locked


def alert_resolve(
    *, alert: CoordinatorAlert, actor: AbstractBaseUser, note: str = "", now: datetime | None = None
) -> CoordinatorAlert:
    """Close the alert with a note; the next occurrence of its kind opens a new one."""
    with transaction.atomic():
        locked = _visible_alert(alert, actor)
        if locked.resolved_at is not None:
            return locked
        when = now or timezone.now()
        if locked.acknowledged_at is None:
            locked.acknowledged_by, locked.acknowledged_at = actor, when
        locked.resolved_by = actor
        locked.resolved_at = when
        locked.note = note
        with_history(locked, actor=actor, reason=f"resolved: {note}" if note else "resolved")
        locked.save()
    return locked


def alert_reminder_failed(reminder: Reminder, *, now: datetime) -> None:
    """Raise (or count again) the course's `reminder_failed` alert; a failure to do so is
    logged, never raised: the reminder's own outcome is already written."""
    try:
        alert_raise(
            course=reminder.course_id,
            kind=ALERT_REMINDER_FAILED,
            severity=Severity.NORMAL,
            details={
                "reminder_id": reminder.pk,
                "reminder_kind": reminder.kind,
                "channel": reminder.channel,
                "due_on": reminder.due_on.isoformat(),
                "error": reminder.last_error[:500],
            },
            now=now,
            reason=f"{reminder.channel} reminder {reminder.pk} failed",
        )
    except Exception:
        logger.exception("could not raise the alert for failed reminder %s", reminder.pk)
