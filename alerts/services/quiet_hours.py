"""Quiet hours: when a message to a patient must wait, in the patient's own wall-clock time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo


def _is_quiet(instant: datetime, zone: ZoneInfo, start: clock_time, end: clock_time) -> bool:
    wall = instant.astimezone(zone).time().replace(tzinfo=None)
    return start <= wall < end if start < end else (wall >= start or wall < end)


def _transitions(zone: ZoneInfo, since: datetime, until: datetime) -> list[datetime]:
    """The instants in (since, until] where the zone's UTC offset changes, to the second.

    Hourly probes then bisection: transitions of the tz database are at least days apart.
    """
    found: list[datetime] = []
    step = timedelta(hours=1)
    lo = since
    lo_offset = lo.astimezone(zone).utcoffset()
    while lo < until:
        hi = min(lo + step, until)
        hi_offset = hi.astimezone(zone).utcoffset()
        if hi_offset != lo_offset:
            a, b = lo, hi
            while b - a > timedelta(seconds=1):
                mid = a + (b - a) / 2
                mid = mid.replace(microsecond=0) if mid.microsecond else mid
                if mid <= a:
                    break
                if mid.astimezone(zone).utcoffset() == lo_offset:
                    a = mid
                else:
                    b = mid
            found.append(b)
        lo, lo_offset = hi, hi_offset
    return found


def quiet_hours_end(
    *, now: datetime, zone: ZoneInfo, start: clock_time, end: clock_time
) -> datetime | None:
    """The first instant after `now` outside the quiet hours, or None if `now` is not quiet.

    Quiet hours are local wall-clock times (start > end wraps midnight), so "08:00" stays
    08:00 local across a daylight-saving change. The boundary is either an instant whose
    wall clock reads `end` (either reading of it in a repeated hour) or a transition that
    jumps the wall clock past `end` (a spring-forward gap: 02:30 does not exist, the quiet
    hours end at the jump, 03:00 local). Both kinds are candidates; the earliest that is
    not quiet wins. `now` must be aware; returns an aware UTC datetime.
    """
    if start == end or not _is_quiet(now, zone, start, end):
        return None
    local = now.astimezone(zone)
    candidates: list[datetime] = []
    for days in (0, 1, 2):
        day = local.date() + timedelta(days=days)
        for fold in (0, 1):
            naive = datetime.combine(day, end).replace(fold=fold)
            instant = naive.replace(tzinfo=zone).astimezone(UTC)
            # A wall time in a gap converts to an instant whose wall clock reads otherwise.
            if instant.astimezone(zone).replace(tzinfo=None, fold=0) == naive.replace(fold=0):
                candidates.append(instant)
    horizon = now + timedelta(days=3)
    candidates += _transitions(zone, now.astimezone(UTC), horizon.astimezone(UTC))
    for instant in sorted(set(candidates)):
        if instant > now and not _is_quiet(instant, zone, start, end):
            return instant
    return None  # pragma: no cover - a wall clock leaves any window within three days
