"""Use cases of the surveillance app: the only code that writes surveillance data.

Every service takes keyword-only arguments and an explicit ``actor`` (Celery tasks and commands
have no request), sets the history user and change reason on each save, validates everything
before it writes anything, and re-plans what is due in the same transaction, so the
denormalised due dates never disagree with what was recorded. The rules themselves (intervals,
units, scoring, warnings) live in ``schedule.py``; this module reads and writes.

Results that change the course (recurrence, progression, a positive symptom check) go through
``treatments.services.record_event``: nothing here touches ``Course.state``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import DateField, OuterRef, Subquery, Value
from django.utils import timezone

from core import events
from core.audit import with_history
from core.errors import (
    Conflict,
    DomainError,
    GuidelineGuard,
    InvalidInput,
    PermissionDenied,
    TransitionNotAllowed,
)
from treatments import machine, staging
from treatments import services as treatment_services
from treatments.models import Course, CourseEvent
from treatments.roles import may_override_guards, system_user

from . import notifications, schedule
from .models import (
    ClinicVisit,
    ImagingResult,
    ImagingStudy,
    Injection,
    LabResult,
    Modality,
    Purpose,
    ScheduledItem,
    SurveillancePlan,
    SymptomCheck,
)

NOTES_MAX = 5000
# An injection dose above this is an entry error, whatever the agent (machine.py caps SSA
# doses in event data at the same figure).
INJECTION_DOSE_MAX_MG = Decimal(1000)

PLAN_FIELDS = tuple(f.name for f in fields(schedule.PlanParams))
SYMPTOM_FIELDS = tuple(f.name for f in fields(schedule.SymptomAnswers))
_SYMPTOM_NUMBERS = frozenset(schedule.SYMPTOM_RANGES)
# The questionnaire's answers stored in DecimalFields (abdominal pain is a whole number).
_SYMPTOM_DECIMALS = frozenset({"flushing_per_day", "stools_per_day", "weight_loss_kg"})

# The imaging results that are clinical events (DESIGN.md "Results are events too").
RESULT_EVENTS = {
    ImagingResult.RECURRENCE: machine.EventType.RECURRENCE_DETECTED,
    ImagingResult.PROGRESSION: machine.EventType.PROGRESSION_DETECTED,
}


class CourseClosed(Conflict):
    """409: nothing is recorded on a closed course (CLINICAL.md §6)."""

    code = "course_closed"


class NotOnSsa(Conflict):
    """409: an SSA injection is recorded only while the course is on an SSA line."""

    code = "not_on_ssa"


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


@dataclass
class ImagingRecorded:
    study: ImagingStudy
    warnings: list[dict[str, Any]] = field(default_factory=list)
    event: CourseEvent | None = None


@dataclass
class LabRecorded:
    result: LabResult
    warnings: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SymptomCheckRecorded:
    check: SymptomCheck
    assessment: dict[str, Any]
    event: CourseEvent | None = None
    warnings: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class InjectionRecorded:
    injection: Injection
    warnings: list[dict[str, Any]] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


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
    """CLINICAL.md §6: a result is dated neither in the future nor before the surgery.

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


