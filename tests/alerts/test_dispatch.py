"""Dispatch: claim, settle what must not go out now, send once, record every attempt."""

import datetime as dt

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts import services, tasks
from alerts.models import CoordinatorAlert, DeliveryAttempt, RecordedMessage, Reminder
from surveillance.models import ScheduledItem
from tests import factories
from tests.alerts.conftest import NOON, TODAY, plan_items
from treatments.models import Patient

MINUTE = dt.timedelta(minutes=1)


def sweep(course, **items):
    plan_items(course, **items)
    return services.sweep(today=TODAY, now=NOON)


def statuses(course=None):
    qs = Reminder.objects.all() if course is None else Reminder.objects.filter(course=course)
    return sorted(qs.values_list("channel", "status", "skip_reason"))


@pytest.mark.django_db
def test_it_sends_each_reminder_once_and_records_the_attempt(course, recording):
    sweep(course, imaging=TODAY, visit=TODAY)

    counts = services.dispatch_batch(now=NOON, batch_size=50)
    again = services.dispatch_batch(now=NOON + MINUTE, batch_size=50)

    assert (counts.claimed, counts.sent) == (4, 4)
    assert again.claimed == 0
    assert statuses(course) == [("email", "sent", "")] * 2 + [("sms", "sent", "")] * 2
    recorded = RecordedMessage.objects.all()
    assert sorted(m.reminder_id for m in recorded) == sorted(
        Reminder.objects.values_list("pk", flat=True)
    )
    attempts = DeliveryAttempt.objects.all()
    assert [(a.attempt, a.outcome) for a in attempts] == [(1, "sent")] * 4
    assert all(a.provider_message_id for a in attempts)
    sent = Reminder.objects.first()
    assert (sent.attempts, sent.sent_at, sent.leased_until) == (1, NOON, None)


@pytest.mark.django_db
def test_a_batch_takes_at_most_batch_size_reminders(course, recording):
    sweep(course, imaging=TODAY, visit=TODAY, cga=TODAY)

    first = services.dispatch_batch(now=NOON, batch_size=4)
    second = services.dispatch_batch(now=NOON, batch_size=4)

    assert (first.sent, second.sent) == (4, 2)


@pytest.mark.django_db
def test_email_goes_through_django_with_one_click_unsubscribe_headers(course, settings):
    settings.PUBLIC_BASE_URL = "https://netcare.example.org"
    course.patient.sms_consent = False
    course.patient.save()
    sweep(course, cga=TODAY)

    services.dispatch_batch(now=NOON)

    (email,) = mail.outbox
    assert email.to == ["ana@example.org"]
    link = email.extra_headers["List-Unsubscribe"].strip("<>")
    assert link.startswith("https://netcare.example.org/webhooks/unsubscribe/")
    assert email.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in email.body
    assert "proton-pump inhibitors" in email.body
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html" and link in html
    reminder = Reminder.objects.get()
    assert reminder.provider_message_id == email.extra_headers["Message-ID"]


@pytest.mark.django_db
def test_a_withdrawn_consent_skips_the_reminder_with_its_reason(course, recording):
    sweep(course, imaging=TODAY)
    Patient.objects.filter(pk=course.patient_id).update(sms_consent=False)

    counts = services.dispatch_batch(now=NOON)

    assert (counts.sent, counts.skipped) == (1, 1)
    assert statuses(course) == [("email", "sent", ""), ("sms", "skipped", "opted_out")]
    skipped = Reminder.objects.get(channel="sms")
    assert skipped.attempts == 0
    assert not skipped.deliveries.exists()


@pytest.mark.django_db
def test_a_removed_address_skips_the_reminder_as_no_address(course, recording):
    sweep(course, imaging=TODAY)
    Patient.objects.filter(pk=course.patient_id).update(email="")

    services.dispatch_batch(now=NOON)

    assert statuses(course) == [("email", "skipped", "no_address"), ("sms", "sent", "")]


@pytest.mark.django_db
def test_stop_skips_sms_and_start_enables_it_again(course, recording):
    phone = course.patient.phone
    sweep(course, imaging=TODAY)
    services.sms_inbound(from_number=phone, body="STOP")
    services.dispatch_batch(now=NOON)
    assert statuses(course) == [("email", "sent", ""), ("sms", "skipped", "opted_out")]

    services.sms_inbound(from_number=phone, body="start")
    sweep(course, visit=TODAY)
    services.dispatch_batch(now=NOON)

    assert Reminder.objects.get(channel="sms", kind="visit_due").status == "sent"


