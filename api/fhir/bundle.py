"""One course as a FHIR R4 Bundle (type ``collection``) following mCODE STU 4.

``course_bundle`` reads the course through ``fhir_courses`` (one query per related table,
whatever the number of events, results or lines) and builds every resource with the
fhir.resources R4B models, so what it returns has been validated by constructing it.
Resource ids are UUIDs derived from the course's own ids (uuid5), so two exports of the same
course on the same day differ only in ``Bundle.timestamp``. The codes and the maps from the
course's words to codes are in ``api.fhir.codes``.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.resource import Resource

from core.errors import NotFound
from surveillance import schedule
from surveillance.models import ImagingStudy, Injection, LabResult, ScheduledItem
from treatments import machine, staging
from treatments.models import Course, CourseEvent, PrrtCycle, TreatmentLine

from . import codes
from .codes import Code

# uuid5 namespace of every resource id of the export.
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:netcare:fhir")
FHIR_JSON = "application/fhir+json"
PROCEDURE_EVENTS = (
    machine.EventType.RESECTION_STARTED,
    machine.EventType.RESECTION_COMPLETED,
    machine.EventType.PROCEDURE_RECORDED,
)
# Heart imaging answers the echocardiography item; it says nothing of the tumour.
_NOT_TUMOUR_IMAGING = frozenset({"echocardiography"})


def fhir_courses(courses: QuerySet[Course] | None = None) -> QuerySet[Course]:
    """``courses`` (default: all; pass ``courses_visible_to(user)`` for a scoped read) with
    everything the export reads: patient, diagnosis, surgery, then one query each for the
    lines, their PRRT cycles, imaging, lab results, injections, procedure events and active
    due items."""
    courses = Course.objects.all() if courses is None else courses
    return courses.select_related("patient", "diagnosis", "surgery").prefetch_related(
        Prefetch("lines", queryset=TreatmentLine.objects.order_by("number")),
        Prefetch("lines__cycles", queryset=PrrtCycle.objects.order_by("number")),
        Prefetch(
            "imaging_studies",
            queryset=ImagingStudy.objects.order_by("performed_on", "pk"),
            to_attr="fhir_imaging",
        ),
        Prefetch(
            "lab_results",
            queryset=LabResult.objects.order_by("collected_on", "pk"),
            to_attr="fhir_labs",
        ),
        Prefetch(
            "injections",
            queryset=Injection.objects.order_by("given_on", "pk"),
            to_attr="fhir_injections",
        ),
        Prefetch(
            "events",
            queryset=CourseEvent.objects.filter(type__in=PROCEDURE_EVENTS).order_by("seq"),
            to_attr="fhir_procedure_events",
        ),
        Prefetch(
            "scheduled_items",
            queryset=ScheduledItem.objects.filter(active=True).order_by("due_on", "kind"),
            to_attr="fhir_items",
        ),
    )


def course_bundle(
    course: Course | int,
    *,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
) -> Bundle:
    """The course as an mCODE patient Bundle (FHIR R4, type ``collection``).

    ``course`` is a Course read through ``fhir_courses`` (its prefetches are used; a Course
    read otherwise is read again through it) or a course id, read through ``fhir_courses()``
    without scoping (the caller scopes). ``today`` (default: the local date) decides the
    status of the due items; ``now`` (default: the current time) is the Bundle timestamp.

    Entries: the Patient, the primary cancer Condition, the pathologic TNM stage group and T,
    N and M categories, the WHO grade and Ki-67, one Observation per lab result (CgA and
    5-HIAA as tumour markers), one CancerDiseaseStatus per tumour imaging result, one
    MedicationRequest per drug line, one MedicationAdministration per SSA injection and per
    PRRT cycle, one Procedure for the opening surgery and each recorded procedure, and a
    CarePlan of the open due items. Raises ``core.errors.NotFound`` for an unknown id.
    """
    if isinstance(course, Course) and not hasattr(course, "fhir_items"):
        course = course.pk  # not read through fhir_courses: read it again, with its prefetches
    if not isinstance(course, Course):
        found = fhir_courses().filter(pk=course).first()
        if found is None:
            raise NotFound("No such course.")
        course = found
    return _Builder(course, today or timezone.localdate()).bundle(now or timezone.now())


def bundle_json(bundle: Bundle) -> str:
    """The Bundle as FHIR JSON, on one line (the library's serializer)."""
    return bundle.model_dump_json()


def resource_id(kind: str, pk: object) -> str:
    """The stable id of one resource of the export: uuid5 of the kind and the project's id."""
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{pk}"))


# What a FHIR string may not hold: its regex is [ \r\n\t\S]+ (FHIR R4, "Primitive Types",
# string), read with Java's \s, which counts vertical tab and form feed as blanks; every
# control character but tab, LF and CR is out.
_NOT_FHIR_STRING = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _text(value: object) -> str | None:
    """Text of the record as a FHIR string: control characters a FHIR string may not hold
    written as U+FFFD, blanks at either end removed (FHIR strings are trimmed); None when
    nothing is left (FHIR strings may not be empty)."""
    if value is None:
        return None
    return _NOT_FHIR_STRING.sub("\ufffd", str(value)).strip() or None


def _concept(*coded: Code | None, text: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    codings = [{"system": c.system, "code": c.code, "display": c.display} for c in coded if c]
    if codings:
        concept["coding"] = codings
    text = _text(text)
    if text:
        concept["text"] = text
    return concept


def _words(value: str) -> str:
    return value.replace("_", " ")


def _date(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _quantity(value: Decimal | float, unit: str, ucum: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": codes.UCUM, "code": ucum}


def _meta(profile: str | None) -> dict[str, Any] | None:
    return {"profile": [profile]} if profile else None


LABORATORY = {
    "coding": [
        {"system": codes.OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory"}
    ]
}
IMAGING_CATEGORY = {
    "coding": [{"system": codes.OBSERVATION_CATEGORY, "code": "imaging", "display": "Imaging"}]
}


class _Builder:
    """Builds the resources of one course read through ``fhir_courses``."""

    def __init__(self, course: Course, today: dt.date) -> None:
        self.course = course
        self.today = today
        self.patient = course.patient
        self.diagnosis = course.diagnosis
        self.surgery = course.surgery
        self.patient_ref = {"reference": self.url("patient", self.patient.pk)}
        self.condition_ref = {"reference": self.url("condition", self.diagnosis.pk)}
        self.lines = list(course.lines.all())
        self.entries: list[tuple[str, Resource]] = []

    @staticmethod
    def url(kind: str, pk: object) -> str:
        return f"urn:uuid:{resource_id(kind, pk)}"

    def add(self, kind: str, pk: object, resource: Resource) -> None:
        resource.id = resource_id(kind, pk)
        self.entries.append((self.url(kind, pk), resource))

    def bundle(self, now: dt.datetime) -> Bundle:
        self.patient_resource()
        self.condition()
        self.staging()
        self.grade()
        self.labs()
        self.disease_status()
        self.medications()
        self.procedures()
        self.care_plan()
        return Bundle(
            id=resource_id("bundle", self.course.pk),
            meta={"profile": [codes.PROFILE_BUNDLE]},
            type="collection",
            timestamp=now.isoformat(),
            entry=[BundleEntry(fullUrl=url, resource=resource) for url, resource in self.entries],
        )

    # --- patient and condition ---------------------------------------------------------------

    def patient_resource(self) -> None:
        p = self.patient
        telecom = []
        if p.phone:
            telecom.append({"system": "phone", "value": p.phone})
        if p.email:
            telecom.append({"system": "email", "value": p.email})
        resource = FhirPatient(
            meta=_meta(codes.PROFILE_PATIENT),
            identifier=[
                {
                    "use": "usual",
                    "type": {
                        "coding": [
                            {
                                "system": codes.IDENTIFIER_TYPE,
                                "code": "MR",
                                "display": "Medical record number",
                            }
                        ]
                    },
                    "value": _text(p.mrn),
                    "assigner": {"display": _text(p.clinic)} if _text(p.clinic) else None,
                }
            ],
            # FHIR strings may not be empty: a blank name part is left out.
            name=[
                {
                    "family": _text(p.family_name),
                    "given": [_text(p.given_name)] if _text(p.given_name) else None,
                }
            ],
            gender=p.sex,
            birthDate=_date(p.birth_date),
            telecom=telecom or None,
            communication=[
                {"language": {"coding": [{"system": codes.LANGUAGE, "code": p.language}]}}
            ],
        )
        self.add("patient", p.pk, resource)

    def condition(self) -> None:
        d = self.diagnosis
        if d.differentiation == "poor":
            icd10 = codes.ICD10_POORLY_DIFFERENTIATED
        elif d.differentiation == "mixed":
            icd10 = None  # MiNEN is not a carcinoid tumour: text only
        else:
            icd10 = codes.ICD10_BY_SITE.get(d.primary_site)
        site = codes.SITE_TEXT.get(d.primary_site, _words(d.primary_site))
        state = machine.State(self.course.state)
        if state is machine.State.CLOSED:
            clinical = "inactive"
        elif state is machine.State.RECURRENCE:
            clinical = "recurrence"
        elif state in machine.KNOWN_DISEASE_STATES:
            clinical = "active"
        else:
            clinical = "remission"
        histology = codes.HISTOLOGY_BY_GRADE.get(d.grade)
        stage_code = codes.ajcc_stage_code(d.stage or "")
        stage = None
        if d.stage:
            stage = [
                {
                    "summary": _concept(
                        Code(codes.AJCC, stage_code, d.stage) if stage_code else None,
                        text=f"Stage {d.stage}",
                    ),
                    "assessment": [{"reference": self.url("stage-group", d.pk)}],
                    "type": _concept(codes.AJCC_8TH),
                }
            ]
        resource = Condition(
            meta=_meta(codes.PROFILE_PRIMARY_CANCER),
            extension=[
                {
                    "url": codes.EXT_HISTOLOGY,
                    "valueCodeableConcept": _concept(histology, text=histology.display),
                }
            ]
            if histology
            else None,
            clinicalStatus=_concept(Code(codes.CONDITION_CLINICAL, clinical, clinical)),
            verificationStatus=_concept(
                Code(codes.CONDITION_VERIFICATION, "confirmed", "Confirmed")
            ),
            category=[
                _concept(Code(codes.CONDITION_CATEGORY, "problem-list-item", "Problem List Item"))
            ],
            code=_concept(icd10, text=f"Neuroendocrine neoplasm of the {site}"),
            bodySite=[_concept(codes.BODY_SITE.get(d.primary_site), text=site)],
            subject=self.patient_ref,
            onsetDateTime=_date(d.diagnosed_on),
            stage=stage,
        )
        self.add("condition", d.pk, resource)

    # --- staging, grade, Ki-67 -----------------------------------------------------------------

    def _observation(
        self,
        kind: str,
        pk: object,
        *,
        profile: str | None,
        code: dict[str, Any],
        effective: Any,
        category: dict[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        resource = Observation(
            meta=_meta(profile),
            status="final",
            category=[category] if category else None,
            code=code,
            subject=self.patient_ref,
            effectiveDateTime=_date(effective),
            **fields,
        )
        self.add(kind, pk, resource)

    def staging(self) -> None:
        d = self.diagnosis
        system = d.stage_system
        system_text = {
            staging.JEJUNUM_ILEUM: staging.AJCC_SOURCE,
            staging.COLON_RECTUM_NET: staging.COLON_RECTUM_SOURCE,
        }.get(system, "AJCC Cancer Staging Manual, 8th edition")
        method = _concept(codes.AJCC_8TH, text=f"{system_text} ({system})")
        on = self.surgery.performed_on
        focus = [self.condition_ref]
        if d.stage:
            stage_code = codes.ajcc_stage_code(d.stage)
            self._observation(
                "stage-group",
                d.pk,
                profile=codes.PROFILE_STAGE_GROUP,
                code=_concept(codes.PATHOLOGIC_STAGE_GROUP),
                effective=on,
                method=method,
                focus=focus,
                valueCodeableConcept=_concept(
                    Code(codes.AJCC, stage_code, d.stage) if stage_code else None,
                    text=f"Stage {d.stage}",
                ),
                hasMember=[
                    {"reference": self.url(kind, d.pk)} for kind in ("tnm-t", "tnm-n", "tnm-m")
                ],
            )
        m_prefix = "c" if d.m == "M0" else "p"
        for kind, profile, code, value, text in (
            ("tnm-t", codes.PROFILE_T, codes.PATHOLOGIC_T, f"p{d.t}", f"p{d.t_display}"),
            ("tnm-n", codes.PROFILE_N, codes.PATHOLOGIC_N, f"p{d.n}", f"p{d.n}"),
            ("tnm-m", codes.PROFILE_M, codes.M_CATEGORY, m_prefix + d.m, m_prefix + d.m),
        ):
            self._observation(
                kind,
                d.pk,
                profile=profile,
                code=_concept(code),
                effective=on,
                method=method,
                focus=focus,
                valueCodeableConcept=_concept(Code(codes.AJCC, value, value), text=text),
            )

    def grade(self) -> None:
        d = self.diagnosis
        if d.grade:
            self._observation(
                "grade",
                d.pk,
                profile=codes.PROFILE_GRADE,
                category=LABORATORY,
                code=_concept(codes.HISTOLOGIC_GRADE, text="WHO grade"),
                effective=d.diagnosed_on,
                method=_concept(text=staging.WHO_SOURCE),
                valueCodeableConcept=_concept(codes.GRADE_VALUE.get(d.grade), text=d.grade),
                extension=[
                    {"url": codes.EXT_RELATED_CONDITION, "valueReference": self.condition_ref}
                ],
            )
        if d.ki67_percent is not None:
            self._observation(
                "ki67",
                d.pk,
                profile=None,
                category=LABORATORY,
                code=_concept(codes.KI67, text="Ki-67 index"),
                effective=d.diagnosed_on,
                valueQuantity=_quantity(d.ki67_percent, "%", "%"),
                focus=[self.condition_ref],
            )

    # --- results ---------------------------------------------------------------------------------

    def labs(self) -> None:
        for lab in self.course.fhir_labs:
            known = codes.lab_code(lab.analyte, lab.unit)
            notes = []
            if lab.on_ppi:
                notes.append({"text": "Taken on a proton-pump inhibitor."})
            self._observation(
                "lab",
                lab.pk,
                profile=codes.PROFILE_TUMOR_MARKER if known.tumour_marker else None,
                category=LABORATORY,
                code=_concept(known.code, text=_words(lab.analyte)),
                effective=lab.collected_on,
                valueQuantity=_quantity(lab.value, lab.unit, known.ucum),
                note=notes or None,
                extension=[
                    {"url": codes.EXT_RELATED_CONDITION, "valueReference": self.condition_ref}
                ]
                if known.tumour_marker
                else None,
            )

    def disease_status(self) -> None:
        for study in self.course.fhir_imaging:
            if study.modality in _NOT_TUMOUR_IMAGING:
                continue
            value = codes.STATUS_BY_IMAGING_RESULT.get(study.result, codes.UNDETERMINED)
            self._observation(
                "disease-status",
                study.pk,
                profile=codes.PROFILE_DISEASE_STATUS,
                code=_concept(codes.DISEASE_STATUS),
                effective=study.performed_on,
                focus=[self.condition_ref],
                valueCodeableConcept=_concept(value, text=study.get_result_display()),
                extension=[
                    {
                        "url": codes.EXT_EVIDENCE_TYPE,
                        "valueCodeableConcept": _concept(
                            codes.EVIDENCE_IMAGING, text=study.get_modality_display()
                        ),
                    }
                ],
            )

    # --- treatment lines, injections, PRRT cycles ------------------------------------------------

    def _intent(self, line: TreatmentLine) -> list[dict[str, Any]]:
        intent = codes.line_intent(line.category, line.intent)
        return [{"url": codes.EXT_TREATMENT_INTENT, "valueCodeableConcept": _concept(intent)}]

    def medications(self) -> None:
        for line in self.lines:
            if line.category == machine.Category.SUPPORTIVE:
                continue  # best supportive care prescribes no anticancer drug
            self.medication_request(line)
            for cycle in line.cycles.all():
                dose = None
                if cycle.activity_gbq is not None:
                    dose = {"dose": _quantity(cycle.activity_gbq, "GBq", "GBq")}
                self.administration(
                    "prrt-cycle", cycle.pk, line, cycle.given_on, dose, f"cycle {cycle.number}"
                )
        for injection in self.course.fhir_injections:
            line = self._ssa_line_on(injection.agent, injection.given_on)
            resource = MedicationAdministration(
                meta=_meta(codes.PROFILE_MEDICATION_ADMINISTRATION),
                extension=self._intent(line) if line else None,
                status="completed",
                medicationCodeableConcept=_concept(
                    text=codes.AGENT_TEXT.get(injection.agent, _words(injection.agent))
                ),
                subject=self.patient_ref,
                effectiveDateTime=_date(injection.given_on),
                request={"reference": self.url("line", line.pk)} if line else None,
                reasonReference=[self.condition_ref],
                dosage={"dose": _quantity(injection.dose_mg, "mg", "mg")},
            )
            self.add("injection", injection.pk, resource)

    def _ssa_line_on(self, agent: str, day: dt.date) -> TreatmentLine | None:
        for line in self.lines:
            if (
                line.category == machine.Category.SSA
                and line.started_on <= day
                and (line.ended_on is None or day <= line.ended_on)
            ):
                return line
        return None

    def medication_request(self, line: TreatmentLine) -> None:
        status_reason = None
        if line.is_open:
            status = "on-hold" if line.held_since else "active"
        elif line.end_reason in codes.COMPLETED_REASONS:
            status = "completed"
        else:
            status = "stopped"
            status_reason = _concept(
                codes.TERMINATION_REASON.get(line.end_reason),
                text=_words(line.end_reason or "stopped"),
            )
        dosage: dict[str, Any] = {"text": self._dosage_text(line)}
        if line.route:
            dosage["route"] = _concept(text=line.route)
        if line.interval_days:
            dosage["timing"] = {
                "repeat": {"frequency": 1, "period": line.interval_days, "periodUnit": "d"}
            }
        if line.dose is not None and line.dose_unit in codes.DOSE_UCUM:
            dosage["doseAndRate"] = [
                {
                    "doseQuantity": _quantity(
                        line.dose, line.dose_unit, codes.DOSE_UCUM[line.dose_unit]
                    )
                }
            ]
        period: dict[str, str] = {"start": _date(line.started_on) or ""}
        if line.ended_on:
            period["end"] = _date(line.ended_on) or ""
        resource = MedicationRequest(
            meta=_meta(codes.PROFILE_MEDICATION_REQUEST),
            extension=self._intent(line),
            status=status,
            statusReason=status_reason,
            intent="order",
            medicationCodeableConcept=_concept(
                text=codes.AGENT_TEXT.get(line.agent, _words(line.agent or line.category))
            ),
            subject=self.patient_ref,
            authoredOn=_date(line.started_on),
            reasonReference=[self.condition_ref],
            dosageInstruction=[dosage],
            dispenseRequest={"validityPeriod": period},
            note=[{"text": f"Line {line.number} ({line.category})"}],
        )
        self.add("line", line.pk, resource)

    @staticmethod
    def _dosage_text(line: TreatmentLine) -> str:
        parts = []
        if line.dose is not None:
            parts.append(f"{line.dose.normalize():f} {line.dose_unit}".strip())
        if line.route:
            parts.append(line.route)
        if line.interval_days:
            parts.append(f"every {line.interval_days} days")
        if line.planned_cycles:
            parts.append(f"{line.planned_cycles} cycles planned")
        return ", ".join(parts) or (line.agent or line.category).replace("_", " ")

    def administration(
        self,
        kind: str,
        pk: object,
        line: TreatmentLine,
        day: dt.date,
        dosage: dict[str, Any] | None,
        note: str,
    ) -> None:
        resource = MedicationAdministration(
            meta=_meta(codes.PROFILE_MEDICATION_ADMINISTRATION),
            extension=self._intent(line),
            status="completed",
            medicationCodeableConcept=_concept(
                text=codes.AGENT_TEXT.get(line.agent, _words(line.agent))
            ),
            subject=self.patient_ref,
            effectiveDateTime=_date(day),
            request={"reference": self.url("line", line.pk)},
            reasonReference=[self.condition_ref],
            dosage=dosage,
            note=[{"text": note}],
        )
        self.add(kind, pk, resource)

    # --- procedures -------------------------------------------------------------------------------

    def procedures(self) -> None:
        s = self.surgery
        text = codes.SURGERY_TEXT.get(s.procedure, _words(s.procedure))
        if s.procedure_detail:
            text = (
                s.procedure_detail if s.procedure == "other" else f"{text} ({s.procedure_detail})"
            )
        site = self.diagnosis.primary_site
        self._procedure(
            "surgery",
            s.pk,
            surgical=True,
            text=text,
            day=s.performed_on,
            body_site=_concept(
                codes.BODY_SITE.get(site), text=codes.SITE_TEXT.get(site, _words(site))
            ),
            note=f"Margin {s.margin}; {s.nodes_positive} of {s.nodes_examined} nodes positive.",
        )
        planned = "re-resection"
        for event in self.course.fhir_procedure_events:
            data = event.data or {}
            if event.type == machine.EventType.RESECTION_STARTED:
                planned = str(data.get("procedure") or planned)
            elif event.type == machine.EventType.RESECTION_COMPLETED:
                self._procedure(
                    "event-procedure",
                    event.pk,
                    surgical=True,
                    text=planned,
                    day=data.get("performed_on") or event.occurred_on,
                    note=f"Margin {data.get('margin', 'not recorded')}.",
                )
            else:
                name = str(data.get("procedure", "other"))
                target = _words(str(data.get("target", "other")))
                self._procedure(
                    "event-procedure",
                    event.pk,
                    surgical=name in codes.SURGICAL_PROCEDURES,
                    text=codes.PROCEDURE_TEXT.get(name, _words(name)),
                    day=event.occurred_on,
                    body_site=_concept(text=target),
                )

    def _procedure(
        self,
        kind: str,
        pk: object,
        *,
        surgical: bool,
        text: str,
        day: Any,
        body_site: dict[str, Any] | None = None,
        note: str | None = None,
    ) -> None:
        resource = Procedure(
            meta=_meta(codes.PROFILE_SURGICAL_PROCEDURE if surgical else None),
            status="completed",
            code=_concept(text=text),
            subject=self.patient_ref,
            performedDateTime=_date(day),
            reasonReference=[self.condition_ref],
            bodySite=[body_site] if body_site else None,
            note=[{"text": _text(note)}] if _text(note) else None,
        )
        self.add(kind, pk, resource)

    # --- what is due ------------------------------------------------------------------------------

    def care_plan(self) -> None:
        items: Iterable[ScheduledItem] = self.course.fhir_items
        activities = []
        for item in items:
            status = schedule.status_of(
                item.kind, item.due_on, item.window_start, item.window_end, self.today
            )
            window = {"start": _date(item.window_start)}
            if item.window_end:
                window["end"] = _date(item.window_end)
            activities.append(
                {
                    "detail": {
                        "code": _concept(text=str(item.kind)),
                        "status": "scheduled"
                        if status == schedule.Status.UPCOMING
                        else "not-started",
                        "statusReason": _concept(text=str(status)),
                        "description": _text(item.why),
                        "scheduledTiming": {
                            "event": [_date(item.due_on)],
                            "repeat": {"boundsPeriod": window},
                        },
                    }
                }
            )
        closed = self.course.state == machine.State.CLOSED
        resource = CarePlan(
            status="completed" if closed else "active",
            intent="plan",
            title="Follow-up after surgery: what is due",
            subject=self.patient_ref,
            period={
                "start": _date(self.course.opened_on),
                **({"end": _date(self.course.closed_on)} if self.course.closed_on else {}),
            },
            addresses=[self.condition_ref],
            activity=activities or None,
        )
        self.add("care-plan", self.course.pk, resource)
