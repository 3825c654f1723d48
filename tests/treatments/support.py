"""Helpers of the clinical-core tests: reaching a state through services, and counting writes.

Paths to each state are written out here, event by event, rather than derived from
`treatments.machine`, so the tests check the machine instead of repeating it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User

from tests import factories
from treatments import services
from treatments.models import (
    Course,
    CourseEvent,
    Diagnosis,
    Patient,
    Surgery,
    TreatmentLine,
)

# The day the clock is pinned to (conftest `today`). Every date in tests/factories.py
# (surgery 2026-02-01, events 2026-09-01) lies before it, so "in the future" means the same
# thing whenever the suite runs.
TODAY = dt.date(2026, 11, 20)

RECURRENCE = {"site": "liver", "resectable": True}
UNRESECTABLE = {"site": "peritoneal", "resectable": False}
RESECTION = {"procedure": "right hepatectomy", "planned_on": "2026-06-01"}
RESECTED_NED = {"performed_on": "2026-06-01", "margin": "R0", "ned": True}
RESECTED_NOT_NED = {"performed_on": "2026-06-01", "margin": "R1", "ned": False}
PROGRESSION = {"recist": "PD"}
EVEROLIMUS = {"dose_mg": 10}
CAPTEM = {"regimen": "capecitabine_temozolomide"}
CLOSED = {"reason": "deceased"}
WATCHFUL_WAITING = {"rationale": "low_volume_stable"}

# The first day of the path, and one day more for each later step, so that no event is
# dated before an earlier one of its kind.
PATH_START = dt.date(2026, 3, 2)
# The day the event under test happens: after every path step.
ACT_ON = dt.date(2026, 10, 1)

PATHS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "surveillance": [],
    "recurrence": [("recurrence_detected", RECURRENCE)],
    "resection": [("recurrence_detected", RECURRENCE), ("resection_started", RESECTION)],
    "ssa": [("recurrence_detected", RECURRENCE), ("ssa_started", factories.SSA)],
    "progression": [
        ("recurrence_detected", RECURRENCE),
        ("ssa_started", factories.SSA),
        ("progression_detected", PROGRESSION),
    ],
    "prrt": [
        ("recurrence_detected", RECURRENCE),
        ("ssa_started", factories.SSA),
        ("progression_detected", PROGRESSION),
        ("prrt_started", factories.PRRT),
    ],
    "everolimus": [
        ("recurrence_detected", RECURRENCE),
        ("ssa_started", factories.SSA),
        ("progression_detected", PROGRESSION),
        ("everolimus_started", EVEROLIMUS),
    ],
    "chemotherapy": [("recurrence_detected", RECURRENCE), ("chemotherapy_started", CAPTEM)],
    "supportive": [("recurrence_detected", RECURRENCE), ("supportive_care_started", {})],
    # Registered with an R2 margin (course_in): the surgery left disease.
    "residual_disease": [],
    "observation": [
        ("recurrence_detected", RECURRENCE),
        ("watchful_waiting_started", WATCHFUL_WAITING),
    ],
    "closed": [("course_closed", CLOSED)],
}
STATES = list(PATHS)
OPEN_STATES = [s for s in STATES if s != "closed"]


def walk(
    course: Course,
    actor: User,
    steps: list[tuple[str, dict[str, Any]]],
    *,
    start: dt.date = PATH_START,
    **options: Any,
) -> Course:
    """Record each step through the service, a day apart, and return the fresh course."""
    for offset, (kind, data) in enumerate(steps):
        services.record_event(
            course=course,
            type=kind,
            occurred_on=start + dt.timedelta(days=offset),
            data=data,
            actor=actor,
            reason=f"path step {offset + 1}",
            **options,
        )
    return Course.objects.get(pk=course.pk)


def course_in(state: str, actor: User, team, **register: Any) -> Course:
    """A newly registered seed course brought to `state` through record_event.

    ``residual_disease`` is reached by registering the seed patient with an R2 margin.
    """
    if state == "residual_disease":
        register.setdefault("surgery", factories.surgery_data(margin="R2"))
    course = factories.register(actor, team, **register)
    return walk(course, actor, PATHS[state])


@dataclass(frozen=True)
class Snapshot:
    """Everything record_event may write for one course."""

    state: str
    version: int
    current_line_id: int | None
    closed_on: dt.date | None
    events: int
    lines: int
    course_history: int
    line_history: int

    @classmethod
    def of(cls, course: Course) -> Snapshot:
        fresh = Course.objects.get(pk=course.pk)
        return cls(
            state=fresh.state,
            version=fresh.version,
            current_line_id=fresh.current_line_id,
            closed_on=fresh.closed_on,
            events=CourseEvent.objects.filter(course=fresh).count(),
            lines=TreatmentLine.objects.filter(course=fresh).count(),
            course_history=fresh.history.count(),
            line_history=TreatmentLine.history.filter(course_id=fresh.pk).count(),
        )


def registration_counts() -> dict[str, int]:
    """Rows and history rows of everything register_course writes."""
    counts = {}
    for model in (Patient, Diagnosis, Surgery, Course):
        counts[model.__name__] = model.objects.count()
        counts[f"history of {model.__name__}"] = model.history.count()
    return counts
