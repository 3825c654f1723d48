"""A clock that jumped and a provider that reports too early (real worker, beat, HTTP).

1. Clock jump: a beat once ran with its clock a day ahead and left `last_run_at` a day in
   the future for sweep, dispatch and escalation. A correct beat starts: it must repair the
   schedule and the due reminders must go out within a few dispatch ticks.
2. Early callbacks: the provider reports each message (twice) before the dispatcher has
   written its id. Every report must end up applied, none regressing a final status.

Each prints its figures: reminders lost, duplicated, delayed.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time

import pytest
from django.apps import apps
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from alerts.models import RecordedMessage, Reminder, StatusReport
from tests.alerts.test_beat import WATCHED, seed_schedule
from tests.integration.conftest import ROOT, WorkerProcess, wait_for
from tests.integration.conftest import test_database_url as database_url
from tests.reliability import callback_backends
from tests.reliability.support import (
    beat_until,
    duplicates,
    figures,
    lost,
    make_due,
    sweep_now,
    unfinished,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def start_beat(broker_url: str, log) -> WorkerProcess:
    env = {**os.environ, "DJANGO_ENV": "test", "DATABASE_URL": database_url(),
           "CELERY_BROKER_URL": broker_url, "REDIS_URL": broker_url}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "netcare", "beat", "--loglevel", "INFO",
         "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
         "--max-interval", "1", "--schedule", str(log.parent / "beat-schedule")],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    return WorkerProcess(process, "beat", log)


def test_after_a_clock_jump_a_correct_beat_sends_the_due_reminders_within_ticks(
    workers, broker, clinician, team_a, tmp_path
):
    seed_schedule(apps)
    make_due(clinician, team_a, courses=20, kinds=2, email_consent=False)
    total = sweep_now()
    PeriodicTask.objects.filter(name__in=WATCHED).update(
        last_run_at=timezone.now() + dt.timedelta(days=1)
    )
    workers(2)

    beat = start_beat(broker.url, tmp_path / "beat.log")
    started = time.monotonic()
    try:
        wait_for(lambda: unfinished() == 0, timeout=30, interval=0.2)
        delay = time.monotonic() - started
        dispatch_ticks = beat.log.read_text().count("alerts.dispatch")
    finally:
        beat.stop()

    figures(
        "clock jumped a day ahead, then a correct beat",
        total=total, sent=RecordedMessage.objects.values("reminder_id").distinct().count(),
        lost=lost(), duplicates=duplicates(), delay_s=delay, dispatch_ticks=dispatch_ticks,
    )  # fmt: skip
    assert "repaired future last runs" in beat.log.read_text()
    assert lost() == 0 and duplicates() == 0
    assert set(Reminder.objects.values_list("status", flat=True)) == {"sent"}
    assert delay < 25  # a few ticks, not a day


@pytest.fixture
def early_provider(settings, live_server, broker, monkeypatch):
    # The test reads the same env to know what the provider reported.
    monkeypatch.setenv(callback_backends.UNDELIVERED_EVERY, "4")
    settings.TWILIO_AUTH_TOKEN = "reliability-twilio-token"
    settings.PUBLIC_BASE_URL = "https://netcare.example.org"
    return {
        "SMS_BACKEND": "tests.reliability.callback_backends.EarlyCallbackSMSBackend",
        "TWILIO_AUTH_TOKEN": settings.TWILIO_AUTH_TOKEN,
        "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL,
        callback_backends.CALLBACK_URL: live_server.url,
        callback_backends.UNDELIVERED_EVERY: "4",
        callback_backends.REPORT_TIMES: "2",
        callback_backends.EARLY_COUNTER: broker.url,
    }


def test_reports_that_arrive_before_the_id_is_written_all_end_applied(
    workers, broker, early_provider, clinician, team_a
):
    make_due(clinician, team_a, courses=20, kinds=2, email_consent=False)
    total = sweep_now()
    # Batches of 10 flushed every 0.5 s: each report precedes its flush.
    workers(2, early_provider | {"ALERTS_BATCH_SIZE": "10"})

    _, drained = beat_until(lambda: unfinished() == 0, timeout=40, every=1.0)
    wait_for(lambda: not StatusReport.objects.filter(applied_at__isnull=True).exists(), 10)

    reminders = list(Reminder.objects.all())
    expected = {
        r.pk: "failed" if callback_backends.reported_status(r.pk) == "undelivered" else "delivered"
        for r in reminders
    }
    early = int(broker.client().get(callback_backends.EARLY_KEY) or 0)
    wrong = sum(expected[r.pk] != r.status for r in reminders)
    figures(
        "provider reports before the id is written (each twice)",
        total=total, reports_kept=StatusReport.objects.count(), reports_early=early,
        status_wrong=wrong, stuck_sent=sum(r.status == "sent" for r in reminders),
        lost=lost(), duplicates=duplicates(), drain_s=drained,
    )  # fmt: skip
    assert early == total  # the fault happened to every message
    assert wrong == 0 and lost() == 0 and duplicates() == 0
    assert StatusReport.objects.count() == 2 * total  # two statuses each, duplicates kept once
