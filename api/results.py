"""Results and checks: imaging studies, lab results and symptom checks
(docs/api.md#results-and-checks).

Posting one goes through the surveillance services, which record the clinical event it
implies (recurrence, progression, symptoms reported) through treatments.record_event.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from surveillance import services as surveillance
from surveillance.models import (
    ImagingResult,
    ImagingStudy,
    LabResult,
    Modality,
    Purpose,
    SymptomCheck,
)
from surveillance.schedule import Severity
from treatments.machine import RECURRENCE_SITES
from treatments.models import Course
from treatments.roles import Role, role_of
from treatments.selectors import courses_visible_to

from . import permissions as perms
from .base import ApiView
from .filters import ResultFilter, filtered, parameters
from .idempotency import idempotent
from .pagination import IdCursorPagination
from .readlog import log_reads
from .serializers import EventSerializer
from .strict import CalendarDateField, StrictSerializer

ID = {"min_value": 1, "max_value": 2**62}


def _course_for(request: Request, course_id: int | None) -> Course:
    """The course a result is posted for: one the caller can see, else a field error."""
    visible = courses_visible_to(request.user).select_related("surgery", "patient")
    if course_id is None:
        if role_of(request.user) == Role.PATIENT:
            own = visible.exclude(state="closed").order_by("-id").first()
            if own is not None:
                return own
        raise ValidationError({"course": ["This field is required."]})
    course = visible.filter(pk=course_id).first()
    if course is None:
        raise ValidationError({"course": ["No such course among yours."]})
    return course


def _page(
    view: ApiView,
    request: Request,
    model: type,
    out: type[serializers.Serializer],
    related: tuple[str, ...] = (),
    context: dict | None = None,
) -> Response:
    """One cursor page of a result model, scoped to the caller's courses, reads logged."""
    qs = model.objects.filter(course__in=courses_visible_to(request.user))
    qs = filtered(ResultFilter, request, qs).select_related("course", *related)
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(qs, request, view=view)
    log_reads(request, [row.course.patient_id for row in page])
    for row in page:
        if isinstance(getattr(row, "warnings", None), list):
            row.warnings = _warnings(row.warnings)
    return paginator.get_paginated_response(out(page, many=True, context=context or {}).data)


