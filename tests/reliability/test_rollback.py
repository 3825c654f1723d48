"""A write that rolls back sends nothing (docs/operations.md#rollback-sends-nothing).

An event is recorded, items fall due and the sweep inserts their reminders, all in one
transaction; a later step of the same write is invalid, so everything rolls back. No reminder
may survive, and nothing may reach the broker: tasks are enqueued only on commit.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from alerts import tasks
from alerts.models import CoordinatorAlert, Reminder
from core.errors import InvalidInput
from netcare.celery import app
from surveillance.models import ScheduledItem
from tests.alerts.conftest import plan_items
from tests.reliability.support import figures, make_courses
from tests.treatments.support import RECURRENCE
from treatments import services
from treatments.models import CourseEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_an_event_write_that_fails_after_creating_due_items_leaves_no_reminder_and_no_task(
    clinician, team_a, monkeypatch, django_capture_on_commit_callbacks
):
    (course,) = make_courses(clinician, team_a, 1)
    items_before = set(ScheduledItem.objects.filter(course=course).values_list("kind", "due_on"))
    published: list[str] = []
    real_send_task = app.send_task

    def send_task(name, *args, **kwargs):
        published.append(name)
        return real_send_task(name, *args, **kwargs)

    monkeypatch.setattr(app, "send_task", send_task)
    today = timezone.localdate()
    inside: dict[str, int] = {}

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(InvalidInput),
        transaction.atomic(),
    ):
        services.record_event(
            course=course, type="recurrence_detected", occurred_on=today,
            data=RECURRENCE, actor=clinician, reason="rollback test",
        )  # fmt: skip
        plan_items(course, imaging=today, visit=today)
        inside["swept"] = tasks.sweep.apply(args=[today.isoformat()]).get()
        inside["reminders"] = Reminder.objects.filter(course=course).count()
        services.record_event(  # the invalid later step: an allowed event with bad data
            course=course, type="symptoms_reported", occurred_on=today,
            data={"site": 42}, actor=clinician, reason="rollback test",
        )  # fmt: skip

    reminders = Reminder.objects.count()
    figures(
        "rollback sends nothing",
        reminders_inside_transaction=inside["reminders"], reminders_after_rollback=reminders,
        events=CourseEvent.objects.filter(course=course).count(),
        on_commit_executed=len(callbacks), tasks_published=len(published),
        alerts=CoordinatorAlert.objects.count(),
    )  # fmt: skip
    assert inside["swept"] == inside["reminders"] == 4  # 2 items x 2 channels, before the error
    assert reminders == 0
    assert callbacks == [] and published == []
    assert not CourseEvent.objects.filter(course=course).exists()
    assert not CoordinatorAlert.objects.exists()  # decision_pending is raised only on commit
    assert (
        set(ScheduledItem.objects.filter(course=course).values_list("kind", "due_on"))
        == items_before
    )
