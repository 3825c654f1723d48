"""Processes that die mid-dispatch (docs/operations.md#the-duplicate-window).

A whole worker SIGKILLed mid-batch, two workers at once and two sweeps at once are in
tests/integration/test_reminders.py and test_reminders_concurrency.py; these add a lost pool
child, a crash inside the provider window, a poison message and a killed database connection.
Each runs a real `celery worker` on a private Redis (conftest.py), with a short lease.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from django.db.models import Count, Max

from alerts import tasks
from alerts.models import CoordinatorAlert, DeliveryAttempt, RecordedMessage, Reminder
from tests.integration.conftest import wait_for
from tests.reliability import backends
from tests.reliability.support import (
    attempts_of,
    backend_pids,
    beat_until,
    duplicates,
    figures,
    in_flight,
    lost,
    make_due,
    sent_unrecorded,
    sweep_now,
    terminate_backend,
    unfinished,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CRASHING = {"SMS_BACKEND": "tests.reliability.backends.CrashingSMSBackend"}


def sms_only(clinician, team, courses: int, kinds: int = 1) -> list[int]:
    """Reminders by SMS only (one channel keeps the arithmetic plain); their ids, claim order."""
    make_due(clinician, team, courses=courses, kinds=kinds, email_consent=False)
    sweep_now()
    return list(Reminder.objects.order_by("send_after", "pk").values_list("pk", flat=True))


def test_a_pool_child_killed_mid_batch_is_recovered_by_its_lease(workers, clinician, team_a):
    # Item 2: only one ForkPoolWorker dies; the worker acks its message (reject_on_worker_lost
    # is off), so the broker never redelivers it: the lease must bring the batch back.
    lease = 4
    make_due(clinician, team_a, courses=30, kinds=2)
    total = sweep_now()
    assert total == 120
    # Batches of 20 at 0.1 s a message: 2 s each, so both children are mid-batch at the kill.
    worker = workers(2, {"ALERTS_BATCH_SIZE": "20", "ALERTS_LEASE_SECONDS": str(lease),
                         "ALERTS_RECORDING_SLEEP_SECONDS": "0.1"})  # fmt: skip
    published = total // 20
    for _ in range(published):
        tasks.dispatch_batch.delay()

    wait_for(lambda: RecordedMessage.objects.count() >= 12, timeout=20, interval=0.02)
    victim = worker.children()[0]
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    at_kill = in_flight()
    leased = Reminder.objects.filter(status="sending").count()

    beat_until(lambda: unfinished() == 0, timeout=30, every=1.0)
    recovered_in = time.monotonic() - killed_at
    redelivered = sum(n - 1 for n in worker.received("alerts.dispatch_batch").values() if n > 1)
    by_lease = DeliveryAttempt.objects.filter(outcome="unknown", error="lease expired").count()
    figures(
        "pool child SIGKILL",
        total=total, sent=RecordedMessage.objects.values("reminder_id").distinct().count(),
        duplicates=duplicates(), in_flight_at_kill=at_kill, leased_at_kill=leased,
        lost=lost(), recovered_by_lease=by_lease, broker_redeliveries=redelivered,
        recovery_s=recovered_in, lease_s=lease,
    )  # fmt: skip
    assert "WorkerLostError" in worker.text() or "exited prematurely" in worker.text()
    assert worker.process.poll() is None  # the worker itself lives on
    assert unfinished() == 0 and lost() == 0
    assert set(Reminder.objects.values_list("status", flat=True)) == {"sent"}
    assert duplicates() <= at_kill
    assert by_lease > 0  # the dead child's rows came back through their lease ...
    assert redelivered == 0  # ... not through the broker
    assert recovered_in >= lease * 0.5


def test_a_crash_between_the_provider_and_the_commit_doubles_exactly_that_message(
    workers, clinician, team_a
):
    # Item 3: the provider accepts, then the process exits before the outcome is written. The
    # lease expires, the reminder goes again: one duplicate per crash, never more. Outcomes are
    # flushed after every message (ALERTS_FLUSH_SECONDS=0) so the window is that one message.
    ids = sms_only(clinician, team_a, courses=30)
    crashing = [ids[3], ids[14], ids[25]]
    lease = 3
    worker = workers(1, CRASHING | {
        backends.CRASH_AFTER_SEND: ",".join(map(str, crashing)),
        "ALERTS_BATCH_SIZE": "10", "ALERTS_LEASE_SECONDS": str(lease),
        "ALERTS_FLUSH_SECONDS": "0",
    })  # fmt: skip

    started = time.monotonic()
    beat_until(lambda: unfinished() == 0, timeout=40, every=0.5)
    crashes = deaths(worker)
    trails = {pk: attempts_of(pk) for pk in crashing}
    figures(
        "crash in the provider window",
        total=len(ids), crashes_injected=len(crashing), crashes_seen=crashes,
        duplicates=duplicates(), lost=lost(), attempts_of_crashed=list(trails.values()),
        drain_s=time.monotonic() - started,
    )  # fmt: skip
    assert crashes == len(crashing)
    assert duplicates() == len(crashing)
    dupes = RecordedMessage.objects.values("reminder_id").annotate(n=Count("id"))
    assert {row["reminder_id"] for row in dupes if row["n"] > 1} == set(crashing)
    assert lost() == 0 and set(Reminder.objects.values_list("status", flat=True)) == {"sent"}
    # sending -> unknown (the lease expired) -> sent on the second attempt.
    assert all(trail == ["unknown", "sent"] for trail in trails.values()), trails


def deaths(worker) -> int:
    """Pool children that exited with the crashing backend's exit code."""
    return worker.text().count(f"exited with 'exitcode {backends.EXIT_CODE}'")