@pytest.mark.django_db
def test_the_daily_sms_cap_skips_the_extra_messages(course, recording, settings):
    settings.ALERTS_SMS_DAILY_CAP = 2
    sweep(course, imaging=TODAY, visit=TODAY, cga=TODAY)

    services.dispatch_batch(now=NOON)
    later = NOON + dt.timedelta(hours=3)
    sweep(course, symptom_check=TODAY)
    services.dispatch_batch(now=later)

    sms = Reminder.objects.filter(channel="sms")
    assert sorted(sms.values_list("status", "skip_reason")) == [
        ("sent", ""),
        ("sent", ""),
        ("skipped", "rate_cap"),
        ("skipped", "rate_cap"),
    ]
    assert Reminder.objects.filter(channel="email", status="sent").count() == 4
    print("SMS cap: sent 2, skipped 2 (rate_cap)")


@pytest.mark.django_db
def test_a_rescheduled_item_supersedes_its_pending_reminder(course, recording):
    sweep(course, imaging=TODAY)
    ScheduledItem.objects.filter(course=course).update(due_on=TODAY + dt.timedelta(days=60))

    services.dispatch_batch(now=NOON)

    assert statuses(course) == [
        ("email", "skipped", "superseded"),
        ("sms", "skipped", "superseded"),
    ]
    assert not RecordedMessage.objects.exists()


@pytest.mark.django_db
def test_a_course_closed_after_the_sweep_gets_no_reminder(course, clinician, recording):
    sweep(course, imaging=TODAY)
    factories.advance(course, clinician, ("course_closed", {"reason": "discharged"}))

    services.dispatch_batch(now=NOON)

    assert {skip for *_, skip in statuses(course)} == {"course_closed"}


@pytest.mark.django_db
def test_transient_errors_retry_with_backoff_then_send(course, recording, settings):
    settings.ALERTS_RECORDING_FAIL_FIRST = 2
    settings.ALERTS_BACKOFF_SECONDS = (60, 300)
    Patient.objects.filter(pk=course.patient_id).update(email_consent=False)
    sweep(course, imaging=TODAY)
    reminder = Reminder.objects.get()

    services.dispatch_batch(now=NOON)
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == ("pending", 1)
    assert reminder.next_attempt_at == NOON + dt.timedelta(seconds=60)

    assert services.dispatch_batch(now=NOON + 59 * dt.timedelta(seconds=1)).claimed == 0
    services.dispatch_batch(now=NOON + MINUTE)
    reminder.refresh_from_db()
    assert reminder.next_attempt_at == NOON + MINUTE + dt.timedelta(seconds=300)

    assert services.dispatch_batch(now=NOON + 5 * MINUTE).claimed == 0
    services.dispatch_batch(now=NOON + 6 * MINUTE)
    reminder.refresh_from_db()

    assert (reminder.status, reminder.attempts) == ("sent", 3)
    assert list(reminder.deliveries.values_list("outcome", flat=True)) == [
        "transient_error",
        "transient_error",
        "sent",
    ]
    assert RecordedMessage.objects.count() == 1
    print("transient errors: attempts 3, delays 60 s and 300 s")


@pytest.mark.django_db
def test_a_permanent_error_fails_at_once_with_one_alert(course, recording, settings):
    settings.ALERTS_RECORDING_FAIL_PERMANENT_TO = (course.patient.phone,)
    sweep(course, imaging=TODAY, visit=TODAY)

    counts = services.dispatch_batch(now=NOON)

    assert (counts.sent, counts.failed) == (2, 2)
    failed = Reminder.objects.filter(status="failed")
    assert set(failed.values_list("channel", "attempts")) == {("sms", 1)}
    assert "refuses" in failed.first().last_error
    alert = CoordinatorAlert.objects.get()
    assert (alert.kind, alert.occurrences, alert.course_id) == ("reminder_failed", 2, course.pk)
    assert services.dispatch_batch(now=NOON + dt.timedelta(hours=2)).claimed == 0


@pytest.mark.django_db
def test_attempts_exhausted_fail_the_reminder(course, recording, settings):
    settings.ALERTS_RECORDING_FAIL_FIRST = 99
    settings.ALERTS_MAX_ATTEMPTS = 3
    settings.ALERTS_BACKOFF_SECONDS = (60,)
    Patient.objects.filter(pk=course.patient_id).update(email_consent=False)
    sweep(course, imaging=TODAY)

    for minute in range(0, 10, 2):
        services.dispatch_batch(now=NOON + minute * MINUTE)

    reminder = Reminder.objects.get()
    assert (reminder.status, reminder.attempts) == ("failed", 3)
    assert reminder.last_error.startswith("attempts exhausted (3)")
    assert CoordinatorAlert.objects.filter(kind="reminder_failed").count() == 1


