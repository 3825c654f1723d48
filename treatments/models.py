"""Patients, their diagnosis and surgery, and the course that follows them.

The course's state changes only through `treatments.services.record_event`, which appends a
CourseEvent and writes history rows carrying the actor and the reason.
"""

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from simple_history.models import HistoricalRecords

from . import machine, staging
from .timezones import validate_canonical_timezone


def validate_timezone(value: str) -> None:
    """Canonical IANA zone names only (see treatments.timezones)."""
    validate_canonical_timezone(value)


def validate_e164(value: str) -> None:
    import phonenumbers

    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        number = None
    if (
        number is None
        or not value.startswith("+")
        or not phonenumbers.is_possible_number(number)
        or phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) != value
    ):
        raise ValidationError("Enter the number in E.164 form, e.g. +447700900123.", code="e164")


def validate_language(value: str) -> None:
    if value not in {code for code, _ in settings.LANGUAGES}:
        raise ValidationError("Unsupported language.", code="invalid_language")


def _choices(values) -> list[tuple[str, str]]:
    return [(str(v), str(v)) for v in values]


class CareTeam(models.Model):
    """A clinic's team; coordinators, clinicians and integration users are members."""

    name = models.CharField(max_length=120)
    clinic = models.CharField(max_length=120, help_text="MRNs are unique within a care team.")
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="care_teams", blank=True
    )
    history = HistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clinic", "name"], name="team_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.clinic})"


class Sex(models.TextChoices):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class Patient(models.Model):
    care_team = models.ForeignKey(CareTeam, on_delete=models.PROTECT, related_name="patients")
    clinic = models.CharField(max_length=120, editable=False)
    mrn = models.CharField("MRN", max_length=40)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    # Nobody followed today was born before 1900: an earlier date is a typing error.
    birth_date = models.DateField(
        validators=[MinValueValidator(datetime.date(1900, 1, 1), "Birth date before 1900.")]
    )
    sex = models.CharField(max_length=10, choices=Sex.choices)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=20, blank=True, validators=[validate_e164])
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    language = models.CharField(max_length=8, default="en", validators=[validate_language])
    email_consent = models.BooleanField(default=False)
    email_consent_at = models.DateTimeField(null=True, blank=True)
    sms_consent = models.BooleanField(default=False)
    sms_consent_at = models.DateTimeField(null=True, blank=True)
    # Local hours in which no reminder is sent (start > end wraps midnight).
    quiet_hours_start = models.TimeField(default="21:00")
    quiet_hours_end = models.TimeField(default="08:00")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="patient",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        # A patient record belongs to one care team, and the MRN is unique there. Unique
        # per clinic, a registration would have told one team that another team of the
        # clinic already holds a patient with that MRN.
        constraints = [
            models.UniqueConstraint(fields=["care_team", "mrn"], name="mrn_unique_in_team")
        ]
        indexes = [models.Index(fields=["family_name", "given_name"])]

    def __str__(self) -> str:
        return f"{self.family_name}, {self.given_name} ({self.mrn})"

    def save(self, *args, **kwargs) -> None:
        self.clinic = self.care_team.clinic
        super().save(*args, **kwargs)

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # Remembered so that clean() looks at the records only when the birth date changes.
        instance._loaded_birth_date = instance.__dict__.get("birth_date")
        return instance

    def clean(self) -> None:
        """A corrected birth date may not fall after a clinical date already recorded.

        The staging module's date rule, asked from this side: an admin form or a service that
        changes the birth date gets a field error naming the earliest such date.
        """
        loaded = getattr(self, "_loaded_birth_date", None)
        if self.pk is None or loaded is None or self.birth_date == loaded:
            return
        earliest = _earliest_clinical_date(self)
        issue = earliest and staging.clinical_date_issue(earliest, birth_date=self.birth_date)
        if issue:
            raise ValidationError(
                {
                    "birth_date": ValidationError(
                        f"The patient's records hold a clinical date ({earliest.isoformat()}) "
                        "before this birth date.",
                        code="before_birth_date",
                    )
                }
            )


def _earliest_clinical_date(patient: Patient) -> datetime.date | None:
    dates = [
        patient.diagnoses.aggregate(d=models.Min("diagnosed_on"), s=models.Min("sstr_imaging_on")),
        patient.surgeries.aggregate(d=models.Min("performed_on")),
        CourseEvent.objects.filter(course__patient=patient).aggregate(d=models.Min("occurred_on")),
    ]
    found = [value for row in dates for value in row.values() if value is not None]
    return min(found, default=None)


