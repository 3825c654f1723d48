"""Every task gets the project's policy from settings: late acks, bounded retries with backoff."""

import weakref

import pytest
from django.conf import settings

import alerts.tasks  # noqa: F401 - registers the tasks the policy is checked on
from netcare.celery import app

POLICY = settings.CELERY_TASK_ANNOTATIONS["*"]
calls: list[int] = []


@app.task(name="tests.netcare.flaky")
def flaky(failures: int) -> int:
    """Fails with a connection error ``failures`` times, then answers its number of calls."""
    calls.append(1)
    if len(calls) <= failures:
        raise ConnectionError("broker went away")
    return len(calls)


@pytest.fixture(autouse=True)
def fresh_calls():
    calls.clear()


ALERTS_TASKS = sorted(name for name in app.tasks if name.startswith("alerts."))


def test_the_alerts_tasks_are_registered():
    assert "alerts.dispatch" in ALERTS_TASKS
    assert "alerts.sweep" in ALERTS_TASKS


@pytest.mark.parametrize("name", ALERTS_TASKS)
def test_every_alerts_task_carries_the_policy_of_settings(name):
    task = app.tasks[name]

    assert task.acks_late is True
    assert task.reject_on_worker_lost is False
    assert {key: getattr(task, key) for key in POLICY} == POLICY


def test_a_task_failing_with_a_connection_error_is_retried_until_it_succeeds():
    result = flaky.apply(args=[2])

    assert result.get() == 3  # two failures, then the third call answers


def test_a_task_that_keeps_failing_stops_after_the_maximum_number_of_retries():
    result = flaky.apply(args=[100])

    assert len(calls) == POLICY["max_retries"] + 1
    assert isinstance(result.result, ConnectionError)


def test_beat_start_repairs_the_schedule_through_the_alerts_app():
    from celery.signals import beat_init

    from alerts import beat

    connected = [ref() if isinstance(ref, weakref.ref) else ref for _, ref in beat_init.receivers]

    assert beat.on_beat_init in connected
