"""Results and checks: imaging, lab results and the symptom check, each re-planning what is due
and recording the clinical event a result implies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import MISSING, dataclass, field, fields
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Max

from core import events
from core.audit import with_history
from core.errors import (
    InvalidInput,
)
from treatments import machine, payloads
from treatments.models import Course, CourseEvent, TreatmentLine

from .. import notifications, schedule
from ..models import (
    ImagingResult,
    ImagingStudy,
    LabResult,
    Modality,
    Purpose,
    SymptomCheck,
)
from .common import (
    _as_decimal,
    _choice_errors,
    _course,
    _date_errors,
    _lock_open,
    _model_errors,
    _notes_errors,
    _record_result_event,
    _today,
)
from .course_facts import removes_ileum
from .plans import replan

SYMPTOM_FIELDS = tuple(f.name for f in fields(schedule.SymptomAnswers))
# Version 2's questions are optional: a first-release client does not ask them.
SYMPTOM_REQUIRED = tuple(f.name for f in fields(schedule.SymptomAnswers) if f.default is MISSING)
_SYMPTOM_NUMBERS = frozenset(schedule.SYMPTOM_RANGES) | {"weight_kg"}
# The questionnaire's answers stored in DecimalFields (abdominal pain is a whole number).
_SYMPTOM_DECIMALS = frozenset({"flushing_per_day", "stools_per_day", "weight_loss_kg", "weight_kg"})

# The imaging results that are clinical events (docs/architecture.md#the-event-flow).
RESULT_EVENTS = {
    ImagingResult.RECURRENCE: machine.EventType.RECURRENCE_DETECTED,
    ImagingResult.PROGRESSION: machine.EventType.PROGRESSION_DETECTED,
}


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
    study recorded, with the refusal as a warning: the study happened. An event refused by
    the date order (docs/api.md#dates) gives an ``event_out_of_order`` warning and publishes
    ``notifications.ResultOutOfOrder``, which alerts turns into a ``result_out_of_order``
    review.
    """
    course = _course(course)
    today = today or _today()
    errors = _date_errors("performed_on", performed_on, course, today)
    errors |= _choice_errors("modality", modality, Modality)
    errors |= _choice_errors("purpose", purpose, Purpose)
    errors |= _choice_errors("result", result, ImagingResult)
    errors |= _notes_errors(notes)
    event_type = RESULT_EVENTS.get(result)
    if modality == schedule.ECHOCARDIOGRAPHY_MODALITY and event_type is not None:
        # An echo looks at the heart valves, not the tumour: it answers the echocardiography
        # item and never moves the course.
        errors["result"] = [
            "An echocardiography does not stage the tumour: record recurrence or progression "
            "from CT, MRI or functional imaging."
        ]
        event_type = None
    if event_type is machine.EventType.RECURRENCE_DETECTED:
        _, data_errors = payloads.validate_data(
            event_type, {"site": site, "resectable": resectable}
        )
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
                name_date_order=True,
            )
            warnings = [*warnings, *event_warnings]
            _announce_out_of_order(locked, study, actor, event_warnings)
            study.event = event
            study.warnings = warnings
            with_history(study, actor=actor, reason=f"Result linked to {event_type}")
            study.save(update_fields=["event", "warnings"])
        replan(course=locked, today=today)
    return ImagingRecorded(study=study, warnings=warnings, event=event)


def _announce_out_of_order(
    course: Course,
    study: ImagingStudy,
    actor: AbstractBaseUser,
    event_warnings: list[dict[str, Any]],
) -> None:
    # The study is kept but the course did not move: alerts opens a review for a clinician
    # (alerts imports surveillance, so the request goes out on the bus).
    for warning in event_warnings:
        if warning.get("code") != "event_out_of_order":
            continue
        conflict_on = warning.get("conflict_on")
        events.publish(
            notifications.ResultOutOfOrder(
                course_id=course.pk,
                result_kind="imaging_study",
                result_id=study.pk,
                event_type=str(warning["event"]),
                occurred_on=study.performed_on,
                detail=str(warning["detail"]),
                conflicts_with=warning.get("conflicts_with"),
                conflict_on=dt.date.fromisoformat(conflict_on) if conflict_on else None,
                actor_id=actor.pk,
            )
        )


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
        "emergency_suspected": assessment.emergency_suspected,
        "worsening": assessment.worsening,
        "escalated": assessment.positive,
        "moves_imaging": assessment.moves_imaging,
        "highest_severity": assessment.highest_severity and str(assessment.highest_severity),
        "severity": assessment.highest_severity and str(assessment.highest_severity),
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
        "rule_version": assessment.rule_version,
    }


def symptom_context(course: Course, reported_on: dt.date) -> schedule.SymptomContext:
    """What a new check is compared with (docs/clinical-rules.md#version-2-symptom-scoring): the
    patient's newest check on or before ``reported_on``, the highest ``weight_kg`` of the 6
    months before it, whether an SSA line is open and whether the ileum was removed."""
    earlier = SymptomCheck.objects.filter(course=course, reported_on__lte=reported_on)
    previous = (
        earlier.order_by("-reported_on", "-pk")
        .values_list("flushing_per_day", "stools_per_day")
        .first()
    )
    since = reported_on - relativedelta(months=schedule.WEIGHT_REFERENCE_MONTHS)
    highest = earlier.filter(reported_on__gte=since, weight_kg__isnull=False).aggregate(
        highest=Max("weight_kg")
    )["highest"]
    return schedule.SymptomContext(
        previous=None
        if previous is None
        else schedule.PreviousCheck(float(previous[0]), float(previous[1])),
        highest_recent_weight_kg=None if highest is None else float(highest),
        on_ssa=TreatmentLine.objects.filter(
            course=course, category="ssa", ended_on__isnull=True, end_reason=""
        ).exists(),
        ileal_surgery=removes_ileum(course),
    )


def symptom_check_record(
    *,
    course: Course | int,
    actor: AbstractBaseUser,
    reported_on: dt.date,
    today: dt.date | None = None,
    **answers: Any,
) -> SymptomCheckRecorded:
    """Store and score a carcinoid-syndrome symptom check
    (docs/clinical-rules.md#scoring-thresholds).

    ``answers`` are the questionnaire's fields. A positive check records ``symptoms_reported``
    and, for every check, a ``SymptomCheckAssessed`` notification is published on commit for
    the alerts app.
    """
    course = _course(course)
    today = today or _today()
    errors: dict[str, list[str]] = {
        name: ["Unknown field."] for name in answers if name not in SYMPTOM_FIELDS
    }
    errors |= {
        name: ["This field is required."] for name in SYMPTOM_REQUIRED if name not in answers
    }
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
    assessment = _assessment_dict(
        schedule.assess_symptoms(parsed, symptom_context(course, reported_on))
    )

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
