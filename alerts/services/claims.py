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
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection, transaction
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
from . import common
from .common import update_from_values
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


# The reminder, course and patient columns a claim reads: plain rows, no model instances.
_REMINDER_COLUMNS = (
    "id", "course_id", "kind", "due_on", "stage", "channel", "status", "attempts", "last_error",
)  # fmt: skip
_PATIENT_COLUMNS = (
    "id", "state", "patient_id", "patient__email", "patient__phone", "patient__language",
    "patient__email_consent", "patient__sms_consent", "patient__timezone",
    "patient__quiet_hours_start", "patient__quiet_hours_end",
)  # fmt: skip


@dataclass(slots=True)
class ClaimedReminder:
    """One claimed reminder with what sending it needs from its course and patient.

    Read as rows (``.values()``), not model instances; it carries the attributes the
    dispatcher and ``alert_reminder_failed`` read (``pk``, ``course_id``, ``kind``,
    ``channel``, ``due_on``, ``last_error``) and the outcome the dispatcher writes.
    """

    pk: int
    course_id: int
    kind: str
    due_on: date
    stage: str
    channel: str
    status: str
    attempts: int
    last_error: str
    course_state: str
    patient_id: int
    email: str
    phone: str
    language: str
    email_consent: bool
    sms_consent: bool
    timezone: str
    quiet_hours_start: time | None
    quiet_hours_end: time | None
    send_after: datetime | None = None
    leased_until: datetime | None = None
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    provider_message_id: str = ""

    @property
    def id(self) -> int:
        return self.pk


@dataclass(slots=True)
class ClaimedAttempt:
    """The ``sending`` DeliveryAttempt row of a claimed reminder, and its outcome once known."""

    pk: int
    reminder_id: int
    attempt: int
    outcome: str = AttemptOutcome.SENDING
    error: str = ""
    provider_message_id: str = ""
    finished_at: datetime | None = None


@dataclass
class Claim:
    """A claimed batch: the lease it holds, what to send with each attempt row, what failed."""

    lease_until: datetime
    to_send: list[ClaimedReminder] = field(default_factory=list)
    attempts: dict[int, ClaimedAttempt] = field(default_factory=dict)
    failed: list[ClaimedReminder] = field(default_factory=list)


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


def _claimed_rows(rows: list[dict], now: datetime) -> list[ClaimedReminder]:
    """The locked reminder rows joined, in Python, to their course and patient (one query)."""
    people = {
        row["id"]: row
        for row in Course.objects.filter(pk__in={r["course_id"] for r in rows}).values(
            *_PATIENT_COLUMNS
        )
    }
    claimed = []
    for r in rows:
        c = people[r["course_id"]]
        claimed.append(
            ClaimedReminder(
                pk=r["id"], course_id=r["course_id"], kind=r["kind"], due_on=r["due_on"],
                stage=r["stage"], channel=r["channel"], status=r["status"],
                attempts=r["attempts"], last_error=r["last_error"], course_state=c["state"],
                patient_id=c["patient_id"], email=c["patient__email"],
                phone=c["patient__phone"], language=c["patient__language"],
                email_consent=c["patient__email_consent"],
                sms_consent=c["patient__sms_consent"], timezone=c["patient__timezone"],
                quiet_hours_start=c["patient__quiet_hours_start"],
                quiet_hours_end=c["patient__quiet_hours_end"],
            )
        )  # fmt: skip
    return claimed


def _start_attempts(claim: Claim, *, now: datetime) -> None:
    """Mark the batch `sending` under the lease and write one `sending` attempt per reminder:
    two statements (an UPDATE, then an INSERT ... SELECT ... RETURNING), no model instances."""
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
    reminders = connection.ops.quote_name(Reminder._meta.db_table)
    attempts = connection.ops.quote_name(DeliveryAttempt._meta.db_table)
    by_id = {r.pk: r for r in claim.to_send}
    for chunk in common.chunks(ids):
        marks = ", ".join(["%s"] * len(chunk))
        sql = (
            f"INSERT INTO {attempts} (reminder_id, attempt, started_at, outcome, error, "  # noqa: S608
            f"provider_message_id) SELECT id, attempts, %s, %s, '', '' FROM {reminders} "
            f"WHERE id IN ({marks}) RETURNING id, reminder_id, attempt"
        )
        stamp = connection.ops.adapt_datetimefield_value(now)
        with connection.cursor() as cursor:
            cursor.execute(sql, [stamp, AttemptOutcome.SENDING.value, *chunk])
            for attempt_id, reminder_id, number in cursor.fetchall():
                reminder = by_id[reminder_id]
                reminder.attempts = number
                reminder.status = ReminderStatus.SENDING
                reminder.leased_until = claim.lease_until
                claim.attempts[reminder_id] = ClaimedAttempt(
                    pk=attempt_id, reminder_id=reminder_id, attempt=number
                )


