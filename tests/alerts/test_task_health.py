"""/healthz on a fresh install: a task that never ran is late only once beat has been up
longer than the task's bound; one that ran is late when its last run is older than that."""

import datetime as dt

import pytest
from django.utils import timezone

from alerts import services

pytestmark = pytest.mark.django_db

BOUNDS = {"sweep": 900, "dispatch": 60, "escalate": 3600}
NOW = dt.datetime(2026, 8, 3, 11, 0, tzinfo=dt.UTC)


def seconds_ago(seconds: float | None) -> dt.datetime | None:
    return None if seconds is None else NOW - dt.timedelta(seconds=seconds)


# (beat started, dispatch last ran: seconds before NOW or None for never) -> dispatch late?
CASES = [
    pytest.param(None, None, True, id="beat never started and the task never ran"),
    pytest.param(5, None, False, id="beat started 5 s ago and the task has not run yet"),
    pytest.param(60, None, False, id="beat up exactly the bound and the task has not run yet"),
    pytest.param(61, None, True, id="beat up past the bound and the task never ran"),
    pytest.param(86_400, None, True, id="beat up a day and the task never ran"),
    pytest.param(None, 30, False, id="ran within the bound though beat's start is unknown"),
    pytest.param(5, 30, False, id="ran within the bound"),
    pytest.param(5, 61, True, id="ran longer ago than the bound although beat just restarted"),
    pytest.param(86_400, 61, True, id="ran longer ago than the bound"),
]


@pytest.mark.parametrize(("beat_started", "ran", "late"), CASES)
def test_a_task_is_late_when_it_is_overdue_for_its_bound_counted_from_beat_start(
    beat_started, ran, late
):
    if beat_started is not None:
        services.beat_start_record(now=seconds_ago(beat_started))
    if ran is not None:
        services.task_heartbeat_record(task="dispatch", now=seconds_ago(ran))

    health = services.task_health(now=NOW, bounds=BOUNDS)

    assert health["dispatch"].late is late
    assert health["dispatch"].max_age_seconds == 60
    assert health["dispatch"].age_seconds == (None if ran is None else float(ran))


def test_each_task_is_judged_against_its_own_bound():
    services.beat_start_record(now=seconds_ago(120))

    health = services.task_health(now=NOW, bounds=BOUNDS)

    # Up two minutes, nothing ran: past the dispatch's minute, within the sweep's 15 minutes.
    assert {task: h.late for task, h in health.items()} == {
        "sweep": False,
        "dispatch": True,
        "escalate": False,
    }


def test_a_task_without_a_bound_is_never_late():
    health = services.task_health(now=NOW, bounds={"sweep": 900})

    assert health["dispatch"].late is False and health["dispatch"].max_age_seconds is None
    assert health["sweep"].late is True  # beat never started: nothing would run it


def test_the_beat_start_is_not_reported_as_a_watched_task():
    services.beat_start_record(now=NOW)

    assert set(services.task_ages(now=NOW)) == {"sweep", "dispatch", "escalate"}
    assert services.beat_started_at() == NOW


def test_a_fresh_install_answers_200_once_beat_has_started_and_503_if_nothing_runs(
    client, settings
):
    settings.HEALTHZ_MAX_TASK_AGE = {"sweep": 900, "dispatch": 120, "escalate": 10_800}
    before_beat = client.get("/healthz")

    services.beat_start_record()
    just_started = client.get("/healthz")

    services.beat_start_record(now=timezone.now() - dt.timedelta(seconds=121))
    stalled = client.get("/healthz")

    assert before_beat.status_code == 503
    assert before_beat.json()["late"] == ["sweep", "dispatch", "escalate"]
    assert just_started.status_code == 200, just_started.json()
    assert just_started.json()["tasks"]["sweep"] == {
        "age_seconds": None,
        "max_age_seconds": 900,
        "late": False,
    }
    assert stalled.status_code == 503
    assert stalled.json()["late"] == ["dispatch"]
