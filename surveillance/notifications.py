"""In-process notifications from surveillance to the apps downstream of it (alerts).

Imports point one way (DESIGN.md): `alerts` imports `surveillance`, never the reverse. So when
a symptom check has been scored, surveillance publishes a `SymptomCheckAssessed` here and the
alerts app subscribes to it in its `AppConfig.ready()`.

Handlers run after the commit of the transaction that stored the check, each isolated: one
that raises is logged and cannot undo the stored check or stop the other handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SymptomCheckAssessed:
    """A symptom check was stored and scored (CLINICAL.md §5).

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


Notification = SymptomCheckAssessed
Handler = Callable[[Notification], None]

_handlers: list[Handler] = []


def subscribe(handler: Handler) -> None:
    """Register a handler once (AppConfig.ready may run more than once in tests)."""
    if handler not in _handlers:
        _handlers.append(handler)


def unsubscribe(handler: Handler) -> None:
    if handler in _handlers:
        _handlers.remove(handler)


def _isolated(handler: Handler, notification: Notification) -> Callable[[], None]:
    def run() -> None:
        try:
            handler(notification)
        except Exception:
            logger.exception("handler %s failed on %r", handler.__qualname__, notification)

    return run


def publish(notification: Notification) -> None:
    """Deliver to every handler after the current transaction commits (at once outside one)."""
    for handler in list(_handlers):
        transaction.on_commit(_isolated(handler, notification))
