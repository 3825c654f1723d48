"""Fixtures of the admin tests: a pinned clock, fast passwords, logged-in personas."""

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine
from django.test import Client

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
