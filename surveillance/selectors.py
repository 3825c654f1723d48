"""Reads of surveillance: the sweep's one query, one course's schedule with its status, and the
course's audit trail (the one reader behind the API history endpoint and the admin panel)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Exists, Model, OuterRef, QuerySet
from django.utils import timezone

from treatments.models import Course, Diagnosis, Patient, PrrtCycle, Surgery, TreatmentLine

from . import schedule
from .models import (
    ClinicVisit,
    ImagingStudy,
    Injection,
    LabResult,
    ScheduledItem,
    SurveillancePlan,
    SymptomCheck,
)


def due_on(
    day: dt.date,
    *,
    courses: QuerySet[Course] | None = None,
    kinds: Iterable[str] | None = None,
) -> QuerySet[ScheduledItem]:
    """Items due or overdue on ``day`` (their window has opened), for all or some courses.

    One query, whatever the number of courses: the partial index on ``window_start`` of active
    rows serves the range, and course and patient come in the same query. ``courses`` (e.g.
    ``courses_visible_to(user)``) becomes a subquery, not a second query.
    """
    items = ScheduledItem.objects.filter(active=True, window_start__lte=day).select_related(
        "course__patient"
    )
    if courses is not None:
        items = items.filter(course__in=courses)
    if kinds is not None:
        items = items.filter(kind__in=list(kinds))
    return items.order_by("due_on", "course_id", "kind")


def courses_with_due_items(
    courses: QuerySet[Course],
    *,
    before: dt.date | None = None,
    on_or_before: dt.date | None = None,
) -> QuerySet[Course]:
    """``courses`` narrowed to those with an active item due before ``before`` (overdue on that
    day) and/or due on or before ``on_or_before``.

    An EXISTS subquery per bound, not a join: each course stays one row, so pagination and the
    query count are unchanged.
    """
    for lookup, day in (("due_on__lt", before), ("due_on__lte", on_or_before)):
        if day is not None:
            items = ScheduledItem.objects.filter(
                course=OuterRef("pk"), active=True, **{lookup: day}
            )
            courses = courses.filter(Exists(items))
    return courses


def schedule_for(course: Course | int, today: dt.date | None = None) -> list[dict[str, Any]]:
    """The course's due items as dicts (kind, due_on, window, status on ``today``, why, source,
    rule_version: the rule set that planned the item, None before versions were recorded)."""
    today = today or timezone.localdate()
    rows = ScheduledItem.objects.filter(
        course=course.pk if isinstance(course, Course) else course, active=True
    ).order_by("due_on", "kind")
    return [
        {
            "kind": row.kind,
            "due_on": row.due_on,
            "window_start": row.window_start,
            "window_end": row.window_end,
            "status": str(
                schedule.status_of(row.kind, row.due_on, row.window_start, row.window_end, today)
            ),
            "why": row.why,
            "source": row.source,
            "rule_version": row.rule_version,
        }
        for row in rows
    ]


# ---------------------------------------------------------------------------------------------
# The audit trail of a course
# ---------------------------------------------------------------------------------------------

_ACTIONS = {"+": "created", "~": "changed", "-": "deleted"}


@dataclass(frozen=True)
class FieldChange:
    """One field of one history row: its name, its column (``attname``), old and new value.

    Values are the stored ones (a foreign key as its id, a date as a date); ``old`` is None
    on the row that created the record.
    """

    field: str
    attname: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.field}: {_shown(self.old)} → {_shown(self.new)}"


@dataclass(frozen=True)
class AuditEntry:
    """One history row of a record belonging to a course: when, who, which record, what, why.

    ``model`` is the record's ``app_label.model_name`` ("treatments.course"), ``label`` its
    verbose name ("treatment line"), ``action`` one of created/changed/deleted, ``who`` the
    username (None for the system), ``reason`` the change reason as written (None if none).
    """

    when: dt.datetime
    who: str | None
    model: str
    label: str
    object_id: int
    action: str
    changes: tuple[FieldChange, ...]
    reason: str | None
    history_id: int

    @property
    def record(self) -> str:
        """The record as a person reads it: "treatment line 7"."""
        return f"{self.label} {self.object_id}"


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "—"
    text = str(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _sources(course: Course) -> list[tuple[type[Model], dict[str, int | None]]]:
    """Each tracked model making up a course, with the lookup of its rows for ``course``.

    The course and what it was registered with (patient, diagnosis, surgery), its treatment
    lines and their PRRT cycles, its surveillance plan, and the results and checks recorded
    on it.
    """
    by_course = {"course_id": course.pk}
    return [
        (Course, {"id": course.pk}),
        (Patient, {"id": course.patient_id}),
        (Diagnosis, {"id": course.diagnosis_id}),
        (Surgery, {"id": course.surgery_id}),
        (TreatmentLine, by_course),
        (PrrtCycle, {"line__course_id": course.pk}),
        (SurveillancePlan, by_course),
        (ImagingStudy, by_course),
        (LabResult, by_course),
        (SymptomCheck, by_course),
        (ClinicVisit, by_course),
        (Injection, by_course),
    ]


def _changes(row: Any, before: Any | None) -> tuple[FieldChange, ...]:
    """The fields ``row`` changed from ``before`` (every field, from None, when it is the first).

    ``diff_against`` compares the editable fields only (simple-history compares through
    ``model_to_dict``, which skips ``editable=False``), so the fields only services write (a
    course's state and version, a diagnosis's stage) are compared here alongside it.
    """
    fields = {f.name: f for f in row.tracked_fields}
    if before is None:
        return tuple(
            FieldChange(f.name, f.attname, None, getattr(row, f.attname)) for f in fields.values()
        )
    delta = row.diff_against(before)
    found = {c.field: FieldChange(c.field, fields[c.field].attname, c.old, c.new)
             for c in delta.changes}  # fmt: skip
    for f in fields.values():
        if not f.editable and f.name not in found:
            old, new = getattr(before, f.attname), getattr(row, f.attname)
            if old != new:
                found[f.name] = FieldChange(f.name, f.attname, old, new)
    return tuple(found[name] for name in fields if name in found)


def audit_trail(course: Course) -> list[AuditEntry]:
    """Every history row of the course and of the records it is made of, oldest first.

    The records are those of ``_sources`` (course, patient, diagnosis, surgery, treatment
    lines, PRRT cycles, surveillance plan, imaging, lab results, symptom checks, visits,
    injections). Each row lists the fields it changed against the same record's previous
    row. One query per tracked model (the user comes in the same query), whatever the length
    of the history. Rows written in the same instant keep the order of ``_sources``, then
    their history id.
    """
    entries: list[tuple[tuple[dt.datetime, int, int], AuditEntry]] = []
    for rank, (model, lookup) in enumerate(_sources(course)):
        rows = (
            model.history.filter(**lookup)
            .select_related("history_user")
            .order_by("history_date", "history_id")
        )
        previous: dict[int, Any] = {}
        for row in rows:  # oldest first, so each row is compared with the one before it
            user = row.history_user
            entry = AuditEntry(
                when=row.history_date,
                who=user.get_username() if user is not None else None,
                model=model._meta.label_lower,
                label=str(model._meta.verbose_name),
                object_id=row.id,
                action=_ACTIONS.get(row.history_type, row.history_type),
                changes=_changes(row, previous.get(row.id)),
                reason=row.history_change_reason,
                history_id=row.history_id,
            )
            previous[row.id] = row
            entries.append(((row.history_date, rank, row.history_id), entry))
    entries.sort(key=lambda pair: pair[0])
    return [entry for _, entry in entries]


# Depot somatostatin analogues: the PRRT washout counts from the last of these.
LONG_ACTING_SSA_AGENTS = ("octreotide_lar", "lanreotide")


def last_long_acting_injection_on(course_id: int) -> dt.date | None:
    """The day of the course's last long-acting SSA injection, or None.

    Registered as a treatments fact source (``treatments.services.register_fact_source``),
    so that the PRRT washout guard reads it without treatments importing surveillance.
    """
    # Asked on every event (the guards read it), so one plain statement: the ORM would spend
    # more time compiling it than PostgreSQL takes to answer.
    table = connection.ops.quote_name(Injection._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT MAX(given_on) FROM {table} WHERE course_id = %s AND agent IN (%s, %s)",  # noqa: S608
            [course_id, *LONG_ACTING_SSA_AGENTS],
        )
        return cursor.fetchone()[0]


# PRRT lab values are handed to the treatments guards in one unit each (the unit of the
# NETTER-1 limits in treatments.machine.guards_systemic); the factor turns a stored unit into it.
# Creatinine 1 mg/dL = 88.4 µmol/L and bilirubin 1 mg/dL = 17.1 µmol/L (molar masses 113.1 and
# 584.7 g/mol); haemoglobin and albumin 1 g/dL = 10 g/L.
PRRT_LAB_FACTORS: dict[str, dict[str, float]] = {
    "haemoglobin": {"g/L": 1.0, "g/dL": 10.0},
    "platelets": {"10^9/L": 1.0},
    "leukocytes": {"10^9/L": 1.0},
    "neutrophils": {"10^9/L": 1.0},
    "creatinine": {"µmol/L": 1.0, "mg/dL": 88.4},
    "creatinine_clearance": {"mL/min": 1.0},
    "alt": {"U/L": 1.0},
    "ast": {"U/L": 1.0},
    "albumin": {"g/L": 1.0, "g/dL": 10.0},
    "bilirubin": {"µmol/L": 1.0, "mg/dL": 17.1},
}


def latest_prrt_labs(course_id: int) -> dict[str, float]:
    """The newest result of each PRRT lab analyte on the course, in the guards' units.

    Keys are analytes of ``PRRT_LAB_FACTORS`` with a result (blood counts in 10^9/L,
    haemoglobin and albumin in g/L, creatinine and bilirubin in µmol/L, clearance in mL/min,
    ALT/AST in U/L); an analyte never measured is absent. The newest is the latest
    ``collected_on``, then the latest recorded. Registered as a treatments fact source, so the
    NETTER-1 lab-limit guards read it without treatments importing surveillance.
    """
    # Asked on every event (the guards read it): one plain statement, as above.
    table = connection.ops.quote_name(LabResult._meta.db_table)
    marks = ", ".join(["%s"] * len(PRRT_LAB_FACTORS))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT analyte, value, unit FROM {table} WHERE course_id = %s "  # noqa: S608
            f"AND analyte IN ({marks}) ORDER BY analyte, collected_on DESC, recorded_at DESC, "
            "id DESC",
            [course_id, *PRRT_LAB_FACTORS],
        )
        rows = cursor.fetchall()
    labs: dict[str, float] = {}
    seen: set[str] = set()
    for analyte, value, unit in rows:
        if analyte in seen:
            continue
        seen.add(analyte)
        factor = PRRT_LAB_FACTORS[analyte].get(unit)
        if factor is None:  # a unit no longer allowed is not guessed at
            continue
        # mg/dL (creatinine, bilirubin) become whole µmol/L, as laboratories report them:
        # NETTER-1 itself equates 1.7 mg/dL of creatinine with 150 µmol/L (exactly 150.3).
        digits = 0 if unit == "mg/dL" else 3
        labs[analyte] = round(float(value) * factor, digits)
    return labs
