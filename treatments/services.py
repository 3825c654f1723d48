"""Use cases of the treatments app: the only code that writes clinical data.

Each service takes an explicit `actor` (Celery tasks and commands have no request), writes
its own history rows with that actor and a reason, and publishes domain events on commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from core import events
from core.audit import with_history
from core.errors import (
    GuidelineGuard,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StaleVersion,
    TransitionNotAllowed,
)

from . import domain_events, machine, staging
from .models import CareTeam, Course, CourseEvent, Diagnosis, Patient, Surgery, TreatmentLine
from .roles import may_override_guards

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
    }
)  # fmt: skip
SURGERY_FIELDS = frozenset(
    {
        "performed_on", "procedure", "margin", "nodes_examined", "nodes_positive",
        "gallbladder_removed",
    }
)  # fmt: skip


@dataclass
class Registration:
    course: Course
    warnings: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Recorded:
    event: CourseEvent
    course: Course
    warnings: list[dict[str, Any]] = field(default_factory=list)


def today() -> dt.date:
    return timezone.localdate()


def _prefixed(prefix: str, error: ValidationError) -> dict[str, list[str]]:
    if hasattr(error, "error_dict"):
        return {
            f"{prefix}{'.' if prefix else ''}{name}": [m for e in errs for m in e.messages]
            for name, errs in error.error_dict.items()
        }
    return {prefix or "non_field_errors": list(error.messages)}


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
    """Register a patient's course after the surgery that opened it; it starts in surveillance.

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
            errors |= _prefixed("patient", exc)
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
        errors |= _prefixed("diagnosis", exc)

    errors |= _unknown("surgery", surgery, SURGERY_FIELDS)
    errors |= _booleans("surgery", surgery, ("nodes_examined", "nodes_positive"))
    op = Surgery(patient=person, **{k: v for k, v in surgery.items() if k in SURGERY_FIELDS})
    try:
        op.full_clean(exclude=["patient"])
    except ValidationError as exc:
        errors |= _prefixed("surgery", exc)

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
    if dx.m and dx.m != "M0" and not (dx.notes or "").strip():
        errors.setdefault("diagnosis.m", []).append(
            "Distant metastasis recorded on a course registered after complete resection: "
            "add a note saying what was resected."
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
        for w in machine.registration_warnings(
            nodes_examined=op.nodes_examined, margin=op.margin, m=dx.m
        )
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
        )
        with_history(course, actor=actor, reason=reason)
        course.save()
        events.publish(domain_events.CourseRegistered(course_id=course.pk, actor_id=actor.pk))
    return Registration(course=course, warnings=warnings)


def course_facts(course: Course) -> machine.CourseFacts:
    """What the machine's guards need to know about a course, read from the database."""
    dx = course.diagnosis
    lines = tuple(
        machine.LineFacts(
            category=line.category, agent=line.agent, ended_reason=line.end_reason or None
        )
        for line in course.lines.order_by("number")
    )
    last_recurrence = (
        course.events.filter(type=machine.EventType.RECURRENCE_DETECTED)
        .order_by("-seq")
        .values_list("data", flat=True)
        .first()
    )
    return machine.CourseFacts(
        state=machine.State(course.state),
        differentiation=dx.differentiation,
        grade=dx.grade,
        ki67_percent=None if dx.ki67_percent is None else float(dx.ki67_percent),
        sstr_imaging=dx.sstr_imaging,
        functional=dx.functional,
        lines=lines,
        last_recurrence=last_recurrence,
        gallbladder_in_place=not course.surgery.gallbladder_removed,
    )


