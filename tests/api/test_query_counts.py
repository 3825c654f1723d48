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
# The exact count per endpoint, the same at both sizes. Every request: one query for the user
# and its token generation (role and teams come from the token's claims), and the read-log
# insert. Then the course list: one query for the page (patient, diagnosis, current line and
# the next due date joined); the course detail: the scoped course row, its active due items,
# its lines and its status updates (the current facts), plus the lines' PRRT cycles when it
# has lines (the seed course has none); events: the scoped course's ids, then the page; the
# history: the scoped course and one statement for every tracked model's history rows
# (surveillance.selectors.audit_trail); the worklist: the page.
EXACT = {"course list": 3, "course detail": 6, "events": 4, "history": 4, "worklist": 3}
BOUNDS = EXACT
# POST event: the HTTP layer's own statements around record_event (user, read log, and the
# course answer's due items and plan). The team scope is checked by record_event's locking
# read, and the answer reuses the course row, lines and status updates the write read.
POST_OWN = 4


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
    assert counts == [EXACT[name]] * 2, f"{name}: {counts}, expected {EXACT[name]} at both sizes"


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


def _statements(queries: CaptureQueriesContext) -> int:
    """SQL statements, without the transaction's BEGIN/COMMIT/SAVEPOINT bookkeeping."""
    skip = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")
    return sum(1 for q in queries.captured_queries if not q["sql"].upper().startswith(skip))


def test_posting_an_event_costs_the_same_at_10_and_100_events(api, coordinator, clinician, team_a):
    client = api(coordinator)
    reference = factories.register(clinician, team_a, family_name="Reference")
    target = factories.register(clinician, team_a, family_name="Target")
    day = dt.date(2026, 2, 2)
    totals, services_only = [], []
    for size in SIZES:
        for course in (reference, target):
            _events(course, clinician, size - CourseEvent.objects.filter(course=course).count())
        on = day + dt.timedelta(days=size + 1)
        fresh = Course.objects.get(pk=reference.pk)
        with CaptureQueriesContext(connection) as direct:
            services.record_event(course=fresh, type="symptoms_reported", data={},
                                  actor=coordinator, occurred_on=on, reason="reference")  # fmt: skip
        with CaptureQueriesContext(connection) as posted:
            response = client.post(
                f"/api/v1/courses/{target.pk}/events/",
                {"type": "symptoms_reported", "occurred_on": on.isoformat(), "data": {},
                 "reason": "call"},
                format="json",
            )  # fmt: skip
        assert response.status_code == 201, response.content[:200]
        totals.append(_statements(posted))
        services_only.append(_statements(direct))
    report("query counts", f"POST event: {totals[0]} queries at {SIZES[0]} events, "
           f"{totals[1]} at {SIZES[1]} (record_event alone {services_only[0]}, "
           f"{services_only[1]})")  # fmt: skip
    assert totals[0] == totals[1], f"POST event grows with the events: {totals}"
    assert [t - r for t, r in zip(totals, services_only, strict=True)] == [POST_OWN] * 2
