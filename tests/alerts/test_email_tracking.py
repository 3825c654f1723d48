"""Email delivery reports through anymail's tracking webhooks (HTTP basic auth), same rules as SMS."""

import base64

import pytest

from alerts import services
from alerts.models import CoordinatorAlert, Reminder, StatusReport
from tests.alerts.conftest import NOON, TODAY, plan_items

SECRET = "esp-user:esp-long-random-password"
POSTMARK = "/webhooks/email/postmark/tracking/"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET}


def auth(secret: str = SECRET) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def postmark(client, record: dict, secret: str = SECRET):
    return client.post(POSTMARK, record, content_type="application/json", **auth(secret))


def bounce(message_id: str) -> dict:
    return {"RecordType": "Bounce", "Type": "HardBounce", "MessageID": message_id, "ID": 42,
            "Email": "ana@example.org", "BouncedAt": "2026-08-03T11:00:05Z",
            "Description": "The server was unable to deliver your message"}  # fmt: skip


def delivery(message_id: str) -> dict:
    return {"RecordType": "Delivery", "MessageID": message_id, "Recipient": "ana@example.org",
            "DeliveredAt": "2026-08-03T11:00:03Z", "Details": "250 OK"}  # fmt: skip


def complaint(message_id: str) -> dict:
    return {"RecordType": "SpamComplaint", "Type": "SpamComplaint", "MessageID": message_id,
            "ID": 43, "Email": "ana@example.org", "BouncedAt": "2026-08-03T12:00:00Z"}  # fmt: skip


@pytest.fixture
def sent_email(course, recording):
    course.patient.sms_consent = False
    course.patient.save()
    plan_items(course, imaging=TODAY)
    services.sweep(today=TODAY, now=NOON)
    services.dispatch_batch(now=NOON)
    reminder = Reminder.objects.get()
    assert reminder.channel == "email" and reminder.status == "sent"
    return reminder


@pytest.mark.django_db
def test_a_bounce_fails_the_email_reminder_and_alerts_the_coordinator(client, sent_email):
    response = postmark(client, bounce(sent_email.provider_message_id))

    assert response.status_code == 200
    sent_email.refresh_from_db()
    assert sent_email.status == "failed" and "bounced" in sent_email.last_error
    assert CoordinatorAlert.objects.get().kind == "reminder_failed"


@pytest.mark.django_db
def test_a_delivery_then_a_late_bounce_never_regresses_delivered(client, sent_email):
    postmark(client, delivery(sent_email.provider_message_id))
    postmark(client, bounce(sent_email.provider_message_id))
    postmark(client, delivery(sent_email.provider_message_id))

    sent_email.refresh_from_db()
    assert sent_email.status == "delivered" and sent_email.delivered_at is not None
    assert StatusReport.objects.filter(channel="email").count() == 2


@pytest.mark.django_db
def test_a_spam_complaint_withdraws_email_consent(client, sent_email):
    postmark(client, delivery(sent_email.provider_message_id))

    response = postmark(client, complaint(sent_email.provider_message_id))

    assert response.status_code == 200
    sent_email.course.patient.refresh_from_db()
    assert sent_email.course.patient.email_consent is False


@pytest.mark.django_db
def test_a_report_without_the_right_secret_is_refused(client, sent_email):
    wrong = postmark(client, bounce(sent_email.provider_message_id), secret="esp-user:guess")
    none = client.post(
        POSTMARK, bounce(sent_email.provider_message_id), content_type="application/json"
    )

    assert (wrong.status_code, none.status_code) == (400, 400)
    sent_email.refresh_from_db()
    assert sent_email.status == "sent"


@pytest.mark.django_db
def test_without_a_configured_secret_every_report_is_refused(client, sent_email, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": ""}

    response = postmark(client, bounce(sent_email.provider_message_id))

    assert response.status_code == 403
    sent_email.refresh_from_db()
    assert sent_email.status == "sent"


@pytest.mark.django_db
def test_an_email_report_before_the_id_is_written_is_applied_when_it_is(client, sent_email):
    message_id = sent_email.provider_message_id
    Reminder.objects.filter(pk=sent_email.pk).update(provider_message_id="", status="sending")
    assert postmark(client, bounce(message_id)).status_code == 200

    Reminder.objects.filter(pk=sent_email.pk).update(provider_message_id=message_id, status="sent")
    services.apply_pending_reports([message_id], now=NOON)

    sent_email.refresh_from_db()
    assert sent_email.status == "failed"


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["not json", "[]", '{"RecordType": "Bounce"}', "{}", "\u0000"])
def test_a_malformed_report_with_the_right_secret_is_a_400_not_a_500(client, body):
    response = client.post(POSTMARK, body, content_type="application/json", **auth())

    assert response.status_code in (200, 400)
