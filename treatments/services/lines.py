"""Treatment-line rows an event writes, as ``treatments.lines.line_effects`` decides.

Several lines may be open at once (an SSA line beside PRRT, everolimus or chemotherapy);
``Course.current_line`` is the newest open one. The pure module decides which lines end,
which one starts, which one changes and which PRRT cycle is given; this module only writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import models

from core.audit import with_history
from core.errors import InvalidInput

from .. import machine
from ..models import Course, PrrtCycle, TreatmentLine


def open_lines(course: Course) -> list[TreatmentLine]:
    """The course's open lines, oldest first (held lines are open)."""
    return list(course.lines.filter(end_reason="", ended_on__isnull=True).order_by("number"))


def move_lines(
    course: Course,
    *,
    type: str,
    data: Mapping[str, Any],
    facts: machine.CourseFacts,
    occurred_on: dt.date,
    actor: AbstractBaseUser,
    reason: str,
) -> tuple[TreatmentLine | None, TreatmentLine | None]:
    """Apply the line effects of one event: end, change, give a PRRT cycle, open a line.

    Called under the course's row lock with the event's cleaned data and the facts the
    machine decided on; sets ``course.current_line`` (the newest open line, or None) but does
    not save the course. Every written row gets a history row with ``reason``. Returns (the
    line the event concerns: ended, changed or given a cycle, else the newest open line before
    it; the line it opened), either None. Raises InvalidInput on "data.line" when the event
    names a line that is not open, or must name one (``machine.LineNotFoundError``).
    """
    try:
        effects = machine.line_effects(type, data, facts, on=occurred_on)
    except machine.LineNotFoundError as exc:
        raise InvalidInput({f"data.{exc.field}": [str(exc)]}) from None
    if (
        not effects.ends
        and effects.change is None
        and effects.starts is None
        and effects.cycle is None
    ):
        # Nothing to write: the open lines, and so the newest of them, stay as they are.
        return course.current_line, None
    running = {line.pk: line for line in open_lines(course)}
    concerned: TreatmentLine | None = course.current_line
    for end in effects.ends:
        line = running.pop(end.line.id)
        line.ended_on = occurred_on
        line.end_reason = end.reason
        with_history(line, actor=actor, reason=reason)
        line.save()
        concerned = line
    change = effects.change
    changes_fields = change is not None and any(
        value is not None
        for value in (change.held, change.agent, change.dose_mg, change.interval_days)
    )
    if changes_fields and change.line.id in running:
        line = running[change.line.id]
        if change.held is not None:
            line.held_since = occurred_on if change.held else None
        if change.agent is not None:
            line.agent = change.agent
        if change.dose_mg is not None:
            line.dose = Decimal(str(change.dose_mg))
            line.dose_unit = "mg"
        if change.interval_days is not None:
            line.interval_days = change.interval_days
        with_history(line, actor=actor, reason=reason)
        line.save()
        concerned = line
    opened = None
    if effects.starts is not None:
        number = (course.lines.aggregate(n=models.Max("number"))["n"] or 0) + 1
        opened = TreatmentLine(
            course=course, number=number, started_on=occurred_on, **effects.starts
        )
        with_history(opened, actor=actor, reason=reason)
        opened.save()
        running[opened.pk] = opened
    if effects.cycle is not None:
        prrt = opened or running.get(change.line.id if change is not None else None)
        if prrt is not None:
            _give_cycle(prrt, effects.cycle, occurred_on, actor=actor, reason=reason)
            concerned = prrt
    course.current_line = max(running.values(), key=lambda line: line.number, default=None)
    return concerned, opened


def _give_cycle(
    line: TreatmentLine,
    cycle: machine.PrrtCycleFacts,
    occurred_on: dt.date,
    *,
    actor: AbstractBaseUser,
    reason: str,
) -> None:
    """Record one PRRT cycle on ``line`` (its number is unique on the line)."""
    if line.cycles.filter(number=cycle.number).exists():
        raise InvalidInput({"data.cycle": [f"Cycle {cycle.number} is already recorded."]})
    given = PrrtCycle(
        line=line,
        number=cycle.number,
        given_on=cycle.given_on or occurred_on,
        activity_gbq=None if cycle.activity_gbq is None else Decimal(str(cycle.activity_gbq)),
    )
    with_history(given, actor=actor, reason=reason)
    given.save()
