"""Admin for the clinical core: every list scoped to the user's care teams, history visible.

Nothing here writes `Course.state`: it is read-only, and events are recorded through
`treatments.services.record_event`.
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from simple_history.admin import SimpleHistoryAdmin

from .models import CareTeam, Course, CourseEvent, Diagnosis, Patient, Surgery, TreatmentLine
from .selectors import courses_visible_to, patients_visible_to, teams_of


class ScopedHistoryAdmin(SimpleHistoryAdmin):
    """Objects outside the user's care teams are not listed and their pages answer 404.

    History is the audit trail: it can be read, never reverted (a revert would write back
    every field of an old version, `Course.state` included, past the services).
    """

    team_path = "care_team"

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        teams = teams_of(request.user)
        return qs.filter(**{f"{self.team_path}__in": teams})

    def _visible_or_404(self, request, object_id) -> None:
        # simple_history falls back to the latest historical row when the object is not in
        # get_queryset(), which would show another team's record: check the scope first.
        pk_name = self.model._meta.pk.attname
        try:
            visible = self.get_queryset(request).filter(**{pk_name: unquote(object_id)}).exists()
        except (ValueError, ValidationError):  # not a valid id at all
            visible = False
        if not visible:
            raise Http404

    def history_view(self, request, object_id, extra_context=None) -> HttpResponse:
        self._visible_or_404(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(self, request, object_id, version_id, extra_context=None) -> HttpResponse:
        self._visible_or_404(request, object_id)
        if request.method != "GET":
            raise PermissionDenied("History is read-only.")
        return super().history_form_view(request, object_id, version_id, extra_context)

    def revert_disabled(self, request, obj=None) -> bool:
        return True

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # The default choices are every row of the table: another team's patients would be
        # listed by name and MRN in a select box.
        if db_field.related_model is Patient:
            kwargs["queryset"] = patients_visible_to(request.user)
        elif db_field.related_model is CareTeam:
            kwargs["queryset"] = teams_of(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change) -> None:
        # The history row carries the actor (set by SimpleHistoryAdmin) and a reason.
        changed = ", ".join(form.changed_data) or "nothing"
        obj._change_reason = f"Changed in the admin: {changed}"
        super().save_model(request, obj, form, change)


@admin.register(CareTeam)
class CareTeamAdmin(ScopedHistoryAdmin):
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
    # RelatedOnlyFieldListFilter: the plain filter would offer every care team of the site.
    list_filter = (
        ("care_team", admin.RelatedOnlyFieldListFilter),
        "courses__state",
        "diagnoses__stage",
        "diagnoses__grade",
        "sex",
        "language",
    )
    date_hierarchy = "created_at"
    readonly_fields = ("clinic", "email_consent_at", "sms_consent_at", "created_at")

    def get_readonly_fields(self, request, obj=None):
        # Moving a patient to another team would leave its courses' copied care_team behind,
        # and the user select box would list every login of the site.
        if obj is None:
            return self.readonly_fields
        return (*self.readonly_fields, "care_team", "user")

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
    list_filter = (
        "stage",
        "grade",
        "primary_site",
        ("patient__care_team", admin.RelatedOnlyFieldListFilter),
    )
    date_hierarchy = "diagnosed_on"
    list_select_related = ("patient",)
    # Stage and grade are computed from these by the registration service; editing one
    # here would leave them stale.
    readonly_fields = (
        "patient",
        "primary_site",
        "diagnosed_on",
        "differentiation",
        "ki67_percent",
        "mitoses_per_2mm2",
        "t",
        "n",
        "m",
        "stage",
        "grade",
    )
    search_fields = ("patient__mrn", "patient__family_name", "patient__given_name")


@admin.register(Surgery)
class SurgeryAdmin(ScopedHistoryAdmin):
    team_path = "patient__care_team"
    list_display = ("patient", "performed_on", "procedure", "margin", "nodes_examined")
    date_hierarchy = "performed_on"
    list_filter = ("margin", ("patient__care_team", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("patient",)
    readonly_fields = ("patient",)
    search_fields = ("patient__mrn", "patient__family_name", "patient__given_name")


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
    list_filter = (
        "state",
        ("care_team", admin.RelatedOnlyFieldListFilter),
        "diagnosis__stage",
        "diagnosis__grade",
    )
    search_fields = ("patient__mrn", "patient__family_name", "patient__given_name")
    date_hierarchy = "opened_on"
    # The patient, team, diagnosis and surgery are fixed at registration (the team scopes
    # every read); state and version move only through record_event.
    readonly_fields = (
        "patient",
        "care_team",
        "diagnosis",
        "surgery",
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
    list_filter = ("type", "override", ("course__care_team", admin.RelatedOnlyFieldListFilter))
    date_hierarchy = "occurred_on"
    search_fields = ("course__patient__mrn", "course__patient__family_name")
    list_select_related = ("course__patient", "actor")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(course__in=courses_visible_to(request.user))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
