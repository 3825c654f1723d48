"""The Celery side: thin tasks, beat schedules seeded in the database, no broker ETAs."""

import datetime as dt
import importlib
import re
from pathlib import Path

import pytest
import time_machine
from django.apps import apps
from django_celery_beat.models import PeriodicTask

from alerts import tasks
from alerts.models import CoordinatorAlert
from tests.alerts.conftest import NOON, plan_items

ALERTS = Path(tasks.__file__).parent


def test_no_reminder_code_relies_on_a_broker_eta_or_countdown():
    # A message parked in the broker is redelivered or lost at the broker's whim (visibility
    # timeout); send_after and next_attempt_at in the database are what dispatchers obey.
    offenders = [
        f"{path.relative_to(ALERTS)}:{number}"
        for path in ALERTS.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\b(countdown|eta)\s*=", line)
    ]
    assert offenders == []


@pytest.mark.django_db
def test_the_beat_schedules_are_seeded_once_by_name():
    for migration in ("0003_beat_schedules", "0006_prune_unmatched_reports_schedule"):
        # A second run (or one after an admin edit) adds nothing.
        importlib.import_module(f"alerts.migrations.{migration}").seed(apps, None)

    seeded = {
        task.task: (task.interval.every, task.interval.period, task.enabled)
        for task in PeriodicTask.objects.filter(name__startswith="alerts: ")
    }
    assert seeded == {
        "alerts.sweep": (15, "minutes", True),
        "alerts.dispatch": (10, "seconds", True),
        "alerts.escalate": (1, "hours", True),
        "alerts.heartbeat": (1, "minutes", True),
        "alerts.prune_unmatched_reports": (1, "days", True),
    }


@pytest.mark.django_db
def test_the_escalate_task_runs_the_service_for_the_day_given(course, eager_celery):
    plan_items(course, imaging=dt.date(2026, 7, 1))

    with time_machine.travel(NOON, tick=False):
        first = tasks.escalate.delay("2026-08-03").get()
        second = tasks.escalate.delay("2026-08-03").get()

    assert (first, second) == (1, 0)
    assert CoordinatorAlert.objects.get().kind == "imaging_overdue"


@pytest.mark.django_db
def test_the_dispatch_batch_task_takes_an_explicit_time(course, recording, eager_celery):
    plan_items(course, imaging=dt.date(2026, 8, 3))
    with time_machine.travel(dt.datetime(2026, 8, 3, 1, 0, tzinfo=dt.UTC), tick=False):
        tasks.sweep.apply(args=["2026-08-03"])

    early = tasks.dispatch_batch.delay("2026-08-03T02:00:00+00:00").get()
    later = tasks.dispatch_batch.delay(NOON.isoformat()).get()

    assert (early["claimed"], early["deferred"]) == (2, 2)  # 03:00 in London: quiet hours
    assert later["sent"] == 2
