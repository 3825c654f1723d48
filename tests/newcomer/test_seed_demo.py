"""The demo data shows every moving part: a realistic spread of patients, items due today and
this week, reminders sent at any hour of the day, an escalation and an urgent alert."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from alerts import services as alerts
from alerts.models import CoordinatorAlert, RecordedMessage, Reminder
from api.models import TokenVersion
from coordinator.management.commands.seed_demo import DEMO_PATIENTS, TEAM_B_PATIENTS
from surveillance.models import ImagingStudy, LabResult, ScheduledItem, SymptomCheck
from treatments.models import Course, Diagnosis, Patient, PrrtCycle

pytestmark = pytest.mark.django_db


@pytest.fixture
def recording(settings):
    settings.NETCARE_SMS_BACKEND = "alerts.testing.RecordingSMSBackend"
    settings.EMAIL_BACKEND = "alerts.testing.RecordingEmailBackend"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


def generations() -> dict[int, int]:
    return dict(TokenVersion.objects.values_list("user_id", "version"))


def seed(on_commit) -> str:
    """Run seed_demo; the alerts its events raise on commit are raised too."""
    out = io.StringIO()
    with on_commit(execute=True):
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_the_demo_is_spread_due_this_week_escalated_and_idempotent_without_admin_in_production(
    recording, django_capture_on_commit_callbacks
):
    recording.DJANGO_ENV = "production"
    seed(django_capture_on_commit_callbacks)
    users = get_user_model().objects
    assert not users.filter(username="admin").exists()

    recording.DJANGO_ENV = "development"
    counts = (Course.objects.count(), ImagingStudy.objects.count(), LabResult.objects.count())
    tokens_before = generations()
    assert "(0 new courses)" in seed(django_capture_on_commit_callbacks)
    assert counts == (
        Course.objects.count(),
        ImagingStudy.objects.count(),
        LabResult.objects.count(),
    )
    assert users.get(username="admin").is_superuser
    # A restart keeps the demo users' passwords, so their API tokens stay valid.
    assert {user: generations()[user] for user in tokens_before} == tokens_before
    assert Course.objects.count() == len(DEMO_PATIENTS) + len(TEAM_B_PATIENTS)

    today = timezone.localdate()
    patients = Patient.objects.all()
    assert set(patients.values_list("language", flat=True)) == {"en", "pt", "es", "fr"}
    assert len(set(patients.values_list("timezone", flat=True))) >= 10
    assert {"female", "male"} <= set(patients.values_list("sex", flat=True))
    ages = [(today - born).days // 365 for born in patients.values_list("birth_date", flat=True)]
    assert max(ages) - min(ages) >= 30
    assert {"I", "II", "III", "IV"} <= set(Diagnosis.objects.values_list("stage", flat=True))
    assert {"G1", "G2", "G3"} <= set(Diagnosis.objects.values_list("grade", flat=True))
    assert len(set(Course.objects.values_list("state", flat=True))) >= 8
    assert {"chromogranin_a", "u5hiaa"} <= set(LabResult.objects.values_list("analyte", flat=True))
    checks = SymptomCheck.objects.values_list("reported_on", flat=True)
    assert (max(checks) - min(checks)).days >= 300
    # A course whose charts (coordinator/charts.py) have everything to draw: markers with the
    # value before surgery, checks with weight, lines, PRRT cycles, imaging and a procedure.
    charted = Course.objects.select_related("surgery").get(patient__mrn="DEMO-006")
    markers = LabResult.objects.filter(course=charted, analyte="chromogranin_a")
    assert markers.filter(collected_on=charted.surgery.performed_on).exists()
    assert markers.count() >= 3
    weights = SymptomCheck.objects.filter(course=charted, weight_kg__isnull=False)
    assert weights.count() >= 3
    assert charted.lines.count() >= 2
    assert PrrtCycle.objects.filter(line__course=charted).count() >= 2
    assert ImagingStudy.objects.filter(course=charted).count() >= 3
    assert charted.events.filter(type="procedure_recorded").exists()

    due = ScheduledItem.objects.filter(active=True)
    assert due.filter(due_on=today).exists()
    assert due.filter(due_on__gt=today, due_on__lte=today + dt.timedelta(days=7)).exists()

    # Beat start: sweep, escalation, dispatch. Someone is outside quiet hours at any hour.
    alerts.sweep(today=today)
    alerts.escalate(today=today)
    noon = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    reminders = Reminder.objects.filter(status="pending").select_related("course__patient")
    for hour in range(24):
        instant = noon.replace(hour=hour)
        awake = [
            reminder
            for reminder in reminders
            if reminder.course.patient.sms_consent
            and alerts.quiet_hours_end(
                now=instant,
                zone=ZoneInfo(reminder.course.patient.timezone),
                start=reminder.course.patient.quiet_hours_start,
                end=reminder.course.patient.quiet_hours_end,
            )
            is None
        ]
        assert awake, f"no demo reminder can be sent at {hour:02d}:00 UTC"
    counts = alerts.dispatch_batch()

    assert counts.sent > 0
    assert RecordedMessage.objects.count() == counts.sent
    open_alerts = CoordinatorAlert.objects.filter(resolved_at__isnull=True)
    assert open_alerts.filter(kind="imaging_overdue", course__patient__mrn="DEMO-012").exists()
    assert open_alerts.filter(severity="urgent", course__patient__mrn="DEMO-013").exists()
    # A course past its decision has no open decision_pending alert.
    assert not open_alerts.filter(kind="decision_pending", course__state="ssa").exists()
