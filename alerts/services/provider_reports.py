"""Provider delivery reports (SMS status callbacks, email tracking events) applied to reminders."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from .. import conf
from ..models import Channel, Reminder, ReminderStatus, StatusReport
from .common import chunks
from .consent import consent_set
from .coordinator_alerts import alert_reminder_failed

logger = logging.getLogger(__name__)

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
        alert_reminder_failed(reminder, now=now)
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
    for chunk in chunks(ids):
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


def prune_unmatched_reports(*, now: datetime | None = None, chunk_size: int = 1000) -> int:
    """Delete the reports no reminder matched within `ALERTS_UNMATCHED_REPORT_DAYS` of their
    arrival; returns how many were deleted.

    Applied reports stay (they are the delivery record); an unmatched one only waits for an
    id that, that long after, will not be written. Deletes in keyset chunks of `chunk_size`
    rows, each its own short statement, so the webhook's inserts never wait on a long lock.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=conf.unmatched_report_days())
    stale = StatusReport.objects.filter(applied_at__isnull=True, received_at__lt=cutoff)
    deleted = 0
    last_pk = 0
    while True:
        ids = list(
            stale.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:chunk_size]
        )
        if not ids:
            break
        last_pk = ids[-1]
        # Checked again in the DELETE: a report applied since the read is kept.
        count, _ = stale.filter(pk__in=ids).delete()
        deleted += count
    if deleted:
        logger.info("pruned %d provider reports unmatched since before %s", deleted, cutoff)
    return deleted
