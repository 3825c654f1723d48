"""Beat fires a periodic task twice at once (docs/operations.md#idempotent-periodic-tasks).

Two sweeps alone at once are tests/integration/test_reminders_concurrency.py; here the sweep
and the escalation each run twice at the same moment, from two threads behind a barrier and
from the two pool processes of a real worker. Neither may add a row a single run would not.
"""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from alerts import services, tasks
from alerts.models import CoordinatorAlert, Reminder
from alerts.services import escalation
from tests.alerts.conftest import plan_items
from tests.integration.conftest import wait_for
from tests.reliability.support import duplicates, figures, make_courses, unfinished

DAY = dt.timedelta(days=1)


def due_and_overdue(clinician, team, n: int) -> list:
    """`n` courses, each with imaging due today, a visit 10 days overdue, CgA due in 3 days.

    One run of the sweep inserts 3 items x 2 channels per course; one run of the escalation
    opens one `visit_overdue` alert per course.
    """
    today = timezone.localdate()
    courses = make_courses(clinician, team, n)
    for course in courses:
        plan_items(course, imaging=today, visit=today - 10 * DAY, cga=today + 3 * DAY)
    return courses


def extra_alerts() -> int:
    rows = CoordinatorAlert.objects.values("course_id", "kind").annotate(n=Count("id"))
    return sum(row["n"] - 1 for row in rows)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sweep_and_escalate_fired_twice_at_once_from_threads_add_nothing(clinician, team_a):
    courses = due_and_overdue(clinician, team_a, 12)
    today = timezone.localdate()
    rounds = 3
    runs: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def tick(name: str, barrier: threading.Barrier) -> None:
        try:
            barrier.wait()
            if name == "sweep":
                result = services.sweep(today=today, now=timezone.now())
            else:
                result = services.escalate(today=today, now=timezone.now())
            with lock:
                runs.append((name, result))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    for _ in range(rounds):
        barrier = threading.Barrier(4, timeout=30)
        threads = [
            threading.Thread(target=tick, args=(name, barrier))
            for name in ("sweep", "sweep", "escalate", "escalate")
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    reminders = Reminder.objects.count()
    alerts = CoordinatorAlert.objects.count()
    raced = CoordinatorAlert.objects.filter(occurrences__gt=1).count()
    figures(
        "duplicate beat tick (threads)",
        rounds=rounds, sweep_inserted=[n for name, n in runs if name == "sweep"],
        escalate_written=[n for name, n in runs if name == "escalate"],
        reminders=reminders, expected_reminders=len(courses) * 3 * 2, alerts=alerts,
        expected_alerts=len(courses), extra_rows=reminders - len(courses) * 6 + extra_alerts(),
        alerts_with_occurrences_gt1=raced, errors=len(errors),
    )  # fmt: skip
    assert errors == []
    assert reminders == len(courses) * 3 * 2
    assert alerts == len(courses) and extra_alerts() == 0
    assert set(CoordinatorAlert.objects.values_list("kind", flat=True)) == {"visit_overdue"}


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_sweep_and_escalate_fired_twice_at_once_on_two_worker_processes_add_nothing(
    workers, clinician, team_a
):
    courses = due_and_overdue(clinician, team_a, 12)
    today = timezone.localdate().isoformat()
    worker = workers(2)
    for task in (tasks.sweep, tasks.sweep, tasks.escalate, tasks.escalate):
        task.delay(today)

    def finished(task: str) -> int:
        lines = worker.text().splitlines()
        return sum(f"Task {task}[" in line and " succeeded in " in line for line in lines)

    wait_for(lambda: finished("alerts.sweep") == 2 and finished("alerts.escalate") == 2, 30)
    wait_for(lambda: unfinished() == 0, timeout=30)  # the sweeps' on-commit dispatch ran too
    time.sleep(0.5)
    results = [
        line.rsplit(": ", 1)[-1]
        for line in worker.text().splitlines()
        if " succeeded in " in line and ("alerts.sweep[" in line or "alerts.escalate[" in line)
    ]
    reminders = Reminder.objects.count()
    alerts = CoordinatorAlert.objects.count()
    figures(
        "duplicate beat tick (two worker processes)",
        task_results=results, reminders=reminders, expected_reminders=len(courses) * 6,
        alerts=alerts, expected_alerts=len(courses),
        extra_rows=reminders - len(courses) * 6 + extra_alerts(),
        alerts_with_occurrences_gt1=CoordinatorAlert.objects.filter(occurrences__gt=1).count(),
        sent_duplicates=duplicates(),
    )  # fmt: skip
    assert "raised unexpected" not in worker.text()
    assert reminders == len(courses) * 6 and duplicates() == 0
    assert alerts == len(courses) and extra_alerts() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_duplicate_escalation_tick_does_not_count_an_overdue_item_twice(
    clinician, team_a, monkeypatch
):
    # Item 20, the escalation's own promise: a run over an unchanged backlog writes nothing.
    # Both runs read the open alerts before either writes (as two beat ticks at the same
    # moment do); the barrier in front of alert_raise makes that timing certain.
    courses = due_and_overdue(clinician, team_a, 4)
    today = timezone.localdate()
    first_write = threading.Barrier(2, timeout=30)
    waited: set[int] = set()
    real_alert_raise = services.alert_raise

    def alert_raise(**kwargs):
        if threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            first_write.wait()
        return real_alert_raise(**kwargs)

    monkeypatch.setattr(escalation, "alert_raise", alert_raise)  # as escalate calls it
    written: list[int] = []
    errors: list[BaseException] = []

    def tick() -> None:
        try:
            written.append(services.escalate(today=today, now=timezone.now()))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    occurrences = sorted(CoordinatorAlert.objects.values_list("occurrences", flat=True))
    history = CoordinatorAlert.history.count()
    figures(
        "duplicate escalation tick",
        written=written, alerts=len(occurrences), occurrences=occurrences,
        history_rows=history, expected_history_rows=len(courses), errors=len(errors),
    )  # fmt: skip
    assert errors == [] and len(occurrences) == len(courses)
    assert occurrences == [1] * len(courses)
    assert history == len(courses)
