"""A real `celery beat`: it repairs a schedule a wrong clock left in the future, and on a fresh
install it starts the periodic work at once, so reminders go out and /healthz answers 200
within seconds (CI=true)."""

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

from alerts.models import RecordedMessage, TaskHeartbeat
from tests.alerts.test_beat import WATCHED, seed_schedule
from tests.integration.conftest import ROOT, WorkerProcess, wait_for
from tests.integration.conftest import test_database_url as database_url
from tests.integration.test_reminders import RECORDING, make_due

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def sent_tasks(url: str) -> list[str]:
    """Names of the tasks waiting in the default queue (what beat sent; no worker runs)."""
    client = redis.Redis.from_url(url)
    return [json.loads(raw)["headers"]["task"] for raw in client.lrange("celery", 0, -1)]


def start_beat(redis_broker: str, tmp_path) -> WorkerProcess:
    """`celery beat` on the test database and the integration Redis, in its own group."""
    log = tmp_path / "beat.log"
    env = {**os.environ, "DJANGO_ENV": "test", "DATABASE_URL": database_url(),
           "CELERY_BROKER_URL": redis_broker, "REDIS_URL": redis_broker}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "netcare", "beat", "--loglevel", "INFO",
         "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
         "--max-interval", "1", "--schedule", str(tmp_path / "beat-schedule")],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    return WorkerProcess(process, "beat", log)


def test_a_beat_started_after_a_wrong_clock_dispatches_again_at_once(redis_broker, tmp_path):
    seed_schedule(apps)
    future = timezone.now() + dt.timedelta(days=1)
    PeriodicTask.objects.filter(name__in=WATCHED).update(last_run_at=future)
    beat = start_beat(redis_broker, tmp_path)
    started = time.monotonic()
    try:
        # The one dispatch sent at start, then two schedule ticks (every 10 s): the schedule
        # runs again, within ~25 s.
        wait_for(lambda: sent_tasks(redis_broker).count("alerts.dispatch") >= 3, timeout=28)
        elapsed = time.monotonic() - started
    finally:
        beat.stop()
    text = beat.log.read_text()

    sent = sent_tasks(redis_broker)
    assert "repaired future last runs" in text, text[-3000:]
    assert {"alerts.sweep", "alerts.dispatch", "alerts.escalate"} <= set(sent)
    assert elapsed < 28
    rows = PeriodicTask.objects.filter(name__in=WATCHED)
    assert all(row.last_run_at is None or row.last_run_at <= timezone.now() for row in rows)


def test_a_fresh_install_sends_its_due_reminders_and_is_healthy_within_seconds(
    start_worker, redis_broker, tmp_path, client, clinician, team_a
):
    # Nothing ever ran: without the start, the first sweep would come 15 minutes after beat
    # starts and /healthz would name the tasks late until then.
    seed_schedule(apps)
    PeriodicTask.objects.filter(name__in=WATCHED).update(last_run_at=None)
    make_due(clinician, team_a, courses=3, kinds=2)
    start_worker(concurrency=2, extra_env=RECORDING)
    before = client.get("/healthz")

    beat = start_beat(redis_broker, tmp_path)
    started = time.monotonic()
    try:
        wait_for(lambda: RecordedMessage.objects.count() >= 12, timeout=20)
        sent_after = time.monotonic() - started
        wait_for(lambda: TaskHeartbeat.objects.count() >= 4, timeout=20)  # and escalation ran
        healthy = wait_for(lambda: (r := client.get("/healthz")).status_code == 200 and r, 20)
        healthy_after = time.monotonic() - started
    finally:
        beat.stop()

    ran = set(TaskHeartbeat.objects.values_list("task", flat=True))
    print(f"\nfresh install: 12 reminders sent {sent_after:.1f} s and /healthz 200 "
          f"{healthy_after:.1f} s after beat started")  # fmt: skip
    assert before.status_code == 503 and before.json()["late"] == ["sweep", "dispatch", "escalate"]
    assert healthy.json()["late"] == []
    assert {"sweep", "dispatch", "escalate", "beat_started"} <= ran
    assert RecordedMessage.objects.values("reminder_id").distinct().count() == 12
    assert sent_after < 20 and healthy_after < 20
