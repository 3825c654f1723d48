"""Helpers of the surveillance tests: what is due on a course, and counting writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from surveillance.models import (
    ClinicVisit,
    ImagingStudy,
    Injection,
    LabResult,
    ScheduledItem,
    SurveillancePlan,
    SymptomCheck,
)
from treatments import services as treatment_services
from treatments.models import Course, CourseEvent

RECORDS = (ImagingStudy, LabResult, SymptomCheck, ClinicVisit, Injection, SurveillancePlan)


def due(course: Course) -> dict[str, ScheduledItem]:
    """The course's active scheduled items by kind."""
    return {item.kind: item for item in ScheduledItem.objects.filter(course=course, active=True)}


def due_dates(course: Course) -> dict[str, dt.date]:
    return {kind: item.due_on for kind, item in due(course).items()}


def writes(course: Course) -> dict[str, Any]:
    """Everything a refused input must leave as it was."""
    counts: dict[str, Any] = {model.__name__: model.objects.count() for model in RECORDS}
    counts |= {f"{m.__name__} history": m.history.model.objects.count() for m in RECORDS}
    counts["events"] = CourseEvent.objects.count()
    counts["course"] = Course.objects.filter(pk=course.pk).values_list("state", "version").get()
    counts["schedule"] = sorted(
        ScheduledItem.objects.filter(course=course).values_list(
            "kind", "due_on", "window_start", "active"
        )
    )
    return counts


def record(course: Course, actor, type: str, data: dict[str, Any], on: dt.date):
    """Record one treatments event, as the API or the admin would."""
    return treatment_services.record_event(
        course=course, type=type, occurred_on=on, data=data, actor=actor, reason="test"
    )