def _check_event_input(
    *,
    course: Course,
    type: str,
    occurred_on: Any,
    data: Any,
    override: bool,
    override_reason: str,
    actor: AbstractBaseUser,
) -> dict[str, Any]:
    """Validate what can be validated without the lock; returns the cleaned data."""
    cleaned, errors = machine.validate_data(type, data if data is not None else {})
    errors = {
        (k if k == "type" else f"data.{k}" if k != "data" else k): v for k, v in errors.items()
    }
    if not isinstance(occurred_on, dt.date) or isinstance(occurred_on, dt.datetime):
        errors["occurred_on"] = ["Enter a date (YYYY-MM-DD)."]
    elif occurred_on > today():
        errors["occurred_on"] = ["Events cannot be dated in the future."]
    elif issue := staging.clinical_date_issue(occurred_on, birth_date=course.patient.birth_date):
        errors["occurred_on"] = [issue]
    elif occurred_on < course.surgery.performed_on:
        errors["occurred_on"] = [
            "Events cannot be dated before the surgery that opened the course."
        ]
    # A re-resection re-anchors surveillance on its date: it must be a real, past operation
    # of this course (CLINICAL.md §6: nothing in the future, nothing before the surgery).
    performed = cleaned.get("performed_on")
    if performed is not None:
        performed_on = dt.date.fromisoformat(performed)
        if performed_on > today():
            errors["data.performed_on"] = ["The operation cannot be dated in the future."]
        elif performed_on < course.surgery.performed_on:
            errors["data.performed_on"] = [
                "The operation cannot be dated before the surgery that opened the course."
            ]
    if override and not (override_reason or "").strip():
        errors["override_reason"] = ["A clinician's override needs a written reason."]
    errors.update(_foreign_references(course, type, cleaned))
    if errors:
        raise InvalidInput(errors)
    if override and not may_override_guards(actor):
        raise PermissionDenied("Only a clinician may override a guideline guard.")
    return cleaned


def _foreign_references(course: Course, type: str, cleaned: Mapping[str, Any]) -> dict:
    """Field errors for event data naming a record that is not this course's (or none at all).

    The machine's field specs say which fields hold ids (``refers_to``). Another course's
    record and a missing one get the same message, so nothing of other teams is revealed.
    """
    errors: dict[str, list[str]] = {}
    specs = machine.EVENT_FIELDS.get(type, {})
    for name, value in cleaned.items():
        target = specs[name].refers_to if name in specs else ""
        if target and not apps.get_model(target).objects.filter(pk=value, course=course).exists():
            errors[f"data.{name}"] = ["No such record on this course."]
    return errors


def record_event(
    *,
    course: Course | int,
    type: str,
    occurred_on: dt.date,
    data: Mapping[str, Any] | None,
    actor: AbstractBaseUser,
    reason: str = "",
    override: bool = False,
    override_reason: str = "",
    expected_version: int | None = None,
    correction: bool = False,
    source: models.Model | None = None,
) -> Recorded:
    """Apply one clinical event to a course (DESIGN.md, "The event flow").

    1. validate the payload; 2. lock the course row and check its version; 3. ask the machine
    whether the event is allowed and its guards hold; 4. write the event, the new state and
    the treatment line with history; 5. publish the domain event (subscribers on commit).
    """
    course_id = course.pk if isinstance(course, Course) else course
    try:
        unlocked = Course.objects.select_related("surgery", "patient").get(pk=course_id)
    except Course.DoesNotExist:
        raise NotFound("No such course.") from None
    cleaned = _check_event_input(
        course=unlocked,
        type=type,
        occurred_on=occurred_on,
        data=data,
        override=override,
        override_reason=override_reason,
        actor=actor,
    )
    with transaction.atomic():
        # The row lock serialises concurrent events on one course; expected_version turns a
        # write based on a stale read into a 409 instead of a silent overwrite. of=("self",):
        # PostgreSQL refuses FOR UPDATE on the nullable side of the current_line outer join,
        # and only the course row needs locking.
        locked = (
            Course.objects.select_for_update(of=("self",))
            .select_related("diagnosis", "surgery", "current_line")
            .get(pk=course_id)
        )
        if expected_version is not None and expected_version != locked.version:
            raise StaleVersion(
                f"The course is at version {locked.version}, not {expected_version}.",
                current_version=locked.version,
            )
        decision = machine.evaluate(course_facts(locked), type, cleaned)
        if not decision.allowed_from_state:
            why = decision.not_allowed_reason
            raise TransitionNotAllowed(
                why.reason if why else f"{type} is not allowed from {locked.state}.",
                state=locked.state,
                allowed_events=list(decision.allowed_events),
                reason=why.as_dict() if why else None,
            )
        if decision.failures:
            first = decision.failures[0]
            if not override or not decision.overridable:
                raise GuidelineGuard(
                    first.reason,
                    guard=first.guard,
                    reason=first.reason,
                    source=first.source,
                    evidence=first.evidence,
                    override_allowed=decision.overridable,
                    failures=[f.as_dict() for f in decision.failures],
                )
        if not correction:
            later = (
                locked.events.filter(type=type, occurred_on__gt=occurred_on)
                .order_by("-occurred_on")
                .first()
            )
            if later is not None:
                raise InvalidInput(
                    {
                        "occurred_on": [
                            f"A {type} event is already recorded on {later.occurred_on}; "
                            "an earlier one must be marked as a correction."
                        ]
                    }
                )
        return _apply(
            locked, decision, cleaned, type=type, occurred_on=occurred_on, actor=actor,
            reason=reason, override=bool(decision.failures), override_reason=override_reason,
            source=source,
        )  # fmt: skip


