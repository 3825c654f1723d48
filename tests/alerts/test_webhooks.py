"""Twilio webhooks (signed) and the one-click unsubscribe link (signed by us)."""

import pytest
from twilio.request_validator import RequestValidator

from alerts import messages, services
from alerts.models import CoordinatorAlert, Reminder
from tests import factories
from tests.alerts.conftest import NOON, TODAY, plan_items
from treatments.roles import SYSTEM_USERNAME

TOKEN = "twilio-test-auth-token"
PUBLIC = "https://netcare.example.org"
INBOUND = "/webhooks/sms/inbound/"
STATUS = "/webhooks/sms/status/"


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC


def signed_post(client, path, data, *, token=TOKEN, url=None):
    signature = RequestValidator(token).compute_signature(url or PUBLIC + path, data)
    return client.post(path, data, HTTP_X_TWILIO_SIGNATURE=signature)


def consent_history(patient):
    return list(
        patient.history.order_by("history_date").values_list(
            "sms_consent", "history_user__username", "history_change_reason"
        )
    )


@pytest.mark.django_db
@pytest.mark.parametrize("path", [INBOUND, STATUS])
def test_an_unsigned_webhook_is_refused(client, course, path):
    response = client.post(path, {"From": course.patient.phone, "Body": "STOP"})

    assert response.status_code == 403
    course.patient.refresh_from_db()
    assert course.patient.sms_consent is True


@pytest.mark.django_db
@pytest.mark.parametrize("path", [INBOUND, STATUS])
def test_a_badly_signed_webhook_is_refused(client, course, path):
    data = {"From": course.patient.phone, "Body": "STOP"}

    wrong_key = signed_post(client, path, data, token="another-account-token")
    other_url = signed_post(client, path, data, url="https://evil.example.org" + path)

    assert (wrong_key.status_code, other_url.status_code) == (403, 403)
    course.patient.refresh_from_db()
    assert course.patient.sms_consent is True


@pytest.mark.django_db
def test_without_an_auth_token_nothing_can_be_verified(client, course, settings):
    settings.TWILIO_AUTH_TOKEN = ""

    response = signed_post(client, INBOUND, {"From": course.patient.phone, "Body": "STOP"})

    assert response.status_code == 403


@pytest.mark.django_db
def test_a_signed_stop_withdraws_sms_consent_once_even_when_replayed(client, course):
    patient = course.patient
    data = {"From": patient.phone, "Body": " Stop ", "MessageSid": "SM-in-1"}
    before = len(consent_history(patient))

    # Signed for the public https URL while the test client speaks http: accepted, because
    # the check uses PUBLIC_BASE_URL, as behind a TLS-terminating proxy.
    first = signed_post(client, INBOUND, data)
    replay = signed_post(client, INBOUND, data)

    assert first.status_code == replay.status_code == 200
    assert first["Content-Type"].startswith("text/xml")
    assert b"<Response></Response>" in first.content
    patient.refresh_from_db()
    assert (patient.sms_consent, patient.sms_consent_at) == (False, None)
    history = consent_history(patient)
    assert len(history) == before + 1
    assert history[-1] == (False, SYSTEM_USERNAME, "inbound SMS STOP")


@pytest.mark.django_db
def test_a_signed_start_gives_sms_consent_back(client, course):
    patient = course.patient
    signed_post(client, INBOUND, {"From": patient.phone, "Body": "STOP"})

    signed_post(client, INBOUND, {"From": patient.phone, "Body": "UNSTOP"})

    patient.refresh_from_db()
    assert patient.sms_consent is True and patient.sms_consent_at is not None
    assert consent_history(patient)[-1] == (True, SYSTEM_USERNAME, "inbound SMS UNSTOP")


@pytest.mark.django_db
def test_an_ordinary_message_changes_nothing(client, course):
    response = signed_post(client, INBOUND, {"From": course.patient.phone, "Body": "stop it?"})

    assert response.status_code == 200
    course.patient.refresh_from_db()
    assert course.patient.sms_consent is True


