"""Quiet hours in the patient's own time zone, across daylight-saving changes.

Europe/London springs forward at 01:00 UTC on 2027-03-28 and falls back at 01:00 UTC on
2026-10-25; America/New_York at 07:00 UTC on 2027-03-14 and 06:00 UTC on 2026-11-01. A quiet
window of 21:00-08:00 must end at 08:00 on the local clock each of those mornings.
"""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from alerts import services
from alerts.models import RecordedMessage, Reminder
from tests import factories
from tests.alerts.conftest import plan_items

UTC = dt.UTC
NINE_PM, EIGHT_AM = dt.time(21, 0), dt.time(8, 0)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


NIGHTS = {
    # name: (zone, a moment inside the quiet hours, the local 08:00 that ends them, in UTC)
    "london_spring_forward": ("Europe/London", utc(2027, 3, 28, 0, 30), utc(2027, 3, 28, 7, 0)),
    "london_fall_back_first_0130": (
        "Europe/London",
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 8, 0),
    ),
    "london_fall_back_second_0130": (
        "Europe/London",
        utc(2026, 10, 25, 1, 30),
        utc(2026, 10, 25, 8, 0),
    ),
    "london_evening_before_spring": (
        "Europe/London",
        utc(2027, 3, 27, 21, 30),
        utc(2027, 3, 28, 7, 0),
    ),
    "new_york_spring_forward": (
        "America/New_York",
        utc(2027, 3, 14, 6, 30),
        utc(2027, 3, 14, 12, 0),
    ),
    "new_york_fall_back": ("America/New_York", utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 13, 0)),
}


@pytest.mark.parametrize("night", NIGHTS.values(), ids=NIGHTS.keys())
def test_quiet_hours_end_at_eight_on_the_local_clock(night):
    zone, inside, resume = night

    result = services.quiet_hours_end(now=inside, zone=ZoneInfo(zone), start=NINE_PM, end=EIGHT_AM)

    assert result == resume
    assert result.astimezone(ZoneInfo(zone)).time() == EIGHT_AM


def test_daytime_is_not_quiet_and_equal_bounds_mean_no_quiet_hours():
    london = ZoneInfo("Europe/London")
    noon = utc(2027, 3, 28, 11, 0)
    three_am = utc(2027, 3, 28, 2, 0)

    assert services.quiet_hours_end(now=noon, zone=london, start=NINE_PM, end=EIGHT_AM) is None
    assert services.quiet_hours_end(now=three_am, zone=london, start=NINE_PM, end=NINE_PM) is None


def test_an_end_inside_the_skipped_hour_resumes_just_after_it():
    london = ZoneInfo("Europe/London")
    # 22:00-01:30: on 2027-03-28 the local clock never shows 01:30 (01:00 -> 02:00).
    result = services.quiet_hours_end(
        now=utc(2027, 3, 28, 0, 45), zone=london, start=dt.time(22, 0), end=dt.time(1, 30)
    )

    assert result is not None and result > utc(2027, 3, 28, 0, 45)
    assert result.astimezone(london).time() >= dt.time(2, 0)


@pytest.fixture
def night_patient(clinician, team_a, recording):
    def make(zone: str):
        return factories.register(clinician, team_a, timezone=zone, email_consent=False)

    return make


@pytest.mark.django_db
@pytest.mark.parametrize("night", NIGHTS.values(), ids=NIGHTS.keys())
def test_a_reminder_claimed_in_quiet_hours_waits_for_their_end(night, night_patient):
    zone, inside, resume = night
    course = night_patient(zone)
    plan_items(course, imaging=inside.date() + dt.timedelta(days=3))
    services.sweep(today=inside.date(), now=inside)

    with time_machine.travel(inside, tick=False):
        counts = services.dispatch_batch(now=inside)

    reminder = Reminder.objects.get()
    assert (counts.deferred, counts.sent) == (1, 0)
    assert (reminder.status, reminder.skip_reason, reminder.attempts) == ("pending", "", 0)
    assert reminder.send_after == resume
    assert reminder.last_error.startswith("deferred: quiet hours")
    assert not RecordedMessage.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "zone,evening",
    [
        ("Europe/London", utc(2027, 3, 27, 18, 0)),
        ("Europe/London", utc(2026, 10, 24, 18, 0)),
        ("America/New_York", utc(2027, 3, 13, 23, 0)),
        ("America/New_York", utc(2026, 10, 31, 23, 0)),
    ],
    ids=["london_spring", "london_fall", "new_york_spring", "new_york_fall"],
)
def test_through_a_dst_night_each_reminder_goes_once_and_never_in_quiet_hours(
    zone, evening, night_patient
):
    local = ZoneInfo(zone)
    courses = [night_patient(zone) for _ in range(3)]
    for c in courses:
        plan_items(c, imaging=evening.date() + dt.timedelta(days=2))
    # Swept in the evening; the first dispatch tick comes after 21:00 local.
    services.sweep(today=evening.date(), now=evening)

    sent_at: list[dt.datetime] = []
    now = evening + dt.timedelta(hours=3, minutes=30)
    while now < evening + dt.timedelta(hours=20):
        with time_machine.travel(now, tick=False):
            counts = services.dispatch_batch(now=now)
        sent_at += [now] * counts.sent
        now += dt.timedelta(minutes=10)

    assert len(sent_at) == 3
    assert RecordedMessage.objects.count() == 3
    assert not Reminder.objects.exclude(status="sent").exists()
    for moment in sent_at:
        wall = moment.astimezone(local).time()
        assert EIGHT_AM <= wall < NINE_PM
    first_send = min(sent_at).astimezone(local)
    assert first_send.time() == EIGHT_AM
    print(f"{zone} night: sent 3, skipped 0, duplicates 0, first at {first_send:%H:%M %Z}")