def _apply(
    course: Course,
    decision: machine.Decision,
    data: dict[str, Any],
    *,
    type: str,
    occurred_on: dt.date,
    actor: AbstractBaseUser,
    reason: str,
    override: bool,
    override_reason: str,
    source: models.Model | None,
) -> Recorded:
    from_state = course.state
    to_state = decision.target or machine.State(from_state)
    history_reason = reason or type
    if override:
        history_reason = f"{history_reason} [override: {override_reason}]"

    line = course.current_line
    ended_reason = machine.line_end_reason(type, data)
    if line is not None and ended_reason:
        line.ended_on = occurred_on
        line.end_reason = ended_reason
        with_history(line, actor=actor, reason=history_reason)
        line.save()
        course.current_line = None
    spec = machine.line_spec(type, data)
    new_line = None
    if spec is not None:
        number = (course.lines.aggregate(n=models.Max("number"))["n"] or 0) + 1
        new_line = TreatmentLine(course=course, number=number, started_on=occurred_on, **spec)
        with_history(new_line, actor=actor, reason=history_reason)
        new_line.save()
        course.current_line = new_line

    event = CourseEvent.objects.create(
        course=course,
        seq=course.version,
        type=type,
        occurred_on=occurred_on,
        recorded_at=timezone.now(),
        actor=actor,
        data=data,
        reason=reason,
        from_state=from_state,
        to_state=to_state,
        override=override,
        override_reason=override_reason if override else "",
        overridden_guards=[f.as_dict() for f in decision.failures] if override else [],
        warnings=[w.as_dict() for w in decision.warnings],
        source_model=source._meta.label if source is not None else "",
        source_id=source.pk if source is not None else None,
        line=new_line or line,
    )
    course.state = to_state
    course.version += 1
    if to_state == machine.State.CLOSED:
        course.closed_on = occurred_on
        course.closed_reason = data.get("reason", "")
    with_history(course, actor=actor, reason=history_reason)
    course.save()
    events.publish(
        domain_events.CourseEventRecorded(
            course_id=course.pk,
            event_id=event.pk,
            type=type,
            from_state=from_state,
            to_state=to_state,
            occurred_on=occurred_on,
            actor_id=actor.pk,
            data=data,
            override=override,
            overridden_guards=tuple(event.overridden_guards),
        )
    )
    return Recorded(event=event, course=course, warnings=event.warnings)


PATIENT_EDITABLE_BY_PATIENT = frozenset(
    {
        "email", "phone", "timezone", "language", "sms_consent", "email_consent",
        "quiet_hours_start", "quiet_hours_end",
    }
)  # fmt: skip
PATIENT_EDITABLE_BY_STAFF = PATIENT_EDITABLE_BY_PATIENT | {"given_name", "family_name"}


def patient_update(
    *, patient: Patient, actor: AbstractBaseUser, reason: str = "", **changes: Any
) -> Patient:
    """Change a patient's contact details, time zone, quiet hours or consents.

    A consent change stamps its time; nothing is saved (and no history row written) when
    nothing changed.
    """
    from .roles import Role, role_of

    allowed = (
        PATIENT_EDITABLE_BY_PATIENT if role_of(actor) == Role.PATIENT else PATIENT_EDITABLE_BY_STAFF
    )
    unknown = {key: ["This field cannot be changed here."] for key in changes if key not in allowed}
    if unknown:
        raise InvalidInput(unknown)
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        changed = {k: v for k, v in changes.items() if getattr(locked, k) != v}
        if not changed:
            return locked
        now = timezone.now()
        for key, value in changed.items():
            setattr(locked, key, value)
            if key in ("sms_consent", "email_consent"):
                setattr(locked, f"{key}_at", now)
        try:
            locked.full_clean(exclude=["care_team", "user"], validate_unique=False)
        except ValidationError as exc:
            raise InvalidInput(_prefixed("", exc)) from exc
        with_history(locked, actor=actor, reason=reason or "Contact details or consent changed")
        locked.save()
    return locked
