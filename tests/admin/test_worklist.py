"""The worklist is the admin index of a coordinator: today's work on their care teams only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alerts import services as alert_services
from alerts.models import CoordinatorAlert, Reminder, Severity
from surveillance import schedule
from tests import factories
from tests.admin.conftest import NOW, TODAY, logged_in
from tests.admin.support import (
    build_morning,
    months_ago,
    overdue_items,
    register_operated_on,
    run_beat,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today", "recording")]

INDEX = reverse("admin:index")


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
            wl.overdue,
            wl.due_this_week,
            wl.alerts,
            wl.decisions,
            wl.failed_reminders,
        )
    )


# --- Version 2: every kind, grouped, with severities, filters and counts -----------------------


@pytest.mark.parametrize("kind", list(schedule.Kind), ids=str)
def test_every_kind_of_the_schedule_shows_as_an_overdue_item_in_its_group(
    as_coordinator, clinician, team_a, kind
):
    course = register_operated_on(clinician, team_a, months_ago(TODAY, 3), mrn="KIND-1")
    overdue_items(course, {kind: TODAY - dt.timedelta(days=10)})

    response = as_coordinator.get(INDEX)

    wl = response.context["worklist"]
    assert [(row.course, row.kind, row.status, row.days) for row in wl.overdue] == [
        (course, str(kind), "overdue", 10)
    ]
    assert [(group.kind, len(group.rows)) for group in wl.overdue_groups] == [(str(kind), 1)]
    anchor = f'id="overdue-{str(kind).replace("_", "-")}"'
    text = response.content.decode()
    assert anchor in text
    assert f'data-course="{course.pk}" data-kind="{kind}"' in text[text.index(anchor) :]


def test_an_overdue_item_takes_the_severity_of_its_open_alert_once_escalation_has_run(
    as_coordinator, clinician, team_a, django_capture_on_commit_callbacks
):
    course = register_operated_on(clinician, team_a, months_ago(TODAY, 3), mrn="SEV-1")
    overdue_items(
        course,
        {
            schedule.Kind.VISIT: TODAY - dt.timedelta(days=5),
            schedule.Kind.SSA_INJECTION: TODAY - dt.timedelta(days=30),
        },
    )
    before = {
        r.kind: (r.severity, r.alerted)
        for r in as_coordinator.get(INDEX).context["worklist"].overdue
    }
    with django_capture_on_commit_callbacks(execute=True):
        alert_services.escalate(today=TODAY, now=NOW)
    alerts = dict(CoordinatorAlert.objects.filter(course=course).values_list("kind", "severity"))

    after = {
        r.kind: (r.severity, r.alerted)
        for r in as_coordinator.get(INDEX).context["worklist"].overdue
    }

    # Before escalation: the severity escalation gives the kind; after: the alert's own.
    assert before == {
        "visit": (alert_services.OVERDUE_SEVERITY[schedule.Kind.VISIT], False),
        "ssa_injection": (alert_services.OVERDUE_SEVERITY[schedule.Kind.SSA_INJECTION], False),
    }
    assert after == {
        "visit": (alerts["visit_overdue"], True),
        "ssa_injection": (alerts["ssa_injection_overdue"], True),
    }


def test_a_raised_alert_severity_is_the_items_severity(as_coordinator, morning):
    alert = CoordinatorAlert.objects.get(course=morning.late, kind="imaging_overdue")
    CoordinatorAlert.objects.filter(pk=alert.pk).update(severity=Severity.URGENT)

    rows = as_coordinator.get(INDEX).context["worklist"].overdue_imaging

    assert [(row.course, row.severity) for row in rows] == [
        (morning.gap, "critical"),
        (morning.late, "urgent"),
    ]


def test_overdue_groups_put_the_most_severe_kind_first_with_a_count_each(as_coordinator, morning):
    response = as_coordinator.get(INDEX)

    groups = response.context["worklist"].overdue_groups
    assert groups[0].kind == "imaging" and groups[0].top_severity == "critical"
    ranks = [Severity(g.top_severity).rank for g in groups]
    assert ranks == sorted(ranks, reverse=True)
    text = response.content.decode()
    for group in groups:
        assert f"{group.label[0].upper()}{group.label[1:]} ({len(group.rows)})" in text


def test_the_kind_filter_narrows_the_schedule_sections_and_the_alerts(as_coordinator, morning):
    wl = as_coordinator.get(INDEX, {"kind": "visit"}).context["worklist"]

    assert wl.overdue + wl.due_this_week
    assert {row.kind for row in wl.overdue + wl.due_this_week} == {"visit"}
    assert {alert.kind for alert in wl.alerts} <= {"visit_overdue"}


def test_the_severity_filter_keeps_the_critical_imaging_gap_only(as_coordinator, morning):
    wl = as_coordinator.get(INDEX, {"severity": "critical"}).context["worklist"]

    assert [(row.course, row.kind) for row in wl.overdue] == [(morning.gap, "imaging")]
    assert wl.due_this_week == []
    assert {(alert.course, alert.severity) for alert in wl.alerts} == {(morning.gap, "critical")}


def test_the_care_team_filter_offers_only_the_users_teams(coordinator, team_a, team_b, morning):
    team_a.members.add(coordinator)
    team_b.members.add(coordinator)  # now a member of both
    client = logged_in(coordinator)

    both = client.get(INDEX).context["worklist"]
    only_b = client.get(INDEX, {"care_team": team_b.pk}).context["worklist"]

    assert {row.course.care_team_id for row in both.overdue} == {team_a.pk, team_b.pk}
    assert {row.course.care_team_id for row in only_b.overdue} == {team_b.pk}
    assert {a.course.care_team_id for a in only_b.alerts} == {team_b.pk}
    assert {r.course.care_team_id for r in only_b.decisions} == {team_b.pk}
    counts = {f.value: f.count for f in both.facets["care_team"]}
    assert counts == {
        str(team_a.pk): len(
            [r for r in both.overdue + both.due_this_week if r.course.care_team_id == team_a.pk]
        ),
        str(team_b.pk): len(
            [r for r in both.overdue + both.due_this_week if r.course.care_team_id == team_b.pk]
        ),
    }


def test_each_filter_value_counts_the_rows_it_would_show(as_coordinator, morning):
    wl = as_coordinator.get(INDEX, {"severity": "critical"}).context["worklist"]
    everything = as_coordinator.get(INDEX).context["worklist"]

    kinds = {f.value: f.count for f in wl.facets["kind"]}
    severities = {f.value: f.count for f in wl.facets["severity"]}
    rows = everything.overdue + everything.due_this_week
    # The kind counts obey the severity chosen; the severity counts ignore it.
    assert kinds["imaging"] == 1 and sum(kinds.values()) == 1
    for severity in Severity.values:
        assert severities[severity] == len([r for r in rows if r.severity == severity])
    assert set(kinds) == {str(k) for k in schedule.Kind}


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "x-ray"},
        {"severity": "apocalyptic"},
        {"care_team": "abc"},
        {"care_team": "²"},
        {"care_team": "999999"},
    ],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()),
)
def test_an_unknown_filter_value_is_a_400_with_a_clear_message(as_coordinator, morning, params):
    response = as_coordinator.get(INDEX, params)

    assert response.status_code == 400
    text = response.content.decode()
    assert 'data-code="invalid_filter"' in text
    assert "Select a valid choice" in text
    assert morning.gap.patient.family_name not in text  # nothing shown unfiltered


def test_another_teams_care_team_id_is_an_unknown_value(as_coordinator, team_b, morning):
    response = as_coordinator.get(INDEX, {"care_team": team_b.pk})

    assert response.status_code == 400
    assert all(c.patient.family_name not in response.content.decode() for c in morning.theirs)


# --- Query count with every kind overdue ---------------------------------------------------


def _courses_with_every_kind_overdue(clinician, team_a, how_many: int, start: int) -> None:
    for n in range(start, start + how_many):
        course = register_operated_on(
            clinician, team_a, months_ago(TODAY, 14), mrn=f"ALL-{n}", family_name=f"All{n}"
        )
        overdue_items(
            course,
            {kind: TODAY - dt.timedelta(days=3 + i) for i, kind in enumerate(schedule.Kind)},
        )


def test_the_worklist_reads_the_same_number_of_queries_at_5_and_50_courses_of_every_kind(
    as_coordinator, clinician, team_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _courses_with_every_kind_overdue(clinician, team_a, 5, 0)
        alert_services.escalate(today=TODAY, now=NOW)
    small = _queries(as_coordinator)
    small_wl = as_coordinator.get(INDEX).context["worklist"]

    with django_capture_on_commit_callbacks(execute=True):
        _courses_with_every_kind_overdue(clinician, team_a, 45, 5)
        alert_services.escalate(today=TODAY, now=NOW)
    large = _queries(as_coordinator)
    large_wl = as_coordinator.get(INDEX).context["worklist"]

    assert {row.kind for row in small_wl.overdue} == {str(k) for k in schedule.Kind}
    assert len(small_wl.overdue) == 5 * len(schedule.Kind)
    assert len(large_wl.overdue) == 200  # the section's limit, marked as cut
    assert "overdue" in large_wl.truncated
    assert large == small
