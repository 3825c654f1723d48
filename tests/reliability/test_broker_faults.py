"""Redis stopped, wiped or slow to ack (docs/operations.md#broker-outages).

The broker is a private redis-server (conftest.py) this test may stop, restart empty or
FLUSHALL; the test process's Celery app publishes to it too, as beat and the web process would.
The reminder outbox in PostgreSQL is the source of truth: whatever the broker loses, the next
`alerts.dispatch` tick (sent here by hand, every second) finds in the database.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
from django.db.models import Min
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from alerts import tasks
from alerts.models import RecordedMessage, Reminder
from tests.alerts.conftest import plan_items
from tests.integration.conftest import wait_for
from tests.reliability.support import (
    beat_until,
    duplicates,
    figures,
    lost,
    make_courses,
    make_due,
    sweep_now,
    unfinished,
)
from treatments.models import CourseEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def post_events(user, courses, n: int) -> dict[str, int]:
    """`n` symptoms_reported events spread over `courses`, through the API; status counts."""
    client = APIClient(raise_request_exception=False)  # a 500 is a figure, not an exception
    client.force_authenticate(user)
    today = timezone.localdate().isoformat()
    statuses: dict[str, int] = {}
    for i in range(n):
        course = courses[i % len(courses)]
        response = client.post(
            f"/api/v1/courses/{course.pk}/events/",
            {"type": "symptoms_reported", "occurred_on": today, "data": {}, "reason": "outage"},
            format="json",
        )
        key = "5xx" if response.status_code >= 500 else str(response.status_code)
        statuses[key] = statuses.get(key, 0) + 1
    return statuses


def test_with_redis_down_the_api_records_events_and_reminders_go_out_once_it_is_back(
    workers, broker, clinician, team_a
):
    # Item 5 (and 7: the beat relay covers the dispatch the sweep could not enqueue). The
    # worker runs through the outage and must reconnect to the restarted, empty Redis.
    worker = workers(2, {"ALERTS_BATCH_SIZE": "25"})
    courses = make_courses(clinician, team_a, 10)

    broker.stop()
    outage_started = time.monotonic()
    statuses = post_events(clinician, courses, 100)
    today = timezone.localdate()
    for course in courses:  # after the events: they re-plan the course
        plan_items(course, imaging=today, visit=today)
    swept = tasks.sweep.apply(args=[today.isoformat()])
    pending_in_outage = unfinished()
    time.sleep(max(0.0, 5.0 - (time.monotonic() - outage_started)))  # an outage of >= 5 s
    outage = time.monotonic() - outage_started
    assert worker.process.poll() is None, worker.text()[-2000:]

    broker.start()  # empty: --save "" and no AOF
    _, drain = beat_until(lambda: unfinished() == 0, timeout=40, every=1.0)
    figures(
        "Redis down",
        posts=100, created_201=statuses.get("201", 0), errors_5xx=statuses.get("5xx", 0),
        events=CourseEvent.objects.filter(type="symptoms_reported").count(),
        sweep_task=swept.state, pending_during_outage=pending_in_outage, outage_s=outage,
        drain_s_after_restart=drain, sent=RecordedMessage.objects.count(),
        duplicates=duplicates(), lost=lost(),
    )  # fmt: skip
    assert statuses == {"201": 100}
    assert CourseEvent.objects.filter(type="symptoms_reported").count() == 100
    assert pending_in_outage == Reminder.objects.count() == 10 * 2 * 2
    assert RecordedMessage.objects.count() == 40
    assert (duplicates(), lost()) == (0, 0)
    assert worker.text().count("Connected to redis") >= 2  # at start, and again after


def test_with_redis_down_the_api_still_answers_when_the_cache_shares_that_redis(
    broker, clinician, team_a
):
    # Item 5 as production is configured: one REDIS_URL for the broker and the cache.
    courses = make_courses(clinician, team_a, 2)
    same_redis = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": broker.url}
    }  # fmt: skip
    with override_settings(CACHES=same_redis):
        broker.stop()
        statuses = post_events(clinician, courses, 20)
    figures(
        "Redis down, cache on the same Redis",
        posts=20, created_201=statuses.get("201", 0), errors_5xx=statuses.get("5xx", 0),
        events=CourseEvent.objects.filter(type="symptoms_reported").count(),
    )  # fmt: skip
    assert statuses == {"201": 20}, statuses


def test_a_sweep_that_cannot_enqueue_its_dispatch_commits_and_logs_it(
    broker, clinician, team_a, caplog
):
    # Item 7's first half: the rows commit whatever the publish does; the failed publish is
    # the beat relay's to cover, so the sweep itself must not fail.
    make_due(clinician, team_a, courses=3)
    broker.stop()
    with caplog.at_level(logging.WARNING):
        result = tasks.sweep.apply(args=[timezone.localdate().isoformat()])
    figures(
        "sweep with the broker down",
        reminders=Reminder.objects.count(), task_state=result.state,
        error=type(result.result).__name__ if result.failed() else "",
    )  # fmt: skip
    assert Reminder.objects.count() == 6  # committed either way
    assert result.successful(), f"the sweep task failed: {result.result!r}"
    assert any(r.levelno >= logging.WARNING for r in caplog.records)  # ... and said so


def test_flushall_while_a_worker_holds_prefetched_tasks_loses_no_reminder(
    workers, broker, clinician, team_a
):
    # Item 6: FLUSHALL drops the queue and the unacked index while the worker has tasks
    # reserved; those it holds still run, the rest are gone from the broker. The reminders
    # they were for stay `pending` in the database and the next ticks send them.
    make_due(clinician, team_a, courses=25, kinds=2)
    total = sweep_now()
    assert total == 100
    worker = workers(
        2, {"ALERTS_BATCH_SIZE": "5", "ALERTS_RECORDING_SLEEP_SECONDS": "0.05"},
        args=("--prefetch-multiplier", "3"),
    )  # fmt: skip
    published = total // 5
    for _ in range(published):
        tasks.dispatch_batch.delay()
    wait_for(lambda: RecordedMessage.objects.count() >= 5, timeout=20, interval=0.02)

    client = broker.client()
    queued_at_flush = client.llen("celery")
    unacked_at_flush = client.hlen("unacked")
    client.flushall()
    flushed_at = time.monotonic()
    time.sleep(2.0)  # what the worker held runs; nothing else is left to arrive
    received_before_ticks = len(worker.received("alerts.dispatch_batch"))
    pending_after_flush = unfinished()

    beat_until(lambda: unfinished() == 0, timeout=40, every=1.0)
    figures(
        "Redis FLUSHALL with reserved tasks",
        reminders=total, tasks_published=published, queued_at_flush=queued_at_flush,
        unacked_at_flush=unacked_at_flush,
        tasks_dropped=published - received_before_ticks,
        reminders_left_pending=pending_after_flush,
        recovery_s=time.monotonic() - flushed_at, duplicates=duplicates(), lost=lost(),
    )  # fmt: skip
    assert queued_at_flush > 0 and unacked_at_flush > 0  # the flush did hit work in flight
    assert received_before_ticks < published and pending_after_flush > 0
    assert unfinished() == 0 and lost() == 0 and duplicates() == 0
    assert RecordedMessage.objects.count() == total


def test_reminders_wait_in_the_database_not_the_broker_and_redelivery_sends_nothing_twice(
    workers, broker, clinician, team_a
):
    # Item 14, bounded at ~20 s: a Redis visibility timeout of 2 s, reminders due 8 s from now
    # (send_after, not an ETA) and batches that take 4 s, longer than the visibility timeout,
    # so Redis hands the running batch task out again. The control: one task with a broker
    # countdown of 6 s, the pattern the app must not use, runs more than once.
    make_due(clinician, team_a, courses=20, email_consent=False)
    total = sweep_now()
    due_at = timezone.now() + dt.timedelta(seconds=8)
    Reminder.objects.update(send_after=due_at)  # Reminder keeps no history (operational row)
    worker = workers(
        2, {"ALERTS_BATCH_SIZE": "10", "ALERTS_RECORDING_SLEEP_SECONDS": "0.4",
            "ALERTS_LEASE_SECONDS": "60"},
        settings_module="tests.reliability.short_visibility_settings",
    )  # fmt: skip
    control = tasks.heartbeat.apply_async(args=["eta-control"], countdown=6)

    started = time.monotonic()
    beat_until(lambda: unfinished() == 0, timeout=25, every=1.0)
    time.sleep(max(0.0, 8.0 - (time.monotonic() - started)))  # the control's ETA has passed
    wait_for(lambda: f"Task alerts.heartbeat[{control.id}] succeeded" in worker.text(), 10)
    time.sleep(1.0)
    first_sent = RecordedMessage.objects.aggregate(t=Min("created_at"))["t"]
    batch_redeliveries = sum(
        n - 1 for n in worker.received("alerts.dispatch_batch").values() if n > 1
    )
    control_runs = worker.text().count(f"Task alerts.heartbeat[{control.id}] succeeded")
    figures(
        "no ETA trap (visibility 2 s)",
        reminders=total, sent=RecordedMessage.objects.count(), duplicates=duplicates(),
        lost=lost(), first_send_after_due_s=(first_sent - due_at).total_seconds(),
        batch_task_redeliveries=batch_redeliveries, eta_control_runs=control_runs,
        elapsed_s=time.monotonic() - started,
    )  # fmt: skip
    assert first_sent >= due_at
    assert (duplicates(), lost()) == (0, 0)
    assert batch_redeliveries >= 1  # Redis did hand running batches out again ...
    assert control_runs >= 2  # ... and an ETA message would have run twice
