"""Escalation: every overdue scheduled item becomes (or refreshes) a coordinator alert."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from surveillance import schedule
from surveillance import services as surveillance_services
from surveillance.models import ScheduledItem
from surveillance.schedule import Severity
from treatments import machine

from ..models import CoordinatorAlert
from .coordinator_alerts import alert_raise, rank_of
from .decisions import OVERDUE_SUFFIX, escalate_decision_clock, resolve_done_overdue

logger = logging.getLogger(__name__)

# How urgent an overdue item is for the coordinator worklist. Imaging and injections carry
# the disease-control risk; the 12-month imaging gap is critical (docs/clinical-rules.md,
# "Allowed ranges and the 12-month cap"), decided by surveillance.schedule.imaging_gap_exceeded,
# not here.
OVERDUE_SEVERITY = {
    schedule.Kind.IMAGING: Severity.HIGH,
    schedule.Kind.SSA_INJECTION: Severity.HIGH,
    schedule.Kind.VISIT: Severity.NORMAL,
    schedule.Kind.CGA: Severity.NORMAL,
    schedule.Kind.SYMPTOM_CHECK: Severity.NORMAL,
}


def _overdue_alert(item: ScheduledItem, today: date) -> tuple[str, str, dict[str, Any]]:
    kind = f"{item.kind}{OVERDUE_SUFFIX}"
    severity = OVERDUE_SEVERITY.get(item.kind, Severity.NORMAL)
    details: dict[str, Any] = {
        "item": item.kind,
        "due_on": item.due_on.isoformat(),
        "why": item.why[:500],
    }
    if item.kind == schedule.Kind.IMAGING:
        course = item.course
        if schedule.imaging_gap_exceeded(
            course.plan.params(), surveillance_services.facts_for(course), today
        ):
            severity = Severity.CRITICAL
            details["imaging_gap_exceeded"] = True
            details["source"] = schedule.SOURCE_IMAGING_CAP
    return kind, severity, details


def escalate(*, today: date, now: datetime | None = None, chunk_size: int = 500) -> int:
    """Raise or refresh a coordinator alert for every overdue item, resolve those of items
    done since, and escalate unanswered decisions (decisions.py); returns alerts written.

    Reads overdue items in keyset pages (never all courses in memory), and writes only when
    something is new (another due date, a higher severity), so an hourly run over the same
    backlog writes nothing. One item that cannot be assessed is logged and skipped.
    """
    now = now or timezone.now()
    overdue = (
        ScheduledItem.objects.filter(active=True, due_on__lt=today)
        .filter(Q(window_end__isnull=True) | Q(window_end__lt=today))
        .exclude(course__state=machine.State.CLOSED)
        .select_related(
            "course__plan", "course__surgery", "course__diagnosis", "course__current_line"
        )
        .order_by("pk")
    )
    written = 0
    last_pk = 0
    while True:
        chunk = list(overdue.filter(pk__gt=last_pk)[:chunk_size])
        if not chunk:
            break
        last_pk = chunk[-1].pk
        open_alerts = {
            (alert.course_id, alert.kind): alert
            for alert in CoordinatorAlert.objects.filter(
                resolved_at__isnull=True,
                course_id__in={item.course_id for item in chunk},
                kind__endswith=OVERDUE_SUFFIX,
            )
        }
        for item in chunk:
            try:
                kind, severity, details = _overdue_alert(item, today)
                current = open_alerts.get((item.course_id, kind))
                if (
                    current is not None
                    and current.details.get("due_on") == details["due_on"]
                    and rank_of(current.severity) >= rank_of(severity)
                ):
                    continue
                alert_raise(
                    course=item.course_id,
                    kind=kind,
                    severity=severity,
                    details=details,
                    now=now,
                    reason=f"{item.kind} overdue since {item.due_on.isoformat()}",
                    same_when=("due_on",),
                )
                written += 1
            except Exception:
                # A poison row must not stop the run (docs/architecture.md, "A poison row does not stop a run").
                logger.exception("escalation skipped scheduled item %s", item.pk)
    # Items done since the last run close their alerts; unanswered decisions escalate.
    written += resolve_done_overdue(today=today, now=now)
    written += escalate_decision_clock(now=now)
    return written
