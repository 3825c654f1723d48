"""Scheduler state a wrong clock poisons, repaired when beat starts.

A beat that once ran with its clock ahead writes `last_run_at` in the future for every task
it sent. django-celery-beat then counts the next run from that future instant, so a beat
with a correct clock sends none of them until that time comes: a day ahead means no
dispatch, sweep or escalation for a day. At start (celery's `beat_init` signal, connected
in netcare/celery.py) such rows are reset to NULL, which django-celery-beat reads as "run
on the normal interval from now", and the entries the scheduler already loaded are made
due at once.
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


def on_beat_init(sender: Any = None, **kwargs: Any) -> None:
    """celery `beat_init` receiver: repair the table, then the scheduler's loaded copy."""
    try:
        names = repair_future_runs()
        scheduler = getattr(sender, "scheduler", None)
        if scheduler is not None:
            names += repair_loaded_entries(scheduler)
    except Exception:
        # Beat must start even if the repair cannot run (database briefly down).
        logger.exception("beat: could not check the schedule for future last runs")
        return
    if names:
        logger.warning("beat: repaired future last runs of %s", ", ".join(sorted(set(names))))
