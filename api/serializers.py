"""Request and response shapes of the API (docs/api.md#resources). No clinical rule lives here:
services decide."""

import re
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from surveillance.models import SurveillancePlan
from treatments.models import (
    Course,
    CourseEvent,
    DiseaseAfterSurgery,
    Patient,
    PrrtCycle,
    Sex,
    SurgeryProcedure,
    TreatmentLine,
)
from treatments.staging import STAGE_SYSTEMS

from .strict import CalendarDateField, StrictDictField, StrictSerializer

MAX_TEXT = 2000


LOCAL_TIME = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$"


@extend_schema_field({"type": "string", "pattern": LOCAL_TIME, "example": "21:00"})
class LocalTimeField(serializers.TimeField):
    """A wall-clock time in the patient's own time zone: HH:MM or HH:MM:SS, no offset.

    Quiet hours follow the patient's zone across DST; an offset would pin them to one side of
    it, so it is refused rather than silently dropped. (OpenAPI's `time` format requires an
    offset, hence the pattern.)
    """

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str) or not re.fullmatch(LOCAL_TIME, value):
            self.fail("invalid", format="hh:mm[:ss], local time without an offset")
        return super().to_internal_value(value)


def _text(max_length: int = 200, **kwargs) -> serializers.CharField:
    return serializers.CharField(max_length=max_length, **kwargs)


class PatientUpdateSerializer(StrictSerializer):
    """What a patient may change of itself: contact details, time zone, quiet hours, consents."""

    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    phone = _text(20, required=False, allow_blank=True)
    timezone = _text(64, required=False)
    language = serializers.ChoiceField(choices=[c for c, _ in settings.LANGUAGES], required=False)
    sms_consent = serializers.BooleanField(required=False)
    email_consent = serializers.BooleanField(required=False)
    quiet_hours_start = LocalTimeField(required=False)
    quiet_hours_end = LocalTimeField(required=False)


class PatientInSerializer(PatientUpdateSerializer):
    """A new patient: who they are, and the contact details of PatientUpdateSerializer."""

    mrn = _text(40)
    given_name = _text(100)
    family_name = _text(100)
    birth_date = CalendarDateField()
    sex = serializers.ChoiceField(choices=Sex.choices)


class DiagnosisInSerializer(StrictSerializer):
    primary_site = _text(20)
    diagnosed_on = CalendarDateField()
    differentiation = _text(10)
    ki67_percent = serializers.FloatField(
        required=False, allow_null=True, min_value=-1e6, max_value=1e6
    )
    mitoses_per_2mm2 = serializers.FloatField(
        required=False, allow_null=True, min_value=-1e6, max_value=1e6
    )
    # Room for the multiple-primary suffix: "T3(m)", "T1b(12)".
    t = _text(8, help_text="AJCC T, the highest of multiple primaries; T3(m) is accepted.")
    n = _text(3)
    m = _text(3)
    tumour_count = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=100,
        help_text="Number of primary tumours (default 1); more than one shows T with (m).",
    )
    tumour_size_mm = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=-1e6,
        max_value=1e6,
        help_text="Size of the largest primary in mm; needed for T1a/T1b (colon/rectum table).",
    )
    mesenteric_mass_over_2cm = serializers.BooleanField(
        required=False, help_text="A mesenteric mass over 2 cm (makes N2 on the ileum table)."
    )
    sstr_imaging = _text(10, required=False)
    sstr_imaging_on = CalendarDateField(required=False, allow_null=True)
    cga_elevated_preop = serializers.BooleanField()
    functional = serializers.BooleanField()
    carcinoid_syndrome = serializers.BooleanField(
        required=False,
        help_text="Carcinoid syndrome at registration (default false); like `functional`, it "
        "makes 5-HIAA and heart screening due.",
    )
    notes = _text(MAX_TEXT, required=False, allow_blank=True)


class SurgeryInSerializer(StrictSerializer):
    performed_on = CalendarDateField()
    procedure = serializers.ChoiceField(choices=SurgeryProcedure.values)
    procedure_detail = _text(
        120,
        required=False,
        allow_blank=True,
        help_text="The operation in the surgeon's words (what `other` was).",
    )
    margin = serializers.ChoiceField(choices=["R0", "R1", "R2"])
    nodes_examined = serializers.IntegerField(min_value=0, max_value=500)
    nodes_positive = serializers.IntegerField(min_value=0, max_value=500)
    gallbladder_removed = serializers.BooleanField(required=False)
    disease_after_surgery = serializers.ChoiceField(
        choices=DiseaseAfterSurgery.values,
        required=False,
        help_text="`ned` (default with an R0/R1 margin and M0) or `residual` (default with R2; "
        "say which with M1). `residual` starts the course in `residual_disease`.",
    )


