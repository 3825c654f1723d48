"""The course at a glance: what the course page shows beside the course's own form.

Cross-app on purpose: the page also shows what is due (surveillance), the reminders and the
alerts (alerts), which ``treatments`` may not import.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from alerts.models import CoordinatorAlert, Reminder
from coordinator import charts as course_charts
from coordinator import worklist
from surveillance.models import SurveillancePlan
from surveillance.selectors import AuditEntry, audit_trail, schedule_for
from treatments import diagram, machine, services
from treatments.models import Course, CourseEvent, TreatmentLine

# Rows per panel on the course page; the changelists hold the rest.
PANEL_LIMIT = 50
AUDIT_LIMIT = 200


@dataclass
class CourseOverview:
    course: Course
    svg: SafeString
    allowed_events: list[tuple[str, str, str]]  # (type, label, url)
    lines: list[TreatmentLine]
    due: list[dict[str, Any]]
    events: list[CourseEvent]
    reminders: list[Reminder]
    alerts: list[CoordinatorAlert]
    audit: list[AuditEntry]  # newest first, at most AUDIT_LIMIT
    plan: SurveillancePlan | None = None
    warnings: list[str] = field(default_factory=list)
    # Markers, symptom checks and the timeline as inline SVG (coordinator/charts.py).
    charts: course_charts.CourseCharts | None = None


_ACRONYMS = {"ssa": "SSA", "prrt": "PRRT"}


def event_label(event_type: str) -> str:
    """The event's name as a button says it: ssa_started -> SSA started."""
    words = [_ACRONYMS.get(word, word) for word in event_type.split("_")]
    words[0] = words[0][0].upper() + words[0][1:]
    return " ".join(words)


def record_event_url(course_id: int, event_type: str) -> str:
    return reverse("admin:treatments_course_record_event", args=[course_id, event_type])


def course_overview(course: Course, *, today: dt.date, may_record: bool) -> CourseOverview:
    """Everything the course page shows beside the form, a fixed number of queries."""
    course = Course.objects.select_related(
        "patient", "care_team", "diagnosis", "surgery", "current_line"
    ).get(pk=course.pk)
    allowed = (
        [
            (event, event_label(event), record_event_url(course.pk, event))
            # The same facts the service decides with: an open line, an open resection.
            for event in machine.allowed_events(course.state, services.course_facts(course))
        ]
        if may_record
        else []
    )
    return CourseOverview(
        course=course,
        # Drawn from the transition table by treatments.diagram; every label in it is one of
        # the machine's own state or event names, escaped there.
        svg=mark_safe(diagram.to_svg(course.state)),  # noqa: S308
        allowed_events=allowed,
        lines=list(course.lines.order_by("number")),
        due=schedule_for(course, today),
        events=list(course.events.select_related("actor").order_by("-seq")[:PANEL_LIMIT]),
        reminders=list(course.reminders.order_by("-due_on", "-pk")[:PANEL_LIMIT]),
        alerts=list(
            course.alerts.select_related("acknowledged_by", "resolved_by")
            .annotate(rank=worklist.SEVERITY_ORDER)
            .order_by(models.F("resolved_at").desc(nulls_first=True), "-rank", "-opened_at")[
                :PANEL_LIMIT
            ]
        ),
        audit=audit_trail(course)[::-1][:AUDIT_LIMIT],
        plan=SurveillancePlan.objects.filter(course=course).first(),
        charts=course_charts.course_charts(course, today=today),
    )
