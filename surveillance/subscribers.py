"""How surveillance follows the course: re-plan on every treatments domain event.

Subscribed in-transaction (see apps.py): the new due dates are written in the transaction
that recorded the event, so they commit or roll back with it and the sweep never reads a
schedule that disagrees with the course's state.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model

from treatments import machine
from treatments.domain_events import CourseEventRecorded, CourseRegistered, DomainEvent

from . import schedule, services


def on_domain_event(event: DomainEvent) -> None:
    if isinstance(event, CourseRegistered):
        actor = get_user_model().objects.get(pk=event.actor_id)
        services.plan_create(course=event.course_id, actor=actor)
    elif isinstance(event, CourseEventRecorded):
        on_course_event(event)


def on_course_event(event: CourseEventRecorded) -> None:
    """Re-plan after any event; a resection back to no evidence of disease re-anchors first.

    The schedule itself knows what each state means (imaging stays due while a decision is
    pending, injections while on SSA, nothing once closed) and which kinds an event can move
    (``schedule.kinds_affected_by``), so every other event only needs a re-plan of those.
    """
    if (
        event.type == machine.EventType.RESECTION_COMPLETED
        and event.data.get("ned") is True
        and event.to_state == machine.State.SURVEILLANCE
    ):
        performed_on = event.data.get("performed_on") or event.occurred_on
        if isinstance(performed_on, str):
            performed_on = dt.date.fromisoformat(performed_on)
        services.plan_reanchor(
            course=event.course_id,
            actor=get_user_model().objects.get(pk=event.actor_id),
            anchor_on=performed_on,
            reason=f"Re-anchored on the curative resection of {performed_on.isoformat()}",
        )
        return
    # Only the kinds this event can move are re-planned (the schedule rules say which); the
    # rows of the other kinds were written by the write that last changed their facts.
    kinds = schedule.kinds_affected_by(event.type, changes_state=event.from_state != event.to_state)
    if kinds:
        services.replan(course=event.course_id, kinds=kinds)
