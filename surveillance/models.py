"""Surveillance plans, what is scheduled next, and the results and checks that move it."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from treatments.models import Course

from . import schedule


def _choices(values) -> list[tuple[str, str]]:
    return [(str(v), str(v)) for v in values]


class SurveillancePlan(models.Model):
    """The imaging, visit and symptom-check rhythm of one course
    (docs/clinical-rules.md#default-schedules)."""

    course = models.OneToOneField(Course, on_delete=models.PROTECT, related_name="plan")
    risk_group = models.CharField(max_length=10, choices=_choices(schedule.RiskGroup))
    first_imaging_months = models.PositiveSmallIntegerField()
    early_interval_months = models.PositiveSmallIntegerField("interval, years 1–3 (months)")
    late_interval_months = models.PositiveSmallIntegerField("interval, years 4–10 (months)")
    duration_years = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Empty: lifelong."
    )
    symptom_check_months = models.PositiveSmallIntegerField()
    symptom_check_months_on_ssa = models.PositiveSmallIntegerField()
    # The resection that achieved no evidence of disease; a curative re-resection re-anchors.
    anchor_on = models.DateField()
    # The clinical rule set that chose the risk group and intervals, written with them
    # (docs/clinical-rules.md#rule-versions); null: a plan from before versions were recorded.
    rule_version = models.CharField(max_length=16, null=True, blank=True)
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"Plan of course {self.course_id} ({self.risk_group})"

    def params(self) -> schedule.PlanParams:
        return schedule.PlanParams(
            risk_group=schedule.RiskGroup(self.risk_group),
            first_imaging_months=self.first_imaging_months,
            early_interval_months=self.early_interval_months,
            late_interval_months=self.late_interval_months,
            duration_years=self.duration_years,
            symptom_check_months=self.symptom_check_months,
            symptom_check_months_on_ssa=self.symptom_check_months_on_ssa,
        )


