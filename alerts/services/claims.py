"""Claiming a batch of due reminders, and deciding what must not be sent now.

A dispatcher claims a batch (row locks with SKIP LOCKED on PostgreSQL, compare-and-set
everywhere), decides in the same short transaction what must not be sent now (consent,
quiet hours, the SMS cap), records a `sending` attempt per message and commits; the sending
itself happens after (alerts.services.dispatch). A worker that dies leaves `sending` rows
whose lease expires: the next dispatcher takes them again.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.db.models import F, Q, QuerySet

from surveillance.models import ScheduledItem
from treatments import machine
from treatments.models import Course

from .. import conf
from ..models import (
    AttemptOutcome,
    Channel,
    DeliveryAttempt,
    Reminder,
    ReminderKind,
    ReminderStatus,
    SkipReason,
)
from .quiet_hours import quiet_hours_end


@dataclass
class DispatchCounts:
    """What one dispatch batch did with the reminders it claimed, by outcome."""

    claimed: int = 0
    sent: int = 0
    deferred: int = 0
    skipped: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class Claim:
    """A claimed batch: the lease it holds, what to send with each attempt row, what failed."""

    lease_until: datetime
    to_send: list[Reminder] = field(default_factory=list)
    attempts: dict[int, DeliveryAttempt] = field(default_factory=dict)
    failed: list[Reminder] = field(default_factory=list)


class ClaimRaced(Exception):
    """A compare-and-set found fewer rows than it locked: give the batch back untouched."""


def claimable(now: datetime) -> QuerySet[Reminder]:
    """Pending reminders whose time has come (the partial index reminder_claimable)."""
    return Reminder.objects.filter(status=ReminderStatus.PENDING, send_after__lte=now).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def lease_expired(now: datetime) -> QuerySet[Reminder]:
    """Reminders whose dispatcher died or stalled mid-batch (the partial index reminder_leased)."""
    return Reminder.objects.filter(status=ReminderStatus.SENDING, leased_until__lt=now)


def _current_items(course_ids: Iterable[int]) -> dict[tuple[int, str], date]:
    rows = ScheduledItem.objects.filter(course_id__in=set(course_ids), active=True).values_list(
        "course_id", "kind", "due_on"
    )
    return {(course_id, f"{kind}_due"): due_on for course_id, kind, due_on in rows}


def _recent_sms(patient_ids: Iterable[int], now: datetime) -> Counter[int]:
    """SMS each patient was sent (or is being sent) in the last 24 hours."""
    rows = (
        Reminder.objects.filter(channel=Channel.SMS, course__patient_id__in=set(patient_ids))
        .filter(
            Q(
                status__in=[ReminderStatus.SENT, ReminderStatus.DELIVERED],
                sent_at__gt=now - timedelta(days=1),
            )
            | Q(status=ReminderStatus.SENDING, leased_until__gte=now)
        )
        .values_list("course__patient_id", flat=True)
    )
    return Counter(rows)


def claim_batch(*, now: datetime, batch_size: int, counts: DispatchCounts) -> Claim:
    """Lock a batch, settle what must not be sent now, and mark the rest `sending`.

    Only database work happens here (no network), so the transaction stays short; it commits
    before any message leaves, so a crash after it leaves a lease to expire, never a message
    sent and forgotten.
    """
    claim = Claim(lease_until=now + timedelta(seconds=conf.lease_seconds()))
    with transaction.atomic():
        # skip_locked: two dispatchers take disjoint batches instead of queueing on each
        # other. On SQLite this is a no-op; IMMEDIATE transactions serialise the claim.
        # Lock reminder rows alone: joined in, the patients would make PostgreSQL sort the
        # whole backlog instead of walking the partial index to the first `batch_size` rows.
        def locked(rows: QuerySet[Reminder]) -> QuerySet[Reminder]:
            return rows.select_for_update(skip_locked=True)

        # A reminder whose lease ran out is retried alone: if its send is what killed the
        # worker (a poison message), it must not take a batch of innocent ones down with it
        # again, nor charge them its attempts.
        rows = list(locked(lease_expired(now)).order_by("leased_until", "pk")[:1])
        if not rows:
            rows = list(locked(claimable(now)).order_by("send_after", "pk")[:batch_size])
        if not rows:
            return claim
        courses = Course.objects.select_related("patient").in_bulk({r.course_id for r in rows})
        for reminder in rows:
            reminder.course = courses[reminder.course_id]
        counts.claimed += len(rows)
        expired_ids = [r.pk for r in rows if r.status == ReminderStatus.SENDING]
        if expired_ids:
            # The lost worker may or may not have handed the message over: say so.
            DeliveryAttempt.objects.filter(
                reminder_id__in=expired_ids, outcome=AttemptOutcome.SENDING
            ).update(outcome=AttemptOutcome.UNKNOWN, finished_at=now, error="lease expired")

        items = _current_items(r.course_id for r in rows)
        recent = _recent_sms((r.course.patient_id for r in rows if r.channel == Channel.SMS), now)
        skipped: dict[str, list[int]] = defaultdict(list)
        deferred: list[Reminder] = []
        for reminder in rows:
            decision = _decide(reminder, now=now, items=items, recent=recent)
            if isinstance(decision, datetime):
                reminder.status = ReminderStatus.PENDING
                reminder.send_after = decision
                reminder.leased_until = None
                reminder.last_error = f"deferred: quiet hours until {decision:%Y-%m-%d %H:%M} UTC"
                deferred.append(reminder)
            elif decision in SkipReason.values:
                skipped[decision].append(reminder.pk)
            elif decision == "failed":
                claim.failed.append(reminder)
            else:
                claim.to_send.append(reminder)

        for reason, ids in skipped.items():
            Reminder.objects.filter(pk__in=ids).update(
                status=ReminderStatus.SKIPPED, skip_reason=reason, leased_until=None
            )
            counts.skipped += len(ids)
        if deferred:
            Reminder.objects.bulk_update(
                deferred, ["status", "send_after", "leased_until", "last_error"]
            )
            counts.deferred += len(deferred)
        if claim.failed:
            for reminder in claim.failed:
                reminder.status = ReminderStatus.FAILED
                reminder.leased_until = None
            Reminder.objects.bulk_update(claim.failed, ["status", "leased_until", "last_error"])
            counts.failed += len(claim.failed)
        if claim.to_send:
            ids = [r.pk for r in claim.to_send]
            updated = Reminder.objects.filter(
                pk__in=ids, status__in=[ReminderStatus.PENDING, ReminderStatus.SENDING]
            ).update(
                status=ReminderStatus.SENDING,
                leased_until=claim.lease_until,
                attempts=F("attempts") + 1,
                next_attempt_at=None,
            )
            if updated != len(ids):
                raise ClaimRaced
            attempts = []
            for reminder in claim.to_send:
                reminder.attempts += 1
                reminder.status = ReminderStatus.SENDING
                reminder.leased_until = claim.lease_until
                attempts.append(
                    DeliveryAttempt(reminder=reminder, attempt=reminder.attempts, started_at=now)
                )
            for attempt in DeliveryAttempt.objects.bulk_create(attempts):
                claim.attempts[attempt.reminder_id] = attempt
    return claim


def _decide(
    reminder: Reminder,
    *,
    now: datetime,
    items: Mapping[tuple[int, str], date],
    recent: Counter[int],
) -> str | datetime | None:
    """None to send now; a skip reason; "failed"; or the time to try again (quiet hours)."""
    patient = reminder.course.patient
    if reminder.status == ReminderStatus.SENDING and reminder.attempts >= conf.max_attempts():
        # A message whose every try died with its worker (a poison message): stop here rather
        # than loop through the lease forever.
        reminder.last_error = (
            f"attempts exhausted ({reminder.attempts}); the last was lost with its worker"
        )
        return "failed"
    if reminder.course.state == machine.State.CLOSED:
        return SkipReason.COURSE_CLOSED
    if (
        reminder.kind != ReminderKind.OVERDUE
        and items.get((reminder.course_id, reminder.kind)) != reminder.due_on
    ):
        # Done or re-planned since the sweep: the patient must not be told a stale date.
        return SkipReason.SUPERSEDED
    if reminder.channel == Channel.EMAIL:
        consent, address = patient.email_consent, patient.email
    else:
        consent, address = patient.sms_consent, patient.phone
    if not consent:
        return SkipReason.OPTED_OUT
    if not address:
        return SkipReason.NO_ADDRESS
    try:
        zone = ZoneInfo(patient.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        reminder.last_error = f"invalid time zone {patient.timezone!r} on the patient"
        return "failed"
    resume = quiet_hours_end(
        now=now, zone=zone, start=patient.quiet_hours_start, end=patient.quiet_hours_end
    )
    if resume is not None:
        return resume
    if reminder.channel == Channel.SMS:
        if recent[patient.pk] >= conf.sms_daily_cap():
            return SkipReason.RATE_CAP
        recent[patient.pk] += 1
    return None
