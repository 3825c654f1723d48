"""How many SQL statements one ``record_event`` costs, per family of event.

The count covers the whole write: the locked read and the facts, the event, the course and
its history row, the surveillance re-plan of the kinds the event can move, and the alerts
that follow the commit. It must not grow with the course's past events (every read of the
log is one query, whatever its length), and each family has a ceiling.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories
from tests.treatments.support import RECURRENCE
from treatments import services

pytestmark = pytest.mark.django_db(transaction=True)

START = dt.date(2026, 3, 2)

# family: (events that bring the course where the event can be recorded, the event, ceiling)
FAMILIES = {
    "symptom report (re-plans nothing)": ([], ("symptoms_reported", {}), 6),
    "status update (re-plans the status kinds)": (
        [],
        ("status_updated", {"carcinoid_syndrome": True}),
        20,
    ),
    "line change (re-plans the line kinds)": (
        [("recurrence_detected", RECURRENCE), ("ssa_started", factories.SSA)],
        ("line_changed", {"change": "hold"}),
        20,
    ),
    "change of state (re-plans every kind, raises decision_pending)": (
        [],
        ("recurrence_detected", RECURRENCE),
        19,
    ),
}


def statements(captured: list[dict]) -> int:
    """SQL statements, transaction control (BEGIN, COMMIT, savepoints) left out."""
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
    return sum(1 for q in captured if not q["sql"].upper().startswith(control))


def course_with_past(actor, team, path, past_reports: int):
    """A registered course brought along ``path`` after ``past_reports`` symptom reports and
    as many status updates, each on its own day."""
    course = factories.register(actor, team)
    day = START
    for _n in range(past_reports):
        for kind, data in (("symptoms_reported", {}), ("status_updated", {"functional": False})):
            services.record_event(
                course=course.pk, type=kind, occurred_on=day, data=data, actor=actor, reason="past"
            )
        day += dt.timedelta(days=1)
    for kind, data in path:
        services.record_event(
            course=course.pk, type=kind, occurred_on=day, data=data, actor=actor, reason="path"
        )
        day += dt.timedelta(days=1)
    return course, day


def count(course, day, event, actor) -> int:
    kind, data = event
    with CaptureQueriesContext(connection) as ctx:
        services.record_event(
            course=course.pk, type=kind, occurred_on=day, data=data, actor=actor, reason="count"
        )
    return statements(ctx.captured_queries)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_record_event_queries_do_not_grow_with_the_past_events_and_stay_under_a_ceiling(
    family, today
):
    path, event, ceiling = FAMILIES[family]
    team = factories.team()
    clinician = factories.user("queries", "clinician", team)
    # The first alert ever raised creates the system user: not part of any event's cost.
    warm, warm_day = course_with_past(clinician, team, path, 0)
    count(warm, warm_day, event, clinician)

    short, short_day = course_with_past(clinician, team, path, 0)
    long, long_day = course_with_past(clinician, team, path, 12)

    few = count(short, short_day, event, clinician)
    many = count(long, long_day, event, clinician)
    assert few == many, f"{family}: {few} statements with no past events, {many} with 24"
    assert many <= ceiling, f"{family}: {many} statements (ceiling {ceiling})"


def test_the_fact_sources_are_asked_only_for_an_event_with_guards(today):
    """The injection and laboratory facts only feed guards: a symptom report (no guard) does
    not ask for them, an SSA start (the washout guard's line) does."""
    from treatments.services import facts as fact_sources

    team = factories.team()
    clinician = factories.user("sources", "clinician", team)
    course, day = course_with_past(clinician, team, [("recurrence_detected", RECURRENCE)], 0)
    names = (fact_sources.LAST_LONG_ACTING_INJECTION, fact_sources.LATEST_PRRT_LABS)
    kept = {name: fact_sources._SOURCES[name] for name in names}
    asked: list[str] = []
    for name in names:
        services.register_fact_source(
            name, lambda cid, name=name: asked.append(name) or kept[name](cid)
        )
    try:
        services.record_event(course=course.pk, type="symptoms_reported", occurred_on=day,
                              data={}, actor=clinician, reason="no guard")  # fmt: skip
        assert asked == []
        services.record_event(course=course.pk, type="ssa_started", occurred_on=day,
                              data=factories.SSA, actor=clinician, reason="guarded")  # fmt: skip
        assert sorted(asked) == sorted(names)
    finally:
        for name, source in kept.items():
            services.register_fact_source(name, source)
