"""The API's answers built as plain dicts, in the shapes the serializers of api/serializers.py
publish (docs/api.md#resources).

The serializer classes stay the schema (drf-spectacular reads them); building an answer
through them costs, on every request, the construction of every nested serializer and its
fields from the model's metadata, then a field-by-field walk. The functions below build the
same JSON from ``.values()`` rows or from the instances a view already holds. Each value is
converted by the very field the serializer declares (taken from the serializer classes once,
at import), so dates, times and decimals are written exactly as the serializer writes them;
tests/api/test_lean_output.py checks that the two give the same JSON for the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rest_framework import fields as drf_fields
from rest_framework import relations

from treatments import staging

from . import serializers as s

Converter = Callable[[Any], Any] | None


def _iso(value: Any) -> Any:
    return value.isoformat()


def _converter(field: drf_fields.Field) -> Converter:
    """How the serializer writes a non-null value of this field; None when as stored."""
    if isinstance(field, drf_fields.DateTimeField):
        return field.to_representation  # the current time zone, "Z" for UTC
    if isinstance(field, drf_fields.DateField):
        return _iso
    if isinstance(field, drf_fields.TimeField | drf_fields.DecimalField):
        return field.to_representation
    if isinstance(field, drf_fields.FloatField):
        return float
    passthrough = (
        drf_fields.CharField, drf_fields.ChoiceField, drf_fields.IntegerField,
        drf_fields.BooleanField, drf_fields.JSONField, relations.PrimaryKeyRelatedField,
    )  # fmt: skip
    if isinstance(field, passthrough):
        return None  # database strings, integers, booleans and JSON as they are
    return field.to_representation


def compile_fields(serializer_class: type, names: Iterable[str]) -> tuple[tuple[str, Converter]]:
    """(field name, converter) for ``names`` of ``serializer_class``, read from one instance."""
    fields = serializer_class().fields
    return tuple((name, _converter(fields[name])) for name in names)


def _put(out: dict, spec: tuple, get: Callable[[str], Any]) -> dict:
    for name, convert in spec:
        value = get(name)
        out[name] = value if value is None or convert is None else convert(value)
    return out


# --- Fields, compiled once --------------------------------------------------------------------
PATIENT_SUMMARY = compile_fields(s.PatientSummarySerializer, s.PatientSummarySerializer.Meta.fields)
LINE = compile_fields(s.LineSerializer, s.LineSerializer.Meta.fields)
ACTIVE_LINE = compile_fields(
    s.ActiveLineSerializer,
    [
        n
        for n in s.ActiveLineSerializer.Meta.fields
        if n not in {"held", "cycles", "cumulative_gbq"}
    ],
)
PRRT_CYCLE = compile_fields(s.PrrtCycleSerializer, s.PrrtCycleSerializer.Meta.fields)
COURSE_PLAIN = ("id", "state", "version", "opened_on", "closed_on", "closed_reason")
COURSE = compile_fields(s.CourseSerializer, COURSE_PLAIN)
DIAGNOSIS = compile_fields(s.CourseSerializer, ("stage", "stage_system", "grade"))
DUE_ITEM = compile_fields(s.DueItemSerializer, s.DueItemSerializer().fields)
PLAN = compile_fields(s.PlanSerializer, s.PlanSerializer.Meta.fields)
FACT = compile_fields(s.FactSerializer, s.FactSerializer().fields)
FACT_NAMES = tuple(s.CourseFactsSerializer().fields)
EVENT = compile_fields(
    s.EventSerializer, [n for n in s.EventSerializer.Meta.fields if n != "actor"]
)
_HISTORY_FIELDS = s.HistoryEntrySerializer().fields
_CHANGED_AT = _converter(_HISTORY_FIELDS["changed_at"])


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


# --- Course list: from .values() rows ----------------------------------------------------------
LINE_VALUES = tuple(f"current_line__{name}" for name, _ in LINE)
PATIENT_VALUES = tuple(f"patient__{name}" for name, _ in PATIENT_SUMMARY)
COURSE_VALUES = (
    *COURSE_PLAIN, "care_team_id", "current_line_id", *PATIENT_VALUES,
    "diagnosis__stage", "diagnosis__stage_system", "diagnosis__grade", "diagnosis__t",
    "diagnosis__tumour_count", *LINE_VALUES,
)  # fmt: skip
"""The columns course_from_values reads, plus the ``next_due_on`` annotation."""


def course_from_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """One course of the list (CourseSerializer's shape) from a ``.values(*COURSE_VALUES,
    "next_due_on")`` row. T is written by the staging rules (``staging.t_display``)."""
    out: dict[str, Any] = {"id": row["id"]}
    out["patient"] = _put({}, PATIENT_SUMMARY, lambda n: row["patient__" + n])
    out["care_team"] = row["care_team_id"]
    _put(out, COURSE[1:3], row.__getitem__)
    _put(out, DIAGNOSIS[:2], lambda n: row["diagnosis__" + n])
    out["t_display"] = staging.t_display(row["diagnosis__t"], row["diagnosis__tumour_count"])
    _put(out, DIAGNOSIS[2:], lambda n: row["diagnosis__" + n])
    _put(out, COURSE[3:], row.__getitem__)
    out["current_line"] = (
        None
        if row["current_line_id"] is None
        else _put({}, LINE, lambda n: row["current_line__" + n])
    )
    due = row["next_due_on"]
    out["next_due_on"] = None if due is None else due.isoformat()
    return out


# --- Course detail: from the instances the view holds -------------------------------------------
def _line(line: Any) -> dict[str, Any]:
    return _put({}, LINE, lambda n: getattr(line, n))


def _active_line(line: Any) -> dict[str, Any]:
    out = _put({}, ACTIVE_LINE[:-1], lambda n: getattr(line, n))
    cycles = list(line.cycles.all())
    out["held"] = line.held_since is not None
    _put(out, ACTIVE_LINE[-1:], lambda n: getattr(line, n))
    out["cycles"] = [_put({}, PRRT_CYCLE, lambda n, c=c: getattr(c, n)) for c in cycles]
    out["cumulative_gbq"] = (
        round(sum(float(c.activity_gbq or 0) for c in cycles), 2)
        if line.category == "prrt"
        else None
    )
    return out


def course_summary(course: Any) -> dict[str, Any]:
    """A course instance (patient, diagnosis, current_line selected; ``active_items``
    prefetched) in CourseSerializer's shape."""
    dx = course.diagnosis
    out: dict[str, Any] = {"id": course.id}
    out["patient"] = _put({}, PATIENT_SUMMARY, attrgetter_of(course.patient))
    out["care_team"] = course.care_team_id
    _put(out, COURSE[1:3], attrgetter_of(course))
    _put(out, DIAGNOSIS[:2], attrgetter_of(dx))
    out["t_display"] = dx.t_display
    _put(out, DIAGNOSIS[2:], attrgetter_of(dx))
    _put(out, COURSE[3:], attrgetter_of(course))
    line = course.current_line
    out["current_line"] = None if line is None else _line(line)
    due = min((i.due_on for i in getattr(course, "active_items", []) if i.active), default=None)
    out["next_due_on"] = None if due is None else due.isoformat()
    return out


