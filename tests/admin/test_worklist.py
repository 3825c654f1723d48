"""The worklist is the admin index of a coordinator: today's work on their care teams only."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alerts.models import CoordinatorAlert, Reminder, Severity
from tests import factories
from tests.admin.conftest import NOW, TODAY, logged_in
from tests.admin.support import Morning, build_morning, months_ago, register_operated_on, run_beat

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today", "recording")]

INDEX = reverse("admin:index")


@pytest.fixture
def morning(clinician, team_a, coordinator2, team_b, django_capture_on_commit_callbacks) -> Morning:
    # The alerts app listens on commit: run those callbacks as a real commit would.
    with django_capture_on_commit_callbacks(execute=True):
        built = build_morning(
            today=TODAY, clinician=clinician, team_a=team_a, coordinator2=coordinator2,
            team_b=team_b,
        )  # fmt: skip
        run_beat(built, today=TODAY, now=NOW)
    return built


def test_the_admin_index_of_a_coordinator_is_the_worklist(as_coordinator, morning):
    response = as_coordinator.get(INDEX)

    assert response.status_code == 200
    assert response.templates[0].name == "admin/coordinator/worklist.html"
    assert response.context["worklist"].today == TODAY
    # The usual list of models is still there, below the worklist.
    assert reverse("admin:treatments_patient_changelist") in response.content.decode()


def test_overdue_imaging_lists_the_teams_courses_oldest_first_and_marks_a_12_month_gap(
    as_coordinator, morning
):
    rows = as_coordinator.get(INDEX).context["worklist"].overdue_imaging

    assert [(row.course, row.critical) for row in rows] == [
        (morning.gap, True),
        (morning.late, False),
    ]
    assert rows[0].due_on < rows[1].due_on
    assert all(row.kind == "imaging" and row.status == "overdue" for row in rows)


def test_due_this_week_lists_what_falls_due_in_the_next_seven_days(as_coordinator, morning):
    rows = as_coordinator.get(INDEX).context["worklist"].due_this_week

    assert sorted((row.course, row.kind) for row in rows) == [
        (morning.soon, "cga"),
        (morning.soon, "imaging"),
        (morning.soon, "visit"),
    ]
    assert {(row.due_on - TODAY).days for row in rows} == {3}


def test_open_alerts_are_exactly_the_teams_open_alerts_the_most_severe_first(
    as_coordinator, morning
):
    listed = as_coordinator.get(INDEX).context["worklist"].alerts

    ours = CoordinatorAlert.objects.filter(
        resolved_at__isnull=True, course__care_team=morning.gap.care_team
    )
    assert {a.pk for a in listed} == {a.pk for a in ours}
    ranks = [Severity(a.severity).rank for a in listed]
    assert ranks == sorted(ranks, reverse=True)
    assert (listed[0].course, listed[0].kind, listed[0].severity) == (
        morning.gap,
        "imaging_overdue",
        "critical",
    )
    kinds = {(a.course, a.kind) for a in listed}
    assert {
        (morning.recurrence, "decision_pending"),
        (morning.progression, "decision_pending"),
        (morning.soon, "reminder_failed"),
        (morning.late, "imaging_overdue"),
    } <= kinds


def test_decisions_pending_are_the_courses_in_recurrence_or_progression(as_coordinator, morning):
    rows = as_coordinator.get(INDEX).context["worklist"].decisions

    # Waiting longest first: the recurrence was found 80 days ago, the progression 20.
    assert [(row.course, row.state, row.waiting_days) for row in rows] == [
        (morning.recurrence, "recurrence", 80),
        (morning.progression, "progression", 20),
    ]


def test_failed_reminders_are_the_teams_reminders_that_could_not_be_sent(as_coordinator, morning):
    rows = as_coordinator.get(INDEX).context["worklist"].failed_reminders

    assert sorted((r.course, r.kind, r.channel, r.status) for r in rows) == [
        (morning.soon, "cga_due", "email", "failed"),
        (morning.soon, "imaging_due", "email", "failed"),
        (morning.soon, "visit_due", "email", "failed"),
    ]


def test_the_worklist_names_no_course_of_another_team(as_coordinator, morning):
    response = as_coordinator.get(INDEX)

    text = response.content.decode()
    for course in morning.theirs:
        assert course.patient.mrn not in text
        assert course.patient.family_name not in text
        assert reverse("admin:treatments_course_change", args=[course.pk]) not in text
    wl = response.context["worklist"]
    shown = {row.course.pk for row in wl.overdue_imaging + wl.due_this_week + wl.decisions}
    shown |= {a.course_id for a in wl.alerts} | {r.course_id for r in wl.failed_reminders}
    assert shown.isdisjoint({c.pk for c in morning.theirs})


def test_the_coordinator_of_team_b_sees_team_bs_morning(coordinator2, morning):
    wl = logged_in(coordinator2).get(INDEX).context["worklist"]

    gap, late, soon, recurrence, progression = morning.theirs
    assert [(r.course, r.critical) for r in wl.overdue_imaging] == [(gap, True), (late, False)]
    assert [r.course for r in wl.decisions] == [recurrence, progression]
    assert {r.course for r in wl.failed_reminders} == {soon}


def test_every_row_links_to_its_course_page(as_coordinator, morning):
    response = as_coordinator.get(INDEX)

    text = response.content.decode()
    wl = response.context["worklist"]
    courses = {row.course.pk for row in wl.overdue_imaging + wl.due_this_week + wl.decisions}
    courses |= {a.course_id for a in wl.alerts} | {r.course_id for r in wl.failed_reminders}
    for course_id in courses:
        assert f'href="{reverse("admin:treatments_course_change", args=[course_id])}"' in text
    assert 'class="nc-badge nc-critical"' in text


def test_acknowledging_alerts_from_the_worklist_goes_through_the_alerts_service(
    as_coordinator, coordinator, morning
):
    alert = CoordinatorAlert.objects.get(course=morning.gap, kind="imaging_overdue")
    theirs = CoordinatorAlert.objects.filter(course=morning.theirs[0]).first()

    response = as_coordinator.post(
        INDEX, {"action": "acknowledge_alerts", "selected": [alert.pk, theirs.pk]}
    )

    assert response.status_code == 302
    alert.refresh_from_db()
    theirs.refresh_from_db()
    assert (alert.acknowledged_by, alert.resolved_at) == (coordinator, None)
    assert alert.history.order_by("history_date").last().history_user == coordinator
    assert theirs.acknowledged_at is None  # another team's alert: untouched


def test_resending_failed_reminders_from_the_worklist_queues_them_again(as_coordinator, morning):
    failed = list(Reminder.objects.filter(course=morning.soon, status="failed"))
    theirs = Reminder.objects.filter(course=morning.theirs[2], status="failed").first()

    response = as_coordinator.post(
        INDEX, {"action": "resend_reminders", "selected": [failed[0].pk, theirs.pk]}
    )

    assert response.status_code == 302
    failed[0].refresh_from_db()
    theirs.refresh_from_db()
    assert (failed[0].status, failed[0].attempts) == ("pending", 0)
    assert theirs.status == "failed"
    page = as_coordinator.get(INDEX)
    assert len(page.context["worklist"].failed_reminders) == len(failed) - 1


def test_a_user_without_a_clinical_role_gets_the_plain_admin_index(team_a):
    staff = factories.user("it-support", None, team_a, is_staff=True)

    response = logged_in(staff).get(INDEX)

    assert response.status_code == 200
    assert "worklist" not in response.context


def test_an_empty_morning_says_there_is_nothing_to_do(as_coordinator):
    response = as_coordinator.get(INDEX)

    assert response.context["worklist"].empty
    assert 'id="worklist-empty"' in response.content.decode()


# --- Query count: one query per section, whatever the number of courses ----------------------


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(INDEX).status_code == 200
    return len(captured)


def _add_courses(clinician, team_a, how_many: int) -> None:
    for n in range(how_many):
        course = register_operated_on(
            clinician, team_a, months_ago(TODAY, 14, n), mrn=f"MORE-{n}", family_name=f"More{n}"
        )
        factories.advance(
            course, clinician, ("recurrence_detected", {"site": "liver", "resectable": True}),
            on=TODAY,
        )  # fmt: skip


def test_the_worklist_reads_the_same_number_of_queries_at_two_sizes(
    as_coordinator, clinician, team_a, coordinator2, team_b, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        morning = build_morning(
            today=TODAY, clinician=clinician, team_a=team_a, coordinator2=coordinator2,
            team_b=team_b,
        )  # fmt: skip
        run_beat(morning, today=TODAY, now=NOW)
    small = _queries(as_coordinator)
    rows_small = _rows(as_coordinator)

    with django_capture_on_commit_callbacks(execute=True):
        _add_courses(clinician, team_a, 20)
        run_beat(morning, today=TODAY, now=NOW)
    large = _queries(as_coordinator)

    assert _rows(as_coordinator) >= rows_small + 60  # overdue imaging, decisions, alerts
    assert large == small
    assert small <= 15


def _rows(client) -> int:
    wl = client.get(INDEX).context["worklist"]
    return sum(
        len(section)
        for section in (
            wl.overdue_imaging,
            wl.due_this_week,
            wl.alerts,
            wl.decisions,
            wl.failed_reminders,
        )
    )
