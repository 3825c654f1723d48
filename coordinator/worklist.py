"""The coordinator's worklist: what needs doing today across the user's care teams.

Sections, each read with one query whatever the number of courses
(docs/architecture.md#time-and-query-counts-are-pinned): every overdue item and every item
falling due this week (grouped by kind: imaging, visits, CgA, symptom checks, injections and
every monitoring kind of ``surveillance.schedule.Kind``), open coordinator alerts by severity,
decisions pending and failed reminders. The page filters by care team, kind and severity
(:class:`WorklistFilters`) and counts the rows of each group and of each filter value.

Nothing clinical is decided here. An item's status comes from ``surveillance.schedule.status_of``.
Its severity is the open overdue alert's (``alerts.services.escalate`` raises one per overdue
item, and marks the 12-month imaging gap critical after asking
``surveillance.schedule.imaging_gap_exceeded``); an overdue item not escalated yet has the
severity escalation gives its kind (``alerts.services.OVERDUE_SEVERITY``), and an item still
within its window is normal.

The view is the admin index for coordinators and clinicians (``coordinator.sites``); the
export (:func:`export`) writes the same rows, with the same filters, as CSV or Excel.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import tablib
from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Case, F, IntegerField, OuterRef, Subquery, Value, When
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from alerts import services as alert_services
from alerts.models import CoordinatorAlert, Reminder, ReminderKind, ReminderStatus, Severity
from api.readlog import ReadLogUnavailable, log_reads
from core import exports
from core.errors import DomainError
from surveillance import schedule
from surveillance.selectors import due_on
from treatments import machine
from treatments.models import Course, CourseEvent
from treatments.roles import STAFF_ROLES, role_of
from treatments.selectors import courses_visible_to, teams_of

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
# Kinds in the schedule's own order: groups of equal severity follow it.
KIND_ORDER = {str(kind): n for n, kind in enumerate(schedule.Kind)}


def course_url(course_id: int) -> str:
    return reverse("admin:treatments_course_change", args=[course_id])


def kind_label(kind: str) -> str:
    """A due item's kind in words (``"cga"`` -> ``"chromogranin A"``), from the reminders'
    labels of the same kinds (``alerts.models.ReminderKind``); the code itself if none."""
    try:
        return ReminderKind(f"{kind}_due").label.removesuffix(" due")
    except ValueError:
        return kind.replace("_", " ")


# ---------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------


def team_names_of(user: AbstractBaseUser | AnonymousUser) -> dict[int, str]:
    """The user's care teams (``treatments.selectors.teams_of``), id -> name, by name."""
    return dict(teams_of(user).order_by("name", "pk").values_list("pk", "name"))


class WorklistFilters(forms.Form):
    """The worklist's GET parameters: ``care_team`` (an id of one of the user's teams),
    ``kind`` (a ``surveillance.schedule.Kind``) and ``severity`` (an ``alerts`` severity).

    Every one is optional; an unknown value is a form error, which the page shows (400
    ``invalid_filter``) instead of a list filtered by something else.
    """

    care_team = forms.TypedChoiceField(coerce=int, choices=(), required=False)
    kind = forms.ChoiceField(
        choices=[("", "every kind"), *((str(k), kind_label(k)) for k in schedule.Kind)],
        required=False,
    )
    severity = forms.ChoiceField(
        choices=[("", "every severity"), *Severity.choices], required=False
    )

    def __init__(self, data: Any, *, user: AbstractBaseUser | AnonymousUser) -> None:
        super().__init__(data)
        #: The user's care teams, id -> name (one query, shared with the worklist's counts).
        self.team_names: dict[int, str] = team_names_of(user)
        self.fields["care_team"].choices = [
            ("", "every care team"),
            *((str(pk), name) for pk, name in self.team_names.items()),
        ]

    def errors_text(self) -> str:
        """``"kind: Select a valid choice. ..."``, for a message and the export's refusal."""
        return "; ".join(
            f"{name}: {' '.join(str(m) for m in found)}" for name, found in self.errors.items()
        )


