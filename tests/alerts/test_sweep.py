"""The sweep: one set-based statement turns what is due into reminders, exactly once."""

import datetime as dt

import pytest

from alerts import services
from alerts.models import Reminder
from surveillance.models import ScheduledItem
from tests import factories
from tests.alerts.conftest import NOON, TODAY, plan_items

DAY = dt.timedelta(days=1)


def rows(course=None):
    qs = Reminder.objects.all() if course is None else Reminder.objects.filter(course=course)
    return sorted(qs.values_list("kind", "stage", "channel", "due_on"))


@pytest.mark.django_db
def test_it_inserts_one_reminder_per_consented_channel_and_stage(course):
    plan_items(
        course,
        imaging=TODAY + 5 * DAY,  # inside the 7-day look-ahead
        visit=TODAY,  # the due day
        cga=TODAY - 3 * DAY,  # overdue
        symptom_check=TODAY + 20 * DAY,  # too far ahead: nothing yet
    )

    inserted = services.sweep(today=TODAY, now=NOON)

    assert inserted == 6
    assert rows(course) == [
        ("cga_due", "overdue", "email", TODAY - 3 * DAY),
        ("cga_due", "overdue", "sms", TODAY - 3 * DAY),
        ("imaging_due", "advance", "email", TODAY + 5 * DAY),
        ("imaging_due", "advance", "sms", TODAY + 5 * DAY),
        ("visit_due", "due", "email", TODAY),
        ("visit_due", "due", "sms", TODAY),
    ]
    reminder = Reminder.objects.first()
    assert (reminder.status, reminder.attempts, reminder.send_after) == ("pending", 0, NOON)


@pytest.mark.django_db
def test_the_second_sweep_inserts_nothing_and_each_is_one_query(course, django_assert_num_queries):
    plan_items(course, imaging=TODAY + 2 * DAY, visit=TODAY)

    with django_assert_num_queries(1):
        first = services.sweep(today=TODAY, now=NOON)
    with django_assert_num_queries(1):
        second = services.sweep(today=TODAY, now=NOON + dt.timedelta(minutes=15))

    assert (first, second) == (4, 0)
    assert Reminder.objects.count() == 4


@pytest.mark.django_db
def test_the_sweep_is_one_query_whatever_the_number_of_courses(
    clinician, team_a, django_assert_num_queries
):
    courses = [factories.register(clinician, team_a) for _ in range(6)]
    plan_items(courses[0], imaging=TODAY)
    for c in courses[1:]:
        plan_items(c)  # nothing due yet
    with django_assert_num_queries(1):
        assert services.sweep(today=TODAY, now=NOON) == 2

    for c in courses:
        plan_items(c, imaging=TODAY + DAY)
    with django_assert_num_queries(1):
        assert services.sweep(today=TODAY, now=NOON) == 12


@pytest.mark.django_db
def test_the_next_stage_of_the_same_item_is_a_new_reminder(course):
    plan_items(course, imaging=TODAY + 3 * DAY)
    services.sweep(today=TODAY, now=NOON)

    assert services.sweep(today=TODAY + 3 * DAY, now=NOON + 3 * DAY) == 2
    assert services.sweep(today=TODAY + 4 * DAY, now=NOON + 4 * DAY) == 2

    assert [stage for _, stage, channel, _ in rows(course) if channel == "sms"] == [
        "advance",
        "due",
        "overdue",
    ]


@pytest.mark.django_db
def test_an_injection_is_due_through_its_window_and_overdue_after_it(course):
    due_on = TODAY - 3 * DAY
    plan_items(course, ssa_injection=(due_on, due_on + 7 * DAY))

    services.sweep(today=TODAY, now=NOON)
    services.sweep(today=due_on + 8 * DAY, now=NOON + 5 * DAY)

    assert [stage for _, stage, channel, _ in rows(course) if channel == "email"] == [
        "due",
        "overdue",
    ]


@pytest.mark.django_db
def test_it_only_uses_channels_with_consent_and_an_address(clinician, team_a):
    no_sms = factories.register(clinician, team_a, sms_consent=False)
    no_email_address = factories.register(clinician, team_a, email="")
    no_consent = factories.register(clinician, team_a, sms_consent=False, email_consent=False)
    for c in (no_sms, no_email_address, no_consent):
        plan_items(c, imaging=TODAY)

    services.sweep(today=TODAY, now=NOON)

    assert [channel for *_, channel, _ in rows(no_sms)] == ["email"]
    assert [channel for *_, channel, _ in rows(no_email_address)] == ["sms"]
    assert rows(no_consent) == []


@pytest.mark.django_db
def test_it_skips_closed_courses(course, clinician):
    factories.advance(course, clinician, ("course_closed", {"reason": "transferred"}))
    plan_items(course, imaging=TODAY)  # even if an item were left active

    assert services.sweep(today=TODAY, now=NOON) == 0


@pytest.mark.django_db
def test_it_skips_inactive_items_and_items_out_of_range(course):
    plan_items(course, imaging=TODAY, visit=TODAY - 45 * DAY, cga=TODAY + 8 * DAY)
    ScheduledItem.objects.filter(course=course, kind="imaging").update(active=False)

    assert services.sweep(today=TODAY, now=NOON) == 0


@pytest.mark.django_db
def test_an_item_of_a_kind_it_cannot_word_does_not_stop_the_sweep(course, clinician, team_a):
    other = factories.register(clinician, team_a)
    plan_items(course, imaging=TODAY)
    plan_items(other, visit=TODAY)
    ScheduledItem.objects.create(
        course=other, kind="teleport", due_on=TODAY, window_start=TODAY, why="bad data"
    )

    assert services.sweep(today=TODAY, now=NOON) == 4
    assert not Reminder.objects.filter(kind__startswith="teleport").exists()
