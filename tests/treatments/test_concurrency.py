"""Events recorded at the same moment on one course (PostgreSQL: real row locks).

Threads wait behind a barrier and then call record_event together, each on its own database
connection, so the course row lock and expected_version are what decide the outcome.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from core.errors import InvalidInput, StaleVersion, TransitionNotAllowed
from tests import factories
from tests.treatments.support import ACT_ON, RECURRENCE
from treatments import machine, services
from treatments.models import Course, CourseEvent, Patient

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("today"),
]


def race(course: Course, actor, threads: int, **event: Any) -> list[Any]:
    """Record the same event from `threads` threads at once; each outcome, in no order."""
    barrier = threading.Barrier(threads, timeout=30)
    outcomes: list[Any] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            barrier.wait()
            try:
                outcome: Any = services.record_event(
                    course=course.pk, occurred_on=ACT_ON, actor=actor, reason="race", **event
                )
            except (StaleVersion, TransitionNotAllowed) as refusal:
                outcome = refusal
            except Exception as unexpected:  # reported by the assertions, not lost in a thread
                outcome = unexpected
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    workers = [threading.Thread(target=attempt) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert len(outcomes) == threads, "a thread did not finish"
    return outcomes


def applied(outcomes: list[Any]) -> list[services.Recorded]:
    return [o for o in outcomes if isinstance(o, services.Recorded)]


def assert_consistent(course: Course, applied_events: int) -> None:
    """The log is 1..n without gaps, the state is its replay, one history row per write."""
    course.refresh_from_db()
    log = list(CourseEvent.objects.filter(course=course).order_by("seq"))
    assert [e.seq for e in log] == list(range(1, applied_events + 1))
    assert course.version == applied_events + 1
    assert course.state == machine.replay(machine.INITIAL_STATE, [(e.type, e.data) for e in log])
    assert course.history.count() == 1 + applied_events


@pytest.mark.parametrize("threads", [2, 20])
def test_only_one_of_many_writers_with_the_same_expected_version_wins(clinician, team_a, threads):
    course = factories.register(clinician, team_a)

    outcomes = race(
        course, clinician, threads, type="recurrence_detected", data=RECURRENCE,
        expected_version=1,
    )  # fmt: skip

    assert len(applied(outcomes)) == 1
    losers = [o for o in outcomes if not isinstance(o, services.Recorded)]
    assert all(isinstance(o, StaleVersion) for o in losers), losers
    assert_consistent(course, 1)
    assert Course.objects.get(pk=course.pk).state == "recurrence"


@pytest.mark.parametrize("threads", [2, 20])
def test_only_one_of_many_writers_moves_the_course_out_of_surveillance(clinician, team_a, threads):
    course = factories.register(clinician, team_a)

    outcomes = race(course, clinician, threads, type="recurrence_detected", data=RECURRENCE)

    assert len(applied(outcomes)) == 1
    losers = [o for o in outcomes if not isinstance(o, services.Recorded)]
    assert all(isinstance(o, TransitionNotAllowed) for o in losers), losers
    assert all(o.extra["state"] == "recurrence" for o in losers)
    assert_consistent(course, 1)


def test_writers_that_may_all_apply_are_serialised_into_one_gapless_log(clinician, team_a):
    # symptoms_reported is allowed from any open state, so all twenty apply, one after another.
    course = factories.register(clinician, team_a)

    outcomes = race(course, clinician, 20, type="symptoms_reported", data={})

    assert len(applied(outcomes)) == 20, [
        o for o in outcomes if not isinstance(o, services.Recorded)
    ]
    assert sorted(o.event.seq for o in applied(outcomes)) == list(range(1, 21))
    assert_consistent(course, 20)
    assert Course.objects.get(pk=course.pk).state == "surveillance"


@pytest.mark.parametrize("threads", [2, 10])
def test_one_mrn_registered_at_once_twice_gives_one_patient(coordinator, team_a, threads):
    barrier = threading.Barrier(threads, timeout=30)
    outcomes: list[Any] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            barrier.wait()
            try:
                outcome: Any = services.register_course(
                    actor=coordinator,
                    care_team=team_a,
                    patient=factories.patient_data(mrn="RACE-1"),
                    diagnosis=factories.diagnosis_data(),
                    surgery=factories.surgery_data(),
                )
            except Exception as refusal:
                outcome = refusal
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    workers = [threading.Thread(target=attempt) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    registered = [o for o in outcomes if isinstance(o, services.Registration)]
    refused = [o for o in outcomes if not isinstance(o, services.Registration)]
    assert len(registered) == 1
    assert len(refused) == threads - 1
    assert all(isinstance(o, InvalidInput) and "patient.mrn" in o.errors for o in refused), refused
    assert Patient.objects.filter(mrn="RACE-1").count() == 1
    assert Course.objects.count() == 1
    assert Patient.history.filter(mrn="RACE-1").count() == 1