def _poison(workers, poison: int, *, batch: int, max_attempts: int = 3) -> dict:
    """Run a worker whose every send of `poison` kills its pool child, until nothing is left."""
    worker = workers(1, CRASHING | {
        backends.CRASH_BEFORE_SEND: str(poison), "ALERTS_MAX_ATTEMPTS": str(max_attempts),
        "ALERTS_BATCH_SIZE": str(batch), "ALERTS_LEASE_SECONDS": "2",
        "ALERTS_FLUSH_SECONDS": "0",
    })  # fmt: skip
    _, to_failed = beat_until(lambda: unfinished() == 0, timeout=40, every=0.5)
    # No broker loop: once the ticks stop, the queue drains and stays empty, and no message
    # came back under a task id already seen.
    wait_for(lambda: worker_queue_depth() == 0, timeout=10)
    time.sleep(1.0)
    return {
        "poison": Reminder.objects.get(pk=poison),
        "deaths": deaths(worker),
        "redelivered": sum(n - 1 for n in worker.received().values() if n > 1),
        "queue": worker_queue_depth(),
        "to_failed": to_failed,
    }


def worker_queue_depth() -> int:
    from netcare.celery import app

    with app.connection_for_write() as conn:
        client = conn.default_channel.client
        return int(client.llen("celery")) + int(client.hlen("unacked"))


def test_a_poison_reminder_ends_failed_after_the_attempt_cap_with_one_alert(
    workers, clinician, team_a
):
    # Item 4, the poison alone in its batch: each try kills the pool child; the attempt
    # counter in the database (not the broker) stops it, and the coordinator hears once.
    ids = sms_only(clinician, team_a, courses=5)
    poison = ids[0]
    run = _poison(workers, poison, batch=1)
    row = run["poison"]
    alerts = CoordinatorAlert.objects.filter(kind="reminder_failed")
    figures(
        "poison reminder (alone in its batch)",
        attempts=row.attempts, status=row.status, child_deaths=run["deaths"],
        time_to_failed_s=run["to_failed"], alerts=alerts.count(),
        broker_redeliveries=run["redelivered"], queue_depth_after=run["queue"],
        others_sent=Reminder.objects.filter(status="sent").count(),
    )  # fmt: skip
    assert (row.status, row.attempts) == ("failed", 3)
    assert row.last_error.startswith("attempts exhausted (3)")
    assert run["deaths"] == 3
    assert attempts_of(poison) == ["unknown", "unknown", "unknown"]
    assert alerts.count() == 1 and alerts.get().details["reminder_id"] == poison
    assert not RecordedMessage.objects.filter(reminder_id=poison).exists()
    assert run["redelivered"] == 0 and run["queue"] == 0
    others = Reminder.objects.exclude(pk=poison)
    assert set(others.values_list("status", flat=True)) == {"sent"}
    assert duplicates() == 0


