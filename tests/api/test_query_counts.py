"""SQL per request does not grow with the data, and lists never count the table (R49, R50).

Each endpoint is measured at two sizes (10 and 100 rows or events) under one fixed bound; the
measured counts are reported.
"""

import datetime as dt
from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts import services as alerts
from tests import factories
from tests.api.figures import report
from treatments import services
from treatments.models import Course, CourseEvent

pytestmark = pytest.mark.django_db

SIZES = (10, 100)
# One bound per endpoint, the same at both sizes: authentication, role, the scoped query and
# its prefetches, and the read-log insert. The history reads one table per tracked model of
# the course (12: surveillance.selectors.audit_trail).
# The course detail also reads its lines' PRRT cycles and its status updates (the current
# facts), one query each.
BOUNDS = {"course list": 5, "course detail": 7, "events": 5, "history": 16, "worklist": 4}


def _courses(clinician, team, n: int) -> list[Course]:
    return [factories.register(clinician, team) for _ in range(n)]


def _events(course: Course, clinician, n: int) -> None:
    """`n` more events, a day apart after the last (the log may not go back in time)."""
    done = CourseEvent.objects.filter(course=course).count()
    for i in range(done, done + n):
        services.record_event(
            course=course, type="symptoms_reported", data={}, actor=clinician,
            occurred_on=dt.date(2026, 2, 2) + dt.timedelta(days=i), reason=f"call {i}",
        )  # fmt: skip


def _measure(client, path: str, params: dict | None = None) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params or {})
    assert response.status_code == 200, response.content[:200]
    return len(queries), [q["sql"] for q in queries.captured_queries]


def _at_both_sizes(
    name: str, grow: Callable[[int], str], client, django_assert_max_num_queries, params=None
) -> None:
    counts = []
    for size in SIZES:
        path = grow(size)
        with django_assert_max_num_queries(BOUNDS[name]):
            count, _ = _measure(client, path, params)
        counts.append(count)
    report("query counts", f"{name}: {counts[0]} queries at {SIZES[0]}, {counts[1]} at {SIZES[1]}")
    assert counts[0] == counts[1], f"{name} grows with the data: {counts}"


def test_the_course_list_costs_the_same_at_10_and_100_courses(
    api, coordinator, clinician, team_a, django_assert_max_num_queries
):
    made: list[Course] = []

    def grow(size: int) -> str:
        made.extend(_courses(clinician, team_a, size - len(made)))
        return "/api/v1/courses/"

    _at_both_sizes("course list", grow, api(coordinator), django_assert_max_num_queries,
                   params={"page_size": 100})  # fmt: skip
    assert len(made) == 100


def test_the_course_list_never_counts_the_table(api, coordinator, clinician, team_a):
    _courses(clinician, team_a, 3)
    client = api(coordinator)

    for params in ({}, {"page_size": 2}, {"state": "surveillance"}, {"overdue": "true"}):
        _, sql = _measure(client, "/api/v1/courses/", params)

        assert not [q for q in sql if "COUNT(" in q.upper()], params
    report("query counts", "course list: 0 COUNT queries")


@pytest.fixture
def grown_course(course, clinician) -> Callable[[int], Course]:
    """The seed course, grown to `size` events on demand."""
    have = [0]

    def grow(size: int) -> Course:
        _events(course, clinician, size - have[0])
        have[0] = size
        return course

    return grow


@pytest.mark.parametrize(
    ("name", "suffix"), [("course detail", ""), ("events", "events/"), ("history", "history/")]
)
def test_a_course_costs_the_same_at_10_and_100_events(
    api, coordinator, grown_course, django_assert_max_num_queries, name, suffix
):
    def grow(size: int) -> str:
        return f"/api/v1/courses/{grown_course(size).pk}/{suffix}"

    _at_both_sizes(name, grow, api(coordinator), django_assert_max_num_queries,
                   params={"page_size": 100} if suffix == "events/" else None)  # fmt: skip


def test_the_worklist_costs_the_same_at_10_and_100_alerts(
    api, coordinator, clinician, team_a, django_assert_max_num_queries
):
    made: list[Course] = []

    def grow(size: int) -> str:
        for course in _courses(clinician, team_a, size - len(made)):
            alerts.alert_raise(course=course, kind="decision_pending", severity="high")
            made.append(course)
        return "/api/v1/alerts/"

    _at_both_sizes("worklist", grow, api(coordinator), django_assert_max_num_queries,
                   params={"page_size": 100})  # fmt: skip
