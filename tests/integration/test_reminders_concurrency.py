"""Two sweeps at once on PostgreSQL (docs/operations.md#idempotent-periodic-tasks): each reminder
inserted once.

Kept with the integration tests: it needs committed rows seen by two connections, and the
flush after a transactional test is best run after the suite's other database tests.
"""

import datetime as dt
import threading

import pytest
from django.db import connection

from alerts import services
from alerts.models import Reminder
from tests import factories
from tests.alerts.conftest import NOON, TODAY, plan_items

DAY = dt.timedelta(days=1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_insert_each_reminder_once(clinician, team_a):
    courses = [factories.register(clinician, team_a) for _ in range(20)]
    for c in courses:
        plan_items(c, imaging=TODAY, visit=TODAY + DAY)
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            results.append(services.sweep(today=TODAY, now=NOON))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    for _ in range(5):
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert errors == []
    assert sum(results) == Reminder.objects.count() == 20 * 2 * 2
    print(f"two sweeps at once: rows per run {results}, duplicates 0")
