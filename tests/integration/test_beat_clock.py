"""A real `celery beat` repairs a schedule that a wrong clock left in the future (CI=true)."""

import datetime as dt
import json
import os
import subprocess
import sys
import time

import pytest
import redis
from django.apps import apps
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from tests.alerts.test_beat import WATCHED, seed_schedule
from tests.integration.conftest import ROOT, WorkerProcess, test_database_url, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def sent_tasks(url: str) -> list[str]:
    """Names of the tasks waiting in the default queue (what beat sent; no worker runs)."""
    client = redis.Redis.from_url(url)
    return [json.loads(raw)["headers"]["task"] for raw in client.lrange("celery", 0, -1)]


def test_a_beat_started_after_a_wrong_clock_dispatches_again_at_once(redis_broker, tmp_path):
    seed_schedule(apps)
    future = timezone.now() + dt.timedelta(days=1)
    PeriodicTask.objects.filter(name__in=WATCHED).update(last_run_at=future)
    log = tmp_path / "beat.log"
    env = {**os.environ, "DJANGO_ENV": "test", "DATABASE_URL": test_database_url(),
           "CELERY_BROKER_URL": redis_broker, "REDIS_URL": redis_broker}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "netcare", "beat", "--loglevel", "INFO",
         "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
         "--max-interval", "1", "--schedule", str(tmp_path / "beat-schedule")],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    beat = WorkerProcess(process, "beat", log)
    started = time.monotonic()
    try:
        # Two dispatch ticks (every 10 s) prove the schedule runs again, within ~25 s.
        wait_for(lambda: sent_tasks(redis_broker).count("alerts.dispatch") >= 2, timeout=28)
        elapsed = time.monotonic() - started
    finally:
        beat.stop()
    text = log.read_text()

    sent = sent_tasks(redis_broker)
    assert "repaired future last runs" in text, text[-3000:]
    assert {"alerts.sweep", "alerts.dispatch", "alerts.escalate"} <= set(sent)
    assert elapsed < 28
    rows = PeriodicTask.objects.filter(name__in=WATCHED)
    assert all(row.last_run_at is None or row.last_run_at <= timezone.now() for row in rows)
