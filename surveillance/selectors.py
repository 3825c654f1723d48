"""Reads of surveillance: the sweep's one query, one course's schedule with its status, and the
course's audit trail (the one reader behind the API history endpoint and the admin panel)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Exists, Model, OuterRef, QuerySet
from django.db.models.expressions import Col
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


# Each tracked model making up a course, in the trail's order for rows of the same instant, with
# the condition picking its history rows (one parameter, filled by ``_source_params``).
_SOURCES: tuple[tuple[type[Model], str], ...] = (
    (Course, "h.id = %s"),
    (Patient, "h.id = %s"),
    (Diagnosis, "h.id = %s"),
    (Surgery, "h.id = %s"),
    (TreatmentLine, "h.course_id = %s"),
    (PrrtCycle, "h.line_id IN (SELECT l.id FROM {line} l WHERE l.course_id = %s)"),
    (SurveillancePlan, "h.course_id = %s"),
    (ImagingStudy, "h.course_id = %s"),
    (LabResult, "h.course_id = %s"),
    (SymptomCheck, "h.course_id = %s"),
    (ClinicVisit, "h.course_id = %s"),
    (Injection, "h.course_id = %s"),
)
_HEAD = ("history_id", "history_date", "history_type", "history_change_reason", "history_user_id")


def _source_params(course: Course) -> list[int | None]:
    """The parameter of each ``_SOURCES`` condition for ``course``, in the same order.

    The course and what it was registered with (patient, diagnosis, surgery) by their ids; its
    treatment lines, their PRRT cycles (through the live lines of the course), its
    surveillance plan, and the results and checks recorded on it by the course's id.
    """
    return [course.pk, course.patient_id, course.diagnosis_id, course.surgery_id] + [course.pk] * 8


@dataclass(frozen=True)
class _TrailShape:
    """The one statement behind ``audit_trail`` and how to read its rows back.

    ``sql`` is a ``UNION ALL`` of every history table's rows for the course, each table's
    tracked columns in slots shared by type (typed NULLs in the slots it leaves empty), with the acting user's name
    joined, ordered by (history_date, rank of the source, history_id). ``head`` and
    ``sources`` hold the converters the ORM would apply to each column, so values come back
    as the ORM gives them (dates as dates, JSON decoded).
    """

    sql: str
    head: tuple[tuple[Any, ...], ...]
    sources: tuple[tuple[str, str, tuple[tuple[str, str, int, tuple[Any, ...]], ...]], ...]


_shapes: dict[str, _TrailShape] = {}


def _converters(field: Any, alias: str) -> tuple[tuple[Any, Col], ...]:
    """What the ORM applies to a value of ``field`` read from the database, with its column."""
    col = Col(alias, field)
    found = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
    return tuple((convert, col) for convert in found)


def _slot_type(field: Any) -> str:
    """The SQL type of a column's slot in the trail's statement (strings share one, and so do
    decimals of any precision)."""
    kind = field.cast_db_type(connection)
    for shared in ("varchar", "numeric", "decimal"):
        if kind.startswith(shared):
            return shared
    return kind


def _trail_shape() -> _TrailShape:
    """The statement and readers for this database (built once per vendor)."""
    shape = _shapes.get(connection.vendor)
    if shape is not None:
        return shape
    qn = connection.ops.quote_name
    # Columns are shared by type: a table's n-th column of a type goes to that type's n-th
    # slot, so the statement is as wide as the widest table per type (not the sum of all).
    placed: list[list[tuple[tuple[str, int], Any]]] = []  # per rank: ((type, n), field)
    widths: dict[str, int] = {}
    for model, _ in _SOURCES:
        history = model.history.model
        seen: dict[str, int] = {}
        row = []
        for tracked in history.tracked_fields:
            field = history._meta.get_field(tracked.name)
            kind = _slot_type(field)
            seen[kind] = seen.get(kind, 0) + 1
            row.append(((kind, seen[kind] - 1), field))
        placed.append(row)
        for kind, count in seen.items():
            widths[kind] = max(widths.get(kind, 0), count)
    slots = [(kind, n) for kind in sorted(widths) for n in range(widths[kind])]
    index_of = {slot: i for i, slot in enumerate(slots)}
    first = _SOURCES[0][0].history.model
    head_fields = [first._meta.get_field(name) for name in _HEAD]
    branches, sources = [], []
    for rank, (model, condition) in enumerate(_SOURCES):
        history = model.history.model
        columns = [f"{rank} AS r"] + [
            f"h.{qn(history._meta.get_field(name).column)}" for name in _HEAD
        ]
        mine = dict(placed[rank])
        for i, slot in enumerate(slots):
            field = mine.get(slot)
            value = f"h.{qn(field.column)}" if field is not None else f"CAST(NULL AS {slot[0]})"
            columns.append(f"{value} AS c{i}")
        readers = tuple(
            (field.name, field.attname, index_of[slot], _converters(field, "h"))
            for slot, field in placed[rank]
        )
        where = condition.format(line=qn(TreatmentLine._meta.db_table))
        branches.append(
            f"SELECT {', '.join(columns)} FROM {qn(history._meta.db_table)} h WHERE {where}"  # noqa: S608
        )
        sources.append((model._meta.label_lower, str(model._meta.verbose_name), readers))
    user = first._meta.get_field("history_user").remote_field.model
    name = user._meta.get_field(user.USERNAME_FIELD).column
    sql = (
        f"SELECT t.*, u.{qn(name)} FROM ({' UNION ALL '.join(branches)}) t "  # noqa: S608
        f"LEFT JOIN {qn(user._meta.db_table)} u ON u.{qn(user._meta.pk.column)} = t.history_user_id "
        "ORDER BY t.history_date, t.r, t.history_id"
    )
    head = tuple(_converters(f, "t") for f in head_fields)
    shape = _shapes[connection.vendor] = _TrailShape(sql, head, tuple(sources))
    return shape


def _read(value: Any, converters: tuple[tuple[Any, Col], ...]) -> Any:
    for convert, col in converters:
        value = convert(value, col, connection)
    return value


def audit_trail(course: Course) -> list[AuditEntry]:
    """Every history row of the course and of the records it is made of, oldest first.

    The records are those of ``_SOURCES`` (course, patient, diagnosis, surgery, treatment
    lines, PRRT cycles, surveillance plan, imaging, lab results, symptom checks, visits,
    injections). Each row lists the tracked fields whose stored value differs from the same
    record's previous row (every field, from None, on a record's first row), in the order
    of the model's fields. One statement, whatever the length of the history: the history
    tables' rows in one ``UNION ALL``, the user's name joined, ordered in SQL. Rows written
    in the same instant keep the order of ``_SOURCES``, then their history id.
    """
    shape = _trail_shape()
    with connection.cursor() as cursor:
        cursor.execute(shape.sql, _source_params(course))
        rows = cursor.fetchall()
    (c_hid, c_when, c_type, c_reason, _c_user) = shape.head
    previous: dict[tuple[int, int], dict[str, Any]] = {}
    entries = []
    for row in rows:
        rank = row[0]
        label_lower, label, readers = shape.sources[rank]
        values = {attname: _read(row[6 + index], conv) for _, attname, index, conv in readers}
        object_id = values["id"]
        before = previous.get((rank, object_id))
        if before is None:
            changes = tuple(FieldChange(n, a, None, values[a]) for n, a, _, _ in readers)
        else:
            changes = tuple(
                FieldChange(n, a, before[a], values[a])
                for n, a, _, _ in readers
                if before[a] != values[a]
            )
        previous[(rank, object_id)] = values
        kind = _read(row[3], c_type)
        entries.append(
            AuditEntry(
                when=_read(row[2], c_when),
                who=row[-1],
                model=label_lower,
                label=label,
                object_id=object_id,
                action=_ACTIONS.get(kind, kind),
                changes=changes,
                reason=_read(row[4], c_reason),
                history_id=_read(row[1], c_hid),
            )
        )
    return entries


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
        last = cursor.fetchone()[0]
    # PostgreSQL answers a date; SQLite (tests outside CI) the ISO text, which the field parses.
    return Injection._meta.get_field("given_on").to_python(last)


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
