"""Issue, rotate and revoke a patient's calendar feed; find the feed a secret names.

One door: the API's views, the user-deactivation hook and the course-closed subscriber all
revoke through :func:`revoke_feeds`. The secret is ``secrets.token_urlsafe(32)`` (43
URL-safe characters, 256 bits); only its SHA-256 is stored, and a feed is found by looking
its hash up, so no comparison of secrets happens in Python at all. Every issue rotates: a
patient has at most one live feed, and a new one revokes the one before.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any, Final

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from alerts import conf as alerts_conf
from surveillance import schedule
from surveillance.models import ScheduledItem
from treatments.models import Course, Patient

from ..models import CalendarFeed
from .feed import FeedEntry

# What token_urlsafe(32) produces; anything else is not a secret this server issued.
TOKEN_PATTERN: Final = r"[A-Za-z0-9_-]{43}"  # noqa: S105 (a format, not a secret)
_TOKEN = re.compile(TOKEN_PATTERN)

ROTATED: Final = "rotated"
REVOKED: Final = "revoked"
USER_DEACTIVATED: Final = "user_deactivated"
COURSES_CLOSED: Final = "courses_closed"


@dataclass(frozen=True)
class IssuedFeed:
    """A new feed and its secret address (shown once: only the hash is stored)."""

    feed: CalendarFeed
    token: str

    @property
    def url(self) -> str:
        return feed_url(self.token)


def token_hash(token: str) -> str:
    """SHA-256 of a feed secret, as 64 lowercase hex digits."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def feed_url(token: str) -> str:
    """The public address of the feed with secret ``token`` (``PUBLIC_BASE_URL`` based)."""
    return f"{settings.PUBLIC_BASE_URL}{reverse('api:calendar-feed', kwargs={'token': token})}"


def issue_feed(*, patient: Patient, actor: AbstractBaseUser) -> IssuedFeed:
    """Give ``patient`` a new secret feed address, revoking the live one if any (rotation).

    Serialised per patient by a row lock on the patient, so two issues at once leave one live
    feed. Returns the feed and its secret; the secret is not stored and cannot be shown again.
    """
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        list(Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk"))
        revoke_feeds(patient=patient, actor=actor, reason=ROTATED)
        feed = CalendarFeed.objects.create(
            patient=patient, token_hash=token_hash(token), created_by=actor
        )
    return IssuedFeed(feed=feed, token=token)


def revoke_feeds(
    *, patient: Patient | int, actor: AbstractBaseUser | None, reason: str = REVOKED
) -> int:
    """Revoke the patient's live feed, if any; the number revoked (0 or 1).

    Takes effect at once: the feed view reads the row on every request, and answers are
    never cached (``Cache-Control: no-store``). ``actor`` is None when no user acted (a
    deactivation saved from a shell).
    """
    patient_id = patient.pk if isinstance(patient, Patient) else patient
    return _revoke(patient_id, actor.pk if actor is not None else None, reason)


def _revoke(patient_id: int, actor_id: int | None, reason: str) -> int:
    return CalendarFeed.objects.filter(patient_id=patient_id, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by_id=actor_id, revoked_reason=reason
    )


def live_feed(token: str) -> CalendarFeed | None:
    """The live feed whose secret is ``token``, with its patient; None for anything else.

    An unknown, revoked or malformed secret all give None, so the caller answers each the
    same way (404). A malformed one is refused before the database is asked.
    """
    if not _TOKEN.fullmatch(token):
        return None
    return (
        CalendarFeed.objects.select_related("patient")
        .filter(token_hash=token_hash(token), revoked_at__isnull=True)
        .first()
    )


def feed_entries(patient: Patient) -> list[FeedEntry]:
    """The patient's open due items: the active items of their courses that are not closed."""
    rows = (
        ScheduledItem.objects.filter(course__patient=patient, active=True)
        .exclude(course__state=schedule.CLOSED)
        .values_list("course_id", "kind", "due_on", "updated_at")
        .order_by("due_on", "kind", "course_id")
    )
    return [FeedEntry(*row) for row in rows]


def alarm_lead_days() -> tuple[int, ...]:
    """Days before a due date at which the reminder sweep reminds: the advance notice
    (``alerts.conf.lookahead_days()``) and the due day (0)."""
    return tuple(sorted({alerts_conf.lookahead_days(), 0}, reverse=True))


def alarm_time(patient: Patient) -> dt.time:
    """When on a day the feed's alarms fire: as the patient's quiet hours end."""
    end = patient.quiet_hours_end
    return end if isinstance(end, dt.time) else dt.time.fromisoformat(str(end))


# -- revocation when the feed has no one left to serve -----------------------------------------


def on_user_saved(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    """post_save of a user: a deactivated patient's feed is revoked.

    A patient who can no longer log in can no longer manage the address either.
    """
    if created or kwargs.get("raw") or instance.is_active:
        return
    patient_id = Patient.objects.filter(user=instance).values_list("pk", flat=True).first()
    if patient_id is not None:
        _revoke(patient_id, None, USER_DEACTIVATED)


def on_course_event(event: Any) -> None:
    """In-transaction subscriber: when a patient's last open course closes, the feed goes.

    ``event`` is a ``treatments.domain_events.CourseEventRecorded``.
    """
    if event.to_state != schedule.CLOSED:
        return
    patient_id = Course.objects.filter(pk=event.course_id).values_list("patient_id", flat=True)[0]
    still_open = (
        Course.objects.filter(patient_id=patient_id).exclude(state=schedule.CLOSED).exists()
    )
    if not still_open:
        _revoke(patient_id, event.actor_id, COURSES_CLOSED)
