"""Admin for the clinical core: every list scoped to the user's care teams, history visible.

Nothing here writes `Course.state`: it is read-only, and events are recorded through
`treatments.services.record_event`.
"""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .models import CareTeam, Course, CourseEvent, Diagnosis, Patient, Surgery, TreatmentLine
from .selectors import courses_visible_to, patients_visible_to, teams_of


class ScopedHistoryAdmin(SimpleHistoryAdmin):
    """Objects outside the user's care teams are not listed and their pages answer 404."""

    team_path = "care_team"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        teams = teams_of(request.user)
        return qs.filter(**{f"{self.team_path}__in": teams})


@admin.register(CareTeam)
class CareTeamAdmin(SimpleHistoryAdmin):
    list_display = ("name", "clinic")
    search_fields = ("name", "clinic")
    filter_horizontal = ("members",)

    def get_queryset(self, request):
        return (
            teams_of(request.user)
            if not request.user.is_superuser
            else super().get_queryset(request)
        )


@admin.register(Patient)
class PatientAdmin(ScopedHistoryAdmin):
    list_display = ("mrn", "family_name", "given_name", "birth_date", "care_team")
    search_fields = ("mrn", "family_name", "given_name")
    list_filter = ("care_team", "sex", "language")
    readonly_fields = ("clinic", "email_consent_at", "sms_consent_at", "created_at")

    def get_queryset(self, request):
        return (
            patients_visible_to(request.user)
            if not request.user.is_superuser
            else super().get_queryset(request)
        )


@admin.register(Diagnosis)
class DiagnosisAdmin(ScopedHistoryAdmin):
    team_path = "patient__care_team"
    list_display = ("patient", "primary_site", "stage", "grade", "differentiation", "ki67_percent")
    list_filter = ("stage", "grade", "primary_site")
    readonly_fields = ("stage", "grade")
    search_fields = ("patient__mrn", "patient__family_name")


@admin.register(Surgery)
class SurgeryAdmin(ScopedHistoryAdmin):
    team_path = "patient__care_team"
    list_display = ("patient", "performed_on", "procedure", "margin", "nodes_examined")
    date_hierarchy = "performed_on"
    search_fields = ("patient__mrn", "patient__family_name")


class TreatmentLineInline(admin.TabularInline):
    model = TreatmentLine
    extra = 0
    can_delete = False
    readonly_fields = [f.name for f in TreatmentLine._meta.fields if f.name != "id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class CourseEventInline(admin.TabularInline):
    model = CourseEvent
    extra = 0
    can_delete = False
    fields = ("seq", "type", "occurred_on", "from_state", "to_state", "actor", "reason", "override")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Course)
class CourseAdmin(ScopedHistoryAdmin):
    list_display = ("id", "patient", "state", "care_team", "opened_on", "version")
    list_filter = ("state", "care_team", "diagnosis__stage", "diagnosis__grade")
    search_fields = ("patient__mrn", "patient__family_name", "patient__given_name")
    date_hierarchy = "opened_on"
    readonly_fields = (
        "state",
        "version",
        "current_line",
        "closed_on",
        "closed_reason",
        "created_at",
    )
    inlines = [TreatmentLineInline, CourseEventInline]
    list_select_related = ("patient", "care_team")

    def get_queryset(self, request):
        return (
            courses_visible_to(request.user)
            if not request.user.is_superuser
            else super().get_queryset(request)
        )

    def has_add_permission(self, request) -> bool:
        # A course is registered through the registration service (stage, grade, plan).
        return False


@admin.register(CourseEvent)
class CourseEventAdmin(admin.ModelAdmin):
    list_display = ("course", "seq", "type", "occurred_on", "from_state", "to_state", "actor")
    list_filter = ("type", "override")
    date_hierarchy = "occurred_on"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(course__in=courses_visible_to(request.user))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
