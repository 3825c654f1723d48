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
from surveillance.models import SurveillancePlan, SymptomCheck
from surveillance.selectors import AuditEntry, audit_trail, schedule_for
from treatments import diagram, labels, machine, services
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
    # "Line 2 · ¹⁷⁷Lu-DOTATATE (PRRT)" for the open line; "" without one.
    line_title: str = ""
    # Every recent check, positive or not, with its answers and assessment (newest first).
    symptom_checks: list[SymptomCheckRow] = field(default_factory=list)


@dataclass(frozen=True)
class SymptomCheckRow:
    """One symptom check as the course page lists it: what the patient answered and what the
    scoring found (``surveillance.schedule.assess_symptoms``, stored with the check)."""

    check: SymptomCheck
    answers: list[tuple[str, Any]]  # (question, answer) of the questions answered "yes" or > 0
    findings: list[dict[str, Any]]  # the assessment's findings: kind, severity, reason
    severity: str | None  # the highest finding's severity; None: nothing found

    @classmethod
    def of(cls, check: SymptomCheck) -> SymptomCheckRow:
        assessment = check.assessment or {}
        answers = [
            (_QUESTIONS[name], getattr(check, name))
            for name in _QUESTIONS
            if getattr(check, name) not in (None, False, 0)
        ]
        return cls(
            check=check,
            answers=answers,
            findings=list(assessment.get("findings") or []),
            severity=assessment.get("highest_severity") or None,
        )


# The questionnaire's fields in the order of the form, with the words the page uses.
_QUESTIONS = {
    "flushing_per_day": "flushing per day",
    "stools_per_day": "stools per day",
    "wheezing": "wheezing",
    "abdominal_pain": "abdominal pain (0–10)",
    "vomiting": "vomiting",
    "no_stool_or_gas": "no stool or gas",
    "palpitations_or_swelling": "palpitations or swelling",
    "weight_loss_kg": "weight loss (kg)",
    "fainting": "fainting",
    "breathless_at_rest": "breathless at rest",
    "weight_kg": "weight (kg)",
}


def event_label(event_type: str) -> str:
    """The event's name as a button says it: ssa_started -> SSA started."""
    words = labels.code_words(event_type)
    return words[0].upper() + words[1:]


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
    lines = list(course.lines.order_by("number"))
    for line in lines:
        # The table's words for the stored codes (treatments.labels).
        line.agent_label = labels.agent_label(line.agent) if line.agent else ""
        line.category_label = labels.category_label(line.category)
    return CourseOverview(
        course=course,
        # Drawn from the transition table by treatments.diagram; every label in it is one of
        # the machine's own state or event names, escaped there.
        svg=mark_safe(diagram.to_svg(course.state)),  # noqa: S308
        allowed_events=allowed,
        lines=lines,
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
        line_title=labels.line_title(course.current_line) if course.current_line else "",
        symptom_checks=[
            SymptomCheckRow.of(check)
            for check in course.symptom_checks.order_by("-reported_on", "-pk")[:PANEL_LIMIT]
        ],
        charts=course_charts.course_charts(course, today=today),
    )