@pytest.fixture
def sent_sms(course, recording):
    course.patient.email_consent = False
    course.patient.save()
    plan_items(course, imaging=TODAY)
    services.sweep(today=TODAY, now=NOON)
    services.dispatch_batch(now=NOON)
    reminder = Reminder.objects.get()
    assert reminder.status == "sent" and reminder.provider_message_id
    return reminder


@pytest.mark.django_db
def test_status_callbacks_out_of_order_never_regress_delivered(client, sent_sms):
    sid = sent_sms.provider_message_id

    for status in ("delivered", "sent", "queued", "undelivered", "failed"):
        response = signed_post(client, STATUS, {"MessageSid": sid, "MessageStatus": status})
        assert response.status_code == 200

    sent_sms.refresh_from_db()
    assert sent_sms.status == "delivered" and sent_sms.delivered_at is not None
    assert not CoordinatorAlert.objects.exists()


@pytest.mark.django_db
def test_an_undelivered_report_fails_the_reminder_and_alerts(client, sent_sms):
    sid = sent_sms.provider_message_id

    signed_post(
        client, STATUS, {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    )
    signed_post(client, STATUS, {"MessageSid": sid, "MessageStatus": "delivered"})

    sent_sms.refresh_from_db()
    assert (sent_sms.status, sent_sms.last_error) == (
        "failed",
        "provider reported undelivered 30003",
    )
    assert CoordinatorAlert.objects.get().kind == "reminder_failed"


@pytest.mark.django_db
def test_a_report_for_an_unknown_message_is_acknowledged_and_ignored(client, sent_sms):
    response = signed_post(client, STATUS, {"MessageSid": "SM-unknown", "MessageStatus": "failed"})

    assert response.status_code == 200
    sent_sms.refresh_from_db()
    assert sent_sms.status == "sent"


def unsubscribe_path(patient_id: int, channel: str = "email") -> str:
    url = messages.unsubscribe_url(patient_id=patient_id, channel=channel)
    assert url.startswith(PUBLIC)
    return url.removeprefix(PUBLIC)


@pytest.mark.django_db
def test_the_unsubscribe_link_asks_first_then_unsubscribes_on_post(client, course):
    patient = course.patient
    path = unsubscribe_path(patient.pk)

    page = client.get(path)
    patient.refresh_from_db()
    assert page.status_code == 200 and b'<form method="post">' in page.content
    assert patient.email_consent is True

    done = client.post(path)

    patient.refresh_from_db()
    assert done.status_code == 200
    assert (patient.email_consent, patient.sms_consent) == (False, True)
    last = patient.history.order_by("history_date").last()
    assert (last.history_user.username, last.history_change_reason) == (
        SYSTEM_USERNAME,
        "unsubscribe link (email)",
    )


@pytest.mark.django_db
def test_a_mail_client_one_click_post_unsubscribes(client, course):
    path = unsubscribe_path(course.patient.pk)

    response = client.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    course.patient.refresh_from_db()
    assert response.status_code == 200
    assert course.patient.email_consent is False


@pytest.mark.django_db
def test_a_tampered_unsubscribe_token_is_refused(client, course, clinician, team_a):
    other = factories.register(clinician, team_a)
    path = unsubscribe_path(course.patient.pk)
    token = path.split("/")[-2]
    payload, stamp, signature = token.split(":")
    forged_payload = messages.unsubscribe_token(patient_id=other.patient.pk, channel="email")
    forged = f"{forged_payload.split(':')[0]}:{stamp}:{signature}"

    responses = [
        client.post(f"/webhooks/unsubscribe/{forged}/"),
        client.post(f"/webhooks/unsubscribe/{payload}:{stamp}:{signature[:-2]}xx/"),
        client.get("/webhooks/unsubscribe/not-a-token/"),
    ]

    assert [r.status_code for r in responses] == [400, 400, 400]
    other.patient.refresh_from_db()
    course.patient.refresh_from_db()
    assert other.patient.email_consent is True and course.patient.email_consent is True
