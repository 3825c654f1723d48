"""Reads of what is due: the sweep's one query, and one course's schedule with its status."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from treatments.models import Course

from . import schedule
from .models import ScheduledItem


def due_on(
    day: dt.date,
    *,
    courses: QuerySet[Course] | None = None,
    kinds: Iterable[str] | None = None,
) -> QuerySet[ScheduledItem]:
    """Items due or overdue on ``day`` (their window has opened), for all or some courses.

    One query, whatever the number of courses: the partial index on ``window_start`` of active
    rows serves the range, and course and patient come in the same query. ``courses`` (e.g.
    ``courses_visible_to(user)``) becomes a subquery, not a second query.
    """
    items = ScheduledItem.objects.filter(active=True, window_start__lte=day).select_related(
        "course__patient"
    )
    if courses is not None:
        items = items.filter(course__in=courses)
    if kinds is not None:
        items = items.filter(kind__in=list(kinds))
    return items.order_by("due_on", "course_id", "kind")


def schedule_for(course: Course | int, today: dt.date | None = None) -> list[dict[str, Any]]:
    """The course's due items as dicts (kind, due_on, window, status on ``today``, why, source)."""
    today = today or timezone.localdate()
    rows = ScheduledItem.objects.filter(
        course=course.pk if isinstance(course, Course) else course, active=True
    ).order_by("due_on", "kind")
    return [
        {
            "kind": row.kind,
            "due_on": row.due_on,
            "window_start": row.window_start,
            "window_end": row.window_end,
            "status": str(
                schedule.status_of(row.kind, row.due_on, row.window_start, row.window_end, today)
            ),
            "why": row.why,
            "source": row.source,
        }
        for row in rows
    ]
