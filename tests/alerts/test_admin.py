"""The admin: lists scoped to the user's care teams, changes only through service actions."""

import pytest

from alerts import services
from alerts.models import CoordinatorAlert, Reminder
from tests.alerts.conftest import NOON, TODAY, plan_items


@pytest.fixture
def failed_reminder(course, recording, settings):
    settings.ALERTS_RECORDING_FAIL_PERMANENT_TO = (course.patient.phone, course.patient.email)
    plan_items(course, imaging=TODAY)
    services.sweep(today=TODAY, now=NOON)
    services.dispatch_batch(now=NOON)
    return Reminder.objects.filter(status="failed").first()


@pytest.mark.django_db
def test_a_coordinator_sees_their_teams_reminders_and_alerts_only(
    client, coordinator, coordinator2, failed_reminder
):
    mrn = failed_reminder.course.patient.mrn

    client.force_login(coordinator)
    own = [client.get(f"/admin/alerts/{m}/") for m in ("reminder", "coordinatoralert")]
    client.force_login(coordinator2)
    other = [client.get(f"/admin/alerts/{m}/") for m in ("reminder", "coordinatoralert")]
    detail = client.get(f"/admin/alerts/reminder/{failed_reminder.pk}/change/")

    assert [r.status_code for r in own] == [200, 200]
    assert all(mrn in r.content.decode() for r in own)
    assert [r.status_code for r in other] == [200, 200]
    assert not any(mrn in r.content.decode() for r in other)
    assert detail.status_code == 404  # as for a missing id, like the API


@pytest.mark.django_db
def test_resend_failed_puts_the_reminder_back_in_the_queue(client, coordinator, failed_reminder):
    client.force_login(coordinator)

    response = client.post(
        "/admin/alerts/reminder/",
        {"action": "resend_failed", "_selected_action": [failed_reminder.pk]},
    )

    assert response.status_code == 302
    failed_reminder.refresh_from_db()
    assert (failed_reminder.status, failed_reminder.attempts) == ("pending", 0)


@pytest.mark.django_db
def test_acknowledge_and_resolve_actions_go_through_the_services(
    client, coordinator, coordinator2, failed_reminder
):
    alert = CoordinatorAlert.objects.get()
    client.force_login(coordinator2)
    client.post(
        "/admin/alerts/coordinatoralert/",
        {"action": "acknowledge", "_selected_action": [alert.pk]},
    )
    alert.refresh_from_db()
    assert alert.acknowledged_at is None  # outside coordinator2's teams

    client.force_login(coordinator)
    client.post(
        "/admin/alerts/coordinatoralert/",
        {"action": "resolve", "_selected_action": [alert.pk]},
    )

    alert.refresh_from_db()
    assert (alert.resolved_by, alert.acknowledged_by) == (coordinator, coordinator)
    assert alert.history.order_by("history_date").last().history_user == coordinator
