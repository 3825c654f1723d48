"""The coordinator's worklist: what needs doing today across the user's care teams.

Five sections, each read with one query whatever the number of courses
(docs/architecture.md#time-and-query-counts-are-pinned): overdue imaging (oldest first), what falls
due this week, open coordinator alerts by severity, decisions pending and failed reminders. Nothing
clinical is decided here: an item's status comes from ``surveillance.schedule.status_of``, and the
12-month imaging gap from the critical ``imaging_overdue`` alert that ``alerts.services.escalate``
raises after asking ``surveillance.schedule.imaging_gap_exceeded``.

The view is the admin index for coordinators and clinicians (``coordinator.sites``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Case, F, IntegerField, OuterRef, Subquery, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from alerts import services as alert_services
from alerts.models import CoordinatorAlert, Reminder, ReminderStatus, Severity
from api.readlog import ReadLogUnavailable, log_reads
from core.errors import DomainError
from surveillance import schedule
from surveillance.selectors import due_on
from treatments import machine
from treatments.models import Course, CourseEvent
from treatments.roles import STAFF_ROLES, role_of
from treatments.selectors import courses_visible_to

# "Due this week": from today to six days on, the seven days a coordinator plans at once.
DUE_SOON_DAYS = 7
# docs/architecture.md#coordinator-alerts-and-escalation: a recurrence or a progression leaves a
# treatment decision pending.
DECISION_STATES = (machine.State.RECURRENCE, machine.State.PROGRESSION)
# The open alert that escalation marks critical when imaging is more than 12 months apart.
IMAGING_OVERDUE_ALERT = f"{schedule.Kind.IMAGING}{alert_services.OVERDUE_SUFFIX}"
# Rows shown per section; the full lists stay one click away in the admin changelists.
SECTION_LIMIT = 200
# Window-open items read to fill the two schedule sections. They come oldest first, so a cut
# keeps the most overdue; the changelist's overdue filter shows everything.
ITEM_SCAN_LIMIT = 2000

SEVERITY_ORDER = Case(
    *(When(severity=str(s), then=Value(s.rank)) for s in Severity),
    default=Value(0),
    output_field=IntegerField(),
)


def course_url(course_id: int) -> str:
    return reverse("admin:treatments_course_change", args=[course_id])


@dataclass(frozen=True)
class DueRow:
    """One scheduled item (imaging, visit, CgA, symptom check, injection) of one course."""

    course: Course
    kind: str
    due_on: dt.date
    status: str
    why: str
    days: int  # since the due date: positive when overdue, negative while still ahead
    critical: bool = False

    @property
    def url(self) -> str:
        return course_url(self.course.pk)

    @property
    def in_days(self) -> int:
        """Days until the due date, for rows still ahead."""
        return -self.days


@dataclass(frozen=True)
class DecisionRow:
    course: Course
    state: str
    since: dt.date | None
    waiting_days: int | None

    @property
    def url(self) -> str:
        return course_url(self.course.pk)


@dataclass
class Worklist:
    today: dt.date
    overdue_imaging: list[DueRow] = field(default_factory=list)
    due_this_week: list[DueRow] = field(default_factory=list)
    alerts: list[CoordinatorAlert] = field(default_factory=list)
    decisions: list[DecisionRow] = field(default_factory=list)
    failed_reminders: list[Reminder] = field(default_factory=list)
    # Sections cut at SECTION_LIMIT (or ITEM_SCAN_LIMIT), so the page can say so.
    truncated: set[str] = field(default_factory=set)

    def patient_ids(self) -> set[int]:
        """The patients the page names, for the read-access log."""
        return (
            {row.course.patient_id for row in (*self.overdue_imaging, *self.due_this_week)}
            | {alert.course.patient_id for alert in self.alerts}
            | {row.course.patient_id for row in self.decisions}
            | {reminder.course.patient_id for reminder in self.failed_reminders}
        )

    @property
    def empty(self) -> bool:
        return not (
            self.overdue_imaging
            or self.due_this_week
            or self.alerts
            or self.decisions
            or self.failed_reminders
        )


def _limited(rows: list[Any], name: str, truncated: set[str]) -> list[Any]:
    if len(rows) > SECTION_LIMIT:
        truncated.add(name)
        return rows[:SECTION_LIMIT]
    return rows


def worklist_for(user: AbstractBaseUser | AnonymousUser, *, today: dt.date) -> Worklist:
    """Everything on the user's care teams that needs a coordinator on ``today``."""
    courses = courses_visible_to(user)
    result = Worklist(today=today)

    # Courses whose 12-month imaging gap escalation has judged exceeded.
    gap_courses = set(
        CoordinatorAlert.objects.filter(
            resolved_at__isnull=True,
            kind=IMAGING_OVERDUE_ALERT,
            severity=Severity.CRITICAL,
            course__in=courses,
        ).values_list("course_id", flat=True)
    )
    items = list(due_on(today, courses=courses)[: ITEM_SCAN_LIMIT + 1])
    if len(items) > ITEM_SCAN_LIMIT:
        result.truncated.update({"overdue_imaging", "due_this_week"})
        items = items[:ITEM_SCAN_LIMIT]
    soon = today + dt.timedelta(days=DUE_SOON_DAYS - 1)
    for item in items:
        status = schedule.status_of(
            item.kind, item.due_on, item.window_start, item.window_end, today
        )
        row = DueRow(
            course=item.course,
            kind=item.kind,
            due_on=item.due_on,
            status=str(status),
            why=item.why,
            days=(today - item.due_on).days,
            critical=item.kind == schedule.Kind.IMAGING and item.course_id in gap_courses,
        )
        if status == schedule.Status.OVERDUE and item.kind == schedule.Kind.IMAGING:
            result.overdue_imaging.append(row)
        elif status == schedule.Status.DUE and item.due_on <= soon:
            result.due_this_week.append(row)
    result.overdue_imaging = _limited(result.overdue_imaging, "overdue_imaging", result.truncated)
    result.due_this_week = _limited(result.due_this_week, "due_this_week", result.truncated)

    result.alerts = _limited(
        list(
            CoordinatorAlert.objects.filter(resolved_at__isnull=True, course__in=courses)
            .select_related("course__patient", "acknowledged_by")
            .annotate(rank=SEVERITY_ORDER)
            .order_by("-rank", "opened_at", "pk")[: SECTION_LIMIT + 1]
        ),
        "alerts",
        result.truncated,
    )

    # The day the course entered its state: the last event that moved it there (a symptoms
    # report keeps the state, so it does not restart the wait).
    entered = (
        CourseEvent.objects.filter(course=OuterRef("pk"), to_state=OuterRef("state"))
        .exclude(from_state=F("to_state"))
        .order_by("-seq")
        .values("occurred_on")[:1]
    )
    pending = (
        courses.filter(state__in=DECISION_STATES)
        .select_related("patient")
        .annotate(since=Subquery(entered))
        .order_by(F("since").asc(nulls_first=True), "pk")[: SECTION_LIMIT + 1]
    )
    result.decisions = _limited(
        [
            DecisionRow(
                course=course,
                state=course.state,
                since=course.since,
                waiting_days=(today - course.since).days if course.since else None,
            )
            for course in pending
        ],
        "decisions",
        result.truncated,
    )

    result.failed_reminders = _limited(
        list(
            Reminder.objects.filter(status=ReminderStatus.FAILED, course__in=courses)
            .select_related("course__patient")
            .order_by("due_on", "pk")[: SECTION_LIMIT + 1]
        ),
        "failed_reminders",
        result.truncated,
    )
    return result


