"""The health endpoint answers for the database, the broker and the periodic tasks' ages."""

import datetime as dt

import pytest
from django.utils import timezone

from alerts import services, tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def tasks_ran_just_now():
    for task in services.WATCHED_TASKS:
        services.task_heartbeat_record(task=task)


def test_it_reports_ok_when_database_broker_and_tasks_answer(client, tasks_ran_just_now):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert (body["down"], body["late"]) == ([], [])
    assert body["database"]["ok"] is True
    assert set(body["tasks"]) == {"sweep", "dispatch", "escalate"}
    assert all(0 <= task["age_seconds"] < 60 for task in body["tasks"].values())


def test_it_answers_503_naming_the_broker_when_it_is_down(client, tasks_ran_just_now):
    from netcare.celery import app

    # A closed port on loopback: the broker is unreachable, the database is not.
    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = original

    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]
    assert response.json()["database"]["ok"] is True


def test_a_task_older_than_its_bound_is_named_late_with_a_503(client, settings):
    settings.HEALTHZ_MAX_TASK_AGE = {"sweep": 900, "dispatch": 60, "escalate": 7200}
    now = timezone.now()
    services.task_heartbeat_record(task="sweep", now=now - dt.timedelta(seconds=100))
    services.task_heartbeat_record(task="dispatch", now=now - dt.timedelta(seconds=61))
    services.task_heartbeat_record(task="escalate", now=now - dt.timedelta(seconds=7100))

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert (body["down"], body["late"]) == ([], ["dispatch"])
    assert body["tasks"]["dispatch"]["max_age_seconds"] == 60
    assert 61 <= body["tasks"]["dispatch"]["age_seconds"] < 120
    assert body["tasks"]["escalate"]["late"] is False


def test_a_task_that_never_ran_is_late(client, settings):
    services.task_heartbeat_record(task="sweep")
    services.task_heartbeat_record(task="escalate")

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["late"] == ["dispatch"]
    assert response.json()["tasks"]["dispatch"]["age_seconds"] is None


def test_running_each_periodic_task_records_its_heartbeat(client, eager_tasks):
    tasks.sweep.delay(today="2026-08-03")
    tasks.dispatch.delay()
    tasks.escalate.delay(today="2026-08-03")

    ages = services.task_ages()

    assert all(age is not None and age < 60 for age in ages.values())
    assert client.get("/healthz").json()["late"] == []


@pytest.fixture
def eager_tasks():
    from netcare.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = previous