class Diagnosis(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="diagnoses")
    primary_site = models.CharField(
        max_length=20, choices=_choices(staging.SUPPORTED_SITES + staging.OTHER_SITES)
    )
    diagnosed_on = models.DateField()
    differentiation = models.CharField(max_length=10, choices=_choices(staging.DIFFERENTIATION))
    ki67_percent = models.DecimalField(
        "Ki-67 %",
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    mitoses_per_2mm2 = models.DecimalField(
        "mitoses / 2 mm²",
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(1000)],
    )
    t = models.CharField(
        "T", max_length=3, choices=_choices(staging.ALL_T_VALUES), help_text="The highest T."
    )
    n = models.CharField("N", max_length=3, choices=_choices(staging.N_VALUES))
    m = models.CharField("M", max_length=3, choices=_choices(staging.M_VALUES))
    # Null: several primaries whose number was not recorded ("T3(m)" without a count).
    # Database defaults too: rows written by SQL (bulk loads) get the same values as the ORM's.
    tumour_count = models.PositiveSmallIntegerField(
        "number of primary tumours",
        default=1,
        db_default=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(staging.TUMOUR_COUNT_MAX)],
    )
    tumour_size_mm = models.DecimalField(
        "size of the largest primary (mm)",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(staging.TUMOUR_SIZE_MAX_MM)],
    )
    mesenteric_mass_over_2cm = models.BooleanField(
        "mesenteric mass over 2 cm", default=False, db_default=False
    )
    # Null for NEC and MiNEN: AJCC stages them with carcinoma chapters not encoded here.
    stage = models.CharField(max_length=8, null=True, blank=True, editable=False)
    stage_system = models.CharField(
        max_length=30,
        choices=_choices(staging.STAGE_SYSTEMS),
        default=staging.JEJUNUM_ILEUM,
        db_default=staging.JEJUNUM_ILEUM,
        editable=False,
    )
    grade = models.CharField(max_length=8, editable=False)
    sstr_imaging = models.CharField(
        "somatostatin-receptor imaging",
        max_length=10,
        choices=_choices(("positive", "negative", "equivocal", "not_done")),
        default="not_done",
    )
    sstr_imaging_on = models.DateField(null=True, blank=True)
    cga_elevated_preop = models.BooleanField("chromogranin A elevated before surgery")
    functional = models.BooleanField("functional / carcinoid syndrome at diagnosis")
    # Either this or `functional` drives 5-HIAA, heart screening and the SSA defaults; a
    # syndrome found later is a `status_updated` event, which the course's facts prefer.
    carcinoid_syndrome = models.BooleanField(
        "carcinoid syndrome at registration", default=False, db_default=False
    )
    notes = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "diagnoses"

    def __str__(self) -> str:
        return f"{self.primary_site} NET, stage {self.stage or 'not staged'}, {self.grade}"

    @property
    def t_display(self) -> str:
        """T as reported, with "(m)" for multiple primaries."""
        return staging.t_display(self.t, self.tumour_count)

    def clean(self) -> None:
        """Clinical dates are not before the patient's birth date (admin forms ask it too)."""
        _birth_date_rule(self, ("diagnosed_on", "sstr_imaging_on"))


def _birth_date_rule(instance: models.Model, names: tuple[str, ...]) -> None:
    """Ask the staging module's date rule about each named date field of a patient's record."""
    # An unsaved patient (a registration in progress) is cached on the instance, with no
    # value in the foreign key column yet.
    known = instance.patient_id is not None or instance._meta.get_field("patient").is_cached(
        instance
    )
    birth_date = instance.patient.birth_date if known else None
    errors = {}
    for name in names:
        issue = staging.clinical_date_issue(getattr(instance, name), birth_date=birth_date)
        if issue:
            errors[name] = ValidationError(issue, code="before_birth_date")
    if errors:
        raise ValidationError(errors)


class Margin(models.TextChoices):
    R0 = "R0"
    R1 = "R1"
    R2 = "R2"


class SurgeryProcedure(models.TextChoices):
    """The operations that open a course; the vitamin B12 rule reads which bowel was removed."""

    SEGMENTAL_ILEAL_RESECTION = "segmental_ileal_resection"
    RIGHT_HEMICOLECTOMY = "right_hemicolectomy"
    ILEOCECAL_RESECTION = "ileocecal_resection"
    SMALL_BOWEL_RESECTION = "small_bowel_resection"
    OTHER = "other"


class DiseaseAfterSurgery(models.TextChoices):
    """What the opening surgery left: nothing seen (surveillance) or disease (a decision)."""

    NED = "ned"
    RESIDUAL = "residual"


