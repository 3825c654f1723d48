"""Fixtures of the API tests: JWT clients for the personas, a second team's world, figures."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests import factories
from tests.api.figures import FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for section, lines in FIGURES.items():
        terminalreporter.section(f"figures: {section}", sep="-")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:
    # Every persona has a password and every client logs in through the token endpoint; the
    # production hasher's deliberate slowness would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttles() -> Iterator[None]:
    # Throttle counters live in the cache, which outlives a test's database transaction: without
    # this, logins of earlier tests would count against the token endpoint's rate in later ones.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api() -> Callable[[Any], APIClient]:
    """An API client logged in as a given user through the real JWT endpoint."""

    def login(user) -> APIClient:
        client = APIClient()
        response = client.post(
            "/api/v1/auth/token/",
            {"username": user.username, "password": factories.PASSWORD},
            format="json",
        )
        assert response.status_code == 200, response.content
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
        return client

    return login


@pytest.fixture
def course_b(coordinator2, team_b):
    """A course of team B: what team A's people must never see, nor learn exists."""
    return factories.register(coordinator2, team_b, given_name="Bea", family_name="Other")


@pytest.fixture
def neighbour_course(clinician, team_a):
    """Another patient of team A: visible to team A's staff, never to the seed patient."""
    return factories.register(clinician, team_a, given_name="Nina", family_name="Next")