# ---------------------------------------------------------------------------------------------
# The view
# ---------------------------------------------------------------------------------------------


def _bulk(request: HttpRequest) -> None:
    """Acknowledge alerts or resend failed reminders ticked on the worklist.

    Through the alerts services, which scope to the actor's courses themselves: an id of
    another team's alert or reminder changes nothing.
    """
    action = request.POST.get("action")
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    ids = [
        int(v)
        for v in request.POST.getlist("selected")
        if v.isascii() and v.isdigit() and len(v) < 19
    ]
    if not ids:
        messages.warning(request, "Tick at least one row first.")
        return
    if action == "acknowledge_alerts":
        if not request.user.has_perm("alerts.view_coordinatoralert"):
            messages.error(request, "You may not acknowledge alerts.")
            return
        done = 0
        visible = CoordinatorAlert.objects.filter(
            pk__in=ids, course__in=courses_visible_to(request.user)
        )
        for alert in visible:
            try:
                alert_services.alert_acknowledge(alert=alert, actor=request.user)
            except DomainError as refused:
                messages.error(request, f"Alert {alert.pk}: {refused.detail}")
            else:
                done += 1
        messages.success(request, f"{done} alert(s) acknowledged.")
    elif action == "resend_reminders":
        if not request.user.has_perm("alerts.view_reminder"):
            messages.error(request, "You may not resend reminders.")
            return
        count = alert_services.reminder_resend(reminder_ids=ids, actor=request.user)
        messages.success(request, f"{count} reminder(s) queued again.")
    else:
        messages.error(request, "Unknown action.")


def shows_worklist(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Coordinators and clinicians work from the worklist; other staff get the plain index."""
    return role_of(user) in STAFF_ROLES


def index(
    request: HttpRequest, *, site: admin.AdminSite, extra_context: dict[str, Any] | None = None
) -> HttpResponse:
    """The worklist page, then the usual list of models (coordinator.sites serves it as the
    admin index to the users ``shows_worklist`` names)."""
    if request.method == "POST":
        _bulk(request)
        return HttpResponseRedirect(request.path)
    today = timezone.localdate()
    shown = worklist_for(request.user, today=today)
    try:
        log_reads(request, shown.patient_ids())
    except ReadLogUnavailable as refused:  # fails closed, as the API does
        return HttpResponse(str(refused.detail), status=refused.status_code)
    context = {
        **site.each_context(request),
        "title": f"Worklist for {today:%A} {today.day} {today:%B %Y}",
        "subtitle": None,
        "worklist": shown,
        "app_list": site.get_app_list(request),
        "due_soon_days": DUE_SOON_DAYS,
        "can_acknowledge": request.user.has_perm("alerts.view_coordinatoralert"),
        "can_resend": request.user.has_perm("alerts.view_reminder"),
        **(extra_context or {}),
    }
    request.current_app = site.name
    return TemplateResponse(request, "admin/coordinator/worklist.html", context)
