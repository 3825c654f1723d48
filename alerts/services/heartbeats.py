"""Heartbeats: which workers are alive, when each periodic task last ran, when beat started.

/healthz (netcare/health.py) reads `task_health`. A task is late when it last ran longer ago
than its bound (`settings.HEALTHZ_MAX_TASK_AGE`, seconds), or when it never ran and beat has
been up longer than that bound, or has never started (then nothing would ever run it). So a
fresh install is healthy as soon as beat starts, and stays so only if the tasks do run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from ..models import TaskHeartbeat, WorkerHeartbeat


def heartbeat_record(*, worker: str, now: datetime | None = None) -> WorkerHeartbeat:
    """Note that `worker` is alive and consuming tasks."""
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        worker=worker, defaults={"seen_at": now or timezone.now()}
    )
    return beat


# The periodic tasks /healthz watches, each with its heartbeat name.
WATCHED_TASKS = ("sweep", "dispatch", "escalate")

# The heartbeat row beat writes when it starts (alerts.beat.on_beat_init); never watched.
BEAT_STARTED = "beat_started"


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


def beat_start_record(*, now: datetime | None = None) -> TaskHeartbeat:
    """Note that the beat scheduler started at `now` (default: now)."""
    return task_heartbeat_record(task=BEAT_STARTED, now=now)


def beat_started_at() -> datetime | None:
    """When beat last started (None: it never did on this database)."""
    return TaskHeartbeat.objects.filter(task=BEAT_STARTED).values_list("ran_at", flat=True).first()


@dataclass(frozen=True)
class TaskHealth:
    """One watched task as /healthz shows it: its age and bound in seconds, and whether late."""

    age_seconds: float | None
    max_age_seconds: int | None
    late: bool


def task_health(
    *, now: datetime | None = None, bounds: Mapping[str, int] | None = None
) -> dict[str, TaskHealth]:
    """Each watched task's age, bound and lateness (rules in the module docstring).

    `bounds` maps task names to their maximum age in seconds (default:
    `settings.HEALTHZ_MAX_TASK_AGE`); a task without a bound is never late.
    """
    now = now or timezone.now()
    bounds = settings.HEALTHZ_MAX_TASK_AGE if bounds is None else bounds
    ages = task_ages(now=now)
    started = beat_started_at()
    up_for = None if started is None else (now - started).total_seconds()
    report = {}
    for task, age in ages.items():
        bound = bounds.get(task)
        if bound is None:
            late = False
        elif age is None:
            late = up_for is None or up_for > bound
        else:
            late = age > bound
        report[task] = TaskHealth(age_seconds=age, max_age_seconds=bound, late=late)
    return report
