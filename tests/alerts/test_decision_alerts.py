"""Alerts that follow decisions: a pending decision resolves when it is recorded and escalates
when left unanswered; an overdue item's alert resolves when the item is done; carcinoid
syndrome newly recorded in surveillance raises a high alert."""

import datetime as dt

import pytest
from django.utils import timezone

from alerts import services
from alerts.models import CoordinatorAlert
from surveillance import services as surveillance
from tests import factories
from treatments import services as treatments
from treatments.roles import SYSTEM_USERNAME

DAY = dt.timedelta(days=1)
RECURRENCE = ("recurrence_detected", {"site": "liver", "resectable": True})
PROGRESSION = ("progression_detected", {"recist": "PD"})
# The clinic may record events on these days (after the surgery of 2026-02-01, before today).
ON = dt.date(2026, 9, 1)


def record(course, actor, kind, data, on=ON, **extra):
    treatments.record_event(
        course=course, type=kind, occurred_on=on, data=data, actor=actor, reason="test", **extra
    )
    course.refresh_from_db()


def decision_alert(course):
    return CoordinatorAlert.objects.get(course=course, kind="decision_pending")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("ssa_started", factories.SSA),
        ("resection_started", {"procedure": "liver segmentectomy"}),
        ("watchful_waiting_started", {"rationale": "low_volume_stable"}),
        ("supportive_care_started", {}),
        ("course_closed", {"reason": "deceased"}),
    ],
)
def test_a_decision_recorded_after_a_recurrence_resolves_the_decision_alert_naming_the_event(
    course, clinician, django_capture_on_commit_callbacks, kind, data
):
    with django_capture_on_commit_callbacks(execute=True):
        record(course, clinician, *RECURRENCE)
    assert decision_alert(course).resolved_at is None

    with django_capture_on_commit_callbacks(execute=True):
        record(course, clinician, kind, data, on=ON + 7 * DAY)

    alert = decision_alert(course)
    assert alert.resolved_at is not None
    assert alert.resolved_by.username == SYSTEM_USERNAME
    assert kind in alert.note and "2026-09-08" in alert.note
    assert alert.history.first().history_change_reason.startswith("resolved: decision recorded")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "data", "override"),
    [
        ("everolimus_started", {"dose_mg": 10}, False),
        ("line_changed", {"change": "interval", "interval_days": 14}, True),
    ],
)
def test_a_line_started_or_changed_in_progression_resolves_the_decision_alert(
    course, clinician, django_capture_on_commit_callbacks, kind, data, override
):
    with django_capture_on_commit_callbacks(execute=True):
        record(course, clinician, *RECURRENCE)
        record(course, clinician, "ssa_started", factories.SSA, on=ON + DAY)
        record(course, clinician, *PROGRESSION, on=ON + 60 * DAY)
    assert course.state == "progression"
    pending = CoordinatorAlert.objects.filter(course=course, kind="decision_pending")
    assert [(a.details["state"], a.resolved_at is None) for a in pending.order_by("pk")] == [
        ("recurrence", False),
        ("progression", True),
    ]

    extra = {"override": True, "override_reason": "tumour board"} if override else {}
    with django_capture_on_commit_callbacks(execute=True):
        record(course, clinician, kind, data, on=ON + 70 * DAY, **extra)

    assert not CoordinatorAlert.objects.filter(
        course=course, kind="decision_pending", resolved_at__isnull=True
    ).exists()
    assert kind in CoordinatorAlert.objects.filter(kind="decision_pending").latest("pk").note


