"""Replayed, duplicated, early and out-of-order provider webhooks (signed, through HTTP)."""

import datetime as dt

import pytest
from django.utils import timezone

from alerts import services
from alerts.models import CoordinatorAlert, InboundMessage, Reminder, StatusReport
from tests.alerts.conftest import NOON, TODAY, plan_items
from tests.alerts.test_webhooks import INBOUND, STATUS, signed_post, twilio_settings  # noqa: F401 (autouse)


def consent(patient) -> bool:
    patient.refresh_from_db()
    return patient.sms_consent


@pytest.mark.django_db
def test_a_replayed_start_after_stop_does_not_restore_consent(client, course):
    phone = course.patient.phone
    start = {"From": phone, "Body": "START", "MessageSid": "SM-start"}
    stop = {"From": phone, "Body": "STOP", "MessageSid": "SM-stop"}
    signed_post(client, INBOUND, stop)
    signed_post(client, INBOUND, start)
    assert consent(course.patient) is True
    signed_post(client, INBOUND, {**stop, "MessageSid": "SM-stop-2"})

    replay = signed_post(client, INBOUND, start)

    assert replay.status_code == 200
    assert consent(course.patient) is False
    assert InboundMessage.objects.get(provider_message_id="SM-start").outcome == "opted_in"


@pytest.mark.django_db
def test_the_older_sms_sid_field_identifies_a_replay_too(client, course):
    phone = course.patient.phone
    signed_post(client, INBOUND, {"From": phone, "Body": "STOP", "SmsSid": "SM-a"})
    signed_post(client, INBOUND, {"From": phone, "Body": "START", "SmsSid": "SM-b"})
    signed_post(client, INBOUND, {"From": phone, "Body": "STOP", "SmsSid": "SM-c"})

    signed_post(client, INBOUND, {"From": phone, "Body": "START", "SmsSid": "SM-b"})

    assert consent(course.patient) is False
    assert InboundMessage.objects.count() == 3


@pytest.mark.django_db
def test_a_keyword_sent_before_the_latest_consent_change_does_not_override_it(course):
    patient = course.patient
    changed = timezone.now()
    services.consent_set(
        patient=patient, channel="sms", consent=False, reason="patient asked", now=changed
    )

    result = services.sms_inbound(
        from_number=patient.phone,
        body="START",
        message_sid="SM-late",
        sent_at=changed - dt.timedelta(minutes=5),
        now=changed + dt.timedelta(minutes=1),
    )

    assert result.outcome == "stale"
    assert consent(patient) is False


@pytest.mark.django_db
def test_a_consent_change_from_the_api_side_orders_keywords_too(course):
    # A change that did not go through consent_set (a form, an import) still writes history.
    patient = course.patient
    patient.sms_consent = False
    patient.save()
    later = services.last_consent_change(patient.pk, "sms")

    stale = services.sms_inbound(
        from_number=patient.phone, body="YES", sent_at=later - dt.timedelta(seconds=1)
    )
    fresh = services.sms_inbound(from_number=patient.phone, body="YES")

    assert (stale.outcome, fresh.outcome) == ("stale", "opted_in")
    assert consent(patient) is True


@pytest.fixture
def sent_sms(course, recording):
    course.patient.email_consent = False
    course.patient.save()
    plan_items(course, imaging=TODAY)
    services.sweep(today=TODAY, now=NOON)
    services.dispatch_batch(now=NOON)
    return Reminder.objects.get()


@pytest.mark.django_db
def test_a_duplicated_status_report_is_kept_once(client, sent_sms):
    data = {"MessageSid": sent_sms.provider_message_id, "MessageStatus": "undelivered"}

    for _ in range(3):
        assert signed_post(client, STATUS, data).status_code == 200

    assert StatusReport.objects.count() == 1
    assert CoordinatorAlert.objects.get().occurrences == 1


@pytest.mark.django_db
def test_a_report_before_the_id_is_written_waits_and_is_applied_then(client, sent_sms):
    # As if the provider called back before the dispatcher's flush: the id is not written.
    sid = sent_sms.provider_message_id
    Reminder.objects.filter(pk=sent_sms.pk).update(provider_message_id="", status="sending")

    early = signed_post(client, STATUS, {"MessageSid": sid, "MessageStatus": "undelivered"})
    assert early.status_code == 200
    assert StatusReport.objects.get().applied_at is None

    Reminder.objects.filter(pk=sent_sms.pk).update(provider_message_id=sid, status="sent")
    failed = services.apply_pending_reports([sid], now=NOON)

    sent_sms.refresh_from_db()
    assert sent_sms.status == "failed" and [r.pk for r in failed] == [sent_sms.pk]
    assert StatusReport.objects.get().applied_at is not None


@pytest.mark.django_db
def test_early_reports_in_any_order_end_in_the_final_status_they_name(sent_sms):
    sid = sent_sms.provider_message_id
    Reminder.objects.filter(pk=sent_sms.pk).update(provider_message_id="", status="sending")
    for status in ("delivered", "sent", "queued"):
        services.status_callback(message_sid=sid, status=status, now=NOON)

    Reminder.objects.filter(pk=sent_sms.pk).update(provider_message_id=sid, status="sent")
    services.apply_pending_reports([sid], now=NOON)

    sent_sms.refresh_from_db()
    assert sent_sms.status == "delivered"
    assert not StatusReport.objects.filter(applied_at__isnull=True).exists()


@pytest.mark.django_db
def test_a_late_report_about_a_resent_reminders_first_message_does_not_settle_the_second(
    client, sent_sms, coordinator
):
    first_sid = sent_sms.provider_message_id
    signed_post(client, STATUS, {"MessageSid": first_sid, "MessageStatus": "undelivered"})
    assert services.reminder_resend(reminder_ids=[sent_sms.pk], actor=coordinator) == 1
    Reminder.objects.filter(pk=sent_sms.pk).update(status="sending")  # the resend in flight

    late = signed_post(client, STATUS, {"MessageSid": first_sid, "MessageStatus": "delivered"})

    assert late.status_code == 200
    sent_sms.refresh_from_db()
    assert (sent_sms.status, sent_sms.provider_message_id) == ("sending", "")
    assert sent_sms.deliveries.get().provider_message_id == first_sid
