"""The answer to ``POST /courses/{id}/events/`` is built from the rows the write read; it must
be the course as a fresh read gives it, whatever the event did, and the scope check that
moved into the locking read must still turn another team's course into a 404."""

from __future__ import annotations

import datetime as dt

import pytest

from core.errors import NotFound
from tests import factories
from tests.treatments.support import RECURRENCE
from treatments import services
from treatments.models import CourseEvent
from treatments.selectors import courses_visible_to

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 2)

# Each step: (type, data). The last ones open a line, change it, update the status.
STEPS = [
    ("symptoms_reported", {}),
    ("status_updated", {"carcinoid_syndrome": True, "functional": True}),
    ("recurrence_detected", RECURRENCE),
    ("ssa_started", factories.SSA),
    ("symptoms_reported", {}),
    ("line_changed", {"change": "hold"}),
    ("status_updated", {"ki67_percent": 4}),
]


def test_each_answer_is_the_course_a_fresh_read_gives(api, clinician, team_a):
    client = api(clinician)
    course = factories.register(clinician, team_a)
    for n, (kind, data) in enumerate(STEPS):
        posted = client.post(
            f"/api/v1/courses/{course.pk}/events/",
            {"type": kind, "occurred_on": (DAY + dt.timedelta(days=n)).isoformat(), "data": data},
            format="json",
        )
        assert posted.status_code == 201, (kind, posted.content[:300])
        fresh = client.get(f"/api/v1/courses/{course.pk}/")
        assert fresh.status_code == 200
        assert posted.json()["course"] == fresh.json(), kind


def test_another_teams_course_is_refused_by_the_locking_read(clinician, coordinator2, team_b):
    theirs = factories.register(coordinator2, team_b)
    with pytest.raises(NotFound):
        services.record_event(
            course=theirs.pk, type="symptoms_reported", occurred_on=DAY, data={},
            actor=clinician, within=courses_visible_to(clinician),
        )  # fmt: skip
    assert not CourseEvent.objects.filter(course=theirs).exists()
    recorded = services.record_event(
        course=theirs.pk, type="symptoms_reported", occurred_on=DAY, data={},
        actor=coordinator2, within=courses_visible_to(coordinator2),
    )  # fmt: skip
    assert recorded.event.course_id == theirs.pk


def test_another_teams_course_is_a_404_with_a_good_body_and_with_a_bad_one(
    api, clinician, coordinator2, team_b
):
    theirs = factories.register(coordinator2, team_b)
    client = api(clinician)
    good = {"type": "symptoms_reported", "occurred_on": DAY.isoformat(), "data": {}}
    for body in (good, {**good, "occurred_on": "not a date"}, {"type": "no_such_type"}):
        response = client.post(f"/api/v1/courses/{theirs.pk}/events/", body, format="json")
        missing = client.post("/api/v1/courses/999999999/events/", body, format="json")
        assert response.status_code == missing.status_code == 404, body
        assert response.json() == missing.json()
    assert not CourseEvent.objects.filter(course=theirs).exists()
