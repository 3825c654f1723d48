"""What the guards and the course answer know about a course now, read from the database.

The diagnosis holds the facts at registration; a ``status_updated`` event records a newer
one (a new SSTR scan, carcinoid syndrome appearing, a re-biopsy), and the newest value wins
(docs/clinical-rules.md#treatment-lines: "guards use the newest value"). Each value carries
where it came from, so the answer can show it.

Some facts live in apps above treatments (the injections given are surveillance records).
Treatments cannot import them, so such an app registers a *fact source* here in its
``AppConfig.ready()``: a function of the course id. This is the same inversion as the event
bus (``core.events``), for a question instead of a notice; a course without the app simply
has no such fact.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from django.db import connection

from .. import machine, staging
from ..models import Course, CourseEvent, TreatmentLine

# --------------------------------------------------------------------------------------------
# Fact sources registered by the apps above
# --------------------------------------------------------------------------------------------

LAST_LONG_ACTING_INJECTION: Final = "last_long_acting_injection_on"
LATEST_PRRT_LABS: Final = "latest_prrt_labs"
_SOURCES: dict[str, Callable[[int], Any]] = {}


def register_fact_source(name: str, source: Callable[[int], Any]) -> None:
    """Let an app answer fact ``name`` for a course id (registering again replaces it).

    Known names: ``LAST_LONG_ACTING_INJECTION`` (a ``datetime.date`` or None: the last
    long-acting SSA injection given on the course); ``LATEST_PRRT_LABS`` (a mapping of
    analyte to its newest value, in the units of ``machine.guards_systemic``'s PRRT lab limits).
    """
    _SOURCES[name] = source


def unregister_fact_source(name: str) -> None:
    """Forget fact ``name`` (tests, an app that stops answering)."""
    _SOURCES.pop(name, None)


def _asked(name: str, course_id: int) -> Any:
    source = _SOURCES.get(name)
    return None if source is None else source(course_id)


# --------------------------------------------------------------------------------------------
# The current clinical facts, with their origin
# --------------------------------------------------------------------------------------------

# Keys a status_updated event may carry that change a fact the guards read.
STATUS_KEYS: Final = (
    "sstr_imaging",
    "sstr_uptake_vs_liver",
    "carcinoid_syndrome",
    "functional",
    "carcinoid_heart_disease",
    "ki67_percent",
    "differentiation",
)
# The facts the course answer shows (docs/api.md, the course's `facts`).
SHOWN: Final = ("sstr_imaging", "functional", "carcinoid_syndrome", "grade", "ki67_percent")


@dataclass(frozen=True)
class Fact:
    """One current value and where it came from: "diagnosis" or "status_updated" (its date)."""

    value: Any
    source: str
    on: dt.date | None
    event_seq: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "source": self.source,
            "on": self.on,
            "event_seq": self.event_seq,
        }


def current_facts(course: Course, updates: Iterable[Any] | None = None) -> dict[str, Fact]:
    """The course's clinical facts now: the diagnosis, overridden by newer status updates.

    ``updates`` are the course's ``status_updated`` events (read when not given; model
    instances or rows with ``seq``, ``occurred_on`` and ``data``), applied in
    sequence order so that the newest value of each key wins. The grade is recomputed
    (WHO 2019, ``staging.who_grade``) when a re-biopsy changed Ki-67 or the differentiation;
    a re-biopsy's Ki-67 replaces the mitotic count of the resected specimen too. Keys: those
    of ``STATUS_KEYS`` and "grade".
    """
    dx = course.diagnosis
    at_dx = dx.diagnosed_on
    facts: dict[str, Fact] = {
        "sstr_imaging": Fact(dx.sstr_imaging, "diagnosis", dx.sstr_imaging_on or at_dx),
        "sstr_uptake_vs_liver": Fact(None, "diagnosis", at_dx),
        "carcinoid_syndrome": Fact(dx.carcinoid_syndrome, "diagnosis", at_dx),
        "functional": Fact(dx.functional, "diagnosis", at_dx),
        "carcinoid_heart_disease": Fact(False, "diagnosis", at_dx),
        "ki67_percent": Fact(
            None if dx.ki67_percent is None else float(dx.ki67_percent), "diagnosis", at_dx
        ),
        "differentiation": Fact(dx.differentiation, "diagnosis", at_dx),
        "grade": Fact(dx.grade, "diagnosis", at_dx),
    }
    if updates is None:
        updates = course.events.filter(type=machine.EventType.STATUS_UPDATED).order_by("seq")
    rebiopsy: Fact | None = None
    for event in sorted(updates, key=lambda e: e.seq):
        data = event.data or {}
        for key in STATUS_KEYS:
            if data.get(key) is None:
                continue
            on = event.occurred_on
            if key.startswith("sstr") and data.get("study_on"):
                on = dt.date.fromisoformat(str(data["study_on"]))
            facts[key] = Fact(data[key], "status_updated", on, event.seq)
            if key in ("ki67_percent", "differentiation"):
                rebiopsy = facts[key]
    if rebiopsy is not None:
        ki67 = facts["ki67_percent"].value
        mitoses = None if facts["ki67_percent"].source != "diagnosis" else dx.mitoses_per_2mm2
        try:
            grade = staging.who_grade(
                facts["differentiation"].value,
                ki67,
                None if mitoses is None else float(mitoses),
            )
        except staging.StagingError:
            grade = None
        if grade is not None:
            facts["grade"] = Fact(grade, "status_updated", rebiopsy.on, rebiopsy.event_seq)
    return facts


def line_facts(line: TreatmentLine) -> machine.LineFacts:
    """A treatment line as the guards see it; its PRRT cycles in order."""
    cycles = tuple(
        machine.PrrtCycleFacts(
            number=c.number,
            given_on=c.given_on,
            activity_gbq=None if c.activity_gbq is None else float(c.activity_gbq),
        )
        for c in sorted(line.cycles.all(), key=lambda c: c.number)
    )
    return machine.LineFacts(
        id=line.pk,
        category=line.category,
        agent=line.agent,
        ended_reason=line.end_reason or None,
        started_on=line.started_on,
        intent=line.intent,
        dose_mg=None if line.dose is None or line.dose_unit != "mg" else float(line.dose),
        interval_days=line.interval_days,
        held=line.held_since is not None,
        cycles=cycles,
    )


class _EventRow(NamedTuple):
    """The columns of a course event that the facts read (``current_facts`` takes these too)."""

    seq: int
    type: str
    occurred_on: dt.date
    data: Any
    from_state: str
    to_state: str


_FACT_TYPES: Final = (
    machine.EventType.STATUS_UPDATED.value,
    machine.EventType.RECURRENCE_DETECTED.value,
    machine.EventType.PROGRESSION_DETECTED.value,
)


def _fact_events(course: Course, later_than: tuple[str, dt.date] | None = None) -> list[_EventRow]:
    """In one query, the events the facts read: every status update, the recurrences and
    progressions, and the events that entered the current state; plus, with ``later_than``
    (type, day), the events of that type dated after that day. In sequence order.

    Read on every event under the course's lock, so one plain statement: the ORM would spend
    more time compiling it than PostgreSQL takes to answer.
    """
    table = connection.ops.quote_name(CourseEvent._meta.db_table)
    sql = (
        "SELECT seq, type, occurred_on, data, from_state, to_state "  # noqa: S608
        f"FROM {table} WHERE course_id = %s AND (type IN (%s, %s, %s) "
        "OR (to_state = %s AND from_state <> %s)"
    )
    params: list[Any] = [course.pk, *_FACT_TYPES, course.state, course.state]
    if later_than is not None:
        sql += " OR (type = %s AND occurred_on > %s)"
        params += list(later_than)
    sql += ") ORDER BY seq"
    data = CourseEvent._meta.get_field("data")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            _EventRow(seq, type, on, data.from_db_value(value, None, connection), src, dst)
            for seq, type, on, value, src, dst in cursor.fetchall()
        ]


@dataclass(frozen=True)
class FactsRead:
    """What ``read_facts`` read under the course's lock, kept for the answer that follows.

    ``facts``: as ``course_facts``; ``later_on``: see ``read_facts``; ``lines``:
    the course's TreatmentLine rows in number order, their PRRT cycles prefetched;
    ``updates``: its status_updated events as ``_EventRow`` tuples, in sequence order.
    """

    facts: machine.CourseFacts
    later_on: dt.date | None
    lines: list[TreatmentLine]
    updates: list[_EventRow]


def _facts_from(
    course: Course, rows: list[_EventRow], *, ask_sources: bool = True
) -> tuple[machine.CourseFacts, list[TreatmentLine], list[_EventRow]]:
    updates = [row for row in rows if row.type == machine.EventType.STATUS_UPDATED]
    facts = current_facts(course, updates)
    read = list(
        TreatmentLine.objects.filter(course_id=course.pk)
        .prefetch_related("cycles")
        .order_by("number")
    )
    lines = tuple(line_facts(line) for line in read)
    last_recurrence = progression_on = entry = None
    for row in rows:  # in sequence order: the last one wins
        if row.type == machine.EventType.RECURRENCE_DETECTED:
            last_recurrence = row.data
        elif row.type == machine.EventType.PROGRESSION_DETECTED:
            progression_on = row.occurred_on
        if row.to_state == course.state and row.from_state != course.state:
            entry = row
    facts_now = dataclasses.replace(
        _table_facts(course, facts, lines),
        last_recurrence=last_recurrence,
        gallbladder_in_place=not course.surgery.gallbladder_removed,
        last_long_acting_injection_on=(
            _asked(LAST_LONG_ACTING_INJECTION, course.pk) if ask_sources else None
        ),
        latest_prrt_labs=(_asked(LATEST_PRRT_LABS, course.pk) if ask_sources else None) or {},
        state_entered_on=entry.occurred_on if entry else course.opened_on,
        state_entered_by=entry.type if entry else "registration",
        progression_documented_on=progression_on,
    )
    return facts_now, read, updates


def course_facts(course: Course) -> machine.CourseFacts:
    """What the machine's guards need to know about a course, read from the database.

    Reads the diagnosis and surgery (select them with the course), the status updates, the
    latest recurrence and progression and the event that opened the current state (one
    query), the lines with their cycles, and the registered fact sources
    (``register_fact_source``). The number of queries does not grow with the events.
    """
    return _facts_from(course, _fact_events(course))[0]


def read_facts(course: Course, type: str, occurred_on: dt.date) -> FactsRead:
    """``course_facts`` for recording a ``type`` event dated ``occurred_on``, with the rows read.

    From the same read of the events, ``later_on`` is the date of the newest ``type`` event
    dated after ``occurred_on`` (None: there is none), which the date-order check of
    ``record_event`` needs.

    The registered fact sources (``register_fact_source``) are asked only when ``type`` has
    guideline guards (``machine.guards_for``): only guards read them, so for an event without
    guards (a symptom report, a status update) their facts stay None and {} and cost no query.
    ``type`` must be a known event type.
    """
    rows = _fact_events(course, (type, occurred_on))
    later = max(
        (row.occurred_on for row in rows if row.type == type and row.occurred_on > occurred_on),
        default=None,
    )
    facts, lines, updates = _facts_from(course, rows, ask_sources=bool(machine.guards_for(type)))
    return FactsRead(facts=facts, later_on=later, lines=lines, updates=updates)


def answer_facts(course: Course, updates: Iterable[CourseEvent]) -> machine.CourseFacts:
    """The facts that decide which events the table allows now (the course answer's list).

    Reads nothing more than the answer already has: the diagnosis, ``updates`` (the
    status_updated events) and the course's lines and cycles (prefetch them).
    """
    return _table_facts(
        course, current_facts(course, updates), tuple(line_facts(ln) for ln in course.lines.all())
    )


def _table_facts(
    course: Course, facts: dict[str, Fact], lines: tuple[machine.LineFacts, ...]
) -> machine.CourseFacts:
    return machine.CourseFacts(
        state=machine.State(course.state),
        differentiation=facts["differentiation"].value,
        grade=facts["grade"].value,
        ki67_percent=facts["ki67_percent"].value,
        sstr_imaging=facts["sstr_imaging"].value,
        functional=bool(facts["functional"].value),
        carcinoid_syndrome=bool(facts["carcinoid_syndrome"].value),
        carcinoid_heart_disease=bool(facts["carcinoid_heart_disease"].value),
        sstr_uptake_vs_liver=facts["sstr_uptake_vs_liver"].value,
        lines=lines,
        resection_open=course.resection_open,
    )
