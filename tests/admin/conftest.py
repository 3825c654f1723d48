"""Fixtures of the admin tests: a pinned clock, fast passwords, logged-in personas, and both
teams' morning (courses, reminders, alerts) after the beat has run."""

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from django.test import Client

from tests.admin.support import Morning, build_morning, run_beat

# A Friday in November: every date the scenarios use lies before it.
TODAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture
def today() -> Iterator[dt.date]:
    """Pin the clock to TODAY at noon UTC (ticking, so history rows keep their order)."""
    with time_machine.travel(NOW, tick=True):
        yield TODAY


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # Each persona is created with a password; the production hasher's deliberate slowness
    # would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def recording(settings):
    """Reminders go to the recording backends; the `soon` patients' addresses refuse them."""
    settings.NETCARE_SMS_BACKEND = "alerts.testing.RecordingSMSBackend"
    settings.EMAIL_BACKEND = "alerts.testing.RecordingEmailBackend"
    settings.ALERTS_RECORDING_FAIL_PERMANENT_TO = ("soon-a@example.org", "soon-b@example.org")
    return settings


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user, backend=MODEL_BACKEND)
    return client


@pytest.fixture
def as_coordinator(coordinator) -> Client:
    return logged_in(coordinator)


@pytest.fixture
def as_clinician(clinician) -> Client:
    return logged_in(clinician)


@pytest.fixture
def morning(clinician, team_a, coordinator2, team_b, django_capture_on_commit_callbacks) -> Morning:
    """Both teams' morning on ``TODAY``, after the beat's sweep and escalation ran."""
    # The alerts app listens on commit: run those callbacks as a real commit would.
    with django_capture_on_commit_callbacks(execute=True):
        built = build_morning(
            today=TODAY, clinician=clinician, team_a=team_a, coordinator2=coordinator2,
            team_b=team_b,
        )  # fmt: skip
        run_beat(built, today=TODAY, now=NOW)
    return built
