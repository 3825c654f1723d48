"""The coordinator's admin: the worklist as the index, the course at a glance, events recorded.

Cross-app on purpose. ``treatments`` imports neither ``surveillance`` nor ``alerts``
(DESIGN.md), so the course page that also shows what is due, the reminders and the alerts is
registered here, over treatments' own CourseAdmin. Nothing here writes clinical data itself:
an event goes through ``treatments.services.record_event``, with its guards and its reasons,
and ``Course.state`` stays read-only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django_otp.plugins.otp_totp import admin as otp_totp_admin
from django_otp.plugins.otp_totp.models import TOTPDevice

from alerts.models import CoordinatorAlert, Reminder, Severity
from coordinator import worklist
from coordinator.user_admin import install_user_admin
from core import errors
from surveillance import schedule
from surveillance.models import ScheduledItem, SurveillancePlan
from surveillance.selectors import AuditEntry, audit_trail, due_on, schedule_for
from treatments import diagram, machine, payloads
from treatments import services as treatment_services
from treatments.admin import CourseAdmin
from treatments.models import Course, CourseEvent, TreatmentLine
from treatments.roles import may_override_guards
from treatments.selectors import courses_visible_to

# The same bound as the API's reason fields.
REASON_MAX = 2000
# Rows per panel on the course page; the changelists hold the rest.
PANEL_LIMIT = 50
AUDIT_LIMIT = 200


# The users' admin with its "log out everywhere" action, in place of Django's own.
install_user_admin(admin.site)


# ---------------------------------------------------------------------------------------------
# The form of one event, built from machine.EVENT_FIELDS
# ---------------------------------------------------------------------------------------------


def _choices(values: Iterable[str]) -> list[tuple[str, str]]:
    return [(value, value.replace("_", " ")) for value in values]


def _date_field(**kwargs: Any) -> forms.DateField:
    # A plain text box in ISO form: a browser's date picker types in the user's locale, which
    # neither the service nor an automated browser should have to guess.
    return forms.DateField(
        input_formats=["%Y-%m-%d"],
        widget=forms.TextInput(attrs={"class": "vDateField", "placeholder": "YYYY-MM-DD"}),
        **kwargs,
    )


# Only the widget is chosen here: what is required, the ranges and the guards stay the payload
# models' and the machine's, and are checked again by record_event.
_INITIAL: dict[str, Any] = {
    "interval_days": machine.SSA_INTERVAL_DAYS,
    "cycles_planned": machine.PRRT_LABEL_CYCLES,
}
DATA_PREFIX = "data_"


def data_form_field(spec: payloads.PayloadField) -> forms.Field:
    """The form field for one data field of an event, from its kind, range and choices."""
    required = spec.required
    made: forms.Field
    if spec.kind == "choice":
        made = forms.ChoiceField(choices=_choices(spec.choices), required=required)
    elif spec.kind == "boolean":
        made = forms.BooleanField(required=False)  # an unticked box is false, not missing
    elif spec.kind == "date":
        made = _date_field(required=required)
    elif spec.kind == "text":
        made = forms.CharField(required=required, max_length=spec.max_length)
    elif spec.kind == "number":
        made = forms.DecimalField(required=required, max_value=spec.maximum)
    else:  # "integer" and "record" (an id)
        made = forms.IntegerField(required=required, min_value=spec.minimum, max_value=spec.maximum)
    made.initial = _INITIAL.get(spec.name)
    made.label = spec.name.replace("_", " ")
    made.help_text = spec.description + (f" ({spec.unit})" if spec.unit else "")
    return made


class EventForm(forms.Form):
    """What every event asks for; the subclass per event adds its data fields."""

    event_type: str = ""
    occurred_on = _date_field(label="occurred on", help_text="The day it happened.")
    reason = forms.CharField(
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Why it is recorded (kept in the event log and the audit trail).",
    )
    # The version the user saw: a concurrent event makes record_event answer 409 instead of
    # applying this one to a course that has moved on.
    expected_version = forms.IntegerField(widget=forms.HiddenInput)

    def event_data(self) -> dict[str, Any]:
        """The cleaned data fields, keyed as payloads.validate_data expects them."""
        values = {}
        for spec in payloads.event_fields(self.event_type):
            name = spec.name
            value = self.cleaned_data.get(DATA_PREFIX + name)
            if value is None or value == "":
                continue  # optional and left empty
            values[name] = value
        return values

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("override"):
            reason = (cleaned.get("override_reason") or "").strip()
            if not reason:
                self.add_error("override_reason", "An override needs a written reason.")
        return cleaned


class OverrideFields(forms.Form):
    override = forms.BooleanField(
        required=False,
        label="override a guideline guard",
        help_text="Clinicians only: record the event although a guard refuses it.",
    )
    override_reason = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Why the guideline does not apply to this patient.",
    )


def event_form_class(event_type: str, *, may_override: bool) -> type[EventForm]:
    """A form for ``event_type``: its data fields, and the override only for clinicians."""
    event = machine.EventType(event_type)
    attrs: dict[str, Any] = {"event_type": str(event)}
    fields = payloads.event_fields(event)
    for spec in fields:
        attrs[DATA_PREFIX + spec.name] = data_form_field(spec)
    # What happened first, then why; the override last, where a refusal points to it.
    attrs["field_order"] = [
        "occurred_on",
        *(DATA_PREFIX + spec.name for spec in fields),
        "reason",
        "override",
        "override_reason",
    ]
    bases: tuple[type, ...] = (OverrideFields, EventForm) if may_override else (EventForm,)
    return type(f"{event.title().replace('_', '')}Form", bases, attrs)


def _form_field_for(error_key: str, form: forms.Form) -> str | None:
    """Where a service field error belongs on the form ("data.site" -> "data_site")."""
    name = (
        error_key.replace("data.", DATA_PREFIX, 1) if error_key.startswith("data.") else error_key
    )
    return name if name in form.fields else None


# ---------------------------------------------------------------------------------------------
# The course at a glance
# ---------------------------------------------------------------------------------------------


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
            for event in machine.allowed_events(course.state)
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
    )


# ---------------------------------------------------------------------------------------------
# List filters that need the schedule and the alerts
# ---------------------------------------------------------------------------------------------


class OverdueFilter(admin.SimpleListFilter):
    """Courses with something overdue today, by surveillance.schedule.status_of."""

    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("imaging", "imaging overdue"),
            ("gap", "no imaging for over 12 months"),
            ("any", "anything overdue"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Course]) -> QuerySet[Course]:
        choice = self.value()
        if choice is None:
            return queryset
        visible = courses_visible_to(request.user)
        if choice == "gap":
            # Escalation's verdict (schedule.imaging_gap_exceeded), as on the worklist.
            return queryset.filter(
                alerts__resolved_at__isnull=True,
                alerts__kind=worklist.IMAGING_OVERDUE_ALERT,
                alerts__severity=Severity.CRITICAL,
            ).distinct()
        today = timezone.localdate()
        kinds = [schedule.Kind.IMAGING] if choice == "imaging" else None
        overdue = {
            item.course_id
            for item in due_on(today, courses=visible, kinds=kinds)
            if schedule.status_of(item.kind, item.due_on, item.window_start, item.window_end, today)
            == schedule.Status.OVERDUE
        }
        return queryset.filter(pk__in=overdue)


# ---------------------------------------------------------------------------------------------
# The course admin
# ---------------------------------------------------------------------------------------------

admin.site.unregister(Course)


@admin.register(Course)
class CourseOverviewAdmin(CourseAdmin):
    """treatments' CourseAdmin, with the course at a glance and the record-event forms."""

    change_form_template = "admin/coordinator/course/change_form.html"
    # The panels show the lines and the event log, with more than the inlines could.
    inlines = []
    list_display = ("id", "patient", "state", "stage", "grade", "care_team", "next_due")
    list_filter = (*CourseAdmin.list_filter, OverdueFilter)
    list_select_related = ("patient", "care_team", "diagnosis")
    search_help_text = "MRN, family name or given name"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Course]:
        # A subquery, not an aggregate: no GROUP BY for the date hierarchy and filters.
        next_due = (
            ScheduledItem.objects.filter(course=OuterRef("pk"), active=True)
            .order_by("due_on")
            .values("due_on")[:1]
        )
        # The change form shows these read-only: fetched with the course, not one by one.
        return (
            super()
            .get_queryset(request)
            .select_related("patient", "care_team", "diagnosis", "surgery", "current_line")
            .annotate(next_due=Subquery(next_due))
        )

    @admin.display(description="next due", ordering="next_due")
    def next_due(self, obj: Course) -> dt.date | None:
        return obj.next_due

    @admin.display(description="stage", ordering="diagnosis__stage")
    def stage(self, obj: Course) -> str:
        return obj.diagnosis.stage

    @admin.display(description="grade", ordering="diagnosis__grade")
    def grade(self, obj: Course) -> str:
        return obj.diagnosis.grade

    def get_urls(self) -> list:
        # Before the ModelAdmin's own: its "<path:object_id>/" catch-all would take these.
        return [
            path(
                "<path:object_id>/record-event/<str:event_type>/",
                self.admin_site.admin_view(self.record_event_view),
                name="treatments_course_record_event",
            ),
            *super().get_urls(),
        ]

    def _course_or_404(self, request: HttpRequest, object_id: str) -> Course:
        return self.visible_object_or_404(request, object_id)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # 404, not the admin's "does not exist" redirect: another team's course is not ours
        # to confirm or deny (DESIGN.md, API shape).
        course = self._course_or_404(request, object_id)
        overview = course_overview(
            course,
            today=timezone.localdate(),
            may_record=self.has_change_permission(request, course),
        )
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "overview": overview}
        )

    def record_event_view(self, request: HttpRequest, object_id: str, event_type: str):
        """A form for one event; submitting it calls record_event with the same guards."""
        course = self._course_or_404(request, object_id)
        if event_type not in {str(event) for event in machine.EventType}:
            raise Http404
        if not self.has_change_permission(request, course):
            raise PermissionDenied
        form_class = event_form_class(event_type, may_override=may_override_guards(request.user))
        status = 200
        refusal: dict[str, Any] | None = None
        if request.method == "POST":
            form = form_class(request.POST)
            if not form.is_valid():
                status = 400
            else:
                outcome = self._record(request, course, form)
                if isinstance(outcome, HttpResponse):
                    return outcome
                status, refusal, form = outcome
        else:
            form = form_class(
                initial={"occurred_on": timezone.localdate(), "expected_version": course.version}
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Record: {event_label(event_type)}",
            "subtitle": str(course),
            "opts": self.opts,
            "course": course,
            "form": form,
            "event_type": event_type,
            "allowed": event_type in machine.allowed_events(course.state),
            "allowed_events": machine.allowed_events(course.state),
            "guards": machine.guards_for(event_type),
            "refusal": refusal,
            "course_url": reverse("admin:treatments_course_change", args=[course.pk]),
            "has_view_permission": self.has_view_permission(request, course),
        }
        request.current_app = self.admin_site.name
        response = TemplateResponse(
            request, "admin/coordinator/course/record_event.html", context, status=status
        )
        # The form shows the course (patient, state): a read like the course page.
        return self.logged(request, response, [course])

    def _record(
        self, request: HttpRequest, course: Course, form: EventForm
    ) -> HttpResponse | tuple[int, dict[str, Any] | None, EventForm]:
        """Call the service; a redirect on success, else (status, refusal, form) to show."""
        cleaned = form.cleaned_data
        try:
            recorded = treatment_services.record_event(
                course=course.pk,
                type=form.event_type,
                occurred_on=cleaned["occurred_on"],
                data=form.event_data(),
                actor=request.user,
                reason=cleaned["reason"],
                override=bool(cleaned.get("override")),
                override_reason=cleaned.get("override_reason") or "",
                expected_version=cleaned["expected_version"],
            )
        except errors.InvalidInput as refused:
            for key, found in refused.errors.items():
                for message in found:
                    form.add_error(_form_field_for(key, form), message)
            return refused.status, None, form
        except errors.StaleVersion as refused:
            messages.error(
                request,
                "Another event was recorded on this course while this form was open (it is "
                f"now at version {refused.extra['current_version']}). Check the course, then "
                "submit again.",
            )
            data = request.POST.copy()
            data["expected_version"] = str(refused.extra["current_version"])
            stale = type(form)(data)
            stale.is_valid()
            return refused.status, None, stale
        except errors.TransitionNotAllowed as refused:
            allowed = ", ".join(refused.extra.get("allowed_events") or []) or "none"
            messages.error(
                request,
                f"Not recorded: {refused.detail} Allowed from {refused.extra['state']}: {allowed}.",
            )
            return refused.status, {"kind": "state", **refused.as_body()}, form
        except errors.GuidelineGuard as refused:
            body = refused.as_body()
            messages.error(
                request,
                f"Not recorded: {body['reason']} (source: {body['source']}; evidence: "
                f"{body['evidence']})",
            )
            return refused.status, {"kind": "guard", **body}, form
        except errors.DomainError as refused:
            messages.error(request, f"Not recorded: {refused.detail}")
            return refused.status, None, form

        event = recorded.event
        messages.success(
            request,
            f"Recorded {event.type.replace('_', ' ')} on {event.occurred_on:%Y-%m-%d}: "
            f"{event.from_state} → {event.to_state}"
            + (" (guideline guard overridden)" if event.override else "")
            + ".",
        )
        for warning in recorded.warnings:
            messages.warning(request, f"{warning.get('reason', '')} ({warning.get('source', '')})")
        return HttpResponseRedirect(reverse("admin:treatments_course_change", args=[course.pk]))


# ---------------------------------------------------------------------------------------------
# Second-factor devices: django_otp's admin, with a missing device answering 404
# ---------------------------------------------------------------------------------------------


class TOTPDeviceAdmin(otp_totp_admin.TOTPDeviceAdmin):
    """django_otp's device admin; its QR-code views answer 404, not 500, for a missing id."""

    def _device_or_404(self, pk: int) -> None:
        if not TOTPDevice.objects.filter(pk=pk).exists():
            raise Http404

    def config_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self._device_or_404(pk)
        return super().config_view(request, pk)

    def qrcode_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        self._device_or_404(pk)
        return super().qrcode_view(request, pk)


admin.site.unregister(TOTPDevice)
admin.site.register(TOTPDevice, TOTPDeviceAdmin)
