"""Recording a clinical event on a course: the one writer of a course's state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser
from django.db import models, transaction
from django.utils import timezone

from core import events
from core.audit import with_history
from core.errors import (
    GuidelineGuard,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StaleVersion,
    TransitionNotAllowed,
)

from .. import domain_events, machine, payloads, staging
from ..models import Course, CourseEvent, TreatmentLine
from ..roles import may_override_guards
from .common import missing_reasons, today
from .facts import course_facts, read_facts
from .lines import move_lines
from .procedures import apply_procedure


@dataclass
class Recorded:
    """A recorded event, the course after it, and the guards' warnings (GuardResult dicts).

    ``lines`` and ``status_updates`` are what the write read under the lock, still true after
    it, so that an answer need not read them again: the course's TreatmentLine rows in number
    order with their PRRT cycles prefetched (None when the event ended, changed, opened a line
    or gave a cycle), and its status_updated events in sequence order, this one included
    (rows or instances with ``seq``, ``occurred_on`` and ``data``, as
    ``facts.current_facts`` takes them). Both are None when the write did not read them.
    """

    event: CourseEvent
    course: Course
    warnings: list[dict[str, Any]] = field(default_factory=list)
    lines: list[TreatmentLine] | None = None
    status_updates: list[Any] | None = None


def _refuse_if_not_allowed(course: Course, facts: machine.CourseFacts, type: str) -> None:
    """409 when the table has no row for ``type`` from the course's state and facts (an open
    line, an open resection); never overridable."""
    why = machine.not_allowed(course.state, type, facts)
    if why is not None:
        raise TransitionNotAllowed(
            why.reason,
            state=course.state,
            allowed_events=list(machine.allowed_events(course.state, facts)),
            reason=why.as_dict(),
        )


def _check_event_input(
    *,
    course: Course,
    type: str,
    occurred_on: Any,
    data: Any,
    override: bool,
    override_reason: str,
    correction: bool,
    reason: str,
) -> dict[str, Any]:
    """Validate the date, the payload and the written reasons; returns the cleaned data.

    Raises InvalidInput with every field error at once ("occurred_on", "data.<field>",
    "override_reason", "reason").
    """
    cleaned, data_errors = payloads.validate_data(type, data if data is not None else {})
    errors = {(k if k == "data" else f"data.{k}"): v for k, v in data_errors.items()}
    if not isinstance(occurred_on, dt.date) or isinstance(occurred_on, dt.datetime):
        errors["occurred_on"] = ["Enter a date (YYYY-MM-DD)."]
    elif occurred_on > today():
        errors["occurred_on"] = ["Events cannot be dated in the future."]
    elif issue := staging.clinical_date_issue(occurred_on, birth_date=course.patient.birth_date):
        errors["occurred_on"] = [issue]
    elif occurred_on < course.surgery.performed_on:
        errors["occurred_on"] = [
            "Events cannot be dated before the surgery that opened the course."
        ]
    # A re-resection re-anchors surveillance on its date: it must be a real, past operation
    # of this course (docs/clinical-rules.md#bad-input-refused: no date in the future, none
    # before the surgery).
    performed = cleaned.get("performed_on")
    if performed is not None:
        performed_on = dt.date.fromisoformat(performed)
        if performed_on > today():
            errors["data.performed_on"] = ["The operation cannot be dated in the future."]
        elif performed_on < course.surgery.performed_on:
            errors["data.performed_on"] = [
                "The operation cannot be dated before the surgery that opened the course."
            ]
    errors.update(
        missing_reasons(
            override=override, override_reason=override_reason, correction=correction, reason=reason
        )
    )
    errors.update(_foreign_references(course, type, cleaned))
    if errors:
        raise InvalidInput(errors)
    return cleaned


def _foreign_references(course: Course, type: str, cleaned: Mapping[str, Any]) -> dict:
    """Field errors for event data naming a record that is not this course's (or none at all).

    The payload models say which fields hold ids (``payloads.references``). Another course's
    record and a missing one get the same message, so nothing of other teams is revealed.
    """
    errors: dict[str, list[str]] = {}
    for name, target in payloads.references(type).items():
        value = cleaned.get(name)
        if value is None:
            continue
        if not apps.get_model(target).objects.filter(pk=value, course=course).exists():
            errors[f"data.{name}"] = ["No such record on this course."]
    return errors


def record_event(
    *,
    course: Course | int,
    type: str,
    occurred_on: dt.date,
    data: Mapping[str, Any] | None,
    actor: AbstractBaseUser,
    reason: str = "",
    override: bool = False,
    override_reason: str = "",
    expected_version: int | None = None,
    correction: bool = False,
    source: models.Model | None = None,
    within: models.QuerySet[Course] | None = None,
) -> Recorded:
    """Apply one clinical event to a course (docs/architecture.md#the-event-flow).

    Every check reads the course once, under its row lock. In this order, each refusal
    writing nothing:

    1. the event type must exist (InvalidInput on "type", 400);
    2. the event must be in the table for the course's state and facts (an open line, an
       open resection: TransitionNotAllowed, 409), before any complaint about its payload: a
       missing field is not worth fixing for an event that cannot be recorded; when the
       client's ``expected_version`` is stale, this 409 is StaleVersion instead: the course
       moved on since the client read it;
    3. the date, the payload (``treatments.payloads``) and the written reasons
       (``missing_reasons``: an override needs ``override_reason``, a correction ``reason``)
       must be valid (InvalidInput, 400); an override or a correction needs a clinician
       (PermissionDenied, 403);
    4. ``expected_version`` must be current (StaleVersion, 409);
    5. the guideline guards must hold, or be overridden by a clinician (GuidelineGuard, 422);
    6. the date order (``_refuse_if_out_of_order``): a state-changing event dated before the
       event that brought the course into its state, or any event dated before the last one
       of its kind, must be a ``correction`` with a ``reason`` by a clinician (400; 403 for
       others);
    7. the event, the new state, the lines the machine's ``line_effects`` end, change or open,
       a PRRT cycle, the open resection and a cholecystectomy are written with history, and
       the domain event is published (subscribers in the transaction or on commit). An event
       naming a line that is not open, or none among several, is a 400 on "data.line".

    NotFound when there is no such course, or when it is not among ``within`` (a queryset of
    the courses the caller may see, ``treatments.selectors.courses_visible_to``): the scope is
    checked by the same statement that locks the row. ``source`` is the record (a study, a symptom
    check) the event came from, if any.
    """
    course_id = course.pk if isinstance(course, Course) else course
    with transaction.atomic():
        # One read of the course, under its row lock: the lock serialises concurrent events
        # on one course, and every check below sees the state the write will start from
        # (a refusal rolls back and writes nothing). expected_version turns a write based on
        # a stale read into a 409 instead of a silent overwrite. of=("self",): PostgreSQL
        # refuses FOR UPDATE on the nullable side of the current_line outer join, and only
        # the course row needs locking.
        try:
            locked = (
                (Course.objects.all() if within is None else within)
                .select_for_update(of=("self",))
                .select_related("diagnosis", "surgery", "current_line", "patient")
                .get(pk=course_id)
            )
        except Course.DoesNotExist:
            raise NotFound("No such course.") from None
        if not isinstance(type, str) or type not in payloads.EVENT_TYPES:
            raise InvalidInput({"type": [payloads.UNKNOWN_TYPE]})
        dated = isinstance(occurred_on, dt.date) and not isinstance(occurred_on, dt.datetime)
        read = read_facts(locked, type, occurred_on) if dated else None
        if read is not None:
            facts, later_on = read.facts, read.later_on
        else:
            facts, later_on = course_facts(locked), None
        stale = expected_version is not None and expected_version != locked.version
        if stale and machine.not_allowed(locked.state, type, facts) is not None:
            # The course moved on since the version the client read: that, not the state it
            # never saw, is what the client must hear (reload, then decide again).
            _raise_stale(locked, expected_version)
        _refuse_if_not_allowed(locked, facts, type)
        cleaned = _check_event_input(
            course=locked,
            type=type,
            occurred_on=occurred_on,
            data=data,
            override=override,
            override_reason=override_reason,
            correction=correction,
            reason=reason,
        )
        if override and not may_override_guards(actor):
            raise PermissionDenied("Only a clinician may override a guideline guard.")
        if correction and not may_override_guards(actor):
            raise PermissionDenied("Only a clinician may record a correction of the date order.")
        if stale:
            _raise_stale(locked, expected_version)
        try:
            decision = machine.evaluate(facts, type, cleaned, occurred_on=occurred_on)
        except machine.LineNotFoundError as exc:
            raise InvalidInput({f"data.{exc.field}": [str(exc)]}) from None
        if decision.failures:
            first = decision.failures[0]
            if not override or not decision.overridable:
                raise GuidelineGuard(
                    first.reason,
                    guard=first.guard,
                    reason=first.reason,
                    source=first.source,
                    evidence=first.evidence,
                    rule_version=first.rule_version,
                    override_allowed=decision.overridable,
                    failures=[f.as_dict() for f in decision.failures],
                )
        if not correction:
            _refuse_if_out_of_order(locked, facts, decision, type, occurred_on, later_on)
        recorded = _apply(
            locked, decision, cleaned, facts, type=type, occurred_on=occurred_on, actor=actor,
            reason=reason, override=bool(decision.failures), override_reason=override_reason,
            source=source,
        )  # fmt: skip
        if read is not None:
            effects = machine.line_effects(type, cleaned, facts, on=occurred_on)
            if not effects.ends and effects.change is effects.starts is effects.cycle is None:
                recorded.lines = read.lines  # no line written: what the lock read is current
            recorded.status_updates = list(read.updates)
            if type == machine.EventType.STATUS_UPDATED:
                recorded.status_updates.append(recorded.event)
        return recorded


def _raise_stale(course: Course, expected_version: int) -> None:
    raise StaleVersion(
        f"The course is at version {course.version}, not {expected_version}.",
        current_version=course.version,
    )


def _refuse_if_out_of_order(
    course: Course,
    facts: machine.CourseFacts,
    decision: machine.Decision,
    type: str,
    occurred_on: dt.date,
    later_on: dt.date | None,
) -> None:
    """400 on "occurred_on" for an event that breaks the log's date order (docs/api.md#dates).

    A state-changing event may not be dated before the event that brought the course into its
    current state (its name and date are in the message); no event may be dated before the
    last one of its own kind. The state is replayed in sequence order, never re-sorted by
    date, so an earlier date is accepted only as a marked correction.
    """
    changes_state = decision.target is not None and decision.target != course.state
    entered_on = getattr(facts, "state_entered_on", None)
    if changes_state and entered_on is not None and occurred_on < entered_on:
        by = getattr(facts, "state_entered_by", None) or "registration"
        raise InvalidInput(
            {
                "occurred_on": [
                    f"The course entered {course.state} by {by} on {entered_on}; a {type} "
                    "dated before it must be marked as a correction, with a reason."
                ]
            }
        )
    if later_on is not None:
        raise InvalidInput(
            {
                "occurred_on": [
                    f"A {type} event is already recorded on {later_on}; "
                    "an earlier one must be marked as a correction, with a reason."
                ]
            }
        )


def _apply(
    course: Course,
    decision: machine.Decision,
    data: dict[str, Any],
    facts: machine.CourseFacts,
    *,
    type: str,
    occurred_on: dt.date,
    actor: AbstractBaseUser,
    reason: str,
    override: bool,
    override_reason: str,
    source: models.Model | None,
) -> Recorded:
    from_state = course.state
    to_state = decision.target or machine.State(from_state)
    history_reason = reason or type
    if override:
        history_reason = f"{history_reason} [override: {override_reason}]"
    running, opened = move_lines(
        course, type=type, data=data, facts=facts, occurred_on=occurred_on, actor=actor,
        reason=history_reason,
    )  # fmt: skip
    apply_procedure(course, type=type, data=data, actor=actor, reason=history_reason)
    event = CourseEvent.objects.create(
        course=course,
        seq=course.version,
        type=type,
        occurred_on=occurred_on,
        recorded_at=timezone.now(),
        actor=actor,
        data=data,
        reason=reason,
        from_state=from_state,
        to_state=to_state,
        override=override,
        override_reason=override_reason if override else "",
        overridden_guards=[f.as_dict() for f in decision.failures] if override else [],
        warnings=[w.as_dict() for w in decision.warnings],
        source_model=source._meta.label if source is not None else "",
        source_id=source.pk if source is not None else None,
        line=opened or running,
    )
    course.state = to_state
    course.version += 1
    if type == machine.EventType.RESECTION_STARTED:
        course.resection_open = True
    elif type == machine.EventType.RESECTION_COMPLETED:
        course.resection_open = False
    if to_state == machine.State.CLOSED:
        course.closed_on = occurred_on
        course.closed_reason = data.get("reason", "")
    with_history(course, actor=actor, reason=history_reason)
    course.save()
    events.publish(
        domain_events.CourseEventRecorded(
            course_id=course.pk,
            event_id=event.pk,
            type=type,
            from_state=from_state,
            to_state=to_state,
            occurred_on=occurred_on,
            actor_id=actor.pk,
            data=data,
            override=override,
            overridden_guards=tuple(event.overridden_guards),
        )
    )
    return Recorded(event=event, course=course, warnings=event.warnings)