class WarningOut(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


def _warnings(items: list) -> list[dict]:
    out = []
    for w in items or []:
        code = w.get("code") or w.get("guard") or "warning"
        detail = w.get("detail") or w.get("message") or w.get("reason") or ""
        out.append({"code": str(code), "detail": str(detail)})
    return out


# --- Imaging ---------------------------------------------------------------------------------
class ImagingIn(StrictSerializer):
    course = serializers.IntegerField(**ID)
    performed_on = CalendarDateField()
    modality = serializers.ChoiceField(choices=Modality.choices)
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    result = serializers.ChoiceField(choices=ImagingResult.choices)
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    site = serializers.ChoiceField(choices=RECURRENCE_SITES, required=False)
    resectable = serializers.BooleanField(required=False)


class ImagingOut(serializers.ModelSerializer):
    warnings = WarningOut(many=True, read_only=True)
    event = EventSerializer(read_only=True, allow_null=True)

    class Meta:
        model = ImagingStudy
        fields = ["id", "course", "performed_on", "modality", "purpose", "result", "notes",
                  "warnings", "event", "recorded_at"]  # fmt: skip
        read_only_fields = fields


class ImagingView(ApiView):
    pagination_class = IdCursorPagination
    permission_classes = [
        IsAuthenticated,
        perms.roles(read=perms.STAFF, write=perms.STAFF_AND_INTEGRATION),
    ]

    @extend_schema(parameters=[*parameters(ResultFilter), OpenApiParameter("cursor", str)],
                   responses=ImagingOut(many=True))  # fmt: skip
    def get(self, request: Request) -> Response:
        return _page(self, request, ImagingStudy, ImagingOut, ("event", "event__actor"))

    @extend_schema(request=ImagingIn, responses={201: ImagingOut})
    @idempotent
    def post(self, request: Request) -> Response:
        body = ImagingIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        course = _course_for(request, data.pop("course"))
        recorded = surveillance.imaging_record(course=course, actor=request.user, **data)
        study = recorded.study
        study.warnings = _warnings(recorded.warnings)
        study.event = recorded.event
        log_reads(request, [course.patient_id])
        return Response(ImagingOut(study).data, status=201)


# --- Lab results -----------------------------------------------------------------------------
class LabIn(StrictSerializer):
    course = serializers.IntegerField(**ID)
    analyte = serializers.CharField(max_length=30)
    value = serializers.DecimalField(max_digits=12, decimal_places=3)
    unit = serializers.CharField(max_length=16)
    collected_on = CalendarDateField()
    on_ppi = serializers.BooleanField(required=False, allow_null=True)


class LabOut(serializers.ModelSerializer):
    warnings = WarningOut(many=True, read_only=True)

    class Meta:
        model = LabResult
        fields = ["id", "course", "analyte", "value", "unit", "collected_on", "on_ppi",
                  "warnings", "recorded_at"]  # fmt: skip
        read_only_fields = fields


class LabView(ApiView):
    pagination_class = IdCursorPagination
    permission_classes = [
        IsAuthenticated,
        perms.roles(read=perms.STAFF, write=perms.STAFF_AND_INTEGRATION),
    ]

    @extend_schema(parameters=[*parameters(ResultFilter), OpenApiParameter("cursor", str)],
                   responses=LabOut(many=True))  # fmt: skip
    def get(self, request: Request) -> Response:
        return _page(self, request, LabResult, LabOut)

    @extend_schema(request=LabIn, responses={201: LabOut})
    @idempotent
    def post(self, request: Request) -> Response:
        body = LabIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        course = _course_for(request, data.pop("course"))
        recorded = surveillance.lab_record(course=course, actor=request.user, **data)
        lab = recorded.result
        lab.warnings = _warnings(recorded.warnings)
        log_reads(request, [course.patient_id])
        return Response(LabOut(lab).data, status=201)


# --- Symptom checks --------------------------------------------------------------------------
class SymptomIn(StrictSerializer):
    course = serializers.IntegerField(required=False, **ID)
    reported_on = CalendarDateField()
    flushing_per_day = serializers.DecimalField(max_digits=4, decimal_places=1)
    stools_per_day = serializers.DecimalField(max_digits=4, decimal_places=1)
    wheezing = serializers.BooleanField()
    abdominal_pain = serializers.IntegerField(min_value=-(2**31), max_value=2**31)
    vomiting = serializers.BooleanField()
    no_stool_or_gas = serializers.BooleanField()
    palpitations_or_swelling = serializers.BooleanField()
    weight_loss_kg = serializers.DecimalField(max_digits=4, decimal_places=1)
    # Version 2: optional, so a first-release client keeps working ("no" when left out).
    fainting = serializers.BooleanField(required=False)
    breathless_at_rest = serializers.BooleanField(required=False)
    weight_kg = serializers.DecimalField(
        max_digits=4, decimal_places=1, required=False, allow_null=True, help_text="20–300 kg"
    )


class FindingOut(serializers.Serializer):
    kind = serializers.CharField()
    severity = serializers.CharField(required=False)
    reason = serializers.CharField(required=False)
    advice = serializers.CharField(required=False)
    patient_advice = serializers.CharField(required=False, allow_null=True, allow_blank=True)


class AssessmentOut(serializers.Serializer):
    carcinoid_syndrome_suspected = serializers.BooleanField()
    obstruction_suspected = serializers.BooleanField()
    escalated = serializers.BooleanField()
    worsening = serializers.BooleanField(help_text="Stools or flushing up by 2 a day or more.")
    severity = serializers.ChoiceField(
        choices=Severity.values, allow_null=True, help_text="The highest alert severity raised."
    )
    findings = FindingOut(many=True)
    rule_version = serializers.CharField(
        allow_null=True,
        help_text="The version of the clinical rule set that scored the check, e.g. 2026.2; "
        "null: scored before rule versions were recorded (docs/api.md#rule-versions).",
    )


class SymptomOut(serializers.ModelSerializer):
    assessment = serializers.SerializerMethodField()

    class Meta:
        model = SymptomCheck
        fields = ["id", "course", "reported_on", "flushing_per_day", "stools_per_day", "wheezing",
                  "abdominal_pain", "vomiting", "no_stool_or_gas", "palpitations_or_swelling",
                  "weight_loss_kg", "fainting", "breathless_at_rest", "weight_kg",
                  "assessment", "recorded_at"]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(AssessmentOut)
    def get_assessment(self, check: SymptomCheck) -> dict:
        assessment = check.assessment or {}
        findings = assessment.get("findings", [])
        if self.context.get("for_patient"):
            # A patient sees what to do, not the coordinator's notes.
            findings = [
                {"kind": f["kind"], "patient_advice": f.get("patient_advice")} for f in findings
            ]
        return {
            "carcinoid_syndrome_suspected": bool(assessment.get("carcinoid_syndrome_suspected")),
            "obstruction_suspected": bool(assessment.get("obstruction_suspected")),
            "escalated": bool(assessment.get("escalated")),
            "worsening": bool(assessment.get("worsening")),
            "severity": assessment.get("highest_severity"),
            "findings": findings,
            "rule_version": assessment.get("rule_version"),
        }


class SymptomView(ApiView):
    pagination_class = IdCursorPagination
    permission_classes = [
        IsAuthenticated,
        perms.roles(read=perms.STAFF_AND_PATIENT, write=perms.STAFF_AND_PATIENT),
    ]

    def _context(self, request: Request) -> dict:
        return {"for_patient": role_of(request.user) == Role.PATIENT}

    @extend_schema(parameters=[*parameters(ResultFilter), OpenApiParameter("cursor", str)],
                   responses=SymptomOut(many=True))  # fmt: skip
    def get(self, request: Request) -> Response:
        return _page(self, request, SymptomCheck, SymptomOut, context=self._context(request))

    @extend_schema(request=SymptomIn, responses={201: SymptomOut})
    @idempotent
    def post(self, request: Request) -> Response:
        body = SymptomIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        course = _course_for(request, data.pop("course", None))
        recorded = surveillance.symptom_check_record(course=course, actor=request.user, **data)
        log_reads(request, [recorded.check.course.patient_id])
        return Response(SymptomOut(recorded.check, context=self._context(request)).data, status=201)