def test_a_poison_reminder_does_not_take_its_batch_mates_down(workers, clinician, team_a):
    # Item 4, the poison first in a batch of five: its batch-mates were never handed to the
    # provider, and must be sent, not failed with it.
    ids = sms_only(clinician, team_a, courses=5)
    poison = ids[0]
    run = _poison(workers, poison, batch=5)
    row = run["poison"]
    mates = Reminder.objects.exclude(pk=poison)
    alerts = CoordinatorAlert.objects.filter(kind="reminder_failed")
    figures(
        "poison reminder (first of a batch of 5)",
        attempts=row.attempts, status=row.status, child_deaths=run["deaths"],
        time_to_failed_s=run["to_failed"], alerts=alerts.count(),
        mates_sent=mates.filter(status="sent").count(),
        mates_failed=mates.filter(status="failed").count(),
        mates_max_attempts=mates.aggregate(m=Max("attempts"))["m"],
        broker_redeliveries=run["redelivered"],
    )  # fmt: skip
    assert (row.status, run["redelivered"], run["queue"]) == ("failed", 0, 0)
    assert set(mates.values_list("status", flat=True)) == {"sent"}, (
        f"batch-mates failed with the poison: {list(mates.values_list('status', 'attempts'))}"
    )
    assert alerts.count() == 1


def test_a_database_connection_killed_mid_batch_leaves_no_false_sent_mark(
    workers, clinician, team_a
):
    # Item 13: pg_terminate_backend on the worker's connections (found by application_name)
    # while batches are sending. The task errors; outcomes already committed stay, none is
    # half-written; the rest come back through the lease.
    lease = 4
    make_due(clinician, team_a, courses=40, kinds=2, email_consent=False)
    total = sweep_now()
    assert total == 80
    worker = workers(2, {"ALERTS_BATCH_SIZE": "20", "ALERTS_LEASE_SECONDS": str(lease),
                         "ALERTS_RECORDING_SLEEP_SECONDS": "0.05"})  # fmt: skip
    for _ in range(total // 20):
        tasks.dispatch_batch.delay()
    wait_for(lambda: RecordedMessage.objects.count() >= 10, timeout=20, interval=0.02)

    pids = backend_pids(worker.app_name)
    terminated = sum(terminate_backend(pid) for pid in pids)
    killed_at = time.monotonic()
    at_kill = in_flight()
    leased = Reminder.objects.filter(status="sending").count()

    beat_until(lambda: unfinished() == 0, timeout=30, every=1.0)
    recovered_in = time.monotonic() - killed_at
    mismatched = Reminder.objects.filter(status="sent").exclude(deliveries__outcome="sent").count()
    figures(
        "DB connection killed mid-batch",
        total=total, backends_terminated=terminated, leased_at_kill=leased,
        in_flight_at_kill=at_kill, sent_without_provider=sent_unrecorded(),
        sent_without_attempt=mismatched, duplicates=duplicates(), lost=lost(),
        recovery_s=recovered_in, lease_s=lease,
    )  # fmt: skip
    assert terminated >= 1
    assert "terminating connection" in worker.text() or "OperationalError" in worker.text()
    assert unfinished() == 0 and lost() == 0
    assert sent_unrecorded() == 0 and mismatched == 0
    assert duplicates() <= at_kill
    assert worker.process.poll() is None
