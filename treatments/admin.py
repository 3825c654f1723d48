"""Admin for the clinical core: every list scoped to the user's care teams, history visible.

:class:`TeamScopedAdmin` is the one scoping rule of the admin, and every ModelAdmin of
treatments, surveillance, alerts and netcare derives from it. It asks the same selectors as
the API (``treatments.selectors``), so a record outside the user's care teams answers 404 on
every page that names one (change, delete, history, history form), exactly as a missing id
does, and it is absent from lists, filters' choices, select boxes, raw-id and autocomplete
lookups. History is read-only, and every page that shows a patient's data writes its
read-access rows through ``api.readlog.log_reads``, the API's own helper.

Nothing here writes `Course.state`, a diagnosis or a surgery: they are read-only, and events
are recorded through `treatments.services.record_event`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import tablib
from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import (
    NotRelationField,
    flatten_fieldsets,
    get_fields_from_path,
    label_for_field,
    lookup_field,
    quote,
    unquote,
)
from django.core.exceptions import (
    FieldDoesNotExist,
    ObjectDoesNotExist,
    PermissionDenied,
    SuspiciousOperation,
    ValidationError,
)
from django.db import models
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from api.readlog import ReadLogUnavailable, log_reads
from core import exports

from .models import CareTeam, Course, CourseEvent, Diagnosis, Patient, Surgery, TreatmentLine
from .selectors import courses_visible_to, patients_visible_to, teams_of

Selector = Callable[[Any], QuerySet]

# A form shown again with its errors (refused by a service or stale) still shows the record.
_SHOWS_WITH_ERRORS = frozenset({400, 409, 422})

# Rows one export may hold: past it, the user narrows the list with its filters first.
EXPORT_MAX_ROWS = 20_000

# What a foreign key to each of these may offer in a form: the API's selectors.
_FK_SELECTORS: dict[type[models.Model], Selector] = {
    Patient: patients_visible_to,
    Course: courses_visible_to,
    CareTeam: teams_of,
}


class ScopedAllValuesFieldListFilter(admin.AllValuesFieldListFilter):
    """Django's "all values" filter, with its choices read from the scoped queryset.

    Django reads a related field's values from the whole table, which would list values of
    other teams' records.
    """

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = (
            model_admin.get_queryset(request)
            .exclude(**{f"{field_path}__isnull": True})
            .order_by(field_path)
            .values_list(field_path, flat=True)
            .distinct()
        )


class TeamScopedAdmin(admin.ModelAdmin):
    """The admin's one scoping rule: a record outside the user's care teams does not exist.

    ``scope_path`` leads from the model to what ``scope_selector`` returns (one of
    treatments.selectors, the API's selectors); ``patient_path`` leads to the patient whose
    data a page of the model shows (``None``: the model holds no patient data).

    - lists, filters' choices, date hierarchy, search, actions, raw-id popups and autocomplete
      read ``get_queryset``, filtered here;
    - every view taking an object id (change, delete, history, history form and the subclasses'
      own) calls :meth:`visible_object_or_404` first: another team's record, a missing one and a
      malformed id all answer 404, before any permission check could tell them apart;
    - history is read-only: a history form answers 403 to anything but GET;
    - foreign-key select boxes offer only visible patients, courses and teams;
    - a page that shows patients' data logs the read (fails closed with 503);
    - every list exports as CSV or Excel (``export/csv/``, ``export/xlsx/``): the rows the
      list shows with the same filters, search and ordering, one read-log row per patient.
    """

    scope_path: str = "course"
    scope_selector: Selector = staticmethod(courses_visible_to)
    patient_path: str | None = "course__patient"
    # The list's template adds the export links to Django's own.
    change_list_template = "admin/netcare/change_list.html"
    #: The columns of an export: field names, ``__`` paths or the admin's display methods,
    #: each alone (headed by its admin label) or as ``(name, header)``; ``None``: the list's.
    export_fields: Sequence[str | tuple[str, str]] | None = None

    # -- scope -----------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        visible = self.scope_selector(request.user)
        return super().get_queryset(request).filter(**{f"{self.scope_path}__in": visible})

    def visible_object_or_404(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> models.Model:
        """The object if the user's teams may see it; Http404 otherwise (also for bad ids)."""
        model = self.model
        field = model._meta.pk if from_field is None else model._meta.get_field(from_field)
        try:
            value = field.to_python(unquote(str(object_id)))
            obj = self.get_queryset(request).get(**{field.name: value})
        except (model.DoesNotExist, ValidationError, ValueError, TypeError, OverflowError):
            raise Http404 from None
        return obj

    def get_urls(self) -> list:
        # Django's bare "<id>/" URL redirects to the change page for any id; this one answers
        # 404 first, as the page it leads to would. The export comes before that catch-all.
        opts = self.model._meta
        export = path(
            "export/<str:fmt>/",
            self.admin_site.admin_view(self.export_view),
            name=f"{opts.app_label}_{opts.model_name}_export",
        )
        return [export] + [
            path(
                "<path:object_id>/",
                self.admin_site.admin_view(self.object_redirect_view),
            )
            if isinstance(url, URLPattern)
            and url.name is None
            and str(url.pattern) == "<path:object_id>/"
            else url
            for url in super().get_urls()
        ]

    def object_redirect_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The bare object URL: to the change page if the object is visible, else 404."""
        obj = self.visible_object_or_404(request, object_id)
        opts = self.model._meta
        return HttpResponseRedirect(
            reverse(
                f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change",
                args=[quote(obj.pk)],
            )
        )

    def get_ordering(self, request: HttpRequest) -> tuple | list:
        # The model's ordering, else the newest first: the autocomplete pages what it finds,
        # and an unordered page may repeat or skip rows.
        return super().get_ordering(request) or self.model._meta.ordering or ("-pk",)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None):
        # Django returns None and redirects with "doesn't exist" (or checks a permission
        # first); a 404 here makes every view answer as for a missing id.
        return self.visible_object_or_404(request, object_id, from_field)

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs: Any):
        # The default choices are every row of the table: another team's patients would be
        # listed by name and MRN in a select box.
        selector = _FK_SELECTORS.get(db_field.related_model)
        if selector is not None:
            kwargs["queryset"] = selector(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_list_filter(self, request: HttpRequest) -> Iterable[Any]:
        """The declared filters, with choices taken from the scoped rows only."""
        scoped = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str):
                entry = self._scoped_filter(entry)
            scoped.append(entry)
        return scoped

    def _scoped_filter(self, field_path: str) -> str | tuple[str, type]:
        try:
            field = get_fields_from_path(self.model, field_path)[-1]
        except (FieldDoesNotExist, NotRelationField):
            return field_path
        if field.is_relation:
            return (field_path, admin.RelatedOnlyFieldListFilter)
        if field.choices or isinstance(field, (models.BooleanField, models.DateField)):
            return field_path  # fixed choices: nothing read from the rows
        return (field_path, ScopedAllValuesFieldListFilter)

    # -- views taking an object id -----------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None) -> HttpResponse:
        obj = self.visible_object_or_404(request, object_id)
        response = super().change_view(request, object_id, form_url, extra_context)
        return self.logged(request, response, [obj])

    def delete_view(self, request, object_id, extra_context=None) -> HttpResponse:
        obj = self.visible_object_or_404(request, object_id)
        response = super().delete_view(request, object_id, extra_context)
        return self.logged(request, response, [obj])

    def history_view(self, request, object_id, extra_context=None) -> HttpResponse:
        # simple_history would otherwise fall back to the latest historical row of an
        # object outside get_queryset(), showing another team's record.
        obj = self.visible_object_or_404(request, object_id)
        response = super().history_view(request, object_id, extra_context)
        return self.logged(request, response, [obj])

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        """One historical version, shown read-only: never a revert, whoever asks."""
        obj = self.visible_object_or_404(request, object_id)
        history_model = self.model.history.model
        try:
            history_model._meta.pk.to_python(version_id)
        except ValidationError:
            raise Http404 from None
        if request.method not in ("GET", "HEAD"):
            # A revert writes every field of an old version back, past the services (an
            # alert reopened, a plan changed) and without a reason.
            raise PermissionDenied("History is read-only.")
        request._shows_history_version = True
        response = super().history_form_view(request, object_id, version_id, extra_context)
        return self.logged(request, response, [obj])

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        declared = super().get_readonly_fields(request, obj)
        if not getattr(request, "_shows_history_version", False):
            return declared
        # A historical version is shown, never edited: every field of the form is read-only
        # (and a field the form could not hold, such as recorded_at, is no FieldError).
        request._shows_history_version = False
        try:
            shown = flatten_fieldsets(self.get_fieldsets(request, obj))
        finally:
            request._shows_history_version = True
        # Only what the version holds: a form-only field (a change's reason) has no value.
        held = [n for n in shown if hasattr(self.model, n) or hasattr(self, n)]
        return [*declared, *(name for name in held if name not in declared)]

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_change_history_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # -- lists -------------------------------------------------------------------------------

    def get_changelist_instance(self, request: HttpRequest):
        """Django's, with a date filter out of the calendar's range refused as a bad filter.

        Django turns a malformed ``<date_hierarchy>__year`` into ``IncorrectLookupParameters``
        but lets a year too large for an int (``OverflowError``) or one whose next year does
        not exist (``9999``: ``ValueError``) through as a 500; the list and its export now
        answer them as any unknown filter value.
        """
        try:
            return super().get_changelist_instance(request)
        except (OverflowError, ValueError) as refused:
            raise IncorrectLookupParameters(refused) from refused

    def changelist_view(self, request, extra_context=None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", None) or {}
        shown = changelist.get("cl")
        rows = list(shown.result_list) if shown is not None else []
        return self.logged(request, response, rows)

    # -- exports -----------------------------------------------------------------------------

    def get_export_fields(self, request: HttpRequest) -> list[tuple[str, str]]:
        """The export's columns as (name, header): ``export_fields``, else the list's columns."""
        declared = self.export_fields
        if declared is None:
            declared = [n for n in self.get_list_display(request) if n != "action_checkbox"]
        return [
            entry
            if isinstance(entry, tuple)
            else (entry, str(label_for_field(entry, self.model, self)))
            for entry in declared
        ]

    def export_dataset(self, request: HttpRequest, rows: Sequence[models.Model]) -> tablib.Dataset:
        """``rows`` as a dataset: one column per export field, headed by its admin label.

        Related objects are written as their text; a value that cannot be read (a missing
        related row) is empty. Cells are made safe by ``core.exports``.
        """
        columns = self.get_export_fields(request)
        headers = [header for _name, header in columns]
        values = []
        for obj in rows:
            row = []
            for name, _header in columns:
                try:
                    _field, _attr, value = lookup_field(name, obj, self)
                except (AttributeError, ObjectDoesNotExist):
                    value = None
                row.append(str(value) if isinstance(value, models.Model) else value)
            values.append(row)
        return exports.dataset(headers, values, title=str(self.model._meta.verbose_name_plural))

    def export_view(self, request: HttpRequest, fmt: str) -> HttpResponse:
        """The list as a download (GET): the rows its filters, search and ordering select.

        400 ``invalid_format`` for a format other than csv or xlsx, 400 ``invalid_filter`` for
        a filter the list refuses (an unknown value, or a lookup or ``_to_field`` the admin does
        not allow), 400 ``export_too_large`` past ``EXPORT_MAX_ROWS``, 403 without the view
        permission, 503 ``read_log_unavailable`` when the read log cannot be written.
        """
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if fmt not in exports.FORMATS:
            return _refusal(
                "invalid_format", f"Export as one of {', '.join(exports.FORMATS)}, not {fmt!r}."
            )
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return _refusal("invalid_filter", "A filter of this list has a value it does not know.")
        except SuspiciousOperation:  # DisallowedModelAdminLookup, DisallowedModelAdminToField
            return _refusal("invalid_filter", "This list cannot be filtered that way.")
        # The related rows the columns read, joined once instead of a query per row and column.
        names = [name for name, _header in self.get_export_fields(request)]
        queryset = changelist.queryset.select_related(*related_paths(self.model, names))
        rows = list(queryset[: EXPORT_MAX_ROWS + 1])
        if len(rows) > EXPORT_MAX_ROWS:
            return _refusal(
                "export_too_large",
                f"More than {EXPORT_MAX_ROWS} rows: narrow the list with its filters first.",
            )
        response = export_response(
            self.export_dataset(request, rows), fmt, str(self.model._meta.verbose_name_plural)
        )
        try:
            log_reads(request, self.patient_ids(rows))
        except ReadLogUnavailable as refused:  # fails closed, with the API's code
            return read_log_refusal(refused)
        return response

    # -- the read-access log -----------------------------------------------------------------

    def patient_ids(self, objs: Iterable[models.Model]) -> list[int]:
        """The patients whose data a page showing ``objs`` holds (``patient_path``)."""
        pks = [obj.pk for obj in objs]
        if self.patient_path is None or not pks:
            return []
        return list(
            self.model._default_manager.filter(pk__in=pks).values_list(self.patient_path, flat=True)
        )

    def logged(
        self, request: HttpRequest, response: HttpResponse, objs: Iterable[models.Model]
    ) -> HttpResponse:
        """``response`` once its reads are logged; 503 if they cannot be (fails closed).

        Logged for a page (200) and a form shown again with its errors (4xx); not for a
        redirect or a refusal, which show nothing.
        """
        if response.status_code != 200 and response.status_code not in _SHOWS_WITH_ERRORS:
            return response
        try:
            log_reads(request, self.patient_ids(objs))
        except ReadLogUnavailable as refused:
            return HttpResponse(str(refused.detail), status=refused.status_code)
        return response


def _refusal(code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=400)


def read_log_refusal(refused: ReadLogUnavailable) -> JsonResponse:
    """An export's answer when its reads cannot be logged: 503 with the API's code and body
    (``{"code": "read_log_unavailable", "detail": ...}``); no row of the file is sent."""
    return JsonResponse(
        {"code": refused.default_code, "detail": str(refused.detail)},
        status=refused.status_code,
    )


def related_paths(model: type[models.Model], names: Iterable[str]) -> list[str]:
    """The forward relations (``ForeignKey``, ``OneToOneField``) that the column ``names``
    (fields and ``__`` paths) walk through or end on, as ``select_related`` paths:
    ``["course__patient__mrn", "acknowledged_by"]`` -> ``["course__patient",
    "acknowledged_by"]``. Names that are not field paths (display methods) are skipped."""
    paths: set[str] = set()
    for name in names:
        current: type[models.Model] | None = model
        walked: list[str] = []
        for part in name.split("__"):
            try:
                field = current._meta.get_field(part) if current is not None else None
            except FieldDoesNotExist:
                break
            if field is None or not (field.many_to_one or field.one_to_one) or field.auto_created:
                break
            walked.append(part)
            current = field.related_model
        if walked:
            paths.add("__".join(walked))
    return sorted(paths)


def export_response(data: tablib.Dataset, fmt: str, stem: str) -> HttpResponse:
    """``data`` as a ``fmt`` download named ``<stem>-<today>.<fmt>`` (``Content-Disposition:
    attachment``). Raises ``core.exports.UnknownFormat`` for a format it does not write."""
    ready = exports.download(data, fmt, stem, on=timezone.localdate())
    response = HttpResponse(ready.content, content_type=ready.content_type)
    response["Content-Disposition"] = ready.disposition
    return response


class ScopedHistoryAdmin(TeamScopedAdmin, SimpleHistoryAdmin):
    """A scoped admin whose model keeps a history (simple_history): the history is read-only."""

    def save_model(self, request, obj, form, change) -> None:
        # The history row carries the actor (set by SimpleHistoryAdmin) and a reason.
        changed = ", ".join(form.changed_data) or "nothing"
        obj._change_reason = f"Changed in the admin: {changed}"
        super().save_model(request, obj, form, change)


class ViewOnlyAdmin(TeamScopedAdmin):
    """Shown, never added, changed or deleted here: the services write these rows."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# ---------------------------------------------------------------------------------------------
# The clinical core
# ---------------------------------------------------------------------------------------------


@admin.register(CareTeam)
class CareTeamAdmin(ScopedHistoryAdmin):
    scope_path = "pk"
    scope_selector = staticmethod(teams_of)
    patient_path = None  # a team's page lists its members, no patient
    ordering = ("name",)
    list_display = ("name", "clinic")
    search_fields = ("name", "clinic")
    filter_horizontal = ("members",)


@admin.register(Patient)
class PatientAdmin(ScopedHistoryAdmin):
    scope_path = "pk"
    scope_selector = staticmethod(patients_visible_to)
    patient_path = "pk"
    list_display = ("mrn", "family_name", "given_name", "birth_date", "care_team")
    search_fields = ("mrn", "family_name", "given_name")
    list_filter = (
        "care_team",
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


class ClinicalFactAdmin(ScopedHistoryAdmin):
    """A diagnosis or a surgery: read-only here.

    Stage, grade and the risk group (hence the surveillance plan) are computed from these by
    the registration service; an edit here would change the facts without re-staging or
    re-planning. A re-resection is recorded as an event of the course, with its reason.
    """

    scope_path = "patient"
    scope_selector = staticmethod(patients_visible_to)
    patient_path = "patient"
    list_select_related = ("patient",)
    search_fields = ("patient__mrn", "patient__family_name", "patient__given_name")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Diagnosis)
class DiagnosisAdmin(ClinicalFactAdmin):
    list_display = ("patient", "primary_site", "stage", "grade", "differentiation", "ki67_percent")
    list_filter = ("stage", "grade", "primary_site", "patient__care_team")
    date_hierarchy = "diagnosed_on"


@admin.register(Surgery)
class SurgeryAdmin(ClinicalFactAdmin):
    list_display = (
        "patient", "performed_on", "procedure", "margin", "disease_after_surgery", "nodes_examined",
    )  # fmt: skip
    date_hierarchy = "performed_on"
    list_filter = ("margin", "disease_after_surgery", "procedure", "patient__care_team")


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


# Not registered here: the coordinator's admin registers its subclass with the course page
# (coordinator/course_admin.py), which also shows what surveillance and alerts hold.
class CourseAdmin(ScopedHistoryAdmin):
    scope_path = "pk"
    patient_path = "patient"
    list_display = ("id", "patient", "state", "care_team", "opened_on", "version")
    list_filter = ("state", "care_team", "diagnosis__stage", "diagnosis__grade")
    search_fields = ("patient__mrn", "patient__family_name", "patient__given_name")
    date_hierarchy = "opened_on"
    inlines = [TreatmentLineInline, CourseEventInline]
    list_select_related = ("patient", "care_team")

    def get_readonly_fields(self, request, obj=None):
        # Every field: the patient, team, diagnosis and surgery are fixed at registration (the
        # team scopes every read), state and version move only through record_event, and
        # opened_on anchors the surveillance plan.
        return [f.name for f in Course._meta.fields if f.name != "id"]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method not in ("GET", "HEAD"):
            # Nothing on the course is edited in place: the change permission only opens
            # the record-event forms, which call the service.
            if object_id is not None:
                self.visible_object_or_404(request, object_id)
            raise PermissionDenied("A course changes only through its events.")
        # No save buttons for a form that saves nothing.
        no_save = {"show_save": False, "show_save_and_continue": False}
        return super().changeform_view(
            request, object_id, form_url, {**(extra_context or {}), **no_save}
        )

    def has_add_permission(self, request) -> bool:
        # A course is registered through the registration service (stage, grade, plan).
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CourseEvent)
class CourseEventAdmin(ViewOnlyAdmin):
    list_display = ("course", "seq", "type", "occurred_on", "from_state", "to_state", "actor")
    list_filter = ("type", "override", "course__care_team")
    date_hierarchy = "occurred_on"
    search_fields = ("course__patient__mrn", "course__patient__family_name")
    list_select_related = ("course__patient", "actor")