@pytest.mark.django_db
def test_events_that_are_not_the_decision_leave_it_open(
    course, clinician, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record(course, clinician, *RECURRENCE)
        record(course, clinician, "status_updated", {"sstr_imaging": "positive"}, on=ON + DAY)

    assert decision_alert(course).resolved_at is None


@pytest.mark.django_db
def test_an_unanswered_decision_escalates_one_severity_once_after_four_weeks(
    course, clinician, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record(course, clinician, *RECURRENCE)
    opened = decision_alert(course).opened_at
    today = timezone.localdate()

    services.escalate(today=today, now=opened + 27 * DAY)
    assert decision_alert(course).severity == "high"

    services.escalate(today=today, now=opened + 28 * DAY)
    services.escalate(today=today, now=opened + 28 * DAY)  # a duplicate tick
    services.escalate(today=today, now=opened + 80 * DAY)

    alert = decision_alert(course)
    assert alert.severity == "urgent"
    assert alert.resolved_at is None
    assert alert.history.filter(history_change_reason__startswith="decision pending").count() == 1


@pytest.mark.django_db
def test_the_decision_clock_follows_its_setting(
    course, clinician, settings, django_capture_on_commit_callbacks
):
    settings.ALERTS_DECISION_CLOCK_DAYS = 7
    with django_capture_on_commit_callbacks(execute=True):
        record(course, clinician, *RECURRENCE)
    opened = decision_alert(course).opened_at

    services.escalate(today=timezone.localdate(), now=opened + 6 * DAY)
    assert decision_alert(course).severity == "high"
    services.escalate(today=timezone.localdate(), now=opened + 7 * DAY)
    assert decision_alert(course).severity == "urgent"


@pytest.mark.django_db
def test_an_answered_decision_does_not_escalate(
    course, clinician, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record(course, clinician, *RECURRENCE)
        record(course, clinician, "ssa_started", factories.SSA, on=ON + DAY)
    opened = decision_alert(course).opened_at

    services.escalate(today=timezone.localdate(), now=opened + 60 * DAY)

    assert decision_alert(course).severity == "high"


@pytest.mark.django_db
def test_an_overdue_imaging_alert_resolves_once_the_imaging_is_recorded(course, clinician):
    # Registration plans the first imaging six months after the surgery of 2026-02-01.
    today = dt.date(2026, 9, 1)
    services.escalate(today=today, now=timezone.now())
    alert = CoordinatorAlert.objects.get(course=course, kind="imaging_overdue")
    assert alert.resolved_at is None

    surveillance.imaging_record(
        course=course,
        actor=clinician,
        performed_on=dt.date(2026, 8, 25),
        modality="ct",
        purpose="surveillance",
        result="ned",
    )
    services.escalate(today=today, now=timezone.now())
    services.escalate(today=today, now=timezone.now())

    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert alert.note.startswith("imaging done")
    # Only the item that was done: the symptom check is still overdue.
    assert list(
        CoordinatorAlert.objects.filter(course=course, resolved_at__isnull=True).values_list(
            "kind", flat=True
        )
    ) == ["symptom_check_overdue"]


@pytest.mark.django_db
def test_an_overdue_alert_stays_open_while_its_item_is_still_overdue(course):
    today = dt.date(2026, 9, 1)
    services.escalate(today=today, now=timezone.now())
    services.escalate(today=today + DAY, now=timezone.now())

    assert CoordinatorAlert.objects.get(course=course, kind="imaging_overdue").resolved_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("already", "expected"),
    [(False, ["carcinoid_syndrome_in_surveillance"]), (True, [])],
)
def test_carcinoid_syndrome_newly_recorded_in_surveillance_raises_a_high_alert(
    course, clinician, django_capture_on_commit_callbacks, already, expected
):
    if already:
        with django_capture_on_commit_callbacks(execute=True):
            record(course, clinician, "status_updated", {"carcinoid_syndrome": True})
        CoordinatorAlert.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        record(course, clinician, "status_updated", {"carcinoid_syndrome": True}, on=ON + DAY)

    open_kinds = list(
        CoordinatorAlert.objects.filter(course=course, resolved_at__isnull=True).values_list(
            "kind", "severity"
        )
    )
    assert open_kinds == [(kind, "high") for kind in expected]


@pytest.mark.django_db
def test_carcinoid_syndrome_recorded_outside_surveillance_raises_no_syndrome_alert(
    course, clinician, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        record(course, clinician, *RECURRENCE)
        record(course, clinician, "status_updated", {"carcinoid_syndrome": True}, on=ON + DAY)

    assert not CoordinatorAlert.objects.filter(kind="carcinoid_syndrome_in_surveillance").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("margin", "expected"), [("R2", [("decision_pending", "high")]), ("R0", [])]
)
def test_registration_with_disease_left_opens_a_decision_alert(
    clinician, team_a, django_capture_on_commit_callbacks, margin, expected
):
    with django_capture_on_commit_callbacks(execute=True):
        course = factories.register(
            clinician, team_a, surgery=factories.surgery_data(margin=margin)
        )

    assert (
        list(CoordinatorAlert.objects.filter(course=course).values_list("kind", "severity"))
        == expected
    )
