"""Delivery reports that come before the dispatcher writes the provider's id (real HTTP, signed)."""

import pytest

from alerts import services
from alerts.models import CoordinatorAlert, Reminder, StatusReport
from tests.alerts.test_webhooks import PUBLIC, TOKEN
from tests.reliability import callback_backends
from tests.reliability.support import make_due, sweep_now


@pytest.fixture
def early_provider(settings, monkeypatch):
    settings.NETCARE_SMS_BACKEND = "tests.reliability.callback_backends.EarlyCallbackSMSBackend"
    settings.EMAIL_BACKEND = "alerts.testing.RecordingEmailBackend"
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.ALERTS_SMS_DAILY_CAP = 100
    monkeypatch.delenv(callback_backends.CALLBACK_URL, raising=False)
    monkeypatch.setenv(callback_backends.UNDELIVERED_EVERY, "3")
    monkeypatch.setenv(callback_backends.REPORT_TIMES, "2")


@pytest.mark.django_db
def test_reports_that_beat_the_id_to_the_database_are_applied_when_it_is_written(
    early_provider, clinician, team_a
):
    make_due(clinician, team_a, courses=6, kinds=2, email_consent=False)
    total = sweep_now()

    counts = services.dispatch_batch(batch_size=50)

    assert counts.sent == total == 12
    reminders = list(Reminder.objects.all())
    # Every report came before its reminder's id was written (the sent mark, at the flush).
    reports = {r.provider_message_id: r for r in StatusReport.objects.filter(status="sent")}
    assert all(reports[r.provider_message_id].received_at <= r.sent_at for r in reminders)
    expected = {
        r.pk: "failed" if callback_backends.reported_status(r.pk) == "undelivered" else "delivered"
        for r in reminders
    }
    assert {r.pk: r.status for r in reminders} == expected
    assert "failed" in expected.values() and "delivered" in expected.values()
    assert not StatusReport.objects.filter(applied_at__isnull=True).exists()
    # Duplicated reports were kept once: two statuses per message.
    assert StatusReport.objects.count() == 2 * total
    failed = sum(status == "failed" for status in expected.values())
    assert sum(a.occurrences for a in CoordinatorAlert.objects.all()) == failed
