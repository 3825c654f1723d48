"""Quiet hours around every 2026 daylight-saving transition of every zone of the tz database.

The end of the quiet hours is compared with a brute-force answer: the first whole minute
after `now` whose local wall clock is outside the window (2026 transitions and the windows
tried here fall on whole minutes, so the first such minute is the exact answer).
"""

import datetime as dt
import time
import zoneinfo

import pytest

from alerts.services import quiet_hours_end

UTC = dt.UTC
MINUTE = dt.timedelta(minutes=1)
YEAR_START = dt.datetime(2026, 1, 1, tzinfo=UTC)
YEAR_END = dt.datetime(2027, 1, 1, tzinfo=UTC)


def test_the_new_york_gap_ends_quiet_hours_at_the_jump_not_an_hour_later():
    # 22:00-02:30 quiet; 01:10 local on the spring-forward night. 02:30 does not exist: at
    # 07:00 UTC the wall clock jumps from 02:00 to 03:00, outside the quiet hours.
    resume = quiet_hours_end(
        now=dt.datetime(2026, 3, 8, 6, 10, tzinfo=UTC),
        zone=zoneinfo.ZoneInfo("America/New_York"),
        start=dt.time(22, 0),
        end=dt.time(2, 30),
    )

    assert resume == dt.datetime(2026, 3, 8, 7, 0, tzinfo=UTC)


def test_in_the_repeated_hour_the_first_reading_of_the_end_is_kept():
    # Fall back in New York: 01:00-02:00 happens twice. Quiet until 01:30: the first 01:30
    # (05:30 UTC) ends them.
    resume = quiet_hours_end(
        now=dt.datetime(2026, 11, 1, 4, 0, tzinfo=UTC),
        zone=zoneinfo.ZoneInfo("America/New_York"),
        start=dt.time(22, 0),
        end=dt.time(1, 30),
    )

    assert resume == dt.datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def _offset(zone: zoneinfo.ZoneInfo, instant: dt.datetime) -> dt.timedelta:
    return instant.astimezone(zone).utcoffset()


def _transitions_2026(zone: zoneinfo.ZoneInfo) -> list[dt.datetime]:
    """Every instant of 2026 where the zone's offset changes (daily probes, then bisection)."""
    found = []
    day = dt.timedelta(days=1)
    lo = YEAR_START
    while lo < YEAR_END:
        hi = lo + day
        if _offset(zone, lo) != _offset(zone, hi):
            a, b = lo, hi
            while b - a > dt.timedelta(seconds=1):
                mid = a + dt.timedelta(seconds=(b - a).total_seconds() // 2)
                if _offset(zone, mid) == _offset(zone, a):
                    a = mid
                else:
                    b = mid
            found.append(b)
        lo = hi
    return found


def _quiet(instant, zone, start, end) -> bool:
    wall = instant.astimezone(zone).time().replace(tzinfo=None)
    return start <= wall < end if start < end else (wall >= start or wall < end)


def _brute_force(now, zone, start, end) -> dt.datetime | None:
    if not _quiet(now, zone, start, end):
        return None
    instant = now + MINUTE
    while _quiet(instant, zone, start, end):
        instant += MINUTE
    return instant


def _wall(instant: dt.datetime, zone, shift: dt.timedelta = dt.timedelta()) -> dt.time:
    moved = (instant.astimezone(zone).replace(tzinfo=None) + shift).replace(second=0, microsecond=0)
    return moved.time()


def _transitions_of_every_zone() -> list[tuple[str, dt.datetime]]:
    return [
        (name, instant)
        for name in sorted(zoneinfo.available_timezones())
        for instant in _transitions_2026(zoneinfo.ZoneInfo(name))
    ]


def test_quiet_hours_end_at_the_first_minute_outside_them_around_every_2026_transition():
    started = time.monotonic()
    transitions = _transitions_of_every_zone()
    checked = quiet_now = 0
    for name, instant in transitions:
        zone = zoneinfo.ZoneInfo(name)
        jump = _offset(zone, instant) - _offset(zone, instant - MINUTE)
        # Ends before, at, inside and after the skipped or repeated wall-clock span.
        shifts = [-30 * MINUTE, dt.timedelta(0), jump / 2, jump, abs(jump) + 30 * MINUTE]
        for shift in shifts:
            end = _wall(instant - MINUTE, zone, MINUTE + shift)
            start = (dt.datetime.combine(dt.date(2026, 1, 1), end) - dt.timedelta(hours=4)).time()
            for lead in (90, 20, 1, -1):
                now = instant - lead * MINUTE
                expected = _brute_force(now, zone, start, end)
                got = quiet_hours_end(now=now, zone=zone, start=start, end=end)
                assert got == expected, (name, instant, start, end, now)
                checked += 1
                quiet_now += expected is not None
    elapsed = time.monotonic() - started

    zones = {name for name, _ in transitions}
    # Northern and southern hemisphere rules, half-hour DST, and a 2026 rule change.
    assert {"America/New_York", "Europe/London", "Australia/Sydney", "Australia/Lord_Howe"} <= zones
    assert len(transitions) >= 2 * 150
    assert quiet_now > checked / 3  # the cases really start inside quiet hours
    assert elapsed < 20, f"bounded in time: {elapsed:.1f}s"


@pytest.mark.parametrize(
    "name", ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Tehran"]
)
def test_a_window_that_never_ends_on_a_real_wall_time_still_ends(name):
    # 00:00-00:00 means no quiet hours at all; a one-minute window at any instant ends one
    # minute later at most (plus a jump).
    zone = zoneinfo.ZoneInfo(name)
    now = dt.datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    wall = now.astimezone(zone).time().replace(tzinfo=None)
    end = (dt.datetime.combine(dt.date(2026, 6, 1), wall) + MINUTE).time()

    assert quiet_hours_end(now=now, zone=zone, start=wall, end=wall) is None
    assert quiet_hours_end(now=now, zone=zone, start=wall, end=end) == now + MINUTE
