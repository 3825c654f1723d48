"""What is due on day D: one indexed query over all courses; one course's schedule with status."""

from __future__ import annotations

import datetime as dt

import pytest

from surveillance import selectors, services
from tests import factories
from tests.surveillance.support import record
from treatments.selectors import courses_visible_to

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 7, 15)  # inside the seed patient's imaging window (from 2026-07-02)


@pytest.mark.parametrize("courses", [3, 30])
def test_due_on_a_day_is_one_query_whatever_the_number_of_courses(
    clinician, team_a, django_assert_num_queries, courses
):
    for _ in range(courses):
        factories.register(clinician, team_a)

    with django_assert_num_queries(1):
        due = list(selectors.due_on(DAY))
        names = {item.course.patient.family_name for item in due}

    # Imaging, visit, CgA (windows open on 2026-07-02) and the overdue symptom check.
    assert len(due) == 4 * courses
    assert names == {"Silva"}


def test_due_on_a_day_lists_due_and_overdue_items_but_not_upcoming_ones(course):
    kinds = {item.kind for item in selectors.due_on(dt.date(2026, 6, 1))}

    assert kinds == {"symptom_check"}  # overdue since 2026-05-01; imaging opens on 2026-07-02


def test_due_on_a_day_leaves_out_closed_courses(course, clinician):
    record(course, clinician, "course_closed", {"reason": "transferred"}, dt.date(2026, 9, 1))

    assert list(selectors.due_on(DAY)) == []


def test_due_on_a_day_can_be_scoped_to_a_users_courses_in_the_same_query(
    course, coordinator2, team_b, django_assert_num_queries
):
    other = factories.register(coordinator2, team_b)
    visible = courses_visible_to(coordinator2)  # reads the user's role, once per user

    with django_assert_num_queries(1):
        due = list(selectors.due_on(DAY, courses=visible))

    assert {item.course_id for item in due} == {other.pk}


def test_due_on_a_day_can_ask_for_one_kind(course):
    assert [item.kind for item in selectors.due_on(DAY, kinds=["imaging"])] == ["imaging"]


@pytest.mark.parametrize(
    ("today", "imaging_status"),
    [
        (dt.date(2026, 6, 1), "upcoming"),
        (dt.date(2026, 7, 2), "due"),
        (dt.date(2026, 8, 1), "due"),
        (dt.date(2026, 8, 2), "overdue"),
    ],
)
def test_the_schedule_of_a_course_carries_each_items_status_on_the_day(
    course, today, imaging_status
):
    schedule = {item["kind"]: item for item in selectors.schedule_for(course, today)}

    imaging = schedule["imaging"]
    assert imaging["status"] == imaging_status
    assert imaging["due_on"] == dt.date(2026, 8, 1)
    assert imaging["window_start"] == dt.date(2026, 7, 2)
    assert imaging["window_end"] is None
    assert "multiphase CT or MRI" in imaging["why"]
    assert set(schedule) == {"imaging", "visit", "cga", "symptom_check", "vitamin_b12"}


def test_an_ssa_injection_is_overdue_only_after_its_seven_day_window(course, clinician):
    factories.advance(
        course,
        clinician,
        ("recurrence_detected", {"site": "liver", "resectable": False}),
        ("ssa_started", factories.SSA),
        on=dt.date(2026, 9, 1),
    )

    def status(day):
        return {i["kind"]: i["status"] for i in selectors.schedule_for(course, day)}[
            "ssa_injection"
        ]

    assert status(dt.date(2026, 9, 21)) == "upcoming"
    assert status(dt.date(2026, 10, 6)) == "due"
    assert status(dt.date(2026, 10, 7)) == "overdue"


def test_replan_returns_the_items_it_stored(course):
    items = services.replan(course=course, today=dt.date(2026, 7, 15))

    assert [(str(i.kind), i.due_on) for i in items] == [
        (item["kind"], item["due_on"]) for item in selectors.schedule_for(course)
    ]
