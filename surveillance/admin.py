"""Admin for surveillance: every list scoped to the user's care teams, history visible.

Writes go through the services, as everywhere else: the plan form calls ``plan_update`` and the
"add" forms of results and checks call their ``*_record`` service, so a study entered here
records its event and re-plans exactly as one posted by the EHR feed. Recorded results are
read-only (a correction is a new record, with its own history).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from core.errors import DomainError, InvalidInput
from treatments import machine
from treatments.admin import ScopedHistoryAdmin, ViewOnlyAdmin
from treatments.roles import may_override_guards

from . import schedule, services
from .models import (
    ClinicVisit,
    ImagingStudy,
    Injection,
    LabResult,
    ScheduledItem,
    SurveillancePlan,
    SymptomCheck,
)


class CourseScopedAdmin(ScopedHistoryAdmin):
    """Rows of a course: scoped, 404 and read-only history by treatments' TeamScopedAdmin."""

    list_select_related = ("course__patient",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # clinical records are never deleted (their history would go with them)


# ---------------------------------------------------------------------------------------------
# Surveillance plan
# ---------------------------------------------------------------------------------------------


class SurveillancePlanForm(forms.ModelForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why the plan changes (kept in its history).",
    )

    class Meta:
        model = SurveillancePlan
        fields = ["risk_group", *(name for name in services.PLAN_FIELDS if name != "risk_group")]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        params = schedule.PlanParams(
            **{name: cleaned.get(name) for name in services.PLAN_FIELDS},
        )
        # The same ranges as the service: out-of-range intervals never reach the database.
        for issue in schedule.validate_plan(params):
            if issue.blocking:
                self.add_error(issue.field if issue.field in self.fields else None, issue.message)
        return cleaned


@admin.register(SurveillancePlan)
class SurveillancePlanAdmin(CourseScopedAdmin):
    form = SurveillancePlanForm
    list_display = (
        "course",
        "risk_group",
        "first_imaging_months",
        "early_interval_months",
        "late_interval_months",
        "anchor_on",
        "rule_version",
    )
    list_filter = ("risk_group",)
    search_fields = ("course__patient__mrn", "course__patient__family_name")
    readonly_fields = ("course", "anchor_on", "rule_version", "due_items")

    @admin.display(description="due items")
    def due_items(self, obj: SurveillancePlan) -> str:
        rows = ScheduledItem.objects.filter(course_id=obj.course_id, active=True).order_by(
            "due_on", "kind"
        )
        if not rows:
            return "Nothing due."
        return format_html(
            "<table><tr><th>kind</th><th>due on</th><th>window from</th><th>why</th>"
            "<th>rule version</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                (
                    (row.kind, row.due_on, row.window_start, row.why, row.rule_version or "—")
                    for row in rows
                ),
            ),
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # created with the course at registration

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only a clinician tunes a plan (docs/clinical-rules.md#risk-groups: changeable by a
        # clinician with a reason), and nothing changes on a closed course.
        if obj is not None and obj.course.state == machine.State.CLOSED:
            return False
        return super().has_change_permission(request, obj) and may_override_guards(request.user)

    def get_fields(self, request: HttpRequest, obj: Any = None):
        fields = super().get_fields(request, obj)
        if not self.has_change_permission(request, obj):
            return [name for name in fields if name != "reason"]
        return fields

    def save_model(self, request: HttpRequest, obj: SurveillancePlan, form, change: bool) -> None:
        updated = services.plan_update(
            course=obj.course_id,
            actor=request.user,
            reason=form.cleaned_data["reason"],
            **{name: form.cleaned_data[name] for name in services.PLAN_FIELDS},
        )
        for warning in updated.warnings:
            messages.warning(request, warning["detail"])
        obj.refresh_from_db()


# ---------------------------------------------------------------------------------------------
# Results and checks: added through their service, then read-only
# ---------------------------------------------------------------------------------------------


class RecordingForm(forms.ModelForm):
    """An add form whose validation is the service's, and whose save is the service call.

    ``_post_clean`` runs the service instead of the model's full_clean: the service validates
    more than the model does (dates against the surgery, units, the course's state) and writes
    nothing when it refuses, so its field errors land on the form.
    """

    actor: Any = None  # set per request by RecordedThroughServiceAdmin.get_form
    recorded: models.Model | None = None
    warnings: Any = ()

    def record(self, data: dict[str, Any]) -> tuple[models.Model, list[dict[str, Any]]]:
        raise NotImplementedError

    def _post_clean(self) -> None:
        if self.errors:
            return
        try:
            self.recorded, self.warnings = self.record(dict(self.cleaned_data))
        except InvalidInput as refused:
            for name, found in refused.errors.items():
                for message in found:
                    self.add_error(name if name in self.fields else None, message)
        except DomainError as refused:
            self.add_error(None, refused.detail)


class ImagingStudyForm(RecordingForm):
    site = forms.ChoiceField(
        choices=[(s, s) for s in machine.RECURRENCE_SITES],
        initial="other",
        help_text="Where the recurrence is, when the result is recurrence.",
    )
    resectable = forms.BooleanField(
        required=False, help_text="Recurrence judged resectable by the tumour board."
    )

    class Meta:
        model = ImagingStudy
        fields = ["course", "performed_on", "modality", "purpose", "result", "notes"]

    def record(self, data):
        recorded = services.imaging_record(actor=self.actor, **data)
        return recorded.study, recorded.warnings


class LabResultForm(RecordingForm):
    analyte = forms.ChoiceField(
        choices=[(a, spec.label) for a, spec in schedule.LAB_ANALYTES.items()]
    )
    on_ppi = forms.NullBooleanField(required=False, label="on a proton-pump inhibitor")

    class Meta:
        model = LabResult
        fields = ["course", "analyte", "value", "unit", "collected_on", "on_ppi"]

    def record(self, data):
        recorded = services.lab_record(actor=self.actor, **data)
        return recorded.result, recorded.warnings


class SymptomCheckForm(RecordingForm):
    class Meta:
        model = SymptomCheck
        fields = ["course", "reported_on", *services.SYMPTOM_FIELDS]

    def record(self, data):
        recorded = services.symptom_check_record(actor=self.actor, **data)
        return recorded.check, recorded.warnings


class ClinicVisitForm(RecordingForm):
    class Meta:
        model = ClinicVisit
        fields = ["course", "visited_on", "notes"]

    def record(self, data):
        return services.visit_record(actor=self.actor, **data), []


class InjectionForm(RecordingForm):
    agent = forms.ChoiceField(
        choices=[("", "the line's agent"), *((a, a) for a in machine.SSA_AGENTS)], required=False
    )
    dose_mg = forms.DecimalField(required=False, help_text="Empty: the line's dose.")

    class Meta:
        model = Injection
        fields = ["course", "given_on", "agent", "dose_mg"]

    def record(self, data):
        data["agent"] = data.get("agent") or None
        recorded = services.injection_record(actor=self.actor, **data)
        return recorded.injection, recorded.warnings


class RecordedThroughServiceAdmin(CourseScopedAdmin):
    view_fields: tuple[str, ...] = ()

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def get_fields(self, request: HttpRequest, obj: Any = None):
        if obj is not None:
            return self.view_fields
        return super().get_fields(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_form(self, request: HttpRequest, form: RecordingForm, change: bool):
        for warning in form.warnings:
            messages.warning(request, warning["detail"])
        return form.recorded

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        pass  # the service saved it, with its history, in form validation

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        pass


@admin.register(ImagingStudy)
class ImagingStudyAdmin(RecordedThroughServiceAdmin):
    form = ImagingStudyForm
    list_display = ("course", "performed_on", "modality", "purpose", "result", "event")
    list_filter = ("modality", "purpose", "result")
    date_hierarchy = "performed_on"
    search_fields = ("course__patient__mrn", "course__patient__family_name")
    view_fields = (
        "course",
        "performed_on",
        "modality",
        "purpose",
        "result",
        "notes",
        "warnings",
        "event",
        "recorded_by",
        "recorded_at",
    )


@admin.register(LabResult)
class LabResultAdmin(RecordedThroughServiceAdmin):
    form = LabResultForm
    list_display = ("course", "collected_on", "analyte", "value", "unit", "on_ppi")
    list_filter = ("analyte", "on_ppi")
    date_hierarchy = "collected_on"
    search_fields = ("course__patient__mrn", "course__patient__family_name")
    view_fields = (
        "course",
        "analyte",
        "value",
        "unit",
        "collected_on",
        "on_ppi",
        "warnings",
        "recorded_by",
        "recorded_at",
    )


@admin.register(SymptomCheck)
class SymptomCheckAdmin(RecordedThroughServiceAdmin):
    form = SymptomCheckForm
    list_display = ("course", "reported_on", "escalated", "flushing_per_day", "stools_per_day")
    date_hierarchy = "reported_on"
    search_fields = ("course__patient__mrn", "course__patient__family_name")
    view_fields = (
        "course",
        "reported_on",
        *services.SYMPTOM_FIELDS,
        "assessment",
        "reported_by",
        "recorded_at",
    )

    @admin.display(boolean=True)
    def escalated(self, obj: SymptomCheck) -> bool:
        return bool(obj.assessment.get("escalated"))


@admin.register(ClinicVisit)
class ClinicVisitAdmin(RecordedThroughServiceAdmin):
    form = ClinicVisitForm
    list_display = ("course", "visited_on")
    date_hierarchy = "visited_on"
    search_fields = ("course__patient__mrn", "course__patient__family_name")
    view_fields = ("course", "visited_on", "notes", "recorded_by")


@admin.register(Injection)
class InjectionAdmin(RecordedThroughServiceAdmin):
    form = InjectionForm
    list_display = ("course", "given_on", "agent", "dose_mg")
    date_hierarchy = "given_on"
    search_fields = ("course__patient__mrn", "course__patient__family_name")
    view_fields = ("course", "given_on", "agent", "dose_mg", "recorded_by")


# ---------------------------------------------------------------------------------------------
# What is due (denormalised, written only by services.replan)
# ---------------------------------------------------------------------------------------------


@admin.register(ScheduledItem)
class ScheduledItemAdmin(ViewOnlyAdmin):
    list_display = ("course", "kind", "due_on", "window_start", "window_end", "active")
    list_filter = ("kind", "active")
    date_hierarchy = "due_on"
    list_select_related = ("course__patient",)
    search_fields = ("course__patient__mrn", "course__patient__family_name")
