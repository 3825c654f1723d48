"""The iCalendar document of one patient's due items, built with the icalendar library.

One all-day event (``DTSTART;VALUE=DATE``) per open due item, on its due date. The event's
``UID`` comes from the item's identity, not from its date nor its row: a course has at most
one item of each kind (``surveillance.ScheduledItem`` is upserted per course and kind on
every re-plan), so the identity is the pair (course, kind). When a re-plan moves a due date
the event keeps its UID and moves, instead of leaving the old date behind as a second event.
The pair is keyed with the install's ``SECRET_KEY`` (HMAC-SHA256) and written as a UUID: a
plain hash of a course id and a kind could be reversed by trying every kind, and some kinds
name a marker. Neither the UIDs nor anything else in the feed names the server's host.

``SEQUENCE``, ``DTSTAMP`` and ``LAST-MODIFIED`` follow the item's last re-plan
(``updated_at``): a published calendar without ``METHOD`` stamps each event with the time
its information last changed (RFC 5545, 3.8.7.2), and the sequence, counted in seconds since
:data:`SEQUENCE_EPOCH`, only grows.

Each event carries display alarms at the reminder lead times of the reminder sweep
(``alerts.conf.lookahead_days()`` before the date, and the day itself), at the hour the
patient's quiet hours end, when a reminder held overnight would go out.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from django.utils.crypto import salted_hmac
from icalendar import Alarm, Calendar, Event, vDuration

from .labels import label_of

PRODID: Final = "-//Clinic follow-up//Calendar feed//EN"
CALENDAR_NAME: Final = "Follow-up appointments"
CALENDAR_DESCRIPTION: Final = (
    "The dates of your follow-up, from your clinic. Your clinic will tell you the details."
)
# How often a subscribed calendar is asked to fetch the feed again.
REFRESH_INTERVAL: Final = dt.timedelta(hours=6)
SEQUENCE_EPOCH: Final = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
_UID_SALT: Final = "api.calendar.uid"


@dataclass(frozen=True)
class FeedEntry:
    """One open due item as the feed shows it.

    ``kind`` is a ``surveillance.schedule.Kind`` value; ``due_on`` the due date (a local
    day, no time); ``updated_at`` when the item was last re-planned (aware datetime).
    """

    course_id: int
    kind: str
    due_on: dt.date
    updated_at: dt.datetime


def _keyed_uuid(value: str) -> str:
    digest = salted_hmac(_UID_SALT, value, algorithm="sha256").hexdigest()
    return str(uuid.UUID(hex=digest[:32]))


def event_uid(course_id: int, kind: str) -> str:
    """The stable UID of the event of ``kind`` on course ``course_id``, as a UUID string.

    The same (course, kind) always gives the same UID on one install (while its
    ``SECRET_KEY`` stays), whatever the date; it names neither the course nor the kind.
    """
    return _keyed_uuid(f"{course_id}:{kind}")


def calendar_uid(feed_id: int) -> str:
    """The UID of the calendar itself (RFC 7986), a UUID string: stable for one feed."""
    return _keyed_uuid(f"feed:{feed_id}")


def _sequence(updated_at: dt.datetime) -> int:
    return max(0, int((updated_at - SEQUENCE_EPOCH).total_seconds()))


def _when(days: int) -> str:
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    return f"in {days} days"


def _alarm(title: str, days_before: int, at: dt.time) -> Alarm:
    alarm = Alarm.new(description=f"{title} {_when(days_before)}")
    alarm.add("action", "DISPLAY")
    # Relative to the start of the all-day event, which is midnight of the due day.
    alarm.add("trigger", dt.timedelta(days=-days_before, hours=at.hour, minutes=at.minute))
    return alarm


def build_calendar(
    entries: Iterable[FeedEntry],
    *,
    feed_id: int,
    lead_days: Sequence[int],
    alarm_at: dt.time,
    now: dt.datetime,
) -> bytes:
    """The feed as iCalendar bytes (UTF-8, CRLF lines), events in date order.

    ``feed_id``: the feed, whose calendar UID stays the same. ``lead_days``: days
    before the due date at which an alarm fires (0 = on the day; repeats are dropped).
    ``alarm_at``: the local time of day the alarms fire. ``now``: the calendar's
    ``LAST-MODIFIED`` when it has no events. Titles and descriptions use only the generic
    labels of :mod:`api.calendar.labels`.
    """
    entries = sorted(entries, key=lambda e: (e.due_on, str(label_of(e.kind)), e.course_id))
    last_change = max((e.updated_at for e in entries), default=now)
    calendar = Calendar.new(
        prodid=PRODID,
        name=CALENDAR_NAME,
        description=CALENDAR_DESCRIPTION,
        uid=calendar_uid(feed_id),
        last_modified=last_change,
    )
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    for entry in entries:
        title = str(label_of(entry.kind)).capitalize()
        event = Event.new(
            uid=event_uid(entry.course_id, entry.kind),
            start=entry.due_on,
            end=entry.due_on + dt.timedelta(days=1),
            summary=title,
            description=f"{title} due on {entry.due_on:%A} {entry.due_on.day} "
            f"{entry.due_on:%B %Y}. Your clinic will tell you the details.",
            stamp=entry.updated_at,
            last_modified=entry.updated_at,
            sequence=_sequence(entry.updated_at),
            transparency="TRANSPARENT",
            classification="PRIVATE",
        )
        for days in sorted(set(lead_days), reverse=True):
            event.add_component(_alarm(title, days, alarm_at))
        calendar.add_component(event)
    return calendar.to_ical()
