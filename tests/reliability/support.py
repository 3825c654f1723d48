"""Helpers of the fault tests: due reminders, what the "provider" got, beat by hand."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from alerts import services, tasks
from alerts.models import DeliveryAttempt, RecordedMessage, Reminder
from tests import factories
from tests.alerts.conftest import plan_items

KINDS = ("imaging", "visit", "cga", "symptom_check", "ssa_injection")
MIDNIGHT = dt.time(0, 0)


def make_courses(clinician, team, n: int, **patient: Any) -> list:
    """`n` courses whose patients have no quiet hours (the suite runs at any hour)."""
    return [
        factories.register(
            clinician, team, quiet_hours_start=MIDNIGHT, quiet_hours_end=MIDNIGHT, **patient
        )
        for _ in range(n)
    ]


def make_due(clinician, team, *, courses: int, kinds: int = 1, **patient: Any) -> list:
    """`courses` courses with `kinds` items each due today; returns the courses."""
    today = timezone.localdate()
    made = make_courses(clinician, team, courses, **patient)
    for course in made:
        plan_items(course, **dict.fromkeys(KINDS[:kinds], today))
    return made


def sweep_now() -> int:
    """What the beat's sweep does, here and without enqueueing (the test triggers dispatch)."""
    return services.sweep(today=timezone.localdate(), now=timezone.now())


def unfinished() -> int:
    return Reminder.objects.filter(status__in=["pending", "sending"]).count()


def duplicates() -> int:
    return sum(
        row["n"] - 1
        for row in RecordedMessage.objects.values("reminder_id").annotate(n=Count("id"))
        if row["n"] > 1
    )


def lost() -> int:
    """Reminders the provider never got (a skipped or failed one is not lost: none here)."""
    recorded = set(RecordedMessage.objects.values_list("reminder_id", flat=True))
    return Reminder.objects.exclude(pk__in=recorded).count()


def sent_unrecorded() -> int:
    """Reminders marked sent that the provider never got: a partial or false `sent` mark."""
    recorded = RecordedMessage.objects.values("reminder_id")
    return Reminder.objects.filter(status="sent").exclude(pk__in=recorded).count()


def in_flight() -> int:
    """Accepted by the provider but not (yet) marked sent: the only possible duplicates."""
    return (
        RecordedMessage.objects.filter(
            reminder_id__in=Reminder.objects.filter(status="sending").values("pk")
        )
        .values("reminder_id")
        .distinct()
        .count()
    )


def attempts_of(reminder_id: int) -> list[str]:
    return list(
        DeliveryAttempt.objects.filter(reminder_id=reminder_id)
        .order_by("attempt")
        .values_list("outcome", flat=True)
    )


def beat_until(
    done: Callable[[], Any], *, timeout: float, every: float = 1.0, task=None
) -> tuple[Any, float]:
    """Send `alerts.dispatch` every `every` s (as beat does every 10 s) until done() is truthy.

    Returns (done's value, seconds waited); fails the test after `timeout` seconds.
    """
    task = task or tasks.dispatch
    started = time.monotonic()
    next_tick = started
    while True:
        value = done()
        if value:
            return value, time.monotonic() - started
        now = time.monotonic()
        if now - started > timeout:
            raise AssertionError(f"not done within {timeout} s")
        if now >= next_tick:
            task.delay()
            next_tick = now + every
        time.sleep(0.1)


def backend_pids(application_name: str) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", [application_name]
        )
        return [row[0] for row in cursor.fetchall()]


def terminate_backend(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        return bool(cursor.fetchone()[0])


def figures(label: str, **values: Any) -> str:
    parts = ", ".join(
        f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )
    line = f"[reliability] {label}: {parts}"
    print(line)
    return line
