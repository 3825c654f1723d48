"""Fixtures for the surveillance tests: a pinned today, risk-group courses, a notification log."""

import datetime as dt
from collections.abc import Iterator

import pytest
import time_machine

from core import events
from surveillance import notifications
from tests import factories

# After the seed patient's first imaging (2026-08-01) and the events factories.advance dates
# on 2026-09-01, so every date the tests use is in the past whenever the suite runs.
TODAY = dt.date(2026, 10, 15)


@pytest.fixture(autouse=True)
def today() -> Iterator[dt.date]:
    """Pin the clock to TODAY at noon UTC (ticking, so history rows keep their order)."""
    with time_machine.travel(dt.datetime(2026, 10, 15, 12, 0, tzinfo=dt.UTC), tick=True):
        yield TODAY


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # Each persona is created with a password; the production hasher's slowness would dominate.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def high_risk_course(clinician, team_a):
    """A G3 tumour (Ki-67 25 %) resected with an R1 margin: high risk."""
    return factories.register(
        clinician,
        team_a,
        diagnosis=factories.diagnosis_data(ki67_percent=25.0),
        surgery=factories.surgery_data(margin="R1"),
    )


@pytest.fixture
def low_risk_course(clinician, team_a):
    """Stage I (T1 N0 M0), G1, R0: low risk; chromogranin A was normal before surgery."""
    return factories.register(
        clinician,
        team_a,
        diagnosis=factories.diagnosis_data(
            t="T1", n="N0", ki67_percent=1.0, cga_elevated_preop=False
        ),
        # N0 needs every examined node negative.
        surgery=factories.surgery_data(nodes_positive=0),
    )


@pytest.fixture
def published() -> Iterator[list[notifications.SymptomCheckAssessed]]:
    """Every SymptomCheckAssessed delivered (on commit) while the test runs."""
    delivered: list[notifications.SymptomCheckAssessed] = []
    events.subscribe(notifications.SymptomCheckAssessed, delivered.append)
    yield delivered
    events.unsubscribe(delivered.append)
