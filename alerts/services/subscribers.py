"""Subscribers of the alerts app: registered in apps.py, run after the publishing commit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from surveillance.schedule import Severity
from treatments import machine
from treatments.domain_events import CourseEventRecorded, CourseRegistered, DomainEvent
from treatments.models import Course

from .coordinator_alerts import (
    ALERT_DECISION_PENDING,
    ALERT_GUARD_OVERRIDDEN,
    ALERT_RESULT_OUT_OF_ORDER,
    alert_raise,
)
from .decisions import on_decision_event, on_new_carcinoid_syndrome
from .provider_reports import email_tracking


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def on_course_event(event: DomainEvent) -> None:
    """A state needing a treatment decision raises `decision_pending`, the decision resolves
    it; an override needs a look; a new syndrome in surveillance needs a look too."""
    if isinstance(event, CourseRegistered):
        # Registration with disease left (R2, M1 not removed) starts in a decision state.
        state = Course.objects.filter(pk=event.course_id).values_list("state", flat=True).first()
        if state in machine.DECISION_STATES:
            alert_raise(
                course=event.course_id,
                kind=ALERT_DECISION_PENDING,
                severity=Severity.HIGH,
                details={"event_type": "registration", "state": state},
                reason="registered with disease left: treatment decision pending",
            )
        return
    if not isinstance(event, CourseEventRecorded):
        return
    on_decision_event(event)
    on_new_carcinoid_syndrome(event)
    base = {
        "event_id": event.event_id,
        "event_type": event.type,
        "occurred_on": event.occurred_on.isoformat(),
    }
    if event.to_state in machine.DECISION_STATES and event.from_state != event.to_state:
        alert_raise(
            course=event.course_id,
            kind=ALERT_DECISION_PENDING,
            severity=Severity.HIGH,
            details={**base, "state": event.to_state},
            reason=f"{event.type}: treatment decision pending",
        )
    if event.override:
        alert_raise(
            course=event.course_id,
            kind=ALERT_GUARD_OVERRIDDEN,
            severity=Severity.HIGH,
            details={**base, "guards": _json_safe(list(event.overridden_guards))},
            reason=f"guideline guard overridden on {event.type}",
        )


def on_symptom_check_assessed(notification: Any) -> None:
    """One alert per finding kind, at the finding's severity (docs/clinical-rules.md, "Symptom check")."""
    for finding in getattr(notification, "findings", ()) or ():
        severity = str(finding.get("severity") or Severity.HIGH)
        if severity not in Severity.values:
            severity = Severity.HIGH
        alert_raise(
            course=notification.course_id,
            kind=str(finding["kind"]),
            severity=severity,
            details={
                "symptom_check_id": notification.symptom_check_id,
                "reason": finding.get("reason", ""),
                "advice": finding.get("advice", ""),
            },
            reason=f"symptom check {notification.symptom_check_id}: {finding['kind']}",
        )


def on_result_out_of_order(notification: Any) -> None:
    """A result stored without its event (``surveillance.notifications.ResultOutOfOrder``)
    opens a high ``result_out_of_order`` alert: a clinician reviews it and records the event
    as a correction or corrects the result (docs/api.md#dates)."""
    conflict_on = notification.conflict_on
    alert_raise(
        course=notification.course_id,
        kind=ALERT_RESULT_OUT_OF_ORDER,
        severity=Severity.HIGH,
        details={
            "result_kind": notification.result_kind,
            "result_id": notification.result_id,
            "event_type": notification.event_type,
            "occurred_on": notification.occurred_on.isoformat(),
            "conflicts_with": notification.conflicts_with,
            "conflict_on": conflict_on.isoformat() if conflict_on else None,
            "reason": notification.detail,
        },
        reason=f"{notification.result_kind} {notification.result_id}: {notification.event_type} "
        "out of date order, review needed",
        same_when=("result_kind", "result_id"),
    )


def on_email_tracking(sender: Any, event: Any, esp_name: str = "", **kwargs: Any) -> None:
    """Receiver of anymail's `tracking` signal (connected in apps.py)."""
    message_id = str(getattr(event, "message_id", "") or "")
    if not message_id:
        return
    description = " ".join(
        str(part)
        for part in (esp_name, getattr(event, "reject_reason", None), event.description)
        if part
    )
    email_tracking(
        message_id=message_id, event_type=str(event.event_type), description=description[:100]
    )
