"""Use cases of the alerts app: the only code that writes its data.

The reminder pipeline, after Healthchecks (`hc/api/management/commands/sendalerts.py`):

1. `sweep` inserts reminders for what is due with one set-based statement; the unique key
   (course, kind, due date, channel, stage) makes a second run, or a second beat, a no-op.
2. `dispatch_batch` claims a batch (row locks with SKIP LOCKED on PostgreSQL, compare-and-set
   everywhere), decides in the same short transaction what must not be sent now (consent,
   quiet hours, the SMS cap), records a `sending` attempt per message and commits; then it
   calls the channels outside any transaction and writes the outcomes in bulk. A worker that
   dies leaves `sending` rows whose lease expires: the next dispatcher takes them again.
3. `escalate` turns overdue items into coordinator alerts.

Everything takes `now` / `today` explicitly so a worker, a test and a benchmark agree on time.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from core.audit import with_history
from core.errors import NotFound
from surveillance import schedule
from surveillance import services as surveillance_services
from surveillance.models import ScheduledItem
from treatments import machine
from treatments.domain_events import CourseEventRecorded, DomainEvent
from treatments.models import Course, Patient
from treatments.roles import system_user
from treatments.selectors import courses_visible_to

from . import conf, keywords, messages
from .channels import Message, Outcome, PermanentError, SendResult, TransientError, backend_for
from .models import (
    AttemptOutcome,
    Channel,
    CoordinatorAlert,
    DeliveryAttempt,
    InboundMessage,
    Reminder,
    ReminderKind,
    ReminderStatus,
    Severity,
    SkipReason,
    StatusReport,
    TaskHeartbeat,
    WorkerHeartbeat,
)

logger = logging.getLogger(__name__)

SEVERITY_RANK = {Severity.NORMAL: 0, Severity.HIGH: 1, Severity.URGENT: 2, Severity.CRITICAL: 3}

# Alert kinds raised here (symptom findings use surveillance.schedule.AlertKind).
ALERT_REMINDER_FAILED = "reminder_failed"
ALERT_DECISION_PENDING = "decision_pending"
ALERT_GUARD_OVERRIDDEN = "guard_overridden"
OVERDUE_SUFFIX = "_overdue"

# How urgent an overdue item is for the coordinator worklist. Imaging and injections carry
# the disease-control risk; the 12-month imaging gap is critical (CLINICAL.md §2), decided by
# surveillance.schedule.imaging_gap_exceeded, not here.
OVERDUE_SEVERITY = {
    schedule.Kind.IMAGING: Severity.HIGH,
    schedule.Kind.SSA_INJECTION: Severity.HIGH,
    schedule.Kind.VISIT: Severity.NORMAL,
    schedule.Kind.CGA: Severity.NORMAL,
    schedule.Kind.SYMPTOM_CHECK: Severity.NORMAL,
}


def _clock(now: datetime | None):
    """A fixed clock when the caller passed `now` (tests, replays), the real one otherwise."""
    return (lambda: now) if now is not None else timezone.now


# ---------------------------------------------------------------------------------------------
# Heartbeat
# ---------------------------------------------------------------------------------------------


def heartbeat_record(*, worker: str, now: datetime | None = None) -> WorkerHeartbeat:
    """Note that `worker` is alive and consuming tasks."""
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        worker=worker, defaults={"seen_at": now or timezone.now()}
    )
    return beat


# The periodic tasks /healthz watches, each with its heartbeat name.
WATCHED_TASKS = ("sweep", "dispatch", "escalate")


def task_heartbeat_record(*, task: str, now: datetime | None = None) -> TaskHeartbeat:
    """Note that a periodic task (one of WATCHED_TASKS) ran to its end at `now`."""
    beat, _ = TaskHeartbeat.objects.update_or_create(
        task=task, defaults={"ran_at": now or timezone.now()}
    )
    return beat


def task_ages(*, now: datetime | None = None) -> dict[str, float | None]:
    """Seconds since each watched task last ran (None: never ran)."""
    now = now or timezone.now()
    seen = dict(TaskHeartbeat.objects.filter(task__in=WATCHED_TASKS).values_list("task", "ran_at"))
    return {
        task: (now - seen[task]).total_seconds() if task in seen else None for task in WATCHED_TASKS
    }


# ---------------------------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------------------------

_SWEEP_KINDS = tuple(str(kind) for kind in schedule.Kind)


def _sweep_sql() -> str:
    qn = connection.ops.quote_name
    reminder = qn(Reminder._meta.db_table)
    item = qn(ScheduledItem._meta.db_table)
    course = qn(Course._meta.db_table)
    patient = qn(Patient._meta.db_table)
    kinds = ", ".join(["%s"] * len(_SWEEP_KINDS))
    # Portable to SQLite >= 3.24 and PostgreSQL: dates arrive as parameters (no vendor date
    # arithmetic), `||` concatenates in both, and the channel list is a UNION of constants
    # because SQLite has no VALUES column aliases. The range on due_on is the partial index
    # scheduled_due_active; SQLite needs the WHERE to parse INSERT ... SELECT ... ON CONFLICT.
    # Identifiers are the models' own table names, never input.
    return f"""
        INSERT INTO {reminder} (
            course_id, kind, due_on, stage, channel, send_after, status, skip_reason,
            attempts, provider_message_id, last_error, created_at
        )
        SELECT si.course_id,
               si.kind || '_due',
               si.due_on,
               CASE WHEN si.due_on > %s THEN 'advance'
                    WHEN COALESCE(si.window_end, si.due_on) >= %s THEN 'due'
                    ELSE 'overdue' END,
               ch.channel, %s, 'pending', '', 0, '', '', %s
        FROM {item} si
        JOIN {course} c ON c.id = si.course_id
        JOIN {patient} p ON p.id = c.patient_id
        CROSS JOIN (SELECT 'email' AS channel UNION ALL SELECT 'sms' AS channel) ch
        WHERE si.active
          AND si.due_on >= %s AND si.due_on <= %s
          AND si.kind IN ({kinds})
          AND c.state <> %s
          AND ((ch.channel = 'email' AND p.email_consent AND p.email <> '')
               OR (ch.channel = 'sms' AND p.sms_consent AND p.phone <> ''))
        ON CONFLICT DO NOTHING
    """  # noqa: S608


def sweep(*, today: date, now: datetime | None = None) -> int:
    """Insert the reminders due on `today` in one statement; returns how many were new.

    Stage per item: `advance` while due within the look-ahead, `due` from its date to the end
    of its window, `overdue` after (for `ALERTS_OVERDUE_DAYS`; then escalation takes over).
    Only channels the patient consented to and has an address for; never closed courses.
    Idempotent and safe to run from two processes at once (ON CONFLICT on the unique key).
    """
    now = now or timezone.now()
    ops = connection.ops
    day = ops.adapt_datefield_value
    params = [
        day(today),
        day(today),
        ops.adapt_datetimefield_value(now),
        ops.adapt_datetimefield_value(now),
        day(today - timedelta(days=conf.overdue_days())),
        day(today + timedelta(days=conf.lookahead_days())),
        *_SWEEP_KINDS,
        machine.State.CLOSED.value,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_sweep_sql(), params)
        inserted = max(cursor.rowcount, 0)
    logger.info("sweep for %s inserted %d reminders", today, inserted)
    return inserted


# ---------------------------------------------------------------------------------------------
# Quiet hours
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Dispatch
# ---------------------------------------------------------------------------------------------


@dataclass
class DispatchCounts:
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
class _Claim:
    lease_until: datetime
    to_send: list[Reminder] = field(default_factory=list)
    attempts: dict[int, DeliveryAttempt] = field(default_factory=dict)
    failed: list[Reminder] = field(default_factory=list)


class _ClaimRaced(Exception):
    """A compare-and-set found fewer rows than it locked: give the batch back untouched."""


def claimable(now: datetime) -> QuerySet[Reminder]:
    """Pending reminders whose time has come (the partial index reminder_claimable)."""
    return Reminder.objects.filter(status=ReminderStatus.PENDING, send_after__lte=now).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    )


def lease_expired(now: datetime) -> QuerySet[Reminder]:
    """Reminders whose dispatcher died or stalled mid-batch (the partial index reminder_leased)."""
    return Reminder.objects.filter(status=ReminderStatus.SENDING, leased_until__lt=now)


def _backoff(attempt: int) -> timedelta:
    steps = conf.backoff_seconds()
    return timedelta(seconds=steps[min(attempt, len(steps)) - 1])


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


def _claim(*, now: datetime, batch_size: int, counts: DispatchCounts) -> _Claim:
    """Lock a batch, settle what must not be sent now, and mark the rest `sending`.

    Only database work happens here (no network), so the transaction stays short; it commits
    before any message leaves, so a crash after it leaves a lease to expire, never a message
    sent and forgotten.
    """
    claim = _Claim(lease_until=now + timedelta(seconds=conf.lease_seconds()))
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
                raise _ClaimRaced
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


def _message_for(reminder: Reminder, renderer: messages.Renderer) -> Message:
    patient = reminder.course.patient
    return renderer.build(
        reminder_id=reminder.pk,
        channel=reminder.channel,
        kind=reminder.kind,
        stage=reminder.stage,
        due_on=reminder.due_on,
        patient_id=patient.pk,
        language=patient.language,
        email=patient.email,
        phone=patient.phone,
        attempt=reminder.attempts,
    )


def _chunks(items: Sequence[Any], size: int = 500) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _update_from_values(
    *,
    table: str,
    assignments: str,
    rows: Sequence[Sequence[Any]],
    where: str = "",
    params: Sequence[Any] = (),
    where_params: Sequence[Any] = (),
) -> int:
    """UPDATE table ... FROM (VALUES ...) v: one statement for many rows, each its own values.

    Django's bulk_update builds a CASE per field and row, which costs more Python time than
    sending the batch. `UPDATE ... FROM (VALUES ...)` runs on PostgreSQL and SQLite >= 3.33;
    VALUES columns are column1, column2, ... in both. Identifiers are our own table names.
    """
    table = connection.ops.quote_name(table)
    width = len(rows[0]) if rows else 0
    changed = 0
    for chunk in _chunks(rows):
        values = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(chunk))
        sql = (
            f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v "  # noqa: S608
            f"WHERE {table}.id = CAST(v.column1 AS BIGINT){where}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, *(x for row in chunk for x in row), *where_params])
            changed += max(cursor.rowcount, 0)
    return changed


def _mark_sent(sent: Sequence[Reminder], *, sent_at: datetime, lease_until: datetime) -> int:
    """Mark reminders sent with their provider ids, only where our lease still holds."""
    if not sent:
        return 0
    stamp = connection.ops.adapt_datetimefield_value
    return _update_from_values(
        table=Reminder._meta.db_table,
        assignments="status = %s, provider_message_id = v.column2, sent_at = %s, "
        "leased_until = NULL, last_error = ''",
        params=[ReminderStatus.SENT.value, stamp(sent_at)],
        rows=[(r.pk, r.provider_message_id) for r in sent],
        where=" AND status = %s AND leased_until = %s",
        where_params=[ReminderStatus.SENDING.value, stamp(lease_until)],
    )


def _finish_attempts(attempts: Sequence[DeliveryAttempt], *, finished_at: datetime) -> None:
    _update_from_values(
        table=DeliveryAttempt._meta.db_table,
        assignments="outcome = v.column2, error = v.column3, provider_message_id = v.column4, "
        "finished_at = %s",
        params=[connection.ops.adapt_datetimefield_value(finished_at)],
        rows=[(a.pk, a.outcome, a.error, a.provider_message_id) for a in attempts],
    )


def _record_outcomes(
    claim: _Claim,
    results: Sequence[tuple[Reminder, Outcome]],
    *,
    clock,
    counts: DispatchCounts,
) -> list[Reminder]:
    """Write a chunk of outcomes in one transaction; returns the reminders that failed.

    Updates only rows still under this claim's lease: if the lease ran out and another
    dispatcher took a row, its attempt owns the row now.
    """
    if not results:
        return []
    finished = clock()
    sent: list[Reminder] = []
    retry: list[Reminder] = []
    failed: list[Reminder] = []
    attempts: list[DeliveryAttempt] = []
    for reminder, outcome in results:
        attempt = claim.attempts[reminder.pk]
        attempt.finished_at = finished
        reminder.leased_until = None
        if isinstance(outcome, SendResult):
            reminder.status = ReminderStatus.SENT
            reminder.provider_message_id = outcome.provider_message_id[:100]
            reminder.sent_at = finished
            reminder.last_error = ""
            attempt.outcome = AttemptOutcome.SENT
            attempt.provider_message_id = reminder.provider_message_id
            sent.append(reminder)
        else:
            error = str(outcome) or outcome.__class__.__name__
            attempt.error = error
            if outcome.permanent:
                attempt.outcome = AttemptOutcome.PERMANENT_ERROR
                reminder.status = ReminderStatus.FAILED
                reminder.last_error = error
                failed.append(reminder)
            else:
                attempt.outcome = AttemptOutcome.TRANSIENT_ERROR
                if reminder.attempts >= conf.max_attempts():
                    reminder.status = ReminderStatus.FAILED
                    reminder.last_error = f"attempts exhausted ({reminder.attempts}): {error}"
                    failed.append(reminder)
                else:
                    reminder.status = ReminderStatus.PENDING
                    reminder.next_attempt_at = finished + _backoff(reminder.attempts)
                    reminder.last_error = error
                    retry.append(reminder)
        attempts.append(attempt)

    owned = Reminder.objects.filter(status=ReminderStatus.SENDING, leased_until=claim.lease_until)
    with transaction.atomic():
        written = _mark_sent(sent, sent_at=finished, lease_until=claim.lease_until)
        if retry:
            written += owned.bulk_update(
                retry, ["status", "next_attempt_at", "leased_until", "last_error"]
            )
        if failed:
            written += owned.bulk_update(failed, ["status", "leased_until", "last_error"])
        _finish_attempts(attempts, finished_at=finished)
    # After the commit: a report that came before its id was written is applied now (a
    # report arriving from here on finds the id itself).
    failed += apply_pending_reports((r.provider_message_id for r in sent), now=finished)
    if written != len(results):
        logger.warning(
            "%d of %d outcomes arrived after their lease was taken over",
            len(results) - written,
            len(results),
        )
    counts.sent += len(sent)
    counts.retried += len(retry)
    counts.failed += len(failed)
    return failed


def _release(claim: _Claim, reminders: Sequence[Reminder], counts: DispatchCounts) -> None:
    """Give back reminders never handed to a channel (the batch ran out of lease time)."""
    if not reminders:
        return
    ids = [r.pk for r in reminders]
    with transaction.atomic():
        Reminder.objects.filter(
            pk__in=ids, status=ReminderStatus.SENDING, leased_until=claim.lease_until
        ).update(status=ReminderStatus.PENDING, leased_until=None, attempts=F("attempts") - 1)
        DeliveryAttempt.objects.filter(pk__in=[claim.attempts[i].pk for i in ids]).delete()
    counts.released += len(ids)


def _send(claim: _Claim, *, clock, counts: DispatchCounts) -> list[Reminder]:
    """Hand each claimed reminder to its channel, outside any transaction.

    Outcomes are written every `ALERTS_FLUSH_SECONDS` and at the end: one transaction for a
    fast batch, a few for a slow provider, so a crash can repeat only the last few messages.
    """
    failed: list[Reminder] = []
    done: list[tuple[Reminder, Outcome]] = []
    # Stop handing out messages before the lease runs out: past it another dispatcher may
    # take the same rows, and both would send.
    deadline = time.monotonic() + conf.lease_seconds() * 0.8
    flush_every = conf.flush_seconds()
    last_flush = time.monotonic()
    renderer = messages.Renderer()
    by_channel: dict[str, list[Reminder]] = defaultdict(list)
    for reminder in claim.to_send:
        by_channel[reminder.channel].append(reminder)

    try:
        for channel, reminders in by_channel.items():
            try:
                backend = backend_for(channel)
            except Exception as exc:
                logger.exception("cannot open the %s channel", channel)
                error = TransientError(f"channel unavailable: {exc.__class__.__name__}: {exc}")
                done += [(r, error) for r in reminders]
                continue
            try:
                chunks = [reminders] if backend.bulk else [[r] for r in reminders]
                for index, chunk in enumerate(chunks):
                    if time.monotonic() > deadline:
                        _release(claim, [r for rest in chunks[index:] for r in rest], counts)
                        break
                    ready: list[tuple[Reminder, Message]] = []
                    for reminder in chunk:
                        try:
                            ready.append((reminder, _message_for(reminder, renderer)))
                        except Exception as exc:
                            # A reminder that cannot be rendered never will be: fail it alone.
                            logger.exception("cannot render reminder %s", reminder.pk)
                            done.append((reminder, PermanentError(f"cannot render: {exc}")))
                    if ready:
                        results = backend.send_many([message for _, message in ready])
                        done += [(r, o) for (r, _), o in zip(ready, results, strict=True)]
                    if time.monotonic() - last_flush >= flush_every:
                        failed += _record_outcomes(claim, done, clock=clock, counts=counts)
                        done, last_flush = [], time.monotonic()
            finally:
                backend.close()
    finally:
        failed += _record_outcomes(claim, done, clock=clock, counts=counts)
    return failed


def dispatch_batch(*, now: datetime | None = None, batch_size: int | None = None) -> DispatchCounts:
    """Claim one batch of due reminders and send it; returns what happened to each."""
    clock = _clock(now)
    counts = DispatchCounts()
    try:
        claim = _claim(now=clock(), batch_size=batch_size or conf.batch_size(), counts=counts)
    except _ClaimRaced:
        logger.warning("claim raced another dispatcher; the batch is left for the next tick")
        return DispatchCounts()
    failed = list(claim.failed)
    if claim.to_send:
        failed += _send(claim, clock=clock, counts=counts)
    for reminder in failed:
        _alert_reminder_failed(reminder, now=clock())
    return counts


def claimable_count(*, now: datetime, limit: int) -> int:
    """How many reminders a dispatcher could claim now in normal batches, up to `limit`."""
    return claimable(now).values("pk")[:limit].count()


def lease_expired_count(*, now: datetime, limit: int) -> int:
    """How many reminders wait to be retried alone after a lost lease, up to `limit`."""
    return lease_expired(now).values("pk")[:limit].count()


def reminder_resend(
    *, reminder_ids: Iterable[int], actor: AbstractBaseUser, now: datetime | None = None
) -> int:
    """Put failed reminders the actor may see back in the queue, attempts reset.

    The previous send's provider id is dropped (its attempts keep it): a late report about
    that earlier message must not settle the new one.
    """
    now = now or timezone.now()
    updated = Reminder.objects.filter(
        pk__in=list(reminder_ids),
        status=ReminderStatus.FAILED,
        course__in=courses_visible_to(actor),
    ).update(
        status=ReminderStatus.PENDING,
        attempts=0,
        send_after=now,
        next_attempt_at=None,
        leased_until=None,
        last_error="",
        provider_message_id="",
    )
    # Reminders keep no history table (operational rows); the log says who resent them.
    logger.info("%s put %d failed reminders back in the queue", actor, updated)
    return updated


def _alert_reminder_failed(reminder: Reminder, *, now: datetime) -> None:
    try:
        alert_raise(
            course=reminder.course_id,
            kind=ALERT_REMINDER_FAILED,
            severity=Severity.NORMAL,
            details={
                "reminder_id": reminder.pk,
                "reminder_kind": reminder.kind,
                "channel": reminder.channel,
                "due_on": reminder.due_on.isoformat(),
                "error": reminder.last_error[:500],
            },
            now=now,
            reason=f"{reminder.channel} reminder {reminder.pk} failed",
        )
    except Exception:
        logger.exception("could not raise the alert for failed reminder %s", reminder.pk)


# ---------------------------------------------------------------------------------------------
# Provider callbacks and consent
# ---------------------------------------------------------------------------------------------

# Provider words (Twilio's MessageStatus, anymail's normalised event types) -> our status.
_PROVIDER_STATUS = {
    "sent": ReminderStatus.SENT,
    "delivered": ReminderStatus.DELIVERED,
    "read": ReminderStatus.DELIVERED,
    "opened": ReminderStatus.DELIVERED,
    "clicked": ReminderStatus.DELIVERED,
    "undelivered": ReminderStatus.FAILED,
    "failed": ReminderStatus.FAILED,
    "bounced": ReminderStatus.FAILED,
    "rejected": ReminderStatus.FAILED,
    "complained": ReminderStatus.FAILED,
}
# Statuses a report may move a reminder from: forward only, and delivered/failed are final.
_MOVES_FROM = {
    ReminderStatus.SENT: (ReminderStatus.SENDING,),
    ReminderStatus.DELIVERED: (ReminderStatus.SENDING, ReminderStatus.SENT),
    ReminderStatus.FAILED: (ReminderStatus.SENDING, ReminderStatus.SENT),
}
_STATUS_ORDER = {ReminderStatus.SENT: 0, ReminderStatus.DELIVERED: 1, ReminderStatus.FAILED: 1}


def _apply_report(report: StatusReport, *, now: datetime) -> list[Reminder]:
    """Apply one stored report to the reminders carrying its id; returns those it failed.

    Marks the report applied when a reminder carries the id (whether or not the status
    moved: a report that would regress a final status is spent, not kept).
    """
    target = _PROVIDER_STATUS[report.status]
    rows = Reminder.objects.filter(provider_message_id=report.provider_message_id)
    if not rows.exists():
        return []
    movable = rows.filter(status__in=_MOVES_FROM[target])
    failed: list[Reminder] = []
    if target == ReminderStatus.SENT:
        movable.update(status=target)
    elif target == ReminderStatus.DELIVERED:
        movable.update(status=target, delivered_at=now)
    else:
        ids = list(movable.values_list("pk", flat=True))
        Reminder.objects.filter(pk__in=ids, status__in=_MOVES_FROM[target]).update(
            status=target,
            last_error=f"provider reported {report.status} {report.error_code}".strip()[:500],
        )
        failed = list(Reminder.objects.filter(pk__in=ids, status=ReminderStatus.FAILED))
    StatusReport.objects.filter(pk=report.pk, applied_at__isnull=True).update(applied_at=now)
    return failed


def status_callback(
    *,
    message_sid: str,
    status: str,
    error_code: str = "",
    channel: str = Channel.SMS,
    now: datetime | None = None,
) -> bool:
    """Keep a provider's delivery report and apply it; True when it was new.

    Reports arrive early (before the dispatcher wrote the provider's id), late, twice or out
    of order. Each (message id, status) is kept once, so a duplicate or a replay changes
    nothing; a report no reminder matches yet waits in `StatusReport` and is applied by
    `apply_pending_reports` when the id is written. A reminder only moves forward
    (sending -> sent -> delivered | failed; the last two are final). A spam complaint also
    withdraws email consent (the recipient asked not to be written to). Unknown statuses
    ("queued", "accepted"...) are ignored.
    """
    status = (status or "").strip().lower()
    if not message_sid or status not in _PROVIDER_STATUS:
        return False
    now = now or timezone.now()
    try:
        with transaction.atomic():
            report = StatusReport.objects.create(
                channel=channel,
                provider_message_id=message_sid[:100],
                status=status,
                error_code=str(error_code or "")[:100],
                received_at=now,
            )
    except IntegrityError:
        return False  # the same report again: already kept (and applied, or waiting)
    # Applied after the report is committed: if the dispatcher writes the id meanwhile,
    # either this read sees its id or its `apply_pending_reports` sees this report.
    with transaction.atomic():
        failed = _apply_report(report, now=now)
    for reminder in failed:
        _alert_reminder_failed(reminder, now=now)
    if status == "complained":
        _withdraw_email_consent_after_complaint(message_sid, now=now)
    return True


# Anymail's normalised event types that say something about a reminder we sent.
_EMAIL_EVENTS = frozenset({"sent", "delivered", "opened", "clicked", "bounced", "rejected",
                           "failed", "complained"})  # fmt: skip


def email_tracking(*, message_id: str, event_type: str, description: str = "",
                   now: datetime | None = None) -> bool:  # fmt: skip
    """Apply an ESP's tracking event (anymail's `tracking` signal) to an email reminder.

    The same rules as SMS reports (status_callback): kept once per (message id, event),
    applied when the id is written, never regressing a final status. `unsubscribed` (the
    recipient used the ESP's own unsubscribe) withdraws email consent. True when new.
    """
    event_type = (event_type or "").strip().lower()
    if event_type == "unsubscribed":
        _withdraw_email_consent(message_id, reason="unsubscribed at the email provider", now=now)
        return True
    if event_type not in _EMAIL_EVENTS:
        return False
    return status_callback(
        message_sid=message_id,
        status=event_type,
        error_code=description,
        channel=Channel.EMAIL,
        now=now,
    )


def apply_pending_reports(provider_ids: Iterable[str], *, now: datetime) -> list[Reminder]:
    """Apply the reports that came before these provider ids were written; returns the
    reminders they failed (the caller raises their alerts). Reports of one id are applied
    in the order of the status lifecycle, then of arrival."""
    ids = [pid for pid in provider_ids if pid]
    failed: list[Reminder] = []
    if not ids:
        return failed
    for chunk in _chunks(ids):
        reports = sorted(
            StatusReport.objects.filter(provider_message_id__in=chunk, applied_at__isnull=True),
            key=lambda r: (_STATUS_ORDER[_PROVIDER_STATUS[r.status]], r.received_at, r.pk),
        )
        for report in reports:
            with transaction.atomic():
                failed += _apply_report(report, now=now)
            if report.status == "complained":
                _withdraw_email_consent_after_complaint(report.provider_message_id, now=now)
    return failed


def _withdraw_email_consent_after_complaint(message_id: str, *, now: datetime) -> None:
    _withdraw_email_consent(message_id, reason="email marked as spam by the recipient", now=now)


def _withdraw_email_consent(message_id: str, *, reason: str, now: datetime | None) -> None:
    patient_ids = set(
        Reminder.objects.filter(provider_message_id=message_id, channel=Channel.EMAIL).values_list(
            "course__patient_id", flat=True
        )
    )
    for patient_id in patient_ids:
        consent_set(
            patient=patient_id,
            channel=Channel.EMAIL,
            consent=False,
            reason=reason,
            now=now,
        )


def consent_set(
    *,
    patient: Patient | int,
    channel: str,
    consent: bool,
    reason: str,
    actor: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> bool:
    """Record a patient's consent to one channel; True when it changed.

    The history row carries the actor (the system user for webhooks and links) and the
    reason. Idempotent: a repeated STOP writes nothing.
    """
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    now = now or timezone.now()
    with transaction.atomic():
        person = Patient.objects.select_for_update().get(
            pk=patient.pk if isinstance(patient, Patient) else patient
        )
        if getattr(person, f"{channel}_consent") == consent:
            return False
        setattr(person, f"{channel}_consent", consent)
        setattr(person, f"{channel}_consent_at", now if consent else None)
        with_history(person, actor=actor or system_user(), reason=reason)
        # The history row is dated by the same clock as the change, so that ordering
        # checks (last_consent_change) agree with a caller's explicit `now`.
        person._history_date = now
        person.save(update_fields=[f"{channel}_consent", f"{channel}_consent_at"])
    return True


def last_consent_change(patient_id: int, channel: str) -> datetime | None:
    """When the patient's consent to `channel` last changed, from the patient's history
    (every door, API, admin or webhook, writes a history row); None if it never changed."""
    field_name = f"{channel}_consent"
    rows = Patient.history.filter(id=patient_id).order_by("-history_date", "-history_id")
    newer: tuple[bool, datetime] | None = None
    for value, when in rows.values_list(field_name, "history_date").iterator():
        if newer is not None and value != newer[0]:
            return newer[1]
        newer = (value, when)
    return None


@dataclass(frozen=True)
class InboundResult:
    """What an inbound SMS did: `outcome` is opted_out, opted_in, help, replayed, stale,
    text (not a keyword) or unknown_number; `language` is the sender's, for a reply."""

    outcome: str
    language: str = "en"


def sms_inbound(
    *,
    from_number: str,
    body: str,
    message_sid: str = "",
    sent_at: datetime | None = None,
    now: datetime | None = None,
) -> InboundResult:
    """Act on a keyword from a patient's phone (alerts.keywords: opt-out, opt-in, help).

    Kept by the provider's message id: a replayed message, however well signed, is ignored
    (a replayed START after a STOP must not restore consent). A keyword sent before the
    patient's latest consent change (`sent_at`, default: now) does not override it.
    """
    now = now or timezone.now()
    sent_at = sent_at or now
    meaning = keywords.classify(body)
    patients = list(Patient.objects.filter(phone=from_number).values_list("pk", "language"))
    language = messages.language_of(patients[0][1]) if patients else messages.DEFAULT_LANGUAGE
    if message_sid:
        try:
            with transaction.atomic():
                record = InboundMessage.objects.create(
                    provider_message_id=message_sid[:100],
                    from_number=from_number[:20],
                    keyword=str(meaning or ""),
                    sent_at=sent_at,
                    received_at=now,
                )
        except IntegrityError:
            logger.warning("ignored a replay of inbound SMS %s", message_sid)
            return InboundResult("replayed", language)
    else:
        record = None

    outcome = _act_on_keyword(meaning, patients, body=body, sent_at=sent_at, now=now)
    if record is not None:
        InboundMessage.objects.filter(pk=record.pk).update(outcome=outcome)
    return InboundResult(outcome, language)


def _act_on_keyword(
    meaning: keywords.Keyword | None,
    patients: Sequence[tuple[int, str]],
    *,
    body: str,
    sent_at: datetime,
    now: datetime,
) -> str:
    if meaning is None:
        return "text"
    if meaning == keywords.Keyword.HELP:
        return "help"
    if not patients:
        return "unknown_number"
    consent = meaning == keywords.Keyword.OPT_IN
    outcome = "stale"
    for patient_id, _language in patients:
        changed_at = last_consent_change(patient_id, Channel.SMS)
        if changed_at is not None and changed_at > sent_at:
            logger.warning("inbound %s older than patient %s's consent change", meaning, patient_id)
            continue
        consent_set(
            patient=patient_id,
            channel=Channel.SMS,
            consent=consent,
            reason=f"inbound SMS {keywords.normalise(body)[:20]}",
            now=now,
        )
        outcome = "opted_in" if consent else "opted_out"
    return outcome


def unsubscribe(*, token: str, now: datetime | None = None) -> Patient:
    """One-click unsubscribe from a signed link; raises signing.BadSignature when tampered."""
    patient_id, channel = messages.read_unsubscribe_token(token)
    consent_set(
        patient=patient_id,
        channel=channel,
        consent=False,
        reason=f"unsubscribe link ({channel})",
        now=now,
    )
    return Patient.objects.get(pk=patient_id)


# ---------------------------------------------------------------------------------------------
# Coordinator alerts
# ---------------------------------------------------------------------------------------------


def _rank(severity: str) -> int:
    return SEVERITY_RANK.get(Severity(severity), 0) if severity in Severity.values else 0


def alert_raise(
    *,
    course: Course | int,
    kind: str,
    severity: str,
    details: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    reason: str = "",
    same_when: tuple[str, ...] = (),
) -> CoordinatorAlert:
    """Open an alert, or add an occurrence to the open one of the same course and kind.

    Severity only rises. Safe under concurrency: the partial unique constraint lets one
    insert win; the loser retries and finds the open alert. `same_when` names detail keys
    that identify one occurrence (an overdue item's due date): an open alert with the same
    values and no lower severity is that occurrence already, seen by a concurrent run.
    """
    if severity not in Severity.values:
        raise ValueError(f"unknown severity {severity!r}")
    course_id = course.pk if isinstance(course, Course) else int(course)
    now = now or timezone.now()
    details = dict(details or {})
    actor = system_user()
    for attempt in range(3):
        try:
            with transaction.atomic():
                alert = (
                    CoordinatorAlert.objects.select_for_update()
                    .filter(course_id=course_id, kind=kind, resolved_at__isnull=True)
                    .first()
                )
                if alert is None:
                    alert = CoordinatorAlert(
                        course_id=course_id,
                        kind=kind,
                        severity=severity,
                        opened_at=now,
                        last_seen_at=now,
                        details=details,
                    )
                    with_history(alert, actor=actor, reason=reason or f"{kind} raised")
                elif (
                    same_when
                    and all(alert.details.get(key) == details.get(key) for key in same_when)
                    and _rank(alert.severity) >= _rank(severity)
                ):
                    return alert
                else:
                    alert.occurrences += 1
                    alert.last_seen_at = now
                    if _rank(severity) > _rank(alert.severity):
                        alert.severity = severity
                    alert.details = {**alert.details, **details}
                    with_history(alert, actor=actor, reason=reason or f"{kind} seen again")
                alert.save()
                return alert
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _visible_alert(alert: CoordinatorAlert, actor: AbstractBaseUser) -> CoordinatorAlert:
    try:
        return CoordinatorAlert.objects.select_for_update().get(
            pk=alert.pk, course__in=courses_visible_to(actor)
        )
    except CoordinatorAlert.DoesNotExist:
        raise NotFound("No such alert.") from None


def alert_acknowledge(
    *, alert: CoordinatorAlert, actor: AbstractBaseUser, now: datetime | None = None
) -> CoordinatorAlert:
    """A coordinator has seen the alert; acknowledging twice changes nothing."""
    with transaction.atomic():
        locked = _visible_alert(alert, actor)
        if locked.acknowledged_at is not None:
            return locked
        locked.acknowledged_by = actor
        locked.acknowledged_at = now or timezone.now()
        with_history(locked, actor=actor, reason="acknowledged")
        locked.save()
    return locked


def alert_resolve(
    *, alert: CoordinatorAlert, actor: AbstractBaseUser, note: str = "", now: datetime | None = None
) -> CoordinatorAlert:
    """Close the alert with a note; the next occurrence of its kind opens a new one."""
    with transaction.atomic():
        locked = _visible_alert(alert, actor)
        if locked.resolved_at is not None:
            return locked
        when = now or timezone.now()
        if locked.acknowledged_at is None:
            locked.acknowledged_by, locked.acknowledged_at = actor, when
        locked.resolved_by = actor
        locked.resolved_at = when
        locked.note = note
        with_history(locked, actor=actor, reason=f"resolved: {note}" if note else "resolved")
        locked.save()
    return locked


# ---------------------------------------------------------------------------------------------
# Escalation
# ---------------------------------------------------------------------------------------------


def _overdue_alert(item: ScheduledItem, today: date) -> tuple[str, str, dict[str, Any]]:
    kind = f"{item.kind}{OVERDUE_SUFFIX}"
    severity = OVERDUE_SEVERITY.get(item.kind, Severity.NORMAL)
    details: dict[str, Any] = {
        "item": item.kind,
        "due_on": item.due_on.isoformat(),
        "why": item.why[:500],
    }
    if item.kind == schedule.Kind.IMAGING:
        course = item.course
        if schedule.imaging_gap_exceeded(
            course.plan.params(), surveillance_services.facts_for(course), today
        ):
            severity = Severity.CRITICAL
            details["imaging_gap_exceeded"] = True
            details["source"] = schedule.SOURCE_IMAGING_CAP
    return kind, severity, details


def escalate(*, today: date, now: datetime | None = None, chunk_size: int = 500) -> int:
    """Raise or refresh a coordinator alert for every overdue item; returns alerts written.

    Reads overdue items in keyset pages (never all courses in memory), and writes only when
    something is new (another due date, a higher severity), so an hourly run over the same
    backlog writes nothing. One item that cannot be assessed is logged and skipped.
    """
    now = now or timezone.now()
    overdue = (
        ScheduledItem.objects.filter(active=True, due_on__lt=today)
        .filter(Q(window_end__isnull=True) | Q(window_end__lt=today))
        .exclude(course__state=machine.State.CLOSED)
        .select_related(
            "course__plan", "course__surgery", "course__diagnosis", "course__current_line"
        )
        .order_by("pk")
    )
    written = 0
    last_pk = 0
    while True:
        chunk = list(overdue.filter(pk__gt=last_pk)[:chunk_size])
        if not chunk:
            break
        last_pk = chunk[-1].pk
        open_alerts = {
            (alert.course_id, alert.kind): alert
            for alert in CoordinatorAlert.objects.filter(
                resolved_at__isnull=True,
                course_id__in={item.course_id for item in chunk},
                kind__endswith=OVERDUE_SUFFIX,
            )
        }
        for item in chunk:
            try:
                kind, severity, details = _overdue_alert(item, today)
                current = open_alerts.get((item.course_id, kind))
                if (
                    current is not None
                    and current.details.get("due_on") == details["due_on"]
                    and _rank(current.severity) >= _rank(severity)
                ):
                    continue
                alert_raise(
                    course=item.course_id,
                    kind=kind,
                    severity=severity,
                    details=details,
                    now=now,
                    reason=f"{item.kind} overdue since {item.due_on.isoformat()}",
                    same_when=("due_on",),
                )
                written += 1
            except Exception:
                # A poison row must not stop the run (STYLE.md habit 11).
                logger.exception("escalation skipped scheduled item %s", item.pk)
    return written


# ---------------------------------------------------------------------------------------------
# Subscribers (registered in apps.py; run after the commit of the transaction that published)
# ---------------------------------------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def on_course_event(event: DomainEvent) -> None:
    """A recurrence or progression needs a treatment decision; an override needs a look."""
    if not isinstance(event, CourseEventRecorded):
        return
    base = {
        "event_id": event.event_id,
        "event_type": event.type,
        "occurred_on": event.occurred_on.isoformat(),
    }
    if event.to_state in (machine.State.RECURRENCE, machine.State.PROGRESSION) and (
        event.from_state != event.to_state
    ):
        alert_raise(
            course=event.course_id,
            kind=ALERT_DECISION_PENDING,
            severity=Severity.HIGH,
            details={**base, "state": event.to_state},
            reason=f"{event.type}: treatment decision pending",
        )
    if event.override:
        alert_raise(
            course=event.course_id,
            kind=ALERT_GUARD_OVERRIDDEN,
            severity=Severity.HIGH,
            details={**base, "guards": _json_safe(list(event.overridden_guards))},
            reason=f"guideline guard overridden on {event.type}",
        )


def on_symptom_check_assessed(notification: Any) -> None:
    """One alert per finding kind, at the finding's severity (CLINICAL.md §5)."""
    for finding in getattr(notification, "findings", ()) or ():
        severity = str(finding.get("severity") or Severity.HIGH)
        if severity not in Severity.values:
            severity = Severity.HIGH
        alert_raise(
            course=notification.course_id,
            kind=str(finding["kind"]),
            severity=severity,
            details={
                "symptom_check_id": notification.symptom_check_id,
                "reason": finding.get("reason", ""),
                "advice": finding.get("advice", ""),
            },
            reason=f"symptom check {notification.symptom_check_id}: {finding['kind']}",
        )


def on_email_tracking(sender: Any, event: Any, esp_name: str = "", **kwargs: Any) -> None:
    """Receiver of anymail's `tracking` signal (connected in apps.py)."""
    message_id = str(getattr(event, "message_id", "") or "")
    if not message_id:
        return
    description = " ".join(
        str(part)
        for part in (esp_name, getattr(event, "reject_reason", None), event.description)
        if part
    )
    email_tracking(
        message_id=message_id, event_type=str(event.event_type), description=description[:100]
    )
