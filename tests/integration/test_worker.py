"""A real Celery worker on Redis runs a task that writes to PostgreSQL."""

import pytest

from alerts.models import WorkerHeartbeat
from alerts.tasks import heartbeat
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_real_worker_runs_a_task_that_writes_a_row_the_test_can_see(start_worker):
    start_worker()
    assert not WorkerHeartbeat.objects.filter(worker="integration-check").exists()

    heartbeat.delay("integration-check")

    row = wait_for(lambda: WorkerHeartbeat.objects.filter(worker="integration-check").first())
    assert row.seen_at is not None
