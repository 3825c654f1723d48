"""A wrong clock's leftovers in the beat schedule are repaired when beat starts."""

import datetime as dt
import importlib
import logging
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from alerts import beat
from netcare.celery import app

WATCHED = {
    "alerts: sweep due reminders": "alerts.sweep",
    "alerts: dispatch reminders": "alerts.dispatch",
    "alerts: escalate overdue items": "alerts.escalate",
}

pytestmark = pytest.mark.django_db


def seed_schedule(registry) -> None:
    """The schedule the alerts migration seeds (a transactional test may have flushed it)."""
    migration = importlib.import_module("alerts.migrations.0003_beat_schedules")
    migration.seed(registry, None)


@pytest.fixture(autouse=True)
def schedule():
    seed_schedule(apps)


def poison(ahead: dt.timedelta) -> dt.datetime:
    future = timezone.now() + ahead
    PeriodicTask.objects.filter(name__in=WATCHED).update(last_run_at=future)
    return future


INTERVAL_SECONDS = {"alerts.sweep": 900, "alerts.dispatch": 10, "alerts.escalate": 3600}


def on_time(scheduler, name: str) -> bool:
    """Due now, or due within the task's own interval (not after a wrong clock's future)."""
    state = scheduler.schedule[name].is_due()
    return state.is_due or state.next <= INTERVAL_SECONDS[WATCHED[name]]


@pytest.mark.django_db(transaction=True)  # the scheduler closes and reopens connections
@pytest.mark.parametrize("ahead", [dt.timedelta(days=1), dt.timedelta(minutes=5),
                                   dt.timedelta(days=400)])  # fmt: skip
def test_future_last_runs_stop_the_tasks_until_beat_start_repairs_them(ahead, caplog):
    poison(ahead)
    scheduler = DatabaseScheduler(app=app, lazy=False)
    assert not any(on_time(scheduler, name) for name in WATCHED)  # the fault: nothing runs

    with caplog.at_level(logging.WARNING, logger="alerts.beat"):
        beat.on_beat_init(sender=SimpleNamespace(scheduler=scheduler))

    assert all(on_time(scheduler, name) for name in WATCHED)
    assert set(PeriodicTask.objects.filter(last_run_at__isnull=True).values_list(
        "name", flat=True)) >= set(WATCHED)  # fmt: skip
    assert all(name in caplog.text for name in WATCHED)


def test_a_last_run_within_the_tolerance_or_in_the_past_is_left_alone():
    recent = timezone.now() - dt.timedelta(seconds=5)
    PeriodicTask.objects.filter(name="alerts: sweep due reminders").update(last_run_at=recent)
    PeriodicTask.objects.filter(name="alerts: dispatch reminders").update(
        last_run_at=timezone.now() + beat.FUTURE_TOLERANCE / 2
    )

    assert beat.repair_future_runs() == []
    assert PeriodicTask.objects.get(name="alerts: sweep due reminders").last_run_at == recent


def test_a_beat_that_cannot_reach_the_database_still_starts(monkeypatch, caplog):
    def broken(**kwargs):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(beat, "repair_future_runs", broken)

    with caplog.at_level(logging.ERROR, logger="alerts.beat"):
        beat.on_beat_init(sender=None)

    assert "could not check the schedule" in caplog.text
