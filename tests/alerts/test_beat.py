"""Beat start: a wrong clock's leftovers in the schedule are repaired, the start is recorded,
and the periodic work runs at once instead of one interval later."""

import datetime as dt
import importlib
import logging
from types import SimpleNamespace

import pytest
import time_machine
from django.apps import apps
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from alerts import beat, services
from alerts.models import CoordinatorAlert, RecordedMessage, Reminder, TaskHeartbeat
from netcare.celery import app
from tests.alerts.conftest import NOON, TODAY, plan_items

WATCHED = {
    "alerts: sweep due reminders": "alerts.sweep",
    "alerts: dispatch reminders": "alerts.dispatch",
    "alerts: escalate overdue items": "alerts.escalate",
}

# Beat start enqueues tasks: they run inline here instead of going to a broker.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


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


def test_a_beat_that_cannot_repair_the_schedule_still_records_its_start_and_starts_the_work(
    monkeypatch, caplog
):
    def broken(**kwargs):
        raise RuntimeError("database unavailable")

    monkeypatch.setattr(beat, "repair_future_runs", broken)

    with caplog.at_level(logging.ERROR, logger="alerts.beat"):
        beat.on_beat_init(sender=None)

    assert "could not check the schedule" in caplog.text
    assert services.beat_started_at() is not None
    assert set(services.task_ages()) == set(services.WATCHED_TASKS)
    assert all(age is not None for age in services.task_ages().values())


def test_beat_start_sends_the_due_reminders_and_raises_overdue_alerts_at_once(course, recording):
    # A fresh install: nothing ever ran, and the schedule alone would first sweep 15 minutes
    # and first escalate an hour after beat starts.
    plan_items(course, imaging=TODAY, visit=TODAY - dt.timedelta(days=60))

    with time_machine.travel(NOON, tick=False):
        beat.on_beat_init(sender=None)

    recorded = set(RecordedMessage.objects.values_list("reminder_id", flat=True))
    due_today = set(Reminder.objects.filter(due_on=TODAY).values_list("pk", flat=True))
    assert len(due_today) == 2 and recorded >= due_today  # email and SMS of today's scan
    assert CoordinatorAlert.objects.filter(course=course, kind="visit_overdue").exists()
    ran = dict(TaskHeartbeat.objects.values_list("task", "ran_at"))
    assert ran == dict.fromkeys(["sweep", "dispatch", "escalate", services.BEAT_STARTED], NOON)


def test_a_beat_that_cannot_reach_the_broker_still_starts_and_records_its_start(caplog):
    # A closed port on loopback: the broker refuses every connection.
    previous = (app.conf.broker_url, app.conf.task_always_eager)
    app.conf.broker_url, app.conf.task_always_eager = "redis://127.0.0.1:1/0", False
    try:
        with caplog.at_level(logging.ERROR, logger="alerts.beat"):
            beat.on_beat_init(sender=None)
    finally:
        app.conf.broker_url, app.conf.task_always_eager = previous

    assert "could not enqueue the periodic tasks at start" in caplog.text
    assert services.beat_started_at() is not None
    assert all(age is None for age in services.task_ages().values())