class CourseCreateSerializer(StrictSerializer):
    patient = PatientInSerializer(required=False)
    patient_id = serializers.IntegerField(required=False, min_value=1, max_value=2**62)
    care_team = serializers.IntegerField(min_value=1, max_value=2**62)
    diagnosis = DiagnosisInSerializer()
    surgery = SurgeryInSerializer()
    reason = _text(MAX_TEXT, required=False, allow_blank=True)

    def validate(self, attrs: dict) -> dict:
        if ("patient" in attrs) == ("patient_id" in attrs):
            raise serializers.ValidationError({"patient": ["Give either patient or patient_id."]})
        return attrs


class EventCreateSerializer(StrictSerializer):
    type = _text(40)
    occurred_on = CalendarDateField()
    data = StrictDictField(required=False, default=dict)
    reason = _text(MAX_TEXT, required=False, allow_blank=True, default="")
    expected_version = serializers.IntegerField(required=False, min_value=1, max_value=2**31)
    override = serializers.BooleanField(required=False, default=False)
    override_reason = _text(MAX_TEXT, required=False, allow_blank=True, default="")
    correction = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Clinicians only, with a `reason`: record an event dated before the one that "
        "brought the course into its state, or before the last one of its kind "
        "(docs/api.md#dates). The state is replayed in sequence order, never re-sorted by date.",
    )


class PatientSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", "mrn", "given_name", "family_name", "birth_date", "sex"]


@extend_schema_field(
    {
        "type": "string",
        "maxLength": 254,
        "anyOf": [{"format": "email"}, {"maxLength": 0}],
        "description": "The patient's email address, or empty when none is recorded.",
    }
)
class OptionalEmailField(serializers.CharField):
    """An email address that may be blank: the schema must say so, or an empty one would not
    match `format: email` in the published answer."""


class PatientSerializer(serializers.ModelSerializer):
    email = OptionalEmailField(read_only=True)
    quiet_hours_start = LocalTimeField(read_only=True)
    quiet_hours_end = LocalTimeField(read_only=True)

    class Meta:
        model = Patient
        fields = [
            "id", "mrn", "given_name", "family_name", "birth_date", "sex", "email", "phone",
            "timezone", "language", "email_consent", "email_consent_at", "sms_consent",
            "sms_consent_at", "quiet_hours_start", "quiet_hours_end", "care_team",
        ]  # fmt: skip
        read_only_fields = fields


class StaffPatientUpdateSerializer(PatientUpdateSerializer):
    """Staff may also correct the names."""

    given_name = _text(100, required=False)
    family_name = _text(100, required=False)


class LineSerializer(serializers.ModelSerializer):
    class Meta:
        model = TreatmentLine
        fields = [
            "number", "category", "agent", "dose", "dose_unit", "route", "interval_days",
            "planned_cycles", "started_on", "ended_on", "end_reason",
        ]  # fmt: skip


class PrrtCycleSerializer(serializers.ModelSerializer):
    class Meta:
        model = PrrtCycle
        fields = ["number", "given_on", "activity_gbq"]


class ActiveLineSerializer(serializers.ModelSerializer):
    """An open line with its prescription now: intent, dose, interval, hold and PRRT cycles."""

    id = serializers.IntegerField(read_only=True)
    held = serializers.SerializerMethodField()
    cycles = PrrtCycleSerializer(many=True, read_only=True)
    cumulative_gbq = serializers.SerializerMethodField(
        help_text="Total PRRT activity given on the line (GBq); null for other lines."
    )

    class Meta:
        model = TreatmentLine
        fields = [
            "id", "number", "category", "agent", "intent", "dose", "dose_unit", "route",
            "interval_days", "planned_cycles", "started_on", "held", "held_since", "cycles",
            "cumulative_gbq",
        ]  # fmt: skip
        read_only_fields = fields

    def get_held(self, line: TreatmentLine) -> bool:
        return line.held_since is not None

    def get_cumulative_gbq(self, line: TreatmentLine) -> float | None:
        if line.category != "prrt":
            return None
        return round(sum(float(c.activity_gbq or 0) for c in line.cycles.all()), 2)


class FactSerializer(serializers.Serializer):
    value = serializers.JSONField(allow_null=True)
    source = serializers.ChoiceField(choices=["diagnosis", "status_updated"])
    on = serializers.DateField(allow_null=True)
    event_seq = serializers.IntegerField(allow_null=True)


class CourseFactsSerializer(serializers.Serializer):
    """The facts the guards use now, each with where it came from."""

    sstr_imaging = FactSerializer()
    functional = FactSerializer()
    carcinoid_syndrome = FactSerializer()
    grade = FactSerializer()
    ki67_percent = FactSerializer()


RULE_VERSION_HELP = (
    "The version of the clinical rule set that produced this, e.g. 2026.2; null: recorded "
    "before rule versions were (docs/api.md#rule-versions)."
)


