"""Registering a patient's course after the surgery that opened it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import events
from core.audit import with_history
from core.errors import InvalidInput

from .. import domain_events, machine, registration_rules, staging
from ..models import CareTeam, Course, Diagnosis, Patient, Surgery
from ..registration_rules import registration_warnings
from .common import prefixed, today

# Surgery may follow diagnosis by any time, but may precede it only by this much (a
# diagnosis made on the resected specimen is dated after the operation).
SURGERY_BEFORE_DIAGNOSIS_MAX_DAYS = 180

MRN_TAKEN = "A patient with this MRN already exists in this care team."

PATIENT_FIELDS = frozenset(
    {
        "mrn", "given_name", "family_name", "birth_date", "sex", "email", "phone", "timezone",
        "language", "sms_consent", "email_consent", "quiet_hours_start", "quiet_hours_end",
    }
)  # fmt: skip
DIAGNOSIS_FIELDS = frozenset(
    {
        "primary_site", "diagnosed_on", "differentiation", "ki67_percent", "mitoses_per_2mm2",
        "t", "n", "m", "sstr_imaging", "sstr_imaging_on", "cga_elevated_preop", "functional",
        "notes", "tumour_count", "tumour_size_mm", "mesenteric_mass_over_2cm",
        "carcinoid_syndrome",
    }
)  # fmt: skip
SURGERY_FIELDS = frozenset(
    {
        "performed_on", "procedure", "procedure_detail", "margin", "nodes_examined",
        "nodes_positive", "gallbladder_removed", "disease_after_surgery",
    }
)  # fmt: skip


@dataclass
class Registration:
    """A registered course and what the coordinator is warned about (GuardResult dicts)."""

    course: Course
    warnings: list[dict[str, Any]] = field(default_factory=list)


def _unknown(prefix: str, data: Mapping[str, Any], allowed: frozenset[str]) -> dict:
    return {f"{prefix}.{key}": ["Unknown field."] for key in data if key not in allowed}


def _booleans(prefix: str, data: Mapping[str, Any], keys: tuple[str, ...]) -> dict:
    # bool is an int subclass and Decimal(True) is 1: a true Ki-67 or node count would
    # otherwise be stored as 1.
    return {
        f"{prefix}.{key}": ["Must be a number."] for key in keys if isinstance(data.get(key), bool)
    }


def _future(value: Any) -> bool:
    return isinstance(value, dt.date) and value > today()


def _number_or_none(errors: Mapping[str, Any], key: str, value: Any) -> float | None:
    """A model-checked decimal as a float for the staging module, or None if it was refused."""
    if key in errors or value is None or not isinstance(value, Decimal):
        return None
    return float(value)


def _as_decimal(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return value


def register_course(
    *,
    actor: AbstractBaseUser,
    care_team: CareTeam,
    diagnosis: Mapping[str, Any],
    surgery: Mapping[str, Any],
    patient: Mapping[str, Any] | None = None,
    patient_id: int | None = None,
    reason: str = "",
) -> Registration:
    """Register a patient's course after the surgery that opened it.

    It starts in surveillance, or in ``residual_disease`` when the surgery left disease
    (``surgery.disease_after_surgery``: ``registration_rules.disease_after_surgery`` decides
    its default and refuses an R2 margin called ``ned``).

    Either `patient` (the new patient's details) or `patient_id` (an existing patient of the
    same care team). The staging module decides the stage system, stage, grade and T display,
    refuses N that disagrees with the nodes, and warns about implausible grades; no clinical
    date may precede the birth date. Raises InvalidInput (field errors keyed
    "section.field") and writes nothing unless everything is valid. An MRN is unique within
    the care team: a patient of another team never clashes, so the answer reveals nothing
    about other teams.
    """
    errors: dict[str, list[str]] = {}
    if (patient is None) == (patient_id is None):
        raise InvalidInput({"patient": ["Give either patient or patient_id."]})

    if patient is not None:
        errors |= _unknown("patient", patient, PATIENT_FIELDS)
        person = Patient(
            care_team=care_team, **{k: v for k, v in patient.items() if k in PATIENT_FIELDS}
        )
        person.clinic = care_team.clinic
        try:
            person.full_clean(exclude=["care_team", "user"], validate_unique=False)
        except ValidationError as exc:
            errors |= prefixed("patient", exc)
        if _future(person.birth_date):
            errors.setdefault("patient.birth_date", []).append("Birth date is in the future.")
        if person.mrn and Patient.objects.filter(care_team=care_team, mrn=person.mrn).exists():
            errors.setdefault("patient.mrn", []).append(MRN_TAKEN)
    else:
        person = Patient.objects.filter(pk=patient_id, care_team=care_team).first()
        if person is None:
            raise InvalidInput({"patient_id": ["No such patient in this care team."]})

    errors |= _unknown("diagnosis", diagnosis, DIAGNOSIS_FIELDS)
    errors |= _booleans(
        "diagnosis",
        diagnosis,
        ("ki67_percent", "mitoses_per_2mm2", "tumour_size_mm", "tumour_count"),
    )
    dx_values = {k: v for k, v in diagnosis.items() if k in DIAGNOSIS_FIELDS}
    for key in ("ki67_percent", "mitoses_per_2mm2", "tumour_size_mm"):
        if key in dx_values:
            dx_values[key] = _as_decimal(dx_values[key])
    raw_t = dx_values.get("t")
    # "T3(m)" is stored as T3 with its tumour count; the staging module checks the pair.
    dx_values["t"] = staging.split_multifocal(raw_t)[0]
    dx_values.pop("tumour_count", None)
    dx = Diagnosis(patient=person, **dx_values)
    try:
        dx.full_clean(exclude=["patient", "tumour_count"])
    except ValidationError as exc:
        errors |= prefixed("diagnosis", exc)

    errors |= _unknown("surgery", surgery, SURGERY_FIELDS)
    errors |= _booleans("surgery", surgery, ("nodes_examined", "nodes_positive"))
    op = Surgery(patient=person, **{k: v for k, v in surgery.items() if k in SURGERY_FIELDS})
    after, after_error = registration_rules.disease_after_surgery(
        margin=op.margin, given=surgery.get("disease_after_surgery")
    )
    op.disease_after_surgery = after or ""
    try:
        op.full_clean(exclude=["patient"])
    except ValidationError as exc:
        errors |= prefixed("surgery", exc)
    if after_error and "surgery.disease_after_surgery" not in errors:
        errors["surgery.disease_after_surgery"] = [after_error]

    # Fields the model already refused are not assessed again (one message per mistake).
    assessment = staging.assess(
        primary_site=dx.primary_site,
        differentiation=dx.differentiation,
        t=raw_t,
        n=dx.n,
        m=dx.m,
        ki67_percent=_number_or_none(errors, "diagnosis.ki67_percent", dx.ki67_percent),
        mitoses_per_2mm2=_number_or_none(errors, "diagnosis.mitoses_per_2mm2", dx.mitoses_per_2mm2),
        tumour_count=diagnosis.get("tumour_count"),
        tumour_size_mm=_number_or_none(errors, "diagnosis.tumour_size_mm", dx.tumour_size_mm),
        mesenteric_mass_over_2cm=dx.mesenteric_mass_over_2cm is True,
        nodes_examined=None if "surgery.nodes_examined" in errors else op.nodes_examined,
        nodes_positive=None if "surgery.nodes_positive" in errors else op.nodes_positive,
    )
    for key, messages in assessment.errors.items():
        if key not in errors:
            errors[key] = messages
    if not assessment.errors:
        dx.t = assessment.t
        dx.tumour_count = assessment.tumour_count
        dx.stage = assessment.stage
        dx.stage_system = assessment.stage_system
        dx.grade = assessment.grade
    for key in ("diagnosed_on", "sstr_imaging_on"):
        if _future(getattr(dx, key, None)):
            errors.setdefault(f"diagnosis.{key}", []).append("Date is in the future.")
    if (
        dx.m
        and dx.m != "M0"
        and op.disease_after_surgery == registration_rules.NED
        and not (dx.notes or "").strip()
    ):
        errors.setdefault("diagnosis.m", []).append(
            "Distant metastasis recorded on a course registered after complete resection: "
            "add a note saying what was resected, or record the disease after surgery as "
            "residual."
        )

    if _future(op.performed_on):
        errors.setdefault("surgery.performed_on", []).append("Date is in the future.")
    if (
        isinstance(op.performed_on, dt.date)
        and isinstance(dx.diagnosed_on, dt.date)
        and (dx.diagnosed_on - op.performed_on).days > SURGERY_BEFORE_DIAGNOSIS_MAX_DAYS
    ):
        errors.setdefault("surgery.performed_on", []).append(
            f"Surgery precedes the diagnosis by more than {SURGERY_BEFORE_DIAGNOSIS_MAX_DAYS} days."
        )
    if errors:
        raise InvalidInput(errors)

    warnings = [
        w.as_dict()
        for w in registration_warnings(nodes_examined=op.nodes_examined, margin=op.margin, m=dx.m)
    ] + [notice.as_dict() for notice in assessment.warnings]
    reason = reason or "Course registered after surgery"
    with transaction.atomic():
        if person.pk is None:
            now = timezone.now()
            person.email_consent_at = now if person.email_consent else None
            person.sms_consent_at = now if person.sms_consent else None
            with_history(person, actor=actor, reason=reason)
            try:
                # Only this insert can break the MRN constraint; an integrity error from
                # anything later (an in-transaction subscriber) is not a duplicate MRN.
                with transaction.atomic():
                    person.save()
            except IntegrityError as exc:
                # Two registrations of one MRN raced past the check above.
                raise InvalidInput({"patient.mrn": [MRN_TAKEN]}) from exc
        dx.patient = person
        with_history(dx, actor=actor, reason=reason)
        dx.save()
        op.patient = person
        with_history(op, actor=actor, reason=reason)
        op.save()
        course = Course(
            patient=person,
            care_team=person.care_team,
            diagnosis=dx,
            surgery=op,
            opened_on=op.performed_on,
            state=(
                machine.State.RESIDUAL_DISEASE
                if op.disease_after_surgery == registration_rules.RESIDUAL
                else machine.INITIAL_STATE
            ),
        )
        with_history(course, actor=actor, reason=reason)
        course.save()
        events.publish(domain_events.CourseRegistered(course_id=course.pk, actor_id=actor.pk))
    return Registration(course=course, warnings=warnings)
