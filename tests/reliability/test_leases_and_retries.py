"""Leases that outlive their dispatcher, and the provider's errors
(docs/operations.md#transient-and-permanent-errors).

Item 12 runs two dispatchers in this process, each on its own PostgreSQL connection: one claims
and stalls, the test kills its backend with pg_terminate_backend, the other must take over.
Items 15 and 16 run a real worker against the recording backend's fault knobs, on real time:
the retry waits are `next_attempt_at` in the database, obeyed by beat's dispatch ticks.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Min

from alerts import services
from alerts.models import CoordinatorAlert, DeliveryAttempt, RecordedMessage, Reminder
from tests.integration.conftest import wait_for
from tests.reliability import backends
from tests.reliability.support import (
    attempts_of,
    beat_until,
    duplicates,
    figures,
    lost,
    make_due,
    sweep_now,
    terminate_backend,
    unfinished,
)

GATED = "tests.reliability.backends.GatedSMSBackend"


@pytest.fixture
def gated(settings):
    settings.NETCARE_SMS_BACKEND = GATED
    settings.EMAIL_BACKEND = "alerts.testing.RecordingEmailBackend"
    settings.ALERTS_SMS_DAILY_CAP = 100
    return settings


def run_in_thread(target, *args: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Run target(box, *args) in a thread with its own database connection."""
    box: dict[str, Any] = {}

    def body() -> None:
        try:
            target(box, *args)
        except Exception as exc:  # the stalled dispatcher's end is a figure, not a failure
            box["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread, box


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_held_in_an_open_transaction_is_freed_when_its_backend_is_killed(
    gated, clinician, team_a
):
    # Item 12, first half: a dispatcher locks the batch and hangs before committing. Others
    # skip the locked rows (SKIP LOCKED), they do not queue behind them; killing its backend
    # rolls the claim back and the next dispatcher sends at once, no lease to wait for.
    make_due(clinician, team_a, courses=10, email_consent=False)
    total = sweep_now()
    release = threading.Event()

    def holder(box: dict[str, Any]) -> None:
        with transaction.atomic():
            box["locked"] = len(list(Reminder.objects.select_for_update().filter(status="pending")))
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                box["pid"] = cursor.fetchone()[0]
            release.wait(timeout=30)
            Reminder.objects.filter(status="pending").update(last_error="held")

    thread, box = run_in_thread(holder)
    wait_for(lambda: "pid" in box, timeout=10)
    started = time.monotonic()
    while_held = services.dispatch_batch()
    blocked_s = time.monotonic() - started

    assert terminate_backend(box["pid"])
    killed_at = time.monotonic()
    after = services.dispatch_batch()
    recovery = time.monotonic() - killed_at
    release.set()
    thread.join(timeout=10)
    figures(
        "claim held in an open transaction",
        reminders=total, locked_by_holder=box["locked"], claimed_while_held=while_held.claimed,
        dispatch_blocked_s=blocked_s, sent_after_kill=after.sent, recovery_s=recovery,
        duplicates=duplicates(), holder_error=type(box.get("error")).__name__,
    )  # fmt: skip
    assert (box["locked"], while_held.claimed) == (total, 0)
    assert blocked_s < 2  # skipped, not waited on
    assert after.sent == total and duplicates() == 0 and lost() == 0
    assert not Reminder.objects.filter(last_error="held").exists()  # its writes rolled back
    assert "error" in box  # the holder's connection is gone


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_committed_claim_whose_dispatcher_dies_is_resent_after_the_lease(
    gated, clinician, team_a
):
    # Item 12, second half: the claim committed (rows `sending`, lease 3 s), then the
    # dispatcher stalled before the provider and its backend was killed. Nothing else may
    # touch the rows until the lease runs out; then another dispatcher sends each once.
    lease = 3
    gated.ALERTS_LEASE_SECONDS = lease
    make_due(clinician, team_a, courses=10, email_consent=False)
    total = sweep_now()
    gate = threading.Event()

    def stalled(box: dict[str, Any]) -> None:
        backends.GATES[threading.get_ident()] = gate
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                box["pid"] = cursor.fetchone()[0]
            box["counts"] = services.dispatch_batch()
        finally:
            backends.GATES.pop(threading.get_ident(), None)

    thread, box = run_in_thread(stalled)
    wait_for(lambda: Reminder.objects.filter(status="sending").count() == total, timeout=10)
    claimed_at = time.monotonic()
    assert terminate_backend(box["pid"])

    early = 0
    while True:
        counts = services.dispatch_batch()
        if counts.sent:
            break
        early += counts.claimed
        assert time.monotonic() - claimed_at < lease + 5, "the lease never expired"
        time.sleep(0.1)
    sent = counts.sent
    while (more := services.dispatch_batch()).claimed:  # each lost lease is retried alone
        sent += more.sent
    # From the stalled claim to the takeover, on the dispatchers' own clock (attempt rows).
    first, second = (
        DeliveryAttempt.objects.filter(attempt=n).aggregate(t=Min("started_at"))["t"]
        for n in (1, 2)
    )
    recovery = (second - first).total_seconds()
    gate.set()  # the stalled dispatcher wakes on a dead connection
    thread.join(timeout=10)
    trails = {tuple(attempts_of(pk)) for pk in Reminder.objects.values_list("pk", flat=True)}
    figures(
        "committed claim, dispatcher killed",
        reminders=total, claimed_before_lease=early, sent=sent,
        recovery_s=recovery, lease_s=lease, duplicates=duplicates(), lost=lost(),
        attempt_trails=sorted(trails), stalled_end=type(box.get("error")).__name__,
    )  # fmt: skip
    assert early == 0  # nobody took the rows while the lease held
    assert lease <= recovery < lease + 2  # not before the lease ran out, and soon after
    assert sent == total and duplicates() == 0 and lost() == 0
    assert trails == {("unknown", "sent")}


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_transient_errors_retry_at_the_backoff_permanent_fail_once_opted_out_skip(
    workers, clinician, team_a
):
    # Items 15 and 16 through a real worker: the recording backend fails the first 2 tries of
    # every message (transient), refuses one number for good (permanent), and a patient who
    # withdrew SMS consent after the sweep gets nothing.
    backoff = (1, 2)
    refused_phone = "+447700900999"
    make_due(clinician, team_a, courses=3, email_consent=False)
    (refused,) = make_due(clinician, team_a, courses=1, email_consent=False, phone=refused_phone)
    (opted_out,) = make_due(clinician, team_a, courses=1, email_consent=False)
    sweep_now()
    services.consent_set(
        patient=opted_out.patient_id, channel="sms", consent=False, reason="test: STOP"
    )
    workers(1, {
        "ALERTS_RECORDING_FAIL_FIRST": "2",
        "ALERTS_RECORDING_FAIL_PERMANENT_TO": refused_phone,
        "ALERTS_BACKOFF_SECONDS": ",".join(map(str, backoff)),
    })  # fmt: skip

    _, seconds = beat_until(lambda: unfinished() == 0, timeout=30, every=0.25)
    transient = Reminder.objects.exclude(course__in=[refused, opted_out])
    delays = []
    for reminder in transient:
        tries = list(DeliveryAttempt.objects.filter(reminder=reminder).order_by("attempt"))
        delays.append(
            [
                round((b.started_at - a.finished_at).total_seconds(), 2)
                for a, b in itertools.pairwise(tries)
            ]
        )
    failed = Reminder.objects.get(course=refused)
    skipped = Reminder.objects.get(course=opted_out)
    alerts = CoordinatorAlert.objects.filter(kind="reminder_failed")
    figures(
        "transient / permanent / opted out",
        transient_attempts=sorted(set(transient.values_list("attempts", flat=True))),
        observed_delays_s=delays, backoff_s=list(backoff),
        permanent=(failed.status, failed.attempts), opted_out=(skipped.status,
        skipped.skip_reason, skipped.attempts), alerts=alerts.count(),
        sent=RecordedMessage.objects.count(), duplicates=duplicates(), seconds=seconds,
    )  # fmt: skip
    assert set(transient.values_list("status", "attempts")) == {("sent", 3)}
    for reminder in transient:
        assert attempts_of(reminder.pk) == ["transient_error", "transient_error", "sent"]
    for gaps in delays:
        for wait, expected in zip(gaps, backoff, strict=True):
            assert expected <= wait < expected + 1.5, delays
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert attempts_of(failed.pk) == ["permanent_error"]
    assert (skipped.status, skipped.skip_reason, skipped.attempts) == ("skipped", "opted_out", 0)
    assert attempts_of(skipped.pk) == []
    assert alerts.count() == 1 and alerts.get().course_id == refused.pk
    assert RecordedMessage.objects.count() == transient.count() and duplicates() == 0
