"""The course admin of the coordinator: the course at a glance and the record-event forms.

Registered for Course by coordinator/admin.py. Nothing here writes clinical data itself: an
event goes through ``treatments.services.record_event``, with its guards and its reasons, and
``Course.state`` stays read-only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from alerts.models import Severity
from coordinator import worklist
from coordinator.course_page import course_overview, event_label
from coordinator.event_forms import EventForm, event_form_class, form_field_for
from core import errors
from surveillance import schedule
from surveillance.models import ScheduledItem
from surveillance.selectors import due_on
from treatments import machine
from treatments import services as treatment_services
from treatments.admin import CourseAdmin
from treatments.models import Course
from treatments.roles import may_override_guards
from treatments.selectors import courses_visible_to

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


class CourseOverviewAdmin(CourseAdmin):
    """treatments' CourseAdmin, with the course at a glance and the record-event forms."""

    change_form_template = "admin/coordinator/course/change_form.html"
    # The panels show the lines and the event log, with more than the inlines could.
    inlines = []
    list_display = ("id", "patient", "state", "stage", "grade", "care_team", "next_due")
    list_filter = (*CourseAdmin.list_filter, OverdueFilter)
    list_select_related = ("patient", "care_team", "diagnosis")
    search_help_text = "MRN, family name or given name"
    # The export names the patient in columns of their own (TeamScopedAdmin.export_view).
    export_fields = (
        ("id", "ID"), ("patient__mrn", "MRN"), ("patient__family_name", "family name"),
        ("patient__given_name", "given name"), "state", "stage", "grade",
        ("care_team", "care team"), "opened_on", "next_due",
    )  # fmt: skip

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
        # to confirm or deny (docs/api.md#roles-and-scoping).
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
                correction=bool(cleaned.get("correction")),
                expected_version=cleaned["expected_version"],
            )
        except errors.InvalidInput as refused:
            for key, found in refused.errors.items():
                for message in found:
                    form.add_error(form_field_for(key, form), message)
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
