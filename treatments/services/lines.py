"""Treatment-line rows an event writes: the running line ended, a new one opened."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models

from core.audit import with_history

from .. import lines
from ..models import Course, TreatmentLine


def move_lines(
    course: Course,
    *,
    type: str,
    data: Mapping[str, Any],
    occurred_on: dt.date,
    actor: AbstractBaseUser,
    reason: str,
) -> tuple[TreatmentLine | None, TreatmentLine | None]:
    """End the course's running line and open the next one, as ``treatments.lines`` says.

    Called under the course's row lock with the event's cleaned data; sets
    ``course.current_line`` but does not save the course. Returns (the line that was running,
    the line this event opened), either None. Both get a history row with ``reason``.
    """
    running = course.current_line
    ended_reason = lines.line_end_reason(type, data)
    if running is not None and ended_reason:
        running.ended_on = occurred_on
        running.end_reason = ended_reason
        with_history(running, actor=actor, reason=reason)
        running.save()
        course.current_line = None
    spec = lines.line_spec(type, data)
    opened = None
    if spec is not None:
        number = (course.lines.aggregate(n=models.Max("number"))["n"] or 0) + 1
        opened = TreatmentLine(course=course, number=number, started_on=occurred_on, **spec)
        with_history(opened, actor=actor, reason=reason)
        opened.save()
        course.current_line = opened
    return running, opened