def _record_result_event(
    *,
    course: Course,
    actor: AbstractBaseUser,
    type: str,
    occurred_on: dt.date,
    data: dict[str, Any],
    reason: str,
    source: models.Model,
) -> tuple[CourseEvent | None, list[dict[str, Any]]]:
    """Record the event a result implies; a refusal becomes a warning, the result stays.

    The study or check happened whatever the state machine says, so it is kept; the savepoint
    rolls back only the refused event. Input errors of our own were caught before any write,
    so an InvalidInput here is the event log's own rule (e.g. an earlier-dated duplicate).
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
        return None, [_refusal_warning(type, refused)]
    warnings = [
        {"code": w.get("guard", "event_warning"), "detail": w.get("reason", ""), "event": type}
        for w in recorded.warnings
    ]
    return recorded.event, warnings


# ---------------------------------------------------------------------------------------------
# Plans and re-planning
# ---------------------------------------------------------------------------------------------


def facts_for(course: Course) -> schedule.Facts:
    """What was done on the course, as schedule.Facts, read in one query.

    ``course`` must carry its plan (``course.plan``), surgery, diagnosis and current line.
    Imaging counts from the anchor on, and only multiphase CT or MRI answers the imaging item;
    injections count from the start of the current line.
    """
    plan = course.plan
    line = course.current_line

    def latest(queryset: models.QuerySet, name: str) -> Subquery:
        return Subquery(
            queryset.filter(course=OuterRef("pk")).order_by(f"-{name}").values(name)[:1],
            output_field=DateField(),
        )

    if line is not None and line.category == machine.Category.SSA:
        injections = latest(Injection.objects.filter(given_on__gte=line.started_on), "given_on")
    else:
        injections = Value(None, output_field=DateField())
    row = (
        Course.objects.filter(pk=course.pk)
        .annotate(
            last_imaging_on=latest(
                ImagingStudy.objects.filter(
                    modality__in=schedule.SURVEILLANCE_IMAGING_MODALITIES,
                    performed_on__gte=plan.anchor_on,
                ),
                "performed_on",
            ),
            last_visit_on=latest(ClinicVisit.objects.all(), "visited_on"),
            last_cga_on=latest(LabResult.objects.filter(analyte=schedule.CGA), "collected_on"),
            last_symptom_check_on=latest(SymptomCheck.objects.all(), "reported_on"),
            last_ssa_injection_on=injections,
        )
        .values(
            "last_imaging_on",
            "last_visit_on",
            "last_cga_on",
            "last_symptom_check_on",
            "last_ssa_injection_on",
        )
        .get()
    )
    return schedule.Facts(
        surgery_on=course.surgery.performed_on,
        anchor_on=plan.anchor_on,
        state=course.state,
        cga_elevated_preop=course.diagnosis.cga_elevated_preop,
        line_started_on=line.started_on if line is not None else None,
        on_ssa=course.state == machine.State.SSA,
        **row,
    )


def _store(course: Course, items: list[schedule.DueItem]) -> None:
    """Upsert one row per kind and deactivate the kinds no longer due (two statements)."""
    now = timezone.now()
    rows = [
        ScheduledItem(
            course=course,
            kind=str(item.kind),
            due_on=item.due_on,
            window_start=item.window_start,
            window_end=item.window_end,
            why=item.why,
            source=item.source,
            active=True,
            updated_at=now,
        )
        for item in items
    ]
    if rows:
        # ScheduledItem has no history table, so a bulk upsert loses no audit (STYLE.md).
        ScheduledItem.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["course", "kind"],
            update_fields=[
                "due_on",
                "window_start",
                "window_end",
                "why",
                "source",
                "active",
                "updated_at",
            ],
        )
    ScheduledItem.objects.filter(course=course, active=True).exclude(
        kind__in=[row.kind for row in rows]
    ).update(active=False, updated_at=now)


def replan(*, course: Course | int, today: dt.date | None = None) -> list[schedule.DueItem]:
    """Recompute what is due on the course and store it; runs in the caller's transaction.

    A closed course has no active items. Returns the due items (with their status on
    ``today``).
    """
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
        _store(course, items)
    return items


def plan_create(
    *, course: Course | int, actor: AbstractBaseUser, today: dt.date | None = None
) -> SurveillancePlan:
    """The course's default plan, from its risk group at registration (CLINICAL.md §2).

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
    """Restart the schedule from a curative re-resection (CLINICAL.md §2 mechanics); re-plan.

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


# ---------------------------------------------------------------------------------------------
# Results and checks
# ---------------------------------------------------------------------------------------------


def imaging_record(
    *,
    course: Course | int,
    actor: AbstractBaseUser,
    performed_on: dt.date,
    modality: str,
    purpose: str,
    result: str,
    notes: str = "",
    site: str = "other",
    resectable: bool = False,
    today: dt.date | None = None,
) -> ImagingRecorded:
    """Record an imaging study; a result of recurrence or progression records its event.

    ``site`` and ``resectable`` describe a recurrence (the ``recurrence_detected`` data). A
    CT or MRI closes the due imaging item. An event the state machine refuses leaves the
    study recorded, with the refusal as a warning: the study happened.
    """
    course = _course(course)
    today = today or _today()
    errors = _date_errors("performed_on", performed_on, course, today)
    errors |= _choice_errors("modality", modality, Modality)
    errors |= _choice_errors("purpose", purpose, Purpose)
    errors |= _choice_errors("result", result, ImagingResult)
    errors |= _notes_errors(notes)
    event_type = RESULT_EVENTS.get(result)
    if event_type is machine.EventType.RECURRENCE_DETECTED:
        _, data_errors = machine.validate_data(event_type, {"site": site, "resectable": resectable})
        errors |= data_errors
    if errors:
        raise InvalidInput(errors)

    warnings = [notice.as_dict() for notice in schedule.imaging_warnings(modality, purpose)]
    with transaction.atomic():
        locked = _lock_open(course)
        study = ImagingStudy(
            course=locked,
            performed_on=performed_on,
            modality=modality,
            purpose=purpose,
            result=result,
            notes=notes,
            warnings=warnings,
            recorded_by=actor,
        )
        with_history(study, actor=actor, reason=f"Imaging recorded: {modality} {result}")
        study.save()
        event = None
        if event_type is not None:
            if event_type is machine.EventType.RECURRENCE_DETECTED:
                data: dict[str, Any] = {"site": site, "resectable": resectable}
            else:
                data = {"recist": "PD", "imaging_study": study.pk}
            event, event_warnings = _record_result_event(
                course=locked,
                actor=actor,
                type=event_type,
                occurred_on=performed_on,
                data=data,
                reason=f"Imaging study {study.pk} ({modality}, {performed_on}): {result}",
                source=study,
            )
            warnings = [*warnings, *event_warnings]
            study.event = event
            study.warnings = warnings
            with_history(study, actor=actor, reason=f"Result linked to {event_type}")
            study.save(update_fields=["event", "warnings"])
        replan(course=locked, today=today)
    return ImagingRecorded(study=study, warnings=warnings, event=event)


def lab_record(
    *,
    course: Course | int,
    actor: AbstractBaseUser,
    analyte: str,
    value: Any,
    unit: str,
    collected_on: dt.date,
    on_ppi: bool | None = None,
    today: dt.date | None = None,
) -> LabRecorded:
    """Record a lab result: allowed units per analyte, no negative or impossible values.

    A chromogranin A measured on a proton-pump inhibitor is accepted with a warning.
    """
    course = _course(course)
    today = today or _today()
    check = schedule.check_lab_result(analyte, value, unit, on_ppi)
    errors = dict(check.errors)
    errors |= _date_errors("collected_on", collected_on, course, today)
    if on_ppi is not None and not isinstance(on_ppi, bool):
        errors["on_ppi"] = ["Must be true, false or unknown (null)."]
    result = LabResult(
        course=course,
        analyte=analyte,
        value=_as_decimal(value),
        unit=check.unit or unit,
        collected_on=collected_on,
        on_ppi=on_ppi,
        warnings=[notice.as_dict() for notice in check.warnings],
        recorded_by=actor,
    )
    if not errors:
        errors |= _model_errors(result, exclude=["course", "recorded_by"])
    if errors:
        raise InvalidInput(errors)

    with transaction.atomic():
        result.course = _lock_open(course)
        with_history(result, actor=actor, reason=f"Lab result recorded: {analyte}")
        result.save()
        replan(course=result.course, today=today)
    return LabRecorded(result=result, warnings=result.warnings)


def _assessment_dict(assessment: schedule.SymptomAssessment) -> dict[str, Any]:
    return {
        "carcinoid_syndrome_suspected": assessment.carcinoid_syndrome_suspected,
        "obstruction_suspected": assessment.obstruction_suspected,
        "carcinoid_heart_suspected": assessment.carcinoid_heart_suspected,
        "weight_loss_flag": assessment.weight_loss_flag,
        "carcinoid_crisis_suspected": assessment.carcinoid_crisis_suspected,
        "escalated": assessment.positive,
        "highest_severity": assessment.highest_severity and str(assessment.highest_severity),
        "findings": [
            {
                "kind": str(finding.kind),
                "severity": str(finding.severity),
                "reason": finding.reason,
                "advice": finding.advice,
                "patient_advice": finding.patient_advice,
                "source": finding.source,
            }
            for finding in assessment.findings
        ],
    }


def symptom_check_record(
    *,
    course: Course | int,
    actor: AbstractBaseUser,
    reported_on: dt.date,
    today: dt.date | None = None,
    **answers: Any,
) -> SymptomCheckRecorded:
    """Store and score a carcinoid-syndrome symptom check (CLINICAL.md §5).

    ``answers`` are the questionnaire's fields. A positive check records ``symptoms_reported``
    and, for every check, a ``SymptomCheckAssessed`` notification is published on commit for
    the alerts app.
    """
    course = _course(course)
    today = today or _today()
    errors: dict[str, list[str]] = {
        name: ["Unknown field."] for name in answers if name not in SYMPTOM_FIELDS
    }
    errors |= {name: ["This field is required."] for name in SYMPTOM_FIELDS if name not in answers}
    errors |= _date_errors("reported_on", reported_on, course, today)
    if errors:
        raise InvalidInput(errors)
    # Scoring takes numbers; a Decimal from a serializer is scored as its float value.
    scored = {
        name: float(value)
        if name in _SYMPTOM_NUMBERS and isinstance(value, Decimal) and value.is_finite()
        else value
        for name, value in answers.items()
    }
    parsed = schedule.SymptomAnswers(**scored)
    errors = schedule.validate_symptom_answers(parsed)
    check = SymptomCheck(
        course=course,
        reported_on=reported_on,
        reported_by=actor,
        **{
            name: _as_decimal(value) if name in _SYMPTOM_DECIMALS else value
            for name, value in answers.items()
        },
    )
    if not errors:
        # The model stores one decimal place: refuse what it would otherwise round away.
        errors = _model_errors(check, exclude=["course", "reported_by", "assessment"])
    if errors:
        raise InvalidInput(errors)
    assessment = _assessment_dict(schedule.assess_symptoms(parsed))

    with transaction.atomic():
        check.course = _lock_open(course)
        check.assessment = assessment
        with_history(check, actor=actor, reason="Symptom check recorded")
        check.save()
        event, warnings = None, []
        if assessment["escalated"]:
            event, warnings = _record_result_event(
                course=check.course,
                actor=actor,
                type=machine.EventType.SYMPTOMS_REPORTED,
                occurred_on=reported_on,
                data={"symptom_check": check.pk},
                reason=f"Symptom check {check.pk} positive ({assessment['highest_severity']})",
                source=check,
            )
        # Published whether or not the event was recorded: symptoms must reach a coordinator.
        events.publish(
            notifications.SymptomCheckAssessed(
                course_id=course.pk,
                symptom_check_id=check.pk,
                reported_on=reported_on,
                positive=assessment["escalated"],
                findings=tuple(assessment["findings"]),
                highest_severity=assessment["highest_severity"],
                event_id=event.pk if event is not None else None,
                actor_id=actor.pk,
            )
        )
        replan(course=check.course, today=today)
    return SymptomCheckRecorded(check=check, assessment=assessment, event=event, warnings=warnings)


def visit_record(
    *,
    course: Course | int,
    actor: AbstractBaseUser,
    visited_on: dt.date,
    notes: str = "",
    today: dt.date | None = None,
) -> ClinicVisit:
    """Record a clinic visit (history and examination)."""
    course = _course(course)
    today = today or _today()
    errors = _date_errors("visited_on", visited_on, course, today) | _notes_errors(notes)
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        visit = ClinicVisit(
            course=_lock_open(course), visited_on=visited_on, notes=notes, recorded_by=actor
        )
        with_history(visit, actor=actor, reason="Clinic visit recorded")
        visit.save()
        replan(course=visit.course, today=today)
    return visit


def injection_record(
    *,
    course: Course | int,
    actor: AbstractBaseUser,
    given_on: dt.date,
    agent: str | None = None,
    dose_mg: Any = None,
    today: dt.date | None = None,
) -> InjectionRecorded:
    """Record a somatostatin-analogue injection; only while the course is on an SSA line.

    ``agent`` and ``dose_mg`` default to the current line's; another agent is refused (a switch
    is an event), another dose is accepted with a warning.
    """
    course = _course(course)
    today = today or _today()
    errors = _date_errors("given_on", given_on, course, today)
    dose = _as_decimal(dose_mg)
    if dose_mg is not None and (
        not isinstance(dose, Decimal)
        or not dose.is_finite()
        or not 0 < dose <= INJECTION_DOSE_MAX_MG
    ):
        errors["dose_mg"] = [f"Must be a number above 0 and at most {INJECTION_DOSE_MAX_MG} mg."]
    if agent is not None and agent not in machine.SSA_AGENTS:
        errors["agent"] = [f"Expected one of: {', '.join(machine.SSA_AGENTS)}."]
    if errors:
        raise InvalidInput(errors)

    with transaction.atomic():
        locked = _lock_open(course)
        line = locked.current_line
        if locked.state != machine.State.SSA or line is None or line.category != "ssa":
            raise NotOnSsa(
                f"The course is in {locked.state}, not on a somatostatin analogue: injections "
                "are recorded only while an SSA line runs (record ssa_started first).",
                state=locked.state,
            )
        if given_on < line.started_on:
            raise InvalidInput(
                {"given_on": [f"Before the SSA line started ({line.started_on.isoformat()})."]}
            )
        if agent is not None and agent != line.agent:
            raise InvalidInput(
                {
                    "agent": [
                        f"The current line is {line.agent}; a change of agent is recorded as "
                        "a new ssa_started event."
                    ]
                }
            )
        warnings: list[dict[str, Any]] = []
        if dose is None and line.dose is None:
            raise InvalidInput({"dose_mg": ["Required: the SSA line records no dose."]})
        if dose is None:
            dose = line.dose
        elif line.dose is not None and dose != line.dose:
            warnings.append(
                {
                    "code": "dose_differs_from_line",
                    "detail": f"{dose} mg differs from the line's {line.dose} mg.",
                }
            )
        injection = Injection(
            course=locked, given_on=given_on, agent=line.agent, dose_mg=dose, recorded_by=actor
        )
        with_history(injection, actor=actor, reason="SSA injection recorded")
        injection.save()
        replan(course=locked, today=today)
    return InjectionRecorded(injection=injection, warnings=warnings)
