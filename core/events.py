"""The one in-process event bus: how an app tells the apps above it what happened.

Imports point one way (treatments <- surveillance <- alerts), so a lower app cannot call a
higher one. It publishes an event here instead, and the higher app subscribes to the event's
class in its ``AppConfig.ready()``. Two kinds of subscriber:

- in-transaction subscribers run at once, inside the transaction that published, so what they
  write (a re-planned schedule) commits or rolls back with the event itself; one that raises
  aborts the transaction;
- on-commit subscribers run after the commit (alerts, messages, task enqueues), each through
  ``transaction.on_commit(..., robust=True)``: one that raises is logged by Django and can
  neither undo the committed event nor stop the subscribers after it. Outside a transaction
  they run at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction

Handler = Callable[[Any], None]

# (event class, handler) pairs, in subscription order.
_in_transaction: list[tuple[type, Handler]] = []
_on_commit: list[tuple[type, Handler]] = []


def subscribe(
    event_type: type | tuple[type, ...], handler: Handler, *, in_transaction: bool = False
) -> None:
    """Call ``handler(event)`` for every published event that is an instance of ``event_type``.

    Registering the same pair twice has no effect (``AppConfig.ready`` may run more than once
    in tests). ``in_transaction=True`` runs the handler inside the publishing transaction.
    """
    types = event_type if isinstance(event_type, tuple) else (event_type,)
    target = _in_transaction if in_transaction else _on_commit
    for one in types:
        if (one, handler) not in target:
            target.append((one, handler))


def unsubscribe(handler: Handler) -> None:
    """Remove a handler from every event class and both kinds (tests, apps that stop listening)."""
    for target in (_in_transaction, _on_commit):
        target[:] = [(kind, h) for kind, h in target if h != handler]


def _bound(handler: Handler, event: object) -> Callable[[], None]:
    def run() -> None:
        handler(event)

    # Django names the failed hook by __qualname__ when it logs; a partial or a callable
    # object has none, and the logging itself would then raise past the other hooks.
    run.__qualname__ = getattr(handler, "__qualname__", None) or repr(handler)
    return run


def publish(event: object) -> None:
    """Run the event's in-transaction subscribers now and queue the others for the commit."""
    for kind, handler in list(_in_transaction):
        if isinstance(event, kind):
            handler(event)
    for kind, handler in list(_on_commit):
        if isinstance(event, kind):
            transaction.on_commit(_bound(handler, event), robust=True)