class ScheduledItem(models.Model):
    """The next due date of one kind of item for one course, denormalised for the sweep.

    Rewritten in the same transaction as whatever changes it, so "what is due on day D" is
    one indexed range scan (the partial index holds active rows only). Operational data,
    rewritten often: no history table (the plan and the results carry the history).
    """

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="scheduled_items")
    kind = models.CharField(max_length=20, choices=_choices(schedule.Kind))
    due_on = models.DateField()
    window_start = models.DateField()
    window_end = models.DateField(null=True, blank=True)
    why = models.TextField()
    source = models.TextField(blank=True)
    # The clinical rule set that planned the item, written at every re-plan
    # (docs/clinical-rules.md#rule-versions); null: planned before versions were recorded.
    rule_version = models.CharField(max_length=16, null=True, blank=True)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course", "kind"], name="one_item_per_course_kind")
        ]
        indexes = [
            models.Index(
                fields=["due_on"], name="scheduled_due_active", condition=models.Q(active=True)
            ),
            models.Index(
                fields=["window_start"],
                name="scheduled_window_active",
                condition=models.Q(active=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} due {self.due_on} (course {self.course_id})"


class Modality(models.TextChoices):
    CT = "ct", "multiphase CT"
    MRI = "mri", "MRI"
    SSTR_PET = "sstr_pet", "SSTR-PET (e.g. 68Ga-DOTATATE)"
    OCTREOSCAN = "octreoscan", "Octreoscan"
    FDG_PET = "fdg_pet", "FDG-PET"
    ULTRASOUND = "ultrasound", "ultrasound"
    # Heart imaging, not tumour imaging: answers the echocardiography item only
    # (docs/clinical-rules.md#version-2-surveillance-and-monitoring).
    ECHOCARDIOGRAPHY = "echocardiography", "echocardiography"


class Purpose(models.TextChoices):
    SURVEILLANCE = "surveillance"
    SUSPECTED_RECURRENCE = "suspected_recurrence"
    RESPONSE_ASSESSMENT = "response_assessment"
    BASELINE = "baseline"


class ImagingResult(models.TextChoices):
    """RECIST 1.1 response categories, plus the surveillance findings."""

    NED = "ned", "no evidence of disease"
    RECURRENCE = "recurrence"
    COMPLETE_RESPONSE = "complete_response"
    PARTIAL_RESPONSE = "partial_response"
    STABLE = "stable"
    PROGRESSION = "progression"
    INDETERMINATE = "indeterminate"


class ImagingStudy(models.Model):
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="imaging_studies")
    performed_on = models.DateField()
    modality = models.CharField(max_length=20, choices=Modality.choices)
    purpose = models.CharField(max_length=24, choices=Purpose.choices)
    result = models.CharField(max_length=20, choices=ImagingResult.choices)
    notes = models.TextField(blank=True, max_length=5000)
    warnings = models.JSONField(default=list, blank=True)
    event = models.ForeignKey(
        "treatments.CourseEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "imaging studies"
        indexes = [models.Index(fields=["course", "performed_on"])]

    def __str__(self) -> str:
        return f"{self.get_modality_display()} on {self.performed_on}: {self.result}"


class LabResult(models.Model):
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="lab_results")
    analyte = models.CharField(max_length=30)
    value = models.DecimalField(max_digits=12, decimal_places=3, validators=[MinValueValidator(0)])
    unit = models.CharField(max_length=16)
    collected_on = models.DateField()
    on_ppi = models.BooleanField("on a proton-pump inhibitor", null=True, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        indexes = [models.Index(fields=["course", "analyte", "collected_on"])]

    def __str__(self) -> str:
        return f"{self.analyte} {self.value} {self.unit} on {self.collected_on}"


class SymptomCheck(models.Model):
    """The patient-reported carcinoid-syndrome questionnaire
    (docs/clinical-rules.md#symptom-check)."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="symptom_checks")
    reported_on = models.DateField()
    flushing_per_day = models.DecimalField(
        max_digits=4, decimal_places=1, validators=[MinValueValidator(0), MaxValueValidator(50)]
    )
    stools_per_day = models.DecimalField(
        max_digits=4, decimal_places=1, validators=[MinValueValidator(0), MaxValueValidator(30)]
    )
    wheezing = models.BooleanField()
    abdominal_pain = models.PositiveSmallIntegerField(validators=[MaxValueValidator(10)])
    vomiting = models.BooleanField()
    no_stool_or_gas = models.BooleanField()
    palpitations_or_swelling = models.BooleanField()
    weight_loss_kg = models.DecimalField(
        max_digits=4, decimal_places=1, validators=[MinValueValidator(0), MaxValueValidator(50)]
    )
    # Version 2 (docs/clinical-rules.md#version-2-symptom-scoring): checks stored before these
    # questions were asked read as "no" and "weight not given".
    fainting = models.BooleanField(default=False, db_default=False)
    breathless_at_rest = models.BooleanField("breathless at rest", default=False, db_default=False)
    weight_kg = models.DecimalField(
        "weight (kg)",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(20), MaxValueValidator(300)],
    )
    assessment = models.JSONField(default=dict, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        indexes = [models.Index(fields=["course", "reported_on"])]

    def __str__(self) -> str:
        return f"Symptom check of course {self.course_id} on {self.reported_on}"


class ClinicVisit(models.Model):
    """A visit with history and examination (symptoms of hormonal excess, obstruction)."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="visits")
    visited_on = models.DateField()
    notes = models.TextField(blank=True, max_length=5000)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"Visit on {self.visited_on}"


class Injection(models.Model):
    """A somatostatin-analogue injection given (due every 28 days while on SSA)."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="injections")
    given_on = models.DateField()
    agent = models.CharField(max_length=30)
    dose_mg = models.DecimalField(max_digits=6, decimal_places=1)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    history = HistoricalRecords()

    def __str__(self) -> str:
        return f"{self.agent} {self.dose_mg} mg on {self.given_on}"
