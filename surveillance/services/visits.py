"""Clinic visits and somatostatin-analogue injections."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from core.audit import with_history
from core.errors import (
    Conflict,
    InvalidInput,
)
from treatments import machine
from treatments.models import Course, TreatmentLine

from .. import schedule
from ..models import (
    ClinicVisit,
    Injection,
)
from .common import (
    _as_decimal,
    _course,
    _date_errors,
    _lock_open,
    _notes_errors,
    _today,
)
from .plans import replan

# An injection dose above this is an entry error, whatever the agent (machine.py caps SSA
# doses in event data at the same figure).
INJECTION_DOSE_MAX_MG = Decimal(1000)


class NotOnSsa(Conflict):
    """409: an SSA injection is recorded only while the course is on an SSA line."""

    code = "not_on_ssa"


@dataclass
class InjectionRecorded:
    injection: Injection
    warnings: list[dict[str, Any]] = field(default_factory=list)


def _prrt_washout(course: Course, given_on: dt.date) -> dt.date | None:
    """The expected next cycle of an open PRRT line when ``given_on`` is in its washout."""
    prrt = (
        TreatmentLine.objects.filter(
            course=course, category=machine.Category.PRRT, ended_on__isnull=True, end_reason=""
        )
        .prefetch_related("cycles")
        .first()
    )
    if prrt is None:
        return None
    cycles = {prrt.started_on} | {cycle.given_on for cycle in prrt.cycles.all()}
    facts = schedule.Facts(
        surgery_on=course.surgery.performed_on,
        anchor_on=course.surgery.performed_on,
        state=course.state,
        prrt=schedule.PrrtCourse(tuple(sorted(cycles)), prrt.planned_cycles),
    )
    return schedule.injection_in_prrt_washout(facts, given_on)


def visit_record(
    *,
    course: Course | int,
    actor: AbstractBaseUser,
    visited_on: dt.date,
    notes: str = "",
    today: dt.date | None = None,
) -> ClinicVisit:
    """Record a clinic visit (history and examination)."""
    course = _course(course)
    today = today or _today()
    errors = _date_errors("visited_on", visited_on, course, today) | _notes_errors(notes)
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        visit = ClinicVisit(
            course=_lock_open(course), visited_on=visited_on, notes=notes, recorded_by=actor
        )
        with_history(visit, actor=actor, reason="Clinic visit recorded")
        visit.save()
        replan(course=visit.course, today=today)
    return visit


def injection_record(
    *,
    course: Course | int,
    actor: AbstractBaseUser,
    given_on: dt.date,
    agent: str | None = None,
    dose_mg: Any = None,
    today: dt.date | None = None,
) -> InjectionRecorded:
    """Record a somatostatin-analogue injection; only while an SSA line is open (beside another
    line too).

    ``agent`` and ``dose_mg`` default to the current line's; another agent is refused (a switch
    is an event), another dose is accepted with a warning.
    """
    course = _course(course)
    today = today or _today()
    errors = _date_errors("given_on", given_on, course, today)
    dose = _as_decimal(dose_mg)
    if dose_mg is not None and (
        not isinstance(dose, Decimal)
        or not dose.is_finite()
        or not 0 < dose <= INJECTION_DOSE_MAX_MG
    ):
        errors["dose_mg"] = [f"Must be a number above 0 and at most {INJECTION_DOSE_MAX_MG} mg."]
    if agent is not None and agent not in machine.SSA_AGENTS:
        errors["agent"] = [f"Expected one of: {', '.join(machine.SSA_AGENTS)}."]
    if errors:
        raise InvalidInput(errors)

    with transaction.atomic():
        locked = _lock_open(course)
        # The newest open SSA line: it may run beside PRRT, everolimus or chemotherapy, so the
        # course's state and current line need not be SSA.
        line = (
            TreatmentLine.objects.filter(
                course=locked, category=machine.Category.SSA, ended_on__isnull=True, end_reason=""
            )
            .order_by("-number")
            .first()
        )
        if line is None:
            raise NotOnSsa(
                f"The course is in {locked.state}, with no somatostatin analogue line open: "
                "injections are recorded only while an SSA line runs (record ssa_started first).",
                state=locked.state,
            )
        if given_on < line.started_on:
            raise InvalidInput(
                {"given_on": [f"Before the SSA line started ({line.started_on.isoformat()})."]}
            )
        if agent is not None and agent != line.agent:
            raise InvalidInput(
                {
                    "agent": [
                        f"The current line is {line.agent}; a change of agent is recorded as "
                        "a new ssa_started event."
                    ]
                }
            )
        warnings: list[dict[str, Any]] = []
        if line.held_since is not None:
            warnings.append(
                {
                    "code": "line_held",
                    "detail": f"The SSA line is held since {line.held_since.isoformat()}: "
                    "record its resumption (line_changed) for injections to fall due again.",
                }
            )
        washout = _prrt_washout(locked, given_on)
        if washout is not None:
            warnings.append(
                {
                    "code": "prrt_washout",
                    "detail": f"The next PRRT cycle is expected on {washout.isoformat()}: no "
                    f"long-acting SSA in the {schedule.PRRT_SSA_WASHOUT_DAYS} days before a "
                    "cycle (Lutathera label).",
                }
            )
        if dose is None and line.dose is None:
            raise InvalidInput({"dose_mg": ["Required: the SSA line records no dose."]})
        if dose is None:
            dose = line.dose
        elif line.dose is not None and dose != line.dose:
            warnings.append(
                {
                    "code": "dose_differs_from_line",
                    "detail": f"{dose} mg differs from the line's {line.dose} mg.",
                }
            )
        injection = Injection(
            course=locked, given_on=given_on, agent=line.agent, dose_mg=dose, recorded_by=actor
        )
        with_history(injection, actor=actor, reason="SSA injection recorded")
        injection.save()
        replan(course=locked, today=today)
    return InjectionRecorded(injection=injection, warnings=warnings)
