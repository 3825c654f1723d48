"""In-process notifications from surveillance to the apps downstream of it (alerts).

Imports point one way (docs/architecture.md): `alerts` imports `surveillance`, never the reverse. So
when a symptom check has been scored, surveillance publishes a `SymptomCheckAssessed` here and the
alerts app subscribes to it in its `AppConfig.ready()`.

Published on the one bus (core/events.py); alerts subscribes on commit, so a handler that
raises cannot undo the stored check or stop the other handlers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class SymptomCheckAssessed:
    """A symptom check was stored and scored (docs/clinical-rules.md#scoring-thresholds).

    Published for every check; ``positive`` (the check's ``escalated``) says whether any
    finding calls for a coordinator alert. Each finding is a dict with ``kind``, ``severity``,
    ``reason``, ``advice``, ``patient_advice`` (None or what the patient is told at once) and
    ``source``.
    """

    course_id: int
    symptom_check_id: int
    reported_on: date
    positive: bool
    findings: tuple[Mapping[str, Any], ...] = ()
    highest_severity: str | None = None
    event_id: int | None = None  # the symptoms_reported CourseEvent, when one was recorded
    actor_id: int | None = None


@dataclass(frozen=True)
class ResultOutOfOrder:
    """A result was stored but its event was not: its date breaks the event log's date order.

    The state is the replay of the events in the order they were recorded
    (docs/clinical-rules.md#dates), so a result dated before the event that brought the course
    into its state, or before the last event of its own kind, cannot move the course; a
    clinician must review it and record the event as a correction, or correct the result.
    ``result_kind`` names the stored record (``imaging_study``); ``conflicts_with`` and
    ``conflict_on`` name the recorded event the date conflicts with, when known.
    """

    course_id: int
    result_kind: str
    result_id: int
    event_type: str
    occurred_on: date
    detail: str
    conflicts_with: str | None = None
    conflict_on: date | None = None
    actor_id: int | None = None


Notification = SymptomCheckAssessed | ResultOutOfOrder