@dataclass(frozen=True)
class Chosen:
    """The filter values in force (``None``: not filtered on that)."""

    care_team: int | None = None
    kind: str | None = None
    severity: str | None = None

    @classmethod
    def of(cls, form: WorklistFilters) -> Chosen:
        """From a valid form."""
        team = form.cleaned_data.get("care_team")
        return cls(
            care_team=team if team not in (None, "") else None,
            kind=form.cleaned_data.get("kind") or None,
            severity=form.cleaned_data.get("severity") or None,
        )

    def query(self, **change: Any) -> str:
        """The query string of these filters with ``change`` applied (``None`` removes)."""
        values = {"care_team": self.care_team, "kind": self.kind, "severity": self.severity}
        values.update(change)
        pairs = [f"{key}={value}" for key, value in values.items() if value not in (None, "")]
        return "?" + "&".join(pairs) if pairs else "?"

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.care_team, self.kind, self.severity))


@dataclass(frozen=True)
class FacetValue:
    """One value of one filter with the rows it would show (the other filters applied)."""

    value: str
    label: str
    count: int
    selected: bool
    url: str


# ---------------------------------------------------------------------------------------------
# Rows
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueRow:
    """One scheduled item (any ``surveillance.schedule.Kind``) of one course."""

    course: Course
    kind: str
    due_on: dt.date
    status: str
    why: str
    days: int  # since the due date: positive when overdue, negative while still ahead
    severity: str = Severity.NORMAL
    alerted: bool = False  # the severity is an open alert's

    @property
    def critical(self) -> bool:
        return self.severity == Severity.CRITICAL

    @property
    def rank(self) -> int:
        return Severity(self.severity).rank

    @property
    def label(self) -> str:
        return kind_label(self.kind)

    @property
    def url(self) -> str:
        return course_url(self.course.pk)

    @property
    def in_days(self) -> int:
        """Days until the due date, for rows still ahead."""
        return -self.days


@dataclass(frozen=True)
class Group:
    """The rows of one kind within the overdue or the due-this-week section."""

    section: str  # "overdue" or "due-this-week"
    kind: str
    rows: list[DueRow]

    @property
    def label(self) -> str:
        return kind_label(self.kind)

    @property
    def anchor(self) -> str:
        """The group's HTML id (``overdue-imaging``)."""
        return f"{self.section}-{self.kind.replace('_', '-')}"

    @property
    def top_severity(self) -> str:
        return max(self.rows, key=lambda row: row.rank).severity


