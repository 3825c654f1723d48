"""The surveillance plan: the default at registration, a clinician's changes, re-anchoring after
a curative re-resection, and re-planning what is due after every write.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from core.audit import with_history
from core.errors import (
    InvalidInput,
    PermissionDenied,
)
from treatments import staging
from treatments.models import Course
from treatments.roles import may_override_guards, system_user
from treatments.rules_version import RULE_VERSION

from .. import schedule
from ..models import (
    ScheduledItem,
    SurveillancePlan,
)
from .common import (
    _course,
    _issue_dict,
    _lock_open,
    _risk_group_or_none,
    _today,
)
from .course_facts import facts_for

PLAN_FIELDS = tuple(f.name for f in fields(schedule.PlanParams))


class PlanRefused(InvalidInput):
    """400: a plan outside the allowed ranges; ``issues`` carries each PlanIssue's code."""

    def __init__(self, issues: list[schedule.PlanIssue]) -> None:
        errors: dict[str, list[str]] = {}
        for issue in issues:
            errors.setdefault(issue.field, []).append(issue.message)
        super().__init__(errors, detail="The surveillance plan is outside the allowed ranges.")
        self.issues = [_issue_dict(issue) for issue in issues]
        self.extra["issues"] = self.issues


@dataclass
class PlanUpdated:
    plan: SurveillancePlan
    changed: bool
    warnings: list[dict[str, Any]] = field(default_factory=list)
    items: list[schedule.DueItem] = field(default_factory=list)


_UPSERT_FIELDS = (
    "due_on",
    "window_start",
    "window_end",
    "why",
    "source",
    "rule_version",
    "active",
    "updated_at",
)


def _store(
    course: Course, items: list[schedule.DueItem], kinds: Iterable[str] | None = None
) -> None:
    """Upsert one row per due kind and deactivate the kinds no longer due (two statements).

    ``kinds``: only these kinds are written (the kinds the event can move,
    ``schedule.kinds_affected_by``); None: every kind.
    """
    now = timezone.now()
    wanted = None if kinds is None else {str(kind) for kind in kinds}
    rows = [
        ScheduledItem(
            course=course,
            kind=str(item.kind),
            due_on=item.due_on,
            window_start=item.window_start,
            window_end=item.window_end,
            why=item.why,
            source=item.source,
            rule_version=item.rule_version,
            active=True,
            updated_at=now,
        )
        for item in items
        if wanted is None or str(item.kind) in wanted
    ]
    if rows:
        # ScheduledItem has no history table, so a bulk upsert loses no audit
        # (docs/architecture.md#operational-tables-have-no-history).
        ScheduledItem.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["course", "kind"],
            update_fields=list(_UPSERT_FIELDS),
        )
    gone = ScheduledItem.objects.filter(course=course, active=True).exclude(
        kind__in=[row.kind for row in rows]
    )
    if wanted is not None:
        gone = gone.filter(kind__in=sorted(wanted - {row.kind for row in rows}))
    gone.update(active=False, updated_at=now)


def replan(
    *,
    course: Course | int,
    today: dt.date | None = None,
    kinds: Iterable[str] | None = None,
) -> list[schedule.DueItem]:
    """Recompute what is due on the course and store it; runs in the caller's transaction.

    A closed course has no active items. Returns the due items (with their status on
    ``today``). ``kinds``: store only these kinds (what an event can move, as
    ``schedule.kinds_affected_by`` answers; the rows of other kinds are already current);
    an empty set reads and writes nothing and returns []. None: every kind.
    """
    if kinds is not None:
        kinds = frozenset(str(kind) for kind in kinds)
        if not kinds:
            return []
    course = Course.objects.select_related("surgery", "diagnosis", "current_line", "plan").get(
        pk=course.pk if isinstance(course, Course) else course
    )
    try:
        plan = course.plan
    except SurveillancePlan.DoesNotExist:
        # A course registered before this app subscribed has no plan yet: create the default
        # one rather than leave the course off the sweep.
        plan_create(course=course, actor=system_user(), today=today)
        return replan(course=course, today=today)
    items = schedule.due_items(plan.params(), facts_for(course), today or _today())
    # No savepoint when nested (the caller's transaction decides); alone, the upsert and the
    # deactivation still commit together.
    with transaction.atomic(savepoint=False):
        _store(course, items, kinds)
    return items


