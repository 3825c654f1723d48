"""Reminders through real Celery workers on Redis and PostgreSQL: sent once, lost never.

Every test starts its own worker subprocesses (tests/integration/conftest.py) with the
recording backends, so what the "provider" accepted is a RecordedMessage row per message,
visible from this process.
"""

import datetime as dt
import os
import signal
import time

import pytest
from django.db.models import Count
from django.utils import timezone

from alerts import tasks
from alerts.models import RecordedMessage, Reminder
from tests import factories
from tests.alerts.conftest import plan_items
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


RECORDING = {
    "SMS_BACKEND": "alerts.testing.RecordingSMSBackend",
    "EMAIL_BACKEND": "alerts.testing.RecordingEmailBackend",
    "ALERTS_SMS_DAILY_CAP": "100",
}
KINDS = ("imaging", "visit", "cga", "symptom_check", "ssa_injection")


def make_due(clinician, team, *, courses: int, kinds: int) -> dt.date:
    """`courses` courses with `kinds` items each due today, patients with no quiet hours.

    No quiet hours: the suite may run at any hour, and quiet hours have their own tests.
    """
    today = timezone.localdate()
    midnight = dt.time(0, 0)
    for _ in range(courses):
        course = factories.register(
            clinician, team, quiet_hours_start=midnight, quiet_hours_end=midnight
        )
        plan_items(course, **dict.fromkeys(KINDS[:kinds], today))
    return today


def unfinished() -> int:
    return Reminder.objects.filter(status__in=["pending", "sending"]).count()


def duplicates() -> int:
    return sum(
        row["n"] - 1
        for row in RecordedMessage.objects.values("reminder_id").annotate(n=Count("id"))
        if row["n"] > 1
    )


def lost() -> int:
    recorded = set(RecordedMessage.objects.values_list("reminder_id", flat=True))
    return Reminder.objects.exclude(pk__in=recorded).count()


def test_the_sweep_then_a_real_worker_sends_each_reminder_once(start_worker, clinician, team_a):
    today = make_due(clinician, team_a, courses=15, kinds=2)
    start_worker(concurrency=2, extra_env=RECORDING | {"ALERTS_BATCH_SIZE": "7"})

    first = tasks.sweep.delay(today.isoformat())
    wait_for(lambda: Reminder.objects.count() == 60 and unfinished() == 0, timeout=45)
    tasks.sweep.delay(today.isoformat())  # the second beat tick inserts nothing
    time.sleep(1.0)

    assert first.id
    assert Reminder.objects.count() == 60
    assert set(Reminder.objects.values_list("status", flat=True)) == {"sent"}
    assert RecordedMessage.objects.count() == 60
    assert (duplicates(), lost()) == (0, 0)
    print(f"sweep + real worker: reminders 60, sent {RecordedMessage.objects.count()}, "
          f"duplicates {duplicates()}, lost {lost()}")  # fmt: skip


def test_two_workers_send_each_reminder_once(start_worker, clinician, team_a):
    today = make_due(clinician, team_a, courses=40, kinds=5)
    env = RECORDING | {"ALERTS_BATCH_SIZE": "25"}
    start_worker(concurrency=2, extra_env=env)
    start_worker(concurrency=2, extra_env=env)
    tasks.sweep.apply(args=[today.isoformat()])  # here, so both workers race on dispatch
    total = Reminder.objects.count()
    assert total == 40 * 5 * 2

    started = time.monotonic()
    for _ in range(total // 25 + 8):  # more batch tasks than batches: some find nothing
        tasks.dispatch_batch.delay()
    wait_for(lambda: unfinished() == 0, timeout=45)
    seconds = time.monotonic() - started

    assert RecordedMessage.objects.count() == total
    assert (duplicates(), lost()) == (0, 0)
    print(f"two workers x 2 processes: reminders {total}, sent {total}, duplicates 0, "
          f"lost 0, {total / seconds:.0f} reminders/s")  # fmt: skip


def test_a_worker_killed_mid_batch_loses_nothing_and_the_lease_recovers(
    start_worker, clinician, team_a
):
    today = make_due(clinician, team_a, courses=40, kinds=3)
    lease = 5
    env = RECORDING | {"ALERTS_BATCH_SIZE": "20", "ALERTS_LEASE_SECONDS": str(lease)}
    tasks.sweep.apply(args=[today.isoformat()])
    total = Reminder.objects.count()
    assert total == 240
    slow = start_worker(concurrency=2, extra_env=env | {"ALERTS_RECORDING_SLEEP_SECONDS": "0.05"})
    for _ in range(total // 20):
        tasks.dispatch_batch.delay()

    wait_for(lambda: RecordedMessage.objects.count() >= 60, timeout=30)
    os.killpg(slow.process.pid, signal.SIGKILL)
    slow.process.wait(timeout=10)
    killed_at = time.monotonic()
    sent_before_kill = RecordedMessage.objects.count()
    # Accepted by the "provider" but not yet marked sent: the only possible duplicates.
    in_flight = RecordedMessage.objects.filter(
        reminder_id__in=Reminder.objects.filter(status="sending").values("pk")
    ).count()
    stuck_at_kill = Reminder.objects.filter(status="sending").count()

    start_worker(concurrency=2, extra_env=env)
    deadline = time.monotonic() + 40
    while unfinished() and time.monotonic() < deadline:
        tasks.dispatch.delay()  # what beat does every 10 s
        time.sleep(1.0)
    recovered_in = time.monotonic() - killed_at

    sent = RecordedMessage.objects.count()
    unique = RecordedMessage.objects.values("reminder_id").distinct().count()
    print(
        f"SIGKILL mid-batch: total {total}, sent before kill {sent_before_kill}, "
        f"leased at kill {stuck_at_kill}, in flight {in_flight}, sent {sent}, unique {unique}, "
        f"duplicates {duplicates()}, lost {lost()}, recovered in {recovered_in:.1f} s "
        f"(lease {lease} s)"
    )
    assert unfinished() == 0
    assert set(Reminder.objects.values_list("status", flat=True)) == {"sent"}
    assert lost() == 0 and unique == total
    assert duplicates() <= in_flight
    assert stuck_at_kill > 0  # the kill did land mid-batch
