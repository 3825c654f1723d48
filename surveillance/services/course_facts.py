"""What planning reads from a course: ``facts_for`` turns the records into ``schedule.Facts``.

Reads only; every rule about what the facts mean lives in ``surveillance.schedule``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import models
from django.db.models import DateField, F, OuterRef, Q, Subquery

from treatments import machine
from treatments.models import Course, CourseEvent, SurgeryProcedure, TreatmentLine

from .. import schedule
from ..models import (
    ClinicVisit,
    ImagingStudy,
    Injection,
    LabResult,
    SymptomCheck,
)

# The operations after which vitamin B12 is checked yearly: the terminal ileum is removed
# (docs/clinical-rules.md#version-2-surveillance-and-monitoring).
ILEAL_PROCEDURES = frozenset(
    {
        SurgeryProcedure.SEGMENTAL_ILEAL_RESECTION,
        SurgeryProcedure.ILEOCECAL_RESECTION,
        SurgeryProcedure.RIGHT_HEMICOLECTOMY,
    }
)
# Courses registered before the procedure was a listed value: their primary site tells
# (an ileal or ileocecal primary is removed with the terminal ileum).
ILEAL_PRIMARY_SITES = frozenset({"ileum", "ileocecal", "ileocecal_valve", "cecum"})
_STATUS_FACTS = ("functional", "carcinoid_syndrome", "carcinoid_heart_disease")
# A positive check brings imaging forward unless its only finding is weight loss; checks scored
# before ``moves_imaging`` was stored count when escalated.
_MOVES_IMAGING = Q(assessment__moves_imaging=True) | (
    Q(assessment__moves_imaging__isnull=True) & Q(assessment__escalated=True)
)


def _latest(queryset: models.QuerySet, name: str) -> Subquery:
    return Subquery(
        queryset.filter(course=OuterRef("pk")).order_by(f"-{name}").values(name)[:1],
        output_field=DateField(),
    )


def _labs(analytes: Iterable[str]) -> models.QuerySet:
    return LabResult.objects.filter(analyte__in=sorted(analytes))


def _dates(course: Course, plan_anchor: dt.date) -> dict[str, Any]:
    """The newest date of each thing done, in one query."""
    annotations: dict[str, Subquery] = {
        "last_imaging_on": _latest(
            ImagingStudy.objects.filter(
                modality__in=schedule.SURVEILLANCE_IMAGING_MODALITIES,
                performed_on__gte=plan_anchor,
            ),
            "performed_on",
        ),
        "last_visit_on": _latest(ClinicVisit.objects.all(), "visited_on"),
        "last_symptom_check_on": _latest(SymptomCheck.objects.all(), "reported_on"),
        "last_injection_on": _latest(Injection.objects.all(), "given_on"),
        "done_echocardiography": _latest(
            ImagingStudy.objects.filter(modality=schedule.ECHOCARDIOGRAPHY_MODALITY),
            "performed_on",
        ),
        "done_renal": _latest(_labs(schedule.RENAL_ANALYTES), "collected_on"),
        "heart_symptoms_on": _latest(
            SymptomCheck.objects.filter(
                Q(palpitations_or_swelling=True) | Q(breathless_at_rest=True)
            ),
            "reported_on",
        ),
        "symptom_alert_on": _latest(SymptomCheck.objects.filter(_MOVES_IMAGING), "reported_on"),
        "state_entered_on": _latest(
            CourseEvent.objects.filter(to_state=OuterRef("state")).exclude(
                from_state=F("to_state")
            ),
            "occurred_on",
        ),
    }
    for kind, analytes in schedule.ANALYTES_ANSWERING.items():
        annotations[f"done_{kind}"] = _latest(_labs(analytes), "collected_on")
    return Course.objects.filter(pk=course.pk).annotate(**annotations).values(*annotations).get()


def _event_facts(
    course: Course,
) -> tuple[dict[str, bool], dt.date | None, dict[int | None, dt.date]]:
    """From one read of the course's ``status_updated`` and ``line_changed`` events: the newest
    value of each status fact, the day a syndrome became known, and the newest ``line_changed``
    resume per line id (None: the event named no line)."""
    values: dict[str, bool] = {}
    syndrome_since: dt.date | None = None
    resumed: dict[int | None, dt.date] = {}
    rows = (
        CourseEvent.objects.filter(
            course=course,
            type__in=[machine.EventType.STATUS_UPDATED, machine.EventType.LINE_CHANGED],
        )
        .order_by("seq")
        .values_list("type", "occurred_on", "line_id", "data")
    )
    for type, occurred_on, line_id, data in rows:
        if not isinstance(data, dict):
            continue
        if type == machine.EventType.LINE_CHANGED:
            if data.get("change") == "resume":
                key = line_id or data.get("line")
                if key not in resumed or occurred_on > resumed[key]:
                    resumed[key] = occurred_on
            continue
        for name in _STATUS_FACTS:
            if isinstance(data.get(name), bool):
                if name != "carcinoid_heart_disease" and data[name] and syndrome_since is None:
                    syndrome_since = occurred_on
                values[name] = data[name]
    return values, syndrome_since, resumed


def _latest_values(
    course: Course, analytes: Iterable[str]
) -> dict[str, tuple[dt.date, float, str]]:
    """The newest result (collected on, value, unit) of each of ``analytes``, in one query."""
    latest: dict[str, tuple[dt.date, float, str]] = {}
    rows = (
        LabResult.objects.filter(course=course, analyte__in=sorted(analytes))
        .order_by("analyte", "-collected_on", "-pk")
        .values_list("analyte", "collected_on", "value", "unit")
    )
    for analyte, collected_on, value, unit in rows:
        if analyte not in latest:
            latest[analyte] = (collected_on, float(value), unit)
    return latest


def removes_ileum(course: Course) -> bool:
    """Whether the opening operation removed the terminal ileum: the listed procedure when it
    says so, else what the free text and the primary site tell."""
    procedure = course.surgery.procedure
    if procedure in ILEAL_PROCEDURES:
        return True
    site_is_ileal = course.diagnosis.primary_site in ILEAL_PRIMARY_SITES
    if procedure == SurgeryProcedure.SMALL_BOWEL_RESECTION:
        return site_is_ileal
    text = f"{procedure} {getattr(course.surgery, 'procedure_detail', '')}".casefold()
    return any(word in text for word in ("ile", "hemicolectomy")) or site_is_ileal


def facts_for(course: Course) -> schedule.Facts:
    """What was done on the course, as ``schedule.Facts``.

    ``course`` must carry its plan (``course.plan``), surgery, diagnosis and current line.
    Imaging counts from the anchor on, and only multiphase CT or MRI answers the imaging item;
    each open SSA line counts the injections given since its start; a PRRT line's cycles are
    its start (cycle 1) and the cycles recorded. A handful of queries, none per row.
    """
    plan = course.plan
    dx = course.diagnosis
    dates = _dates(course, plan.anchor_on)
    # The open lines, and the PRRT lines ever given (closed ones too): one read with cycles.
    every = list(
        TreatmentLine.objects.filter(
            Q(ended_on__isnull=True, end_reason="") | Q(category=machine.Category.PRRT),
            course=course,
        )
        .prefetch_related("cycles")
        .order_by("number")
    )
    lines = [line for line in every if line.ended_on is None and line.end_reason == ""]
    # The newest injection on or after a line's start is the newest injection, if it is.
    last_injection_on = dates["last_injection_on"]
    status, syndrome_since, resumed = _event_facts(course)
    single_ssa = sum(line.category == machine.Category.SSA for line in lines) == 1
    ssa_lines = []
    prrt: schedule.PrrtCourse | None = None
    everolimus_on = chemotherapy_on = None
    chemotherapy_interval = None
    for line in lines:
        if line.category == machine.Category.SSA:
            given = (
                last_injection_on
                if last_injection_on is not None and last_injection_on >= line.started_on
                else None
            )
            ssa_lines.append(
                schedule.SsaLine(
                    started_on=line.started_on,
                    interval_days=line.interval_days,
                    held=line.held_since is not None,
                    last_injection_on=given,
                    line_id=line.pk,
                    resumed_on=resumed.get(line.pk) or (resumed.get(None) if single_ssa else None),
                )
            )
        elif line.category == machine.Category.PRRT:
            cycles = {line.started_on} | {cycle.given_on for cycle in line.cycles.all()}
            prrt = schedule.PrrtCourse(tuple(sorted(cycles)), line.planned_cycles)
        elif line.category == machine.Category.EVEROLIMUS:
            everolimus_on = line.started_on
        elif line.category == machine.Category.CHEMOTHERAPY:
            chemotherapy_on, chemotherapy_interval = line.started_on, line.interval_days
    last_prrt_cycle_on = max(
        (
            max([line.started_on, *(cycle.given_on for cycle in line.cycles.all())])
            for line in every
            if line.category == machine.Category.PRRT
        ),
        default=None,
    )

    # A syndrome newly recorded by status_updated brings imaging and markers forward like a
    # positive check (docs/clinical-rules.md#version-2-treatment-lines, "facts change").
    newly = None
    if not (dx.functional or dx.carcinoid_syndrome) and syndrome_since is not None:
        newly = syndrome_since
    functional = status.get("functional", dx.functional)
    syndrome = status.get("carcinoid_syndrome", dx.carcinoid_syndrome)
    if syndrome_since is None or dx.functional or dx.carcinoid_syndrome:
        syndrome_since = plan.anchor_on

    latest = _latest_values(course, (schedule.NT_PROBNP, schedule.U5HIAA))
    nt_probnp = latest.get(schedule.NT_PROBNP)
    u5hiaa = latest.get(schedule.U5HIAA)
    u5hiaa_umol = None
    if u5hiaa is not None:
        factor = schedule.U5HIAA_UMOL_PER_MG if u5hiaa[2].startswith("mg") else 1.0
        u5hiaa_umol = (u5hiaa[0], u5hiaa[1] * factor)

    last_done = {
        kind: dates[f"done_{kind}"]
        for kind in schedule.ANALYTES_ANSWERING
        if dates[f"done_{kind}"] is not None
    }
    if dates["done_echocardiography"] is not None:
        last_done["echocardiography"] = dates["done_echocardiography"]
    if dates["done_blood_counts"] is not None and dates["done_renal"] is not None:
        last_done["prrt_labs"] = min(dates["done_blood_counts"], dates["done_renal"])

    line = course.current_line
    return schedule.Facts(
        surgery_on=course.surgery.performed_on,
        anchor_on=plan.anchor_on,
        state=course.state,
        cga_elevated_preop=dx.cga_elevated_preop,
        last_imaging_on=dates["last_imaging_on"],
        last_visit_on=dates["last_visit_on"],
        last_cga_on=last_done.get("cga"),
        last_symptom_check_on=dates["last_symptom_check_on"],
        line_started_on=line.started_on if line is not None else None,
        last_ssa_injection_on=ssa_lines[-1].last_injection_on if ssa_lines else None,
        on_ssa=bool(ssa_lines),
        ssa_lines=tuple(ssa_lines),
        prrt=prrt,
        last_prrt_cycle_on=last_prrt_cycle_on,
        everolimus_started_on=everolimus_on,
        chemotherapy_started_on=chemotherapy_on,
        chemotherapy_interval_days=chemotherapy_interval,
        state_entered_on=dates["state_entered_on"],
        functional=functional,
        carcinoid_syndrome=syndrome,
        carcinoid_heart_disease=status.get("carcinoid_heart_disease", False),
        nec=dx.grade == "NEC",
        ileal_resection=removes_ileum(course),
        last_done=last_done,
        latest_nt_probnp=None if nt_probnp is None else (nt_probnp[0], nt_probnp[1]),
        latest_u5hiaa=u5hiaa_umol,
        heart_symptoms_on=dates["heart_symptoms_on"],
        symptom_alert_on=max(
            (d for d in (dates["symptom_alert_on"], newly) if d is not None), default=None
        ),
        syndrome_since=syndrome_since,
    )