def _stick(reminder: Reminder, *, leased_until: dt.datetime, attempts: int = 1) -> None:
    """Leave a reminder as a dispatcher that died after its claim would have."""
    Reminder.objects.filter(pk=reminder.pk).update(
        status="sending", leased_until=leased_until, attempts=attempts
    )
    DeliveryAttempt.objects.create(reminder=reminder, attempt=attempts, started_at=NOON)


@pytest.mark.django_db
def test_an_expired_lease_is_claimed_again_and_sent(course, recording):
    Patient.objects.filter(pk=course.patient_id).update(email_consent=False)
    sweep(course, imaging=TODAY)
    reminder = Reminder.objects.get()
    _stick(reminder, leased_until=NOON + MINUTE)

    assert services.dispatch_batch(now=NOON + MINUTE).claimed == 0  # the lease still holds
    counts = services.dispatch_batch(now=NOON + 2 * MINUTE)

    reminder.refresh_from_db()
    assert (counts.sent, reminder.status, reminder.attempts) == (1, "sent", 2)
    assert list(reminder.deliveries.values_list("attempt", "outcome")) == [
        (1, "unknown"),
        (2, "sent"),
    ]


@pytest.mark.django_db
def test_a_message_that_keeps_killing_its_worker_ends_failed(course, recording, settings):
    settings.ALERTS_MAX_ATTEMPTS = 3
    Patient.objects.filter(pk=course.patient_id).update(email_consent=False)
    sweep(course, imaging=TODAY)
    _stick(Reminder.objects.get(), leased_until=NOON - MINUTE, attempts=3)

    counts = services.dispatch_batch(now=NOON)

    reminder = Reminder.objects.get()
    assert (counts.failed, reminder.status) == (1, "failed")
    assert not RecordedMessage.objects.exists()
    assert CoordinatorAlert.objects.filter(kind="reminder_failed").count() == 1


@pytest.mark.django_db
def test_a_poison_reminder_fails_alone_and_the_batch_goes_on(course, clinician, team_a, recording):
    broken_zone = factories.register(clinician, team_a)
    plan_items(broken_zone, imaging=TODAY)
    sweep(course, imaging=TODAY)
    Patient.objects.filter(pk=broken_zone.patient_id).update(timezone="Mars/Olympus_Mons")
    unrenderable = Reminder.objects.get(course=course, channel="email")
    Reminder.objects.filter(pk=unrenderable.pk).update(stage="someday")

    counts = services.dispatch_batch(now=NOON)

    assert (counts.claimed, counts.sent, counts.failed) == (4, 1, 3)
    assert Reminder.objects.get(course=course, channel="sms").status == "sent"
    assert "cannot render" in Reminder.objects.get(pk=unrenderable.pk).last_error
    assert set(Reminder.objects.filter(course=broken_zone).values_list("status", "last_error")) == {
        ("failed", "invalid time zone 'Mars/Olympus_Mons' on the patient")
    }


@pytest.mark.django_db
def test_dispatch_costs_the_same_queries_for_a_small_and_a_large_batch(
    clinician, team_a, recording
):
    courses = [factories.register(clinician, team_a) for _ in range(8)]
    for c in courses:
        plan_items(c, imaging=TODAY)
    services.sweep(today=TODAY, now=NOON)

    with CaptureQueriesContext(connection) as small_queries:
        small = services.dispatch_batch(now=NOON, batch_size=2)
    with CaptureQueriesContext(connection) as large_queries:
        large = services.dispatch_batch(now=NOON, batch_size=14)

    assert (small.sent, large.sent) == (2, 14)
    # Claim (locks, patients, items, SMS counts, update, attempts), one insert per channel,
    # one outcome transaction: savepoints included, whatever the batch size.
    assert len(small_queries) == len(large_queries) <= 16
    print(f"dispatch queries: {len(small_queries)} for 2 reminders, {len(large_queries)} for 14")


@pytest.mark.django_db
def test_the_dispatch_task_enqueues_one_batch_task_per_batch_of_work(
    course, recording, settings, eager_celery
):
    settings.ALERTS_BATCH_SIZE = 2
    sweep(course, imaging=TODAY, visit=TODAY, cga=TODAY)  # 6 reminders
    with time_machine.travel(NOON, tick=False):
        batches = tasks.dispatch.delay().get()

    assert batches == 3
    assert Reminder.objects.filter(status="sent").count() == 6


@pytest.mark.django_db
def test_the_sweep_task_starts_a_dispatch_on_commit(
    course, recording, eager_celery, django_capture_on_commit_callbacks
):
    plan_items(course, imaging=TODAY)
    with (
        time_machine.travel(NOON, tick=False),
        django_capture_on_commit_callbacks(execute=True) as callbacks,
    ):
        inserted = tasks.sweep.delay(TODAY.isoformat()).get()

    assert len(callbacks) == 1

    assert inserted == 2
    assert RecordedMessage.objects.count() == 2