def plan_create(
    *, course: Course | int, actor: AbstractBaseUser, today: dt.date | None = None
) -> SurveillancePlan:
    """The course's default plan, from its risk group at registration
    (docs/clinical-rules.md#default-schedules).

    Anchored on the surgery that opened the course. Idempotent: an existing plan is returned
    unchanged.
    """
    course = _course(course)
    existing = SurveillancePlan.objects.filter(course=course).first()
    if existing is not None:
        return existing
    dx, op = course.diagnosis, course.surgery
    # The staging module maps sub-stages (IIIB) and "not staged" (NEC) to the risk table's rows.
    group = schedule.risk_group(
        staging.risk_stage(dx.stage),
        dx.grade,
        None if dx.ki67_percent is None else float(dx.ki67_percent),
        op.margin,
    )
    params = schedule.default_plan(group)
    with transaction.atomic():
        plan = SurveillancePlan(
            course=course,
            anchor_on=op.performed_on,
            **{name: getattr(params, name) for name in PLAN_FIELDS},
        )
        plan.risk_group = str(group)
        plan.rule_version = RULE_VERSION
        with_history(plan, actor=actor, reason=f"Default plan for {group} risk at registration")
        plan.save()
        replan(course=course, today=today)
    return plan


def plan_update(
    *,
    course: Course | int,
    actor: AbstractBaseUser,
    reason: str,
    today: dt.date | None = None,
    **params: Any,
) -> PlanUpdated:
    """A clinician tunes the plan within the allowed ranges, with a reason; then re-plan.

    ``params`` are PlanParams fields. Changing ``risk_group`` alone applies that group's
    default intervals; fields given explicitly win over those defaults. Out-of-range values
    (an imaging interval over 12 months above all) are refused with each issue's code;
    acceptable but discouraged values (duration under 10 years) come back as warnings.
    """
    if not may_override_guards(actor):
        raise PermissionDenied("Only a clinician may change a surveillance plan.")
    unknown = {name: ["Unknown field."] for name in params if name not in PLAN_FIELDS}
    if unknown:
        raise InvalidInput(unknown)
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput({"reason": ["Changing a plan needs a written reason."]})
    course = _course(course)
    with transaction.atomic():
        locked = _lock_open(course)
        plan = SurveillancePlan.objects.select_for_update().get(course=locked)
        current = plan.params()
        group = _risk_group_or_none(params.get("risk_group"))
        base = current
        if group is not None and group != current.risk_group:
            base = schedule.default_plan(group)
        proposed = replace(base, **params)
        if group is not None:
            proposed = replace(proposed, risk_group=group)
        issues = schedule.validate_plan(proposed)
        blocking = [issue for issue in issues if issue.blocking]
        if blocking:
            raise PlanRefused(blocking)
        warnings = [_issue_dict(issue) for issue in issues if not issue.blocking]
        if proposed == current:
            return PlanUpdated(plan=plan, changed=False, warnings=warnings)
        for name in PLAN_FIELDS:
            setattr(plan, name, getattr(proposed, name))
        plan.risk_group = str(proposed.risk_group)
        plan.rule_version = RULE_VERSION
        with_history(plan, actor=actor, reason=reason)
        plan.save()
        items = replan(course=locked, today=today)
    return PlanUpdated(plan=plan, changed=True, warnings=warnings, items=items)


def plan_reanchor(
    *,
    course: Course | int,
    actor: AbstractBaseUser,
    anchor_on: dt.date,
    reason: str,
    today: dt.date | None = None,
) -> SurveillancePlan:
    """Restart the schedule from a curative re-resection
    (docs/clinical-rules.md#schedule-mechanics); re-plan.

    The anchor never precedes the surgery that opened the course: imaging and checks are
    counted from whichever is later.
    """
    course = _course(course)
    with transaction.atomic():
        plan = SurveillancePlan.objects.select_for_update().filter(course=course).first()
        if plan is None:
            plan = plan_create(course=course, actor=actor, today=today)
        anchor_on = max(anchor_on, course.surgery.performed_on)
        if plan.anchor_on != anchor_on:
            plan.anchor_on = anchor_on
            with_history(plan, actor=actor, reason=reason)
            plan.save()
        replan(course=course, today=today)
    return plan
