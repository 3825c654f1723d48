"""Dispatch: send a claimed batch outside any transaction and write the outcomes in bulk.

Outcomes are written only where this dispatcher's lease still holds; a report that came
before its provider id was written is applied right after (alerts.services.provider_reports).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from treatments.selectors import courses_visible_to

from .. import conf, messages
from ..channels import Message, Outcome, PermanentError, SendResult, TransientError, backend_for
from ..models import AttemptOutcome, DeliveryAttempt, Reminder, ReminderStatus
from . import common
from .claims import (
    Claim,
    ClaimedAttempt,
    ClaimedReminder,
    ClaimRaced,
    DispatchCounts,
    claim_batch,
    claimable,
    lease_expired,
)
from .coordinator_alerts import alert_reminder_failed
from .provider_reports import apply_pending_reports

logger = logging.getLogger(__name__)


def _backoff(attempt: int) -> timedelta:
    steps = conf.backoff_seconds()
    return timedelta(seconds=steps[min(attempt, len(steps)) - 1])


def _message_for(reminder: ClaimedReminder, renderer: messages.Renderer) -> Message:
    return renderer.build(
        reminder_id=reminder.pk,
        channel=reminder.channel,
        kind=reminder.kind,
        stage=reminder.stage,
        due_on=reminder.due_on,
        patient_id=reminder.patient_id,
        language=reminder.language,
        email=reminder.email,
        phone=reminder.phone,
        attempt=reminder.attempts,
    )


def _mark_sent(sent: Sequence[ClaimedReminder], *, sent_at: datetime, lease_until: datetime) -> int:
    """Mark reminders sent with their provider ids, only where our lease still holds."""
    if not sent:
        return 0
    stamp = connection.ops.adapt_datetimefield_value
    return common.update_from_values(
        table=Reminder._meta.db_table,
        assignments="status = %s, provider_message_id = v.column2, sent_at = %s, "
        "leased_until = NULL, last_error = ''",
        params=[ReminderStatus.SENT.value, stamp(sent_at)],
        rows=[(r.pk, r.provider_message_id) for r in sent],
        types=("bigint", "text"),
        where=" AND status = %s AND leased_until = %s",
        where_params=[ReminderStatus.SENDING.value, stamp(lease_until)],
    )


def _finish_attempts(attempts: Sequence[ClaimedAttempt], *, finished_at: datetime) -> None:
    common.update_from_values(
        table=DeliveryAttempt._meta.db_table,
        assignments="outcome = v.column2, error = v.column3, provider_message_id = v.column4, "
        "finished_at = %s",
        params=[connection.ops.adapt_datetimefield_value(finished_at)],
        rows=[(a.pk, a.outcome, a.error, a.provider_message_id) for a in attempts],
        types=("bigint", "text", "text", "text"),
    )


def _record_outcomes(
    claim: Claim,
    results: Sequence[tuple[ClaimedReminder, Outcome]],
    *,
    clock: common.Clock,
    counts: DispatchCounts,
) -> list[Any]:
    """Write a chunk of outcomes in one transaction; returns the reminders that failed.

    Updates only rows still under this claim's lease: if the lease ran out and another
    dispatcher took a row, its attempt owns the row now.
    """
    if not results:
        return []
    finished = clock()
    sent: list[ClaimedReminder] = []
    retry: list[ClaimedReminder] = []
    failed: list[Any] = []
    attempts: list[ClaimedAttempt] = []
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

    stamp = connection.ops.adapt_datetimefield_value
    # Only rows still under this claim's lease.
    owned = {
        "where": " AND status = %s AND leased_until = %s",
        "where_params": [ReminderStatus.SENDING.value, stamp(claim.lease_until)],
    }
    with transaction.atomic():
        written = _mark_sent(sent, sent_at=finished, lease_until=claim.lease_until)
        if retry:
            written += common.update_from_values(
                table=Reminder._meta.db_table,
                assignments="status = %s, next_attempt_at = v.column2, leased_until = NULL, "
                "last_error = v.column3",
                params=[ReminderStatus.PENDING.value],
                rows=[(r.pk, stamp(r.next_attempt_at), r.last_error) for r in retry],
                **owned,
            )
        if failed:
            written += common.update_from_values(
                table=Reminder._meta.db_table,
                assignments="status = %s, leased_until = NULL, last_error = v.column2",
                params=[ReminderStatus.FAILED.value],
                rows=[(r.pk, r.last_error) for r in failed],
                **owned,
            )
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


def _release(claim: Claim, reminders: Sequence[ClaimedReminder], counts: DispatchCounts) -> None:
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


def _send(claim: Claim, *, clock: common.Clock, counts: DispatchCounts) -> list[Any]:
    """Hand each claimed reminder to its channel, outside any transaction.

    Outcomes are written every `ALERTS_FLUSH_SECONDS` and at the end: one transaction for a
    fast batch, a few for a slow provider, so a crash can repeat only the last few messages.
    """
    failed: list[Any] = []
    done: list[tuple[ClaimedReminder, Outcome]] = []
    # Stop handing out messages before the lease runs out: past it another dispatcher may
    # take the same rows, and both would send.
    deadline = time.monotonic() + conf.lease_seconds() * 0.8
    flush_every = conf.flush_seconds()
    last_flush = time.monotonic()
    renderer = messages.Renderer()
    by_channel: dict[str, list[ClaimedReminder]] = defaultdict(list)
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
                    ready: list[tuple[ClaimedReminder, Message]] = []
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
    clock = common.clock(now)
    counts = DispatchCounts()
    try:
        claim = claim_batch(now=clock(), batch_size=batch_size or conf.batch_size(), counts=counts)
    except ClaimRaced:
        logger.warning("claim raced another dispatcher; the batch is left for the next tick")
        return DispatchCounts()
    failed = list(claim.failed)
    if claim.to_send:
        failed += _send(claim, clock=clock, counts=counts)
    for reminder in failed:
        alert_reminder_failed(reminder, now=clock())
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
