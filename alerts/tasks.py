"""Celery tasks of the alerts app: thin, they take ids and dates and call one service.

Their retry and acknowledgement policy is the project's, from settings
(CELERY_TASK_ACKS_LATE, CELERY_TASK_ANNOTATIONS).

No task uses a broker ETA or countdown for reminders: a message held by the broker is lost
or redelivered at the broker's whim (visibility timeout), while `send_after` and
`next_attempt_at` in the database are what a dispatcher obeys (docs/operations.md, "No
reminder is lost").
"""

from __future__ import annotations

import logging
import math
import socket
from datetime import date, datetime

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from . import conf, services

logger = logging.getLogger(__name__)


def _date(value: str | None) -> date:
    return date.fromisoformat(value) if value else timezone.localdate()


def _datetime(value: str | None) -> datetime:
    return datetime.fromisoformat(value) if value else timezone.now()


@shared_task(name="alerts.heartbeat")
def heartbeat(worker: str | None = None) -> int:
    """Record that a worker consumed a task; returns the heartbeat row id."""
    return services.heartbeat_record(worker=worker or socket.gethostname()).pk


@shared_task(name="alerts.sweep")
def sweep(today: str | None = None) -> int:
    """Insert the reminders due today (ISO date; default: today), then start a dispatch."""
    inserted = services.sweep(today=_date(today), now=timezone.now())
    services.task_heartbeat_record(task="sweep")
    if inserted:
        transaction.on_commit(_start_dispatch)
    return inserted


def _start_dispatch() -> None:
    try:
        dispatch.delay()
    except Exception:
        # The reminders are committed; beat's dispatch tick sends them once the broker is back.
        logger.warning("could not enqueue a dispatch after the sweep", exc_info=True)


@shared_task(name="alerts.dispatch")
def dispatch() -> int:
    """Enqueue one `alerts.dispatch_batch` per batch of claimable work; returns how many.

    Counting is cheap (both partial indexes) and bounded; a batch task that finds nothing
    left (another took it) returns at once, so over-enqueueing costs little.
    """
    size = conf.batch_size()
    limit = size * conf.max_batches_per_tick()
    now = timezone.now()
    work = services.claimable_count(now=now, limit=limit)
    # Each lease-expired reminder is claimed alone (see services.claims): one task each.
    recoveries = services.lease_expired_count(now=now, limit=conf.max_batches_per_tick())
    batches = math.ceil(work / size) + recoveries
    for _ in range(batches):
        dispatch_batch.delay()
    services.task_heartbeat_record(task="dispatch")
    return batches


@shared_task(name="alerts.dispatch_batch")
def dispatch_batch(now: str | None = None, batch_size: int | None = None) -> dict[str, int]:
    """Claim and send one batch. `now` (ISO datetime) only for replays and tests."""
    counts = services.dispatch_batch(now=_datetime(now), batch_size=batch_size)
    if counts.claimed:
        logger.info("dispatch batch: %s", counts.as_dict())
    return counts.as_dict()


@shared_task(name="alerts.escalate")
def escalate(today: str | None = None) -> int:
    """Raise coordinator alerts for overdue items (ISO date; default: today)."""
    written = services.escalate(today=_date(today), now=timezone.now())
    services.task_heartbeat_record(task="escalate")
    return written


@shared_task(name="alerts.prune_unmatched_reports")
def prune_unmatched_reports() -> int:
    """Delete provider reports no reminder matched in ALERTS_UNMATCHED_REPORT_DAYS; returns
    how many."""
    return services.prune_unmatched_reports(now=timezone.now())