def _groups(section: str, rows: list[DueRow]) -> list[Group]:
    """Rows grouped by kind: the most severe group first, then the schedule's order of kinds;
    within a group the most severe first, then the oldest due date."""
    by_kind: dict[str, list[DueRow]] = {}
    for row in sorted(rows, key=lambda r: (-r.rank, r.due_on, r.course.pk)):
        by_kind.setdefault(row.kind, []).append(row)
    groups = [Group(section, kind, found) for kind, found in by_kind.items()]
    return sorted(
        groups, key=lambda g: (-Severity(g.top_severity).rank, KIND_ORDER.get(g.kind, 99))
    )


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
    chosen: Chosen = field(default_factory=Chosen)
    overdue: list[DueRow] = field(default_factory=list)
    due_this_week: list[DueRow] = field(default_factory=list)
    alerts: list[CoordinatorAlert] = field(default_factory=list)
    decisions: list[DecisionRow] = field(default_factory=list)
    failed_reminders: list[Reminder] = field(default_factory=list)
    # Sections cut at SECTION_LIMIT (or ITEM_SCAN_LIMIT), so the page can say so.
    truncated: set[str] = field(default_factory=set)
    # Per filter ("care_team", "kind", "severity"): each value and the items it would show.
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    team_names: dict[int, str] = field(default_factory=dict)

    @property
    def overdue_groups(self) -> list[Group]:
        return _groups("overdue", self.overdue)

    @property
    def due_groups(self) -> list[Group]:
        return _groups("due-this-week", self.due_this_week)

    @property
    def overdue_imaging(self) -> list[DueRow]:
        """The overdue imaging rows, oldest first."""
        return sorted(
            (row for row in self.overdue if row.kind == schedule.Kind.IMAGING),
            key=lambda row: (row.due_on, row.course.pk),
        )

    def patient_ids(self) -> set[int]:
        """The patients the page names, for the read-access log."""
        return (
            {row.course.patient_id for row in (*self.overdue, *self.due_this_week)}
            | {alert.course.patient_id for alert in self.alerts}
            | {row.course.patient_id for row in self.decisions}
            | {reminder.course.patient_id for reminder in self.failed_reminders}
        )

    @property
    def empty(self) -> bool:
        return not (
            self.overdue
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


def _item_severity(
    kind: str, status: schedule.Status, course_id: int, open_overdue: dict[tuple[int, str], str]
) -> tuple[str, bool]:
    """(severity, from an alert): the open overdue alert's, else escalation's for the kind."""
    found = open_overdue.get((course_id, kind))
    if found is not None and found in Severity.values:
        return found, True
    if status == schedule.Status.OVERDUE:
        return str(alert_services.OVERDUE_SEVERITY.get(kind, Severity.NORMAL)), False
    return str(Severity.NORMAL), False


def _facets(
    rows: Iterable[DueRow], chosen: Chosen, team_names: dict[int, str]
) -> dict[str, list[FacetValue]]:
    """Each filter's values with the overdue and due-this-week rows each would show, the other
    two filters applied (a count of the team filter ignores the team chosen, and so on)."""
    rows = list(rows)
    keep = {
        "care_team": lambda r: chosen.care_team in (None, r.course.care_team_id),
        "kind": lambda r: chosen.kind in (None, r.kind),
        "severity": lambda r: chosen.severity in (None, r.severity),
    }

    def counted(name: str, key) -> Counter:
        others = [test for other, test in keep.items() if other != name]
        return Counter(key(r) for r in rows if all(test(r) for test in others))

    teams = counted("care_team", lambda r: r.course.care_team_id)
    kinds = counted("kind", lambda r: r.kind)
    severities = counted("severity", lambda r: r.severity)
    return {
        "care_team": [
            FacetValue(
                str(pk),
                name,
                teams.get(pk, 0),
                chosen.care_team == pk,
                chosen.query(care_team=pk),
            )
            for pk, name in team_names.items()
        ],
        "kind": [
            FacetValue(
                str(k),
                kind_label(k),
                kinds.get(str(k), 0),
                chosen.kind == k,
                chosen.query(kind=str(k)),
            )
            for k in schedule.Kind
        ],
        "severity": [
            FacetValue(
                s.value,
                s.label,
                severities.get(s.value, 0),
                chosen.severity == s.value,
                chosen.query(severity=s.value),
            )
            for s in sorted(Severity, key=lambda s: -s.rank)
        ],
    }


def worklist_for(
    user: AbstractBaseUser | AnonymousUser,
    *,
    today: dt.date,
    chosen: Chosen | None = None,
    team_names: dict[int, str] | None = None,
) -> Worklist:
    """Everything on the user's care teams that needs a coordinator on ``today``, narrowed by
    ``chosen`` (care team: every section; kind: the schedule sections and the alerts about
    items of that kind; severity: the schedule sections and the alerts).

    ``team_names`` (``team_names_of(user)``) saves reading the teams again. A fixed number of
    queries whatever the number of courses and kinds.
    """
    chosen = chosen or Chosen()
    courses = courses_visible_to(user)
    team_names = team_names_of(user) if team_names is None else team_names
    result = Worklist(today=today, chosen=chosen, team_names=team_names)
    if chosen.care_team is not None:
        courses = courses.filter(care_team_id=chosen.care_team)

    # The open overdue alert of each (course, item kind): its severity is the item's.
    open_overdue = {
        (course_id, kind.removesuffix(alert_services.OVERDUE_SUFFIX)): severity
        for course_id, kind, severity in CoordinatorAlert.objects.filter(
            resolved_at__isnull=True,
            kind__endswith=alert_services.OVERDUE_SUFFIX,
            course__in=courses_visible_to(user),
        ).values_list("course_id", "kind", "severity")
    }
    items = list(due_on(today, courses=courses_visible_to(user))[: ITEM_SCAN_LIMIT + 1])
    if len(items) > ITEM_SCAN_LIMIT:
        result.truncated.update({"overdue", "due_this_week"})
        items = items[:ITEM_SCAN_LIMIT]
    soon = today + dt.timedelta(days=DUE_SOON_DAYS - 1)
    every: list[DueRow] = []
    for item in items:
        status = schedule.status_of(
            item.kind, item.due_on, item.window_start, item.window_end, today
        )
        if not (
            status == schedule.Status.OVERDUE
            or (status == schedule.Status.DUE and item.due_on <= soon)
        ):
            continue
        severity, alerted = _item_severity(item.kind, status, item.course_id, open_overdue)
        every.append(
            DueRow(
                course=item.course,
                kind=item.kind,
                due_on=item.due_on,
                status=str(status),
                why=item.why,
                days=(today - item.due_on).days,
                severity=severity,
                alerted=alerted,
            )
        )
    result.facets = _facets(every, chosen, team_names)
    shown = [
        row
        for row in every
        if chosen.care_team in (None, row.course.care_team_id)
        and chosen.kind in (None, row.kind)
        and chosen.severity in (None, row.severity)
    ]
    result.overdue = _limited(
        [row for row in shown if row.status == schedule.Status.OVERDUE],
        "overdue",
        result.truncated,
    )
    result.due_this_week = _limited(
        [row for row in shown if row.status == schedule.Status.DUE],
        "due_this_week",
        result.truncated,
    )

    open_alerts = CoordinatorAlert.objects.filter(resolved_at__isnull=True, course__in=courses)
    if chosen.kind is not None:
        open_alerts = open_alerts.filter(kind=f"{chosen.kind}{alert_services.OVERDUE_SUFFIX}")
    if chosen.severity is not None:
        open_alerts = open_alerts.filter(severity=chosen.severity)
    result.alerts = _limited(
        list(
            open_alerts.select_related("course__patient", "acknowledged_by")
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
# The export
# ---------------------------------------------------------------------------------------------

EXPORT_HEADERS = (
    "section", "kind", "severity", "patient MRN", "family name", "given name", "course",
    "care team", "date", "days overdue", "details",
)  # fmt: skip


def worklist_dataset(shown: Worklist) -> tablib.Dataset:
    """The worklist's rows as one table, a ``section`` column telling them apart: overdue and
    due-this-week items, open alerts, decisions pending and failed reminders."""

    def person(course: Course) -> list[Any]:
        patient = course.patient
        return [
            patient.mrn,
            patient.family_name,
            patient.given_name,
            course.pk,
            shown.team_names.get(course.care_team_id, ""),
        ]

    rows: list[list[Any]] = []
    for section, groups in (("overdue", shown.overdue_groups), ("due this week", shown.due_groups)):
        for group in groups:
            for row in group.rows:
                rows.append(
                    [section, row.kind, row.severity, *person(row.course), row.due_on,
                     max(row.days, 0), row.why]
                )  # fmt: skip
    for alert in shown.alerts:
        rows.append(
            ["alert", alert.kind, alert.severity, *person(alert.course),
             alert.opened_at.date(), None, alert.details.get("reason") or alert.details.get("why")]
        )  # fmt: skip
    for decision in shown.decisions:
        rows.append(
            ["decision pending", decision.state, None, *person(decision.course),
             decision.since, None, None]
        )  # fmt: skip
    for reminder in shown.failed_reminders:
        rows.append(
            ["failed reminder", reminder.kind, None, *person(reminder.course), reminder.due_on,
             None, reminder.last_error]
        )  # fmt: skip
    return exports.dataset(EXPORT_HEADERS, rows, title="worklist")


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


def _filters(request: HttpRequest) -> tuple[WorklistFilters, Chosen | None]:
    """The filter form of the request and what it chose (``None`` when a value is unknown)."""
    form = WorklistFilters(request.GET, user=request.user)
    return form, (Chosen.of(form) if form.is_valid() else None)


def index(
    request: HttpRequest, *, site: admin.AdminSite, extra_context: dict[str, Any] | None = None
) -> HttpResponse:
    """The worklist page, then the usual list of models (coordinator.sites serves it as the
    admin index to the users ``shows_worklist`` names).

    GET parameters ``care_team``, ``kind`` and ``severity`` filter it (:class:`WorklistFilters`);
    an unknown value answers 400 with the form's message (code ``invalid_filter``) and no rows.
    """
    if request.method == "POST":
        _bulk(request)
        return HttpResponseRedirect(request.path)
    today = timezone.localdate()
    form, chosen = _filters(request)
    status = 200
    shown = None
    if chosen is None:
        status = 400
    else:
        shown = worklist_for(request.user, today=today, chosen=chosen, team_names=form.team_names)
        try:
            log_reads(request, shown.patient_ids())
        except ReadLogUnavailable as refused:  # fails closed, as the API does
            return HttpResponse(str(refused.detail), status=refused.status_code)
    context = {
        **site.each_context(request),
        "title": f"Worklist for {today:%A} {today.day} {today:%B %Y}",
        "subtitle": None,
        "worklist": shown,
        "filters": form,
        "filter_error": None if chosen is not None else form.errors_text(),
        "export_query": chosen.query()[1:] if chosen is not None else "",
        "app_list": site.get_app_list(request),
        "due_soon_days": DUE_SOON_DAYS,
        "can_acknowledge": request.user.has_perm("alerts.view_coordinatoralert"),
        "can_resend": request.user.has_perm("alerts.view_reminder"),
        **(extra_context or {}),
    }
    request.current_app = site.name
    return TemplateResponse(request, "admin/coordinator/worklist.html", context, status=status)


def export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The worklist, with the page's filters, as a CSV or Excel download (GET).

    One read-log row per patient it names (503 ``read_log_unavailable`` if they cannot be
    written); 400
    ``invalid_format`` for a format other than csv or xlsx, 400 ``invalid_filter`` for an
    unknown filter value, 403 for a user the worklist is not for.
    """
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    if not shows_worklist(request.user):
        return JsonResponse(
            {"code": "permission_denied", "detail": "The worklist is for coordinators and "
             "clinicians."}, status=403,
        )  # fmt: skip
    if fmt not in exports.FORMATS:
        return JsonResponse(
            {"code": "invalid_format", "detail": f"Export as one of {', '.join(exports.FORMATS)}."},
            status=400,
        )
    form, chosen = _filters(request)
    if chosen is None:
        return JsonResponse(
            {"code": "invalid_filter", "detail": form.errors_text(), "errors": form.errors},
            status=400,
        )
    shown = worklist_for(
        request.user, today=timezone.localdate(), chosen=chosen, team_names=form.team_names
    )
    ready = exports.download(worklist_dataset(shown), fmt, "worklist", on=timezone.localdate())
    response = HttpResponse(ready.content, content_type=ready.content_type)
    response["Content-Disposition"] = ready.disposition
    try:
        log_reads(request, shown.patient_ids())
    except ReadLogUnavailable as refused:  # fails closed, as the lists' exports do
        return JsonResponse(
            {"code": refused.default_code, "detail": str(refused.detail)},
            status=refused.status_code,
        )
    return response
