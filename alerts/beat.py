"""Scheduler state a wrong clock poisons, repaired when beat starts.

A beat that once ran with its clock ahead writes `last_run_at` in the future for every task
it sent. django-celery-beat then counts the next run from that future instant, so a beat
with a correct clock sends none of them until that time comes: a day ahead means no
dispatch, sweep or escalation for a day. At start (celery's `beat_init` signal, connected
in alerts/apps.py) such rows are reset to NULL, which django-celery-beat reads as "run
on the normal interval from now", and the entries the scheduler already loaded are made
due at once.

Beat start also puts the system to work at once: an interval task that never ran is first
due one interval after beat starts (15 minutes for the sweep, an hour for escalation), so
beat enqueues one sweep, dispatch and escalation right away, and records its start as a
heartbeat, which /healthz reads to tell "never ran yet" from "late" (alerts.services
.heartbeats).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

logger = logging.getLogger(__name__)

# Small differences between hosts' clocks are not a wrong clock; beyond this they are.
FUTURE_TOLERANCE = timedelta(seconds=60)


def repair_future_runs(*, now: datetime | None = None) -> list[str]:
    """Reset every PeriodicTask whose `last_run_at` lies in the future; returns their names.

    Logs one warning per task with the future time it carried. Safe to run at any time.
    """
    from django_celery_beat.models import PeriodicTask

    now = now or timezone.now()
    poisoned = list(
        PeriodicTask.objects.filter(last_run_at__gt=now + FUTURE_TOLERANCE).values_list(
            "pk", "name", "last_run_at"
        )
    )
    if not poisoned:
        return []
    for _pk, name, last_run_at in poisoned:
        logger.warning(
            "beat: %s had last_run_at %s, %s in the future (a clock was wrong); reset",
            name,
            last_run_at.isoformat(),
            last_run_at - now,
        )
    # The change marker (PeriodicTasks) is left alone on purpose: a reload would count the
    # next run from the row's creation; the starting scheduler's entries are repaired in place
    # (repair_loaded_entries) and run at once.
    PeriodicTask.objects.filter(pk__in=[pk for pk, _, _ in poisoned]).update(last_run_at=None)
    return [name for _, name, _ in poisoned]


def repair_loaded_entries(scheduler: Any, *, now: datetime | None = None) -> list[str]:
    """Make due at once the entries a starting scheduler loaded with a future last run.

    The scheduler reads the table before `beat_init` fires, and would otherwise write the
    future times back at its next sync. Returns the names of the entries it changed.
    """
    now = now or timezone.now()
    changed = []
    for name, entry in list(getattr(scheduler, "schedule", {}).items()):
        last = getattr(entry, "last_run_at", None)
        if last is None:
            continue
        aware = last if last.tzinfo is not None else last.replace(tzinfo=UTC)
        if aware > now + FUTURE_TOLERANCE:
            # A day ago is due for any interval this project schedules: run it now.
            entry.last_run_at = now - timedelta(days=1)
            model = getattr(entry, "model", None)
            if model is not None:
                model.last_run_at = None
            changed.append(name)
    return changed


def start_periodic_work() -> list[str]:
    """Enqueue one run of each watched periodic task now; returns the task names sent.

    Each task is safe to run at any time and more than once (the sweep's unique key, the
    dispatch claim, the escalation's dedup), so a start that overlaps a scheduled run costs
    nothing. Raises what the broker raises when it cannot be reached.
    """
    from . import tasks  # the tasks import the services; beat loads this module early

    work = (tasks.sweep, tasks.dispatch, tasks.escalate)
    # One connection checked once: a broker that is down costs beat start a second, not the
    # publish retries of each task.
    with tasks.sweep.app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)
        for task in work:
            task.apply_async(connection=connection)
    return [task.name for task in work]


def on_beat_init(sender: Any = None, **kwargs: Any) -> None:
    """celery `beat_init` receiver: repair the table, then the scheduler's loaded copy; record
    the start and enqueue the periodic work once. Each step is independent and only logs its
    failure: beat must start even with the database or the broker briefly down."""
    try:
        names = repair_future_runs()
        scheduler = getattr(sender, "scheduler", None)
        if scheduler is not None:
            names += repair_loaded_entries(scheduler)
    except Exception:
        logger.exception("beat: could not check the schedule for future last runs")
    else:
        if names:
            logger.warning("beat: repaired future last runs of %s", ", ".join(sorted(set(names))))
    try:
        from .services import beat_start_record

        beat_start_record()
    except Exception:
        logger.exception("beat: could not record its start")
    try:
        sent = start_periodic_work()
    except Exception:
        # The schedule sends them again at their next tick.
        logger.exception("beat: could not enqueue the periodic tasks at start")
    else:
        logger.info("beat: started %s at once", ", ".join(sent))