class Surgery(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="surgeries")
    performed_on = models.DateField()
    procedure = models.CharField(max_length=120, choices=SurgeryProcedure.choices)
    # The operation in the surgeon's words: what "other" was, and the free text of courses
    # registered before the procedure became a listed value.
    procedure_detail = models.CharField(max_length=120, blank=True, default="", db_default="")
    margin = models.CharField(max_length=2, choices=Margin.choices)
    nodes_examined = models.PositiveSmallIntegerField(validators=[MaxValueValidator(500)])
    nodes_positive = models.PositiveSmallIntegerField(validators=[MaxValueValidator(500)])
    gallbladder_removed = models.BooleanField(default=False)
    # Blank only on courses registered before it was asked (their state says what they meant).
    disease_after_surgery = models.CharField(
        max_length=10, choices=DiseaseAfterSurgery.choices, blank=True, default="", db_default=""
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "surgeries"

    def __str__(self) -> str:
        return f"{self.procedure} on {self.performed_on} ({self.margin})"

    def clean(self) -> None:
        """The surgery is not dated before the patient's birth date (admin forms ask it too)."""
        _birth_date_rule(self, ("performed_on",))


class Course(models.Model):
    """One patient's course after the surgery that opened it: a state machine."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="courses")
    # Copied from the patient so that every scoped query filters one column.
    care_team = models.ForeignKey(CareTeam, on_delete=models.PROTECT, related_name="courses")
    diagnosis = models.OneToOneField(Diagnosis, on_delete=models.PROTECT, related_name="course")
    surgery = models.OneToOneField(Surgery, on_delete=models.PROTECT, related_name="course")
    state = models.CharField(
        max_length=20,
        choices=_choices(machine.State),
        default=machine.State.SURVEILLANCE,
        editable=False,
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    current_line = models.OneToOneField(
        "TreatmentLine",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    opened_on = models.DateField()
    closed_on = models.DateField(null=True, blank=True, editable=False)
    closed_reason = models.CharField(max_length=40, blank=True, editable=False)
    # A resection started and not yet completed: tracked apart from the state, because a line
    # may start while the operation is pending (docs/clinical-rules.md#treatment-lines).
    resection_open = models.BooleanField(default=False, db_default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        indexes = [models.Index(fields=["care_team", "state"])]

    def __str__(self) -> str:
        return f"Course {self.pk} of {self.patient} ({self.state})"


class TreatmentLine(models.Model):
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="lines")
    number = models.PositiveSmallIntegerField()
    category = models.CharField(max_length=20, choices=_choices(machine.Category))
    agent = models.CharField(max_length=60, blank=True)
    dose = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    dose_unit = models.CharField(max_length=10, blank=True)
    route = models.CharField(max_length=20, blank=True)
    interval_days = models.PositiveSmallIntegerField(null=True, blank=True)
    planned_cycles = models.PositiveSmallIntegerField(null=True, blank=True)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    end_reason = models.CharField(max_length=40, blank=True)
    # "antiproliferative" or "syndrome_control" for an SSA line; blank for other categories.
    intent = models.CharField(max_length=20, blank=True, default="", db_default="")
    # Set while the line is paused (`line_changed` hold); nothing falls due until resumed.
    held_since = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["course", "number"], name="line_number_unique")
        ]
        ordering = ["course", "number"]

    def __str__(self) -> str:
        return f"Line {self.number}: {self.agent or self.category}"

    @property
    def is_open(self) -> bool:
        """Not ended (an open line may be held)."""
        return self.ended_on is None and not self.end_reason


class PrrtCycle(models.Model):
    """One PRRT cycle given on a line (`prrt_started` is cycle 1, `prrt_cycle_given` the rest)."""

    line = models.ForeignKey(TreatmentLine, on_delete=models.PROTECT, related_name="cycles")
    number = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(8)]
    )
    given_on = models.DateField()
    activity_gbq = models.DecimalField(
        "activity (GBq)", max_digits=4, decimal_places=2, null=True, blank=True
    )
    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["line", "number"], name="prrt_cycle_number_unique")
        ]
        ordering = ["line", "number"]

    def __str__(self) -> str:
        return f"PRRT cycle {self.number} on {self.given_on}"


class AppendOnlyError(Exception):
    pass


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk update() and delete() bypass Model.save() and delete(): refuse them too.

    PostgreSQL also has a trigger; this covers SQLite (development, the demo, the test run).
    """

    def update(self, **kwargs):
        raise AppendOnlyError("Course events are append-only.")

    def delete(self):
        raise AppendOnlyError("Course events are append-only.")

    update.queryset_only = True
    delete.queryset_only = True


class CourseEvent(models.Model):
    """The course's event log: append-only (no update, no delete, and a trigger on PostgreSQL).

    The log is itself the history of the course, so it carries no separate history table.
    """

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveIntegerField(help_text="Position in the course's log (1, 2, ...).")
    type = models.CharField(max_length=40, choices=_choices(machine.EventType))
    occurred_on = models.DateField()
    recorded_at = models.DateTimeField()
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    data = models.JSONField(default=dict, blank=True)
    reason = models.TextField(blank=True)
    from_state = models.CharField(max_length=20)
    to_state = models.CharField(max_length=20)
    override = models.BooleanField(default=False)
    override_reason = models.TextField(blank=True)
    overridden_guards = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    source_model = models.CharField(max_length=60, blank=True)
    source_id = models.PositiveBigIntegerField(null=True, blank=True)
    line = models.ForeignKey(
        TreatmentLine, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["course", "seq"]
        constraints = [models.UniqueConstraint(fields=["course", "seq"], name="event_seq_unique")]
        indexes = [models.Index(fields=["course", "type", "occurred_on"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.type} on {self.occurred_on}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise AppendOnlyError("Course events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Course events are append-only.")
