"""Fixtures of the alerts tests: controlled due dates, recording channels, a pinned clock."""

import datetime as dt
from collections.abc import Iterator

import pytest

from netcare.celery import app as celery_app
from surveillance.models import ScheduledItem
from treatments.models import Course

UTC = dt.UTC
# A summer Monday: noon in London is 11:00 UTC, well outside the default quiet hours.
TODAY = dt.date(2026, 8, 3)
NOON = dt.datetime(2026, 8, 3, 11, 0, tzinfo=UTC)


def plan_items(course: Course, **due: dt.date | tuple[dt.date, dt.date | None]) -> None:
    """Make these the course's only active scheduled items (kind=due date, or (due, window end)).

    The surveillance app writes these rows from the plan; tests of the sweep need exact dates,
    so they replace whatever registration scheduled.
    """
    ScheduledItem.objects.filter(course=course).delete()
    for kind, value in due.items():
        due_on, window_end = value if isinstance(value, tuple) else (value, None)
        ScheduledItem.objects.create(
            course=course,
            kind=kind,
            due_on=due_on,
            window_start=due_on - dt.timedelta(days=30),
            window_end=window_end,
            why="test",
        )


@pytest.fixture
def recording(settings):
    """SMS and email both go to the RecordedMessage table, as in the integration tests."""
    settings.NETCARE_SMS_BACKEND = "alerts.testing.RecordingSMSBackend"
    settings.EMAIL_BACKEND = "alerts.testing.RecordingEmailBackend"
    return settings


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Run .delay() inline, so a task's enqueues can be observed without a broker."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous
