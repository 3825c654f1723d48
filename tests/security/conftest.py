"""Two care teams with a morning's worth of records each, and the staff of both."""

from __future__ import annotations

import datetime as dt

import pytest

from alerts import services as alert_services
from alerts.models import CoordinatorAlert, Reminder
from surveillance import services as surveillance_services
from tests import factories
from tests.admin import conftest as admin_fixtures
from tests.admin.support import (
    Morning,
    build_morning,
    imaging,
    months_ago,
    register_operated_on,
    run_beat,
)
from tests.surveillance.test_symptom_checks import CALM
from treatments import services as treatment_services

# The admin tests' pinned clock, fast passwords and recording backends, shared.
today = admin_fixtures.today
recording = admin_fixtures.recording
_fast_password_hashing = admin_fixtures._fast_password_hashing

TEAM_PHONES = {"A": "+447700900501", "B": "+447700900502"}


@pytest.fixture
def clinician2(team_b):
    return factories.user("clinician2", "clinician", team_b, is_staff=True)


@pytest.fixture
def morning(today, recording, clinician, coordinator, team_a, coordinator2, team_b) -> Morning:
    """Both teams' courses, reminders (some failed), alerts, and one of every result kind.

    Team A's alert is acknowledged and resolved through the services, so its history has
    several versions: the history form of a resolved alert is what a revert would reopen.
    """
    built = build_morning(
        today=today, clinician=clinician, team_a=team_a, coordinator2=coordinator2, team_b=team_b
    )
    run_beat(built, today=today, now=admin_fixtures.NOW)
    for course, actor in ((built.progression, clinician), (built.theirs[-1], coordinator2)):
        surveillance_services.lab_record(
            course=course, actor=actor, analyte="chromogranin_a", value=90, unit="ng/mL",
            collected_on=today - dt.timedelta(days=5),
        )  # fmt: skip
        surveillance_services.symptom_check_record(
            course=course, actor=actor, reported_on=today - dt.timedelta(days=4), **CALM
        )
        surveillance_services.visit_record(
            course=course, actor=actor, visited_on=today - dt.timedelta(days=3), notes="seen"
        )
    for team, actor, tag in ((team_a, clinician, "A"), (team_b, coordinator2, "B")):
        # Injections are recorded only while an SSA line runs: a course on SSA for each team.
        # A phone number of this team's alone: the admin shows its replies to this team only.
        on_ssa = register_operated_on(
            actor, team, months_ago(today, 9), mrn=f"{tag}-SSA", family_name=f"Ssa{tag}",
            phone=TEAM_PHONES[tag],
        )  # fmt: skip
        imaging(on_ssa, actor, today - dt.timedelta(days=60), "recurrence", site="liver",
                resectable=False)  # fmt: skip
        treatment_services.record_event(
            course=on_ssa, type="ssa_started", occurred_on=today - dt.timedelta(days=55),
            data=factories.SSA, actor=clinician if tag == "A" else actor,
            reason="receptor-positive liver disease",
        )  # fmt: skip
        surveillance_services.injection_record(
            course=on_ssa, actor=actor, given_on=today - dt.timedelta(days=27)
        )
    # The SSA courses' reminders go out; each team's SSA patient answers HELP from its own
    # number, and the provider reports on one of each team's messages.
    run_beat(built, today=today, now=admin_fixtures.NOW)
    for team, tag in ((team_a, "A"), (team_b, "B")):
        alert_services.sms_inbound(
            from_number=TEAM_PHONES[tag], body="HELP", message_sid=f"SM-reply-{tag}"
        )
        sent = Reminder.objects.filter(course__care_team=team).exclude(provider_message_id="")
        assert sent.exists(), f"the beat sent no reminder of team {tag}"
        alert_services.status_callback(
            message_sid=sent.order_by("pk").first().provider_message_id, status="delivered"
        )
    # The heartbeats /healthz reads, shown to both teams' staff.
    alert_services.task_heartbeat_record(task="sweep")
    alert_services.heartbeat_record(worker="worker@walk")
    alert = CoordinatorAlert.objects.filter(course__care_team=team_a).order_by("pk").first()
    assert alert is not None, "the beat opened no alert for team A"
    alert_services.alert_acknowledge(alert=alert, actor=coordinator)
    alert_services.alert_resolve(alert=alert, actor=coordinator, note="imaging booked")
    return built
