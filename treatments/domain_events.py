"""In-process domain events: how `treatments` tells `surveillance` and `alerts` what happened.

`treatments` imports neither app; they subscribe in their AppConfig.ready(). Two kinds of
subscriber:
- in-transaction subscribers run inside the transaction that recorded the event, so what
  they write (the surveillance plan's next due dates) commits or rolls back with it;
- on-commit subscribers run after the commit (alerts, messages, task enqueues). Each is
  isolated: one that raises is logged and cannot undo or block the committed event.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CourseRegistered:
    course_id: int
    actor_id: int


@dataclass(frozen=True)
class CourseEventRecorded:
    course_id: int
    event_id: int
    type: str
    from_state: str
    to_state: str
    occurred_on: date
    actor_id: int
    data: Mapping[str, Any] = field(default_factory=dict)
    override: bool = False
    overridden_guards: tuple[Mapping[str, Any], ...] = ()


DomainEvent = CourseRegistered | CourseEventRecorded
Handler = Callable[[DomainEvent], None]

_in_transaction: list[Handler] = []
_on_commit: list[Handler] = []


def subscribe(handler: Handler, *, in_transaction: bool = False) -> None:
    """Register a handler once (AppConfig.ready may run more than once in tests)."""
    target = _in_transaction if in_transaction else _on_commit
    if handler not in target:
        target.append(handler)


def unsubscribe(handler: Handler) -> None:
    """Remove a handler from both lists (tests, and apps that stop listening)."""
    for target in (_in_transaction, _on_commit):
        while handler in target:
            target.remove(handler)


def _isolated(handler: Handler, event: DomainEvent) -> Callable[[], None]:
    def run() -> None:
        try:
            handler(event)
        except Exception:
            # A callable object or a partial has no __qualname__; the log line must not raise
            # itself, or the failure would escape the commit and skip the next subscribers.
            name = getattr(handler, "__qualname__", None) or repr(handler)
            logger.exception("subscriber %s failed on %r", name, event)

    return run


def publish(event: DomainEvent) -> None:
    """Run in-transaction subscribers now and schedule the others for after the commit."""
    for handler in _in_transaction:
        handler(event)
    for handler in _on_commit:
        transaction.on_commit(_isolated(handler, event))
