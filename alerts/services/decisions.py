"""Alerts that follow the course's decisions: a pending treatment decision is answered, left
unanswered too long, or a new syndrome appears in surveillance; an overdue item is done.

Rules: docs/clinical-rules.md#coordinator-alerts-that-follow-decisions. Resolutions and
escalations here are written by the system user with a reason, so the alert's history says
which event or run closed or raised it.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core.audit import with_history
from surveillance.models import ScheduledItem
from surveillance.schedule import Severity
from treatments import machine
from treatments.domain_events import CourseEventRecorded
from treatments.models import Course, CourseEvent
from treatments.roles import system_user

from .. import conf
from ..models import CoordinatorAlert
from .coordinator_alerts import ALERT_DECISION_PENDING, alert_raise

logger = logging.getLogger(__name__)

ALERT_NEW_CARCINOID_SYNDROME = "carcinoid_syndrome_in_surveillance"
# An overdue item's alert kind is the item's kind with this suffix (escalation.py).
OVERDUE_SUFFIX = "_overdue"

E = machine.EventType
# Events that are the treatment decision itself, whatever the state they were recorded in
# (a line started, a resection started, watch-and-wait, supportive care, the course closed).
DECISION_EVENTS = frozenset(
    {
        E.SSA_STARTED,
        E.PRRT_STARTED,
        E.EVEROLIMUS_STARTED,
        E.CHEMOTHERAPY_STARTED,
        E.SUPPORTIVE_CARE_STARTED,
        E.RESECTION_STARTED,
        E.WATCHFUL_WAITING_STARTED,
        E.COURSE_CLOSED,
    }
)
# The escalation of an unanswered decision happens once; this detail key records it.
CLOCK_DETAIL = "decision_clock_escalated_at"
_SEVERITY_STEP = {
    Severity.NORMAL: Severity.HIGH,
    Severity.HIGH: Severity.URGENT,
    Severity.URGENT: Severity.CRITICAL,
    Severity.CRITICAL: Severity.CRITICAL,
}


def answers_decision(event: CourseEventRecorded) -> bool:
    """Whether the event records the treatment decision a `decision_pending` alert waits for:
    any line started, a `line_changed` recorded in `progression` (the SSA escalation is the
    decision), a resection started, watch-and-wait, supportive care, or the course closed
    (docs/clinical-rules.md#coordinator-alerts-that-follow-decisions)."""
    if event.type in DECISION_EVENTS or event.to_state == machine.State.CLOSED:
        return True
    return event.type == E.LINE_CHANGED and event.from_state == machine.State.PROGRESSION


def resolve_open(
    *, course_id: int, kinds: Q, note: str, now: datetime | None = None
) -> list[CoordinatorAlert]:
    """Resolve, as the system user, the course's open alerts whose kind matches `kinds` (a Q
    on `kind`), with `note` as the reason; returns the alerts resolved (none when none is open)."""
    when = now or timezone.now()
    actor = system_user()
    resolved = []
    with transaction.atomic():
        for alert in CoordinatorAlert.objects.select_for_update().filter(
            kinds, course_id=course_id, resolved_at__isnull=True
        ):
            if alert.acknowledged_at is None:
                alert.acknowledged_by, alert.acknowledged_at = actor, when
            alert.resolved_by, alert.resolved_at, alert.note = actor, when, note[:500]
            with_history(alert, actor=actor, reason=f"resolved: {note}"[:500])
            alert.save()
            resolved.append(alert)
    return resolved


def on_decision_event(event: CourseEventRecorded) -> None:
    """Resolve the course's open `decision_pending` alert when `event` answers it; the note
    names the event (type, id and date) as the reason."""
    if not answers_decision(event):
        return
    resolve_open(
        course_id=event.course_id,
        kinds=Q(kind=ALERT_DECISION_PENDING),
        note=f"decision recorded: {event.type} (event {event.event_id}, "
        f"{event.occurred_on.isoformat()})",
    )


def _syndrome_before(event: CourseEventRecorded) -> bool:
    """Carcinoid syndrome as recorded before `event`: the newest earlier status_updated that
    mentions it, else the diagnosis."""
    earlier = (
        CourseEvent.objects.filter(
            course_id=event.course_id,
            type=E.STATUS_UPDATED,
            data__has_key="carcinoid_syndrome",
        )
        .exclude(pk=event.event_id)
        .order_by("-seq")
        .values_list("data", flat=True)
    )
    for data in earlier:
        if data.get("carcinoid_syndrome") is not None:
            return bool(data["carcinoid_syndrome"])
    course = Course.objects.select_related("diagnosis").filter(pk=event.course_id).first()
    return bool(getattr(getattr(course, "diagnosis", None), "carcinoid_syndrome", False))


def on_new_carcinoid_syndrome(event: CourseEventRecorded) -> None:
    """Carcinoid syndrome newly recorded by `status_updated` while the course is in
    `surveillance` raises a high alert: a syndrome means disease the plan assumes absent
    (docs/clinical-rules.md#coordinator-alerts-that-follow-decisions, "Facts change"; the
    schedule brings imaging forward itself)."""
    if event.type != E.STATUS_UPDATED or event.from_state != machine.State.SURVEILLANCE:
        return
    if event.data.get("carcinoid_syndrome") is not True or _syndrome_before(event):
        return
    alert_raise(
        course=event.course_id,
        kind=ALERT_NEW_CARCINOID_SYNDROME,
        severity=Severity.HIGH,
        details={
            "event_id": event.event_id,
            "event_type": event.type,
            "occurred_on": event.occurred_on.isoformat(),
        },
        reason="carcinoid syndrome recorded during surveillance: look for disease",
    )


def escalate_decision_clock(*, now: datetime | None = None) -> int:
    """Raise by one severity, once, every open `decision_pending` alert opened at least
    `conf.decision_clock_days()` days (default 28) before `now`; returns alerts raised.

    Idempotent: the first raise stamps the alert's details, and later runs (or a duplicate
    run at the same time, serialised by the row lock) skip it. Source: decision-pending
    worklists of tumour-board tracking systems
    (docs/clinical-rules.md#coordinator-alerts-that-follow-decisions, "Decision clock").
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=conf.decision_clock_days())
    actor = system_user()
    raised = 0
    candidates = CoordinatorAlert.objects.filter(
        kind=ALERT_DECISION_PENDING, resolved_at__isnull=True, opened_at__lte=cutoff
    ).exclude(details__has_key=CLOCK_DETAIL)
    for pk in list(candidates.values_list("pk", flat=True)):
        try:
            with transaction.atomic():
                alert = CoordinatorAlert.objects.select_for_update().get(pk=pk)
                if alert.resolved_at is not None or CLOCK_DETAIL in alert.details:
                    continue
                before = (
                    Severity(alert.severity)
                    if alert.severity in Severity.values
                    else Severity.NORMAL
                )
                alert.severity = _SEVERITY_STEP[before]
                alert.last_seen_at = now
                alert.details = {**alert.details, CLOCK_DETAIL: now.isoformat()}
                with_history(
                    alert,
                    actor=actor,
                    reason=f"decision pending for {conf.decision_clock_days()} days or more",
                )
                alert.save()
                raised += 1
        except Exception:
            # A poison row must not stop the run (docs/architecture.md, "A poison row does not stop a run").
            logger.exception("decision clock skipped alert %s", pk)
    return raised


def resolve_done_overdue(*, today: date, now: datetime | None = None) -> int:
    """Resolve every open overdue-item alert whose item is done: the course's item of that
    kind is no longer active, or it is due again later (its due date moved past the one the
    alert names, or it is not overdue today); returns alerts resolved."""
    resolved = 0
    open_alerts = CoordinatorAlert.objects.filter(
        resolved_at__isnull=True, kind__endswith=OVERDUE_SUFFIX
    ).values_list("pk", "course_id", "kind")
    for pk, course_id, kind in list(open_alerts):
        item_kind = kind.removesuffix(OVERDUE_SUFFIX)
        item: Any = ScheduledItem.objects.filter(
            course_id=course_id, kind=item_kind, active=True
        ).first()
        still_overdue = (
            item is not None
            and item.due_on < today
            and (item.window_end is None or item.window_end < today)
        )
        if still_overdue:
            continue
        done = resolve_open(
            course_id=course_id,
            kinds=Q(pk=pk),
            note=f"{item_kind} done: no longer overdue on {today.isoformat()}",
            now=now,
        )
        resolved += len(done)
    return resolved