def claim_batch(*, now: datetime, batch_size: int, counts: DispatchCounts) -> Claim:
    """Lock a batch, settle what must not be sent now, and mark the rest `sending`.

    Only database work happens here (no network), so the transaction stays short; it commits
    before any message leaves, so a crash after it leaves a lease to expire, never a message
    sent and forgotten. Rows are read as values (``ClaimedReminder``), not model instances.
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
        found = list(
            locked(lease_expired(now)).order_by("leased_until", "pk").values(*_REMINDER_COLUMNS)[:1]
        )
        if not found:
            found = list(
                locked(claimable(now))
                .order_by("send_after", "pk")
                .values(*_REMINDER_COLUMNS)[:batch_size]
            )
        if not found:
            return claim
        rows = _claimed_rows(found, now)
        counts.claimed += len(rows)
        expired_ids = [r.pk for r in rows if r.status == ReminderStatus.SENDING]
        if expired_ids:
            # The lost worker may or may not have handed the message over: say so.
            DeliveryAttempt.objects.filter(
                reminder_id__in=expired_ids, outcome=AttemptOutcome.SENDING
            ).update(outcome=AttemptOutcome.UNKNOWN, finished_at=now, error="lease expired")

        items = _current_items(r.course_id for r in rows)
        recent = _recent_sms((r.patient_id for r in rows if r.channel == Channel.SMS), now)
        skipped: dict[str, list[int]] = defaultdict(list)
        deferred: list[ClaimedReminder] = []
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
        stamp = connection.ops.adapt_datetimefield_value
        if deferred:
            update_from_values(
                table=Reminder._meta.db_table,
                assignments="status = %s, send_after = v.column2, "
                "leased_until = NULL, last_error = v.column3",
                params=[ReminderStatus.PENDING.value],
                rows=[(r.pk, stamp(r.send_after), r.last_error) for r in deferred],
            )
            counts.deferred += len(deferred)
        if claim.failed:
            for reminder in claim.failed:
                reminder.status = ReminderStatus.FAILED
                reminder.leased_until = None
            update_from_values(
                table=Reminder._meta.db_table,
                assignments="status = %s, leased_until = NULL, last_error = v.column2",
                params=[ReminderStatus.FAILED.value],
                rows=[(r.pk, r.last_error) for r in claim.failed],
            )
            counts.failed += len(claim.failed)
        if claim.to_send:
            _start_attempts(claim, now=now)
    return claim


def _decide(
    reminder: ClaimedReminder,
    *,
    now: datetime,
    items: Mapping[tuple[int, str], date],
    recent: Counter[int],
) -> str | datetime | None:
    """None to send now; a skip reason; "failed"; or the time to try again (quiet hours)."""
    if reminder.status == ReminderStatus.SENDING and reminder.attempts >= conf.max_attempts():
        # A message whose every try died with its worker (a poison message): stop here rather
        # than loop through the lease forever.
        reminder.last_error = (
            f"attempts exhausted ({reminder.attempts}); the last was lost with its worker"
        )
        return "failed"
    if reminder.course_state == machine.State.CLOSED:
        return SkipReason.COURSE_CLOSED
    if (
        reminder.kind != ReminderKind.OVERDUE
        and items.get((reminder.course_id, reminder.kind)) != reminder.due_on
    ):
        # Done or re-planned since the sweep: the patient must not be told a stale date.
        return SkipReason.SUPERSEDED
    if reminder.channel == Channel.EMAIL:
        consent, address = reminder.email_consent, reminder.email
    else:
        consent, address = reminder.sms_consent, reminder.phone
    if not consent:
        return SkipReason.OPTED_OUT
    if not address:
        return SkipReason.NO_ADDRESS
    try:
        zone = ZoneInfo(reminder.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        reminder.last_error = f"invalid time zone {reminder.timezone!r} on the patient"
        return "failed"
    resume = quiet_hours_end(
        now=now, zone=zone, start=reminder.quiet_hours_start, end=reminder.quiet_hours_end
    )
    if resume is not None:
        return resume
    if reminder.channel == Channel.SMS:
        if recent[reminder.patient_id] >= conf.sms_daily_cap():
            return SkipReason.RATE_CAP
        recent[reminder.patient_id] += 1
    return None
