"""Suite-wide fixtures: which database and broker the run uses, and when tests must skip.

Under CI=true the suite must run on PostgreSQL with Redis reachable: anything else stops the
run at once. Elsewhere, tests that need them skip with the reason printed (pytest -ra).
"""

import os
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings

CI = os.environ.get("CI") == "true"
INTEGRATION_REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/1"


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def database_vendor() -> str:
    engine = settings.DATABASES["default"]["ENGINE"]
    return "postgresql" if "postgresql" in engine else "sqlite" if "sqlite" in engine else engine


def redis_available() -> bool:
    return _reachable(INTEGRATION_REDIS_URL, 6379)


def pytest_report_header(config: pytest.Config) -> list[str]:
    db = settings.DATABASES["default"]
    where = f"{db.get('HOST') or 'local'}:{db.get('PORT') or '-'}"
    redis = "reachable" if redis_available() else "unreachable"
    return [
        f"netcare: CI={CI} database={database_vendor()} ({where}) "
        f"broker={settings.CELERY_BROKER_URL.split('://')[0]} "
        f"integration redis={INTEGRATION_REDIS_URL} ({redis})"
    ]


def pytest_sessionstart(session: pytest.Session) -> None:
    if not CI:
        return
    problems = []
    if database_vendor() != "postgresql":
        problems.append("CI=true needs DATABASE_URL on PostgreSQL")
    if not redis_available():
        problems.append(f"CI=true needs Redis at {INTEGRATION_REDIS_URL}")
    if problems:
        pytest.exit("; ".join(problems), returncode=3)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needs_pg = pytest.mark.skip(
        reason="needs PostgreSQL: set DATABASE_URL=postgres://... (CI=true does)"
    )
    needs_redis = pytest.mark.skip(
        reason=f"needs Redis at {INTEGRATION_REDIS_URL} for a real Celery worker (CI=true does)"
    )
    on_pg = database_vendor() == "postgresql"
    redis_up = None
    for item in items:
        if ("postgres" in item.keywords or "integration" in item.keywords) and not on_pg:
            item.add_marker(needs_pg)
        elif "integration" in item.keywords:
            if redis_up is None:
                redis_up = redis_available()
            if not redis_up:
                item.add_marker(needs_redis)


@pytest.fixture
def team_a(db):
    from tests import factories

    return factories.team("Team A", "Clinic 1")


@pytest.fixture
def team_b(db):
    from tests import factories

    return factories.team("Team B", "Clinic 2")


@pytest.fixture
def coordinator(team_a):
    from tests import factories

    return factories.user("coordinator", "coordinator", team_a, is_staff=True)


@pytest.fixture
def clinician(team_a):
    from tests import factories

    return factories.user("clinician", "clinician", team_a, is_staff=True)


@pytest.fixture
def coordinator2(team_b):
    from tests import factories

    return factories.user("coordinator2", "coordinator", team_b, is_staff=True)


@pytest.fixture
def integration(team_a):
    from tests import factories

    return factories.user("ehr-feed", "integration", team_a)


@pytest.fixture
def course(clinician, team_a):
    """The seed patient's course, in surveillance, registered by a clinician of team A."""
    from tests import factories

    return factories.register(clinician, team_a)


@pytest.fixture
def patient_user(course):
    """The login of the seed patient (the `patient` persona)."""
    from tests import factories

    person = factories.user("patient", "patient")
    course.patient.user = person
    course.patient.save()
    return person
