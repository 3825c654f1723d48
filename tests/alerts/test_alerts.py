"""Coordinator alerts: raised by events, symptom checks and escalation, one open per kind."""

import datetime as dt

import pytest

from alerts import services
from alerts.models import CoordinatorAlert
from alerts.selectors import alerts_visible_to, reminders_visible_to
from core.errors import NotFound
from surveillance import services as surveillance
from surveillance.models import SurveillancePlan
from tests import factories
from tests.alerts.conftest import NOON, plan_items
from treatments import services as treatments
from treatments.roles import SYSTEM_USERNAME

DAY = dt.timedelta(days=1)
NEGATIVE_CHECK = {
    "flushing_per_day": 0,
    "stools_per_day": 1,
    "wheezing": False,
    "abdominal_pain": 0,
    "vomiting": False,
    "no_stool_or_gas": False,
    "palpitations_or_swelling": False,
    "weight_loss_kg": 0,
}
SYNDROME_CHECK = NEGATIVE_CHECK | {"flushing_per_day": 4, "stools_per_day": 5}


def open_alerts(course):
    return list(
        CoordinatorAlert.objects.filter(course=course, resolved_at__isnull=True)
        .order_by("kind")
        .values_list("kind", "severity", "occurrences")
    )


@pytest.mark.django_db
def test_a_second_raise_adds_to_the_open_alert_and_severity_only_rises(course):
    services.alert_raise(course=course, kind="x", severity="high", details={"a": 1}, now=NOON)
    again = services.alert_raise(
        course=course, kind="x", severity="normal", details={"b": 2}, now=NOON + DAY
    )

    assert open_alerts(course) == [("x", "high", 2)]
    assert (again.opened_at, again.last_seen_at, again.details) == (
        NOON,
        NOON + DAY,
        {"a": 1, "b": 2},
    )
    services.alert_raise(course=course, kind="x", severity="urgent", now=NOON + 2 * DAY)
    assert open_alerts(course) == [("x", "urgent", 3)]
    history = again.history.order_by("history_date")
    assert {h.history_user.username for h in history} == {SYSTEM_USERNAME}


@pytest.mark.django_db
def test_after_resolving_the_next_occurrence_opens_a_new_alert(course, coordinator):
    first = services.alert_raise(course=course, kind="x", severity="high")

    services.alert_acknowledge(alert=first, actor=coordinator)
    services.alert_resolve(alert=first, actor=coordinator, note="Called the patient")
    second = services.alert_raise(course=course, kind="x", severity="high")

    first.refresh_from_db()
    assert second.pk != first.pk
    assert (first.resolved_by, first.note, first.acknowledged_by) == (
        coordinator,
        "Called the patient",
        coordinator,
    )
    last = first.history.order_by("history_date").last()
    assert (last.history_user, last.history_change_reason) == (
        coordinator,
        "resolved: Called the patient",
    )


@pytest.mark.django_db
def test_another_teams_coordinator_cannot_touch_the_alert(course, coordinator2):
    alert = services.alert_raise(course=course, kind="x", severity="high")

    with pytest.raises(NotFound):
        services.alert_acknowledge(alert=alert, actor=coordinator2)
    with pytest.raises(NotFound):
        services.alert_resolve(alert=alert, actor=coordinator2)

    alert.refresh_from_db()
    assert alert.acknowledged_at is None and alert.resolved_at is None


