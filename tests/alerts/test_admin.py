"""The admin: lists scoped to the user's care teams, changes only through service actions;
replies, provider reports and heartbeats shown read-only, patients' data to their team only."""

import pytest

from alerts import services
from alerts.models import (
    CoordinatorAlert,
    InboundMessage,
    Reminder,
    StatusReport,
    TaskHeartbeat,
    WorkerHeartbeat,
)
from api.models import ReadAccess
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


STRANGER = "+15550100999"  # a number no patient has


@pytest.fixture
def replies(course, recording) -> Reminder:
    """Team A's patient replied STOP and a stranger HELP; the provider reported on the
    patient's SMS and on a message no reminder carries. Returns the patient's SMS reminder."""
    plan_items(course, imaging=TODAY)
    services.sweep(today=TODAY, now=NOON)
    services.dispatch_batch(now=NOON)
    sms = Reminder.objects.get(channel="sms", status="sent")
    services.status_callback(message_sid=sms.provider_message_id, status="delivered", now=NOON)
    services.status_callback(message_sid="SM-matched-nothing", status="delivered", now=NOON)
    phone = course.patient.phone
    services.sms_inbound(from_number=phone, body="STOP", message_sid="SM-in-a", now=NOON)
    services.sms_inbound(from_number=STRANGER, body="HELP", message_sid="SM-in-x", now=NOON)
    services.task_heartbeat_record(task="sweep", now=NOON)
    services.heartbeat_record(worker="w1@host", now=NOON)
    return sms


def listed(client, model: str, field: str) -> list[str]:
    response = client.get(f"/admin/alerts/{model}/")
    assert response.status_code == 200
    return sorted(getattr(row, field) for row in response.context["cl"].result_list)


@pytest.mark.django_db
def test_staff_see_the_replies_and_provider_reports_of_their_own_patients_only(
    client, coordinator, coordinator2, admin_user, replies
):
    pages = {"inboundmessage": "provider_message_id", "statusreport": "provider_message_id"}
    seen = {}
    for user in (coordinator, coordinator2, admin_user):
        client.force_login(user)
        seen[user.username] = {model: listed(client, model, f) for model, f in pages.items()}
    client.force_login(coordinator2)
    own_reply = InboundMessage.objects.get(provider_message_id="SM-in-a")
    other_team = client.get(f"/admin/alerts/inboundmessage/{own_reply.pk}/change/")

    assert seen["coordinator"] == {
        "inboundmessage": ["SM-in-a"],
        "statusreport": [replies.provider_message_id],
    }
    assert seen["coordinator2"] == {"inboundmessage": [], "statusreport": []}
    # A superuser also sees what matched no patient (an unknown number, an unknown message).
    assert seen[admin_user.username] == {
        "inboundmessage": ["SM-in-a", "SM-in-x"],
        "statusreport": sorted([replies.provider_message_id, "SM-matched-nothing"]),
    }
    assert other_team.status_code == 404


@pytest.mark.django_db
def test_reading_a_reply_or_a_report_is_logged_as_a_read_of_the_patient(
    client, coordinator, course, replies
):
    client.force_login(coordinator)
    reply = InboundMessage.objects.get(provider_message_id="SM-in-a")
    report = StatusReport.objects.get(provider_message_id=replies.provider_message_id)

    pages = [
        client.get(f"/admin/alerts/inboundmessage/{reply.pk}/change/"),
        client.get(f"/admin/alerts/statusreport/{report.pk}/change/"),
    ]

    assert [page.status_code for page in pages] == [200, 200]
    endpoints = ReadAccess.objects.filter(actor=coordinator, patient=course.patient).values_list(
        "endpoint", flat=True
    )
    assert {"inboundmessage", "statusreport"} <= {e.split("/")[3] for e in endpoints}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "model", ["inboundmessage", "statusreport", "taskheartbeat", "workerheartbeat"]
)
def test_replies_reports_and_heartbeats_are_read_only_even_for_a_superuser(
    client, admin_user, replies, model
):
    client.force_login(admin_user)
    rows = {
        "inboundmessage": InboundMessage,
        "statusreport": StatusReport,
        "taskheartbeat": TaskHeartbeat,
        "workerheartbeat": WorkerHeartbeat,
    }[model].objects.order_by("pk")
    row = rows.first()
    before = list(rows.values())

    answers = [
        client.get(f"/admin/alerts/{model}/add/").status_code,
        client.post(f"/admin/alerts/{model}/{row.pk}/change/", {}).status_code,
        client.post(f"/admin/alerts/{model}/{row.pk}/delete/", {"post": "yes"}).status_code,
    ]

    assert answers == [403, 403, 403]
    assert list(rows.values()) == before
    assert client.get(f"/admin/alerts/{model}/{row.pk}/change/").status_code == 200


@pytest.mark.django_db
def test_staff_of_any_team_see_the_heartbeats_and_a_patient_does_not(
    client, coordinator2, clinician, patient_user, replies
):
    heartbeats = {}
    for user in (coordinator2, clinician):
        client.force_login(user)
        heartbeats[user.username] = (
            tuple(listed(client, "taskheartbeat", "task")),
            tuple(listed(client, "workerheartbeat", "worker")),
        )
    client.force_login(patient_user)
    refused = client.get("/admin/alerts/taskheartbeat/")

    assert set(heartbeats.values()) == {(("sweep",), ("w1@host",))}
    assert refused.status_code in (302, 403)