def rule_version_field(**kwargs: Any) -> serializers.CharField:
    """The read-only ``rule_version`` of whatever the clinical rules produced."""
    return serializers.CharField(allow_null=True, help_text=RULE_VERSION_HELP, **kwargs)


class GuardResultSerializer(serializers.Serializer):
    """A guard's answer (422 ``failures``, an event's ``warnings`` and ``overridden_guards``)."""

    guard = serializers.CharField()
    reason = serializers.CharField()
    source = serializers.CharField()
    evidence = serializers.CharField()
    overridable = serializers.BooleanField()
    blocking = serializers.BooleanField()
    rule_version = rule_version_field(required=False)


@extend_schema_field(GuardResultSerializer(many=True))
class GuardResultsField(serializers.JSONField):
    """A stored list of guard results, answered as stored (documented item by item)."""


class DueItemSerializer(serializers.Serializer):
    kind = serializers.CharField()
    due_on = serializers.DateField()
    window_start = serializers.DateField()
    window_end = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(choices=["upcoming", "due", "overdue"])
    why = serializers.CharField()
    rule_version = rule_version_field()


class PlanSerializer(serializers.ModelSerializer):
    """The course's surveillance plan: its risk group and rhythm, and the rule set that chose
    them (docs/clinical-rules.md#default-schedules)."""

    rule_version = rule_version_field()

    class Meta:
        model = SurveillancePlan
        fields = [
            "risk_group", "first_imaging_months", "early_interval_months",
            "late_interval_months", "duration_years", "symptom_check_months",
            "symptom_check_months_on_ssa", "anchor_on", "rule_version",
        ]  # fmt: skip
        read_only_fields = fields


class WarningSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    source = serializers.CharField(required=False)
    rule_version = rule_version_field(required=False)


class CourseSerializer(serializers.ModelSerializer):
    patient = PatientSummarySerializer(read_only=True)
    stage = serializers.CharField(
        source="diagnosis.stage",
        read_only=True,
        allow_null=True,
        help_text="AJCC 8th stage group; null when the stage system is unsupported (NEC, MiNEN).",
    )
    stage_system = serializers.ChoiceField(
        source="diagnosis.stage_system", choices=STAGE_SYSTEMS, read_only=True
    )
    t_display = serializers.CharField(
        source="diagnosis.t_display",
        read_only=True,
        help_text="T, with (m) for multiple primaries.",
    )
    grade = serializers.CharField(source="diagnosis.grade", read_only=True)
    current_line = LineSerializer(read_only=True, allow_null=True)
    next_due_on = serializers.SerializerMethodField()

    class Meta:
        model = Course
        fields = [
            "id", "patient", "care_team", "state", "version", "stage", "stage_system",
            "t_display", "grade", "opened_on", "closed_on", "closed_reason", "current_line",
            "next_due_on",
        ]  # fmt: skip
        read_only_fields = fields

    def get_next_due_on(self, course: Course) -> str | None:
        items = [i for i in getattr(course, "active_items", []) if i.active]
        return min((i.due_on for i in items), default=None)


class CourseDetailSerializer(CourseSerializer):
    due = DueItemSerializer(many=True, read_only=True)
    allowed_events = serializers.ListField(child=serializers.CharField(), read_only=True)
    lines = LineSerializer(many=True, read_only=True)
    active_lines = ActiveLineSerializer(
        many=True, read_only=True, help_text="Every open line, oldest first."
    )
    facts = CourseFactsSerializer(read_only=True)
    warnings = WarningSerializer(many=True, read_only=True, required=False)
    plan = PlanSerializer(read_only=True, allow_null=True)

    class Meta(CourseSerializer.Meta):
        fields = [
            *CourseSerializer.Meta.fields, "due", "allowed_events", "lines", "active_lines",
            "facts", "warnings", "plan",
        ]  # fmt: skip
        read_only_fields = fields


class EventSerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", read_only=True)
    overridden_guards = GuardResultsField(read_only=True)
    warnings = GuardResultsField(read_only=True)

    class Meta:
        model = CourseEvent
        fields = [
            "id", "seq", "type", "occurred_on", "recorded_at", "actor", "data", "reason",
            "from_state", "to_state", "override", "override_reason", "overridden_guards",
            "warnings",
        ]  # fmt: skip
        read_only_fields = fields


class EventCreatedSerializer(serializers.Serializer):
    event = EventSerializer()
    course = CourseDetailSerializer()


class HistoryEntrySerializer(serializers.Serializer):
    changed_at = serializers.DateTimeField()
    changed_by = serializers.CharField(allow_null=True)
    change_reason = serializers.CharField(allow_null=True)
    change_type = serializers.CharField()
    object = serializers.DictField()
    changes = serializers.DictField()