def attrgetter_of(obj: Any) -> Callable[[str], Any]:
    return lambda name: getattr(obj, name)


def course_detail(
    course: Any,
    due: list[dict],
    allowed_events: Iterable[str],
    active_lines: Iterable[Any],
    facts: Mapping[str, Mapping[str, Any]],
    warnings: list[dict],
    plan: Any = None,
) -> dict[str, Any]:
    """CourseDetailSerializer's shape: course_summary and what the detail adds. ``due`` and
    ``warnings`` are dicts of DueItemSerializer's and WarningSerializer's keys; ``facts``
    maps each fact name to FactSerializer's keys (Fact.as_dict); ``plan`` is the course's
    SurveillancePlan, or None."""
    out = course_summary(course)
    out["due"] = [_put({}, DUE_ITEM, item.__getitem__) for item in due]
    out["allowed_events"] = [str(e) for e in allowed_events]
    out["lines"] = [_line(line) for line in course.lines.all()]
    out["active_lines"] = [_active_line(line) for line in active_lines]
    out["facts"] = {name: _put({}, FACT, facts[name].__getitem__) for name in FACT_NAMES}
    out["warnings"] = [{key: _text_or_none(value) for key, value in w.items()} for w in warnings]
    out["plan"] = None if plan is None else _put({}, PLAN, attrgetter_of(plan))
    return out


# --- Events and history -------------------------------------------------------------------------
EVENT_VALUES = (*(name for name, _ in EVENT), "actor__username")
"""The columns event_from_values reads."""


def event_from_values(row: Mapping[str, Any]) -> dict[str, Any]:
    """One event (EventSerializer's shape) from a ``.values(*EVENT_VALUES)`` row."""
    out = _put({}, EVENT[:5], row.__getitem__)
    out["actor"] = row["actor__username"]
    return _put(out, EVENT[5:], row.__getitem__)


def event_from_instance(event: Any) -> dict[str, Any]:
    """One event instance (with its actor) in EventSerializer's shape."""
    out = _put({}, EVENT[:5], attrgetter_of(event))
    out["actor"] = event.actor.username
    return _put(out, EVENT[5:], attrgetter_of(event))


def history_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    """One history entry dict (the view's keys) in HistoryEntrySerializer's shape."""
    return {
        "changed_at": _CHANGED_AT(entry["changed_at"]),
        "changed_by": _text_or_none(entry["changed_by"]),
        "change_reason": _text_or_none(entry["change_reason"]),
        "change_type": str(entry["change_type"]),
        "object": {str(k): v for k, v in entry["object"].items()},
        "changes": {str(k): v for k, v in entry["changes"].items()},
    }