@pytest.mark.django_db
def test_a_positive_symptom_check_raises_one_alert_per_finding_and_repeats_add_to_it(
    course, patient_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        surveillance.symptom_check_record(
            course=course, actor=patient_user, reported_on=dt.date(2026, 9, 1), **SYNDROME_CHECK
        )
    with django_capture_on_commit_callbacks(execute=True):
        surveillance.symptom_check_record(
            course=course, actor=patient_user, reported_on=dt.date(2026, 9, 8), **NEGATIVE_CHECK
        )
    with django_capture_on_commit_callbacks(execute=True):
        recorded = surveillance.symptom_check_record(
            course=course, actor=patient_user, reported_on=dt.date(2026, 9, 15), **SYNDROME_CHECK
        )

    assert open_alerts(course) == [("carcinoid_syndrome", "high", 2)]
    alert = CoordinatorAlert.objects.get()
    assert alert.details["symptom_check_id"] == recorded.check.pk
    assert "chromogranin A" in alert.details["advice"]


@pytest.mark.django_db
def test_recurrence_raises_a_decision_pending_alert_on_commit(
    course, clinician, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        factories.advance(
            course, clinician, ("recurrence_detected", {"site": "liver", "resectable": False})
        )
    assert not CoordinatorAlert.objects.exists()  # nothing before the commit

    for callback in callbacks:
        callback()

    assert open_alerts(course) == [("decision_pending", "high", 1)]
    assert CoordinatorAlert.objects.get().details["state"] == "recurrence"


@pytest.mark.django_db
def test_an_overridden_guard_raises_a_high_alert(
    clinician, team_a, django_capture_on_commit_callbacks
):
    course = factories.register(
        clinician, team_a, diagnosis=factories.diagnosis_data(sstr_imaging="negative")
    )
    with django_capture_on_commit_callbacks(execute=True):
        factories.advance(
            course, clinician, ("recurrence_detected", {"site": "liver", "resectable": False})
        )
        treatments.record_event(
            course=course,
            type="ssa_started",
            occurred_on=dt.date(2026, 9, 10),
            data=factories.SSA,
            actor=clinician,
            reason="tumour board",
            override=True,
            override_reason="uptake seen on a repeat scan",
        )

    # The ssa_started is the decision: it resolves the decision_pending alert.
    assert open_alerts(course) == [("guard_overridden", "high", 1)]
    guards = CoordinatorAlert.objects.get(kind="guard_overridden").details["guards"]
    assert guards and all(isinstance(g, dict) for g in guards)


@pytest.mark.django_db
def test_escalation_raises_overdue_alerts_by_severity_and_repeats_write_nothing(
    course, django_assert_max_num_queries
):
    today = dt.date(2026, 9, 1)  # the anchor (surgery 2026-02-01) is 7 months back
    plan_items(course, imaging=today - 10 * DAY, symptom_check=today - 2 * DAY, visit=today)

    written = services.escalate(today=today, now=NOON)
    again = services.escalate(today=today, now=NOON + dt.timedelta(hours=1))

    assert (written, again) == (2, 0)
    assert open_alerts(course) == [
        ("imaging_overdue", "high", 1),
        ("symptom_check_overdue", "normal", 1),
    ]
    assert (
        "imaging_gap_exceeded" not in CoordinatorAlert.objects.get(kind="imaging_overdue").details
    )


@pytest.mark.django_db
def test_an_imaging_gap_past_twelve_months_is_critical(course):
    plan_items(course, imaging=dt.date(2026, 12, 1))
    services.escalate(today=dt.date(2026, 12, 20), now=NOON)
    assert open_alerts(course) == [("imaging_overdue", "high", 1)]

    # Twelve months after the anchor (the surgery on 2026-02-01) with no imaging since.
    services.escalate(today=dt.date(2027, 2, 2), now=NOON + 40 * DAY)

    assert open_alerts(course) == [("imaging_overdue", "critical", 2)]
    details = CoordinatorAlert.objects.get().details
    assert details["imaging_gap_exceeded"] is True
    print("escalation: imaging gap past 12 months -> critical")


@pytest.mark.django_db
def test_escalation_skips_closed_courses_and_survives_a_poison_row(
    course, clinician, team_a, caplog
):
    closed = factories.register(clinician, team_a)
    no_plan = factories.register(clinician, team_a)
    factories.advance(closed, clinician, ("course_closed", {"reason": "deceased"}))
    today = dt.date(2026, 9, 1)
    for c in (course, closed, no_plan):
        plan_items(c, imaging=today - 5 * DAY)
    SurveillancePlan.objects.filter(course=no_plan).delete()

    written = services.escalate(today=today, now=NOON)

    assert written == 1
    assert open_alerts(course) == [("imaging_overdue", "high", 1)]
    assert open_alerts(closed) == open_alerts(no_plan) == []
    assert "escalation skipped scheduled item" in caplog.text


@pytest.mark.django_db
def test_the_worklist_shows_each_coordinator_their_teams_alerts_by_status(
    course, coordinator, coordinator2, patient_user
):
    open_one = services.alert_raise(course=course, kind="a", severity="high")
    seen = services.alert_raise(course=course, kind="b", severity="high")
    done = services.alert_raise(course=course, kind="c", severity="high")
    services.alert_acknowledge(alert=seen, actor=coordinator)
    services.alert_resolve(alert=done, actor=coordinator)

    def kinds(user, status=None):
        return sorted(a.kind for a in alerts_visible_to(user, status=status))

    assert kinds(coordinator) == ["a", "b", "c"]
    assert (kinds(coordinator, "open"), kinds(coordinator, "acknowledged")) == (["a"], ["b"])
    assert kinds(coordinator, "resolved") == ["c"]
    assert [
        CoordinatorAlert.objects.get(pk=alert.pk).status for alert in (open_one, seen, done)
    ] == ["open", "acknowledged", "resolved"]
    assert kinds(coordinator2) == kinds(patient_user) == []
    assert reminders_visible_to(coordinator2).count() == 0
