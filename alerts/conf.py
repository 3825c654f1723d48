"""Tunables of the alerts app, read when used (so `override_settings` works in tests).

Each value comes from a Django setting `ALERTS_<NAME>` when the settings module defines one,
else from the environment variable of the same name, else the default here. The
environment fallback is what lets a test start a real worker with a short lease or a
slow recording backend without a settings file of its own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

_MISSING = object()


def _get(name: str, default: T, cast: Callable[[str], T]) -> T:
    value: Any = getattr(settings, name, _MISSING)
    if value is not _MISSING:
        return value
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return cast(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not valid: {exc}") from exc


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError("must be zero or more")
    return value


def _float(raw: str) -> float:
    value = float(raw)
    if value < 0:
        raise ValueError("must be zero or more")
    return value


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def lease_seconds() -> int:
    """How long a claimed reminder stays ours; after it, another dispatcher may resend it.

    Must exceed the time a batch takes to send (batch size x provider latency), or rows are
    resent while still in flight: the dispatcher stops sending at 80 % of the lease.
    """
    return _get("ALERTS_LEASE_SECONDS", 300, _positive_int)


def batch_size() -> int:
    """Reminders one dispatcher claims and sends per batch (at least 1)."""
    return _get("ALERTS_BATCH_SIZE", 500, _positive_int) or 1


def max_batches_per_tick() -> int:
    """Upper bound on dispatch_batch tasks one `alerts.dispatch` tick enqueues."""
    return _get("ALERTS_MAX_BATCHES_PER_TICK", 200, _positive_int) or 1


def max_attempts() -> int:
    """Attempts before a reminder is failed and a coordinator alert raised (at least 1)."""
    return _get("ALERTS_MAX_ATTEMPTS", 5, _positive_int) or 1


def backoff_seconds() -> tuple[int, ...]:
    """Delay before retry n (1-based); the last value repeats."""
    return _get(
        "ALERTS_BACKOFF_SECONDS", (60, 300, 900, 3600), lambda raw: tuple(map(int, _csv(raw)))
    ) or (60,)


def lookahead_days() -> int:
    """An item due within this many days gets an advance reminder."""
    return _get("ALERTS_LOOKAHEAD_DAYS", 7, _positive_int)


def overdue_days() -> int:
    """Items overdue by more than this are left to escalation, not reminded again."""
    return _get("ALERTS_OVERDUE_DAYS", 30, _positive_int)


def sms_daily_cap() -> int:
    """Most SMS one patient is sent in any 24 hours (a cost and nuisance guard)."""
    return _get("ALERTS_SMS_DAILY_CAP", 4, _positive_int)


def flush_seconds() -> float:
    """How often a dispatcher writes outcomes while a batch is still sending.

    The window between a provider accepting a message and the database saying so is the
    only source of duplicates after a crash; flushing bounds it without a write per message.
    """
    return _get("ALERTS_FLUSH_SECONDS", 0.5, _float)


def unsubscribe_salt() -> str:
    """Salt of the signed unsubscribe tokens; changing it invalidates the links sent."""
    return _get("ALERTS_UNSUBSCRIBE_SALT", "alerts.unsubscribe", str)


def unmatched_report_days() -> int:
    """Days a provider report no reminder ever matched is kept before it is pruned.

    Such a report names a message this system never recorded sending (a provider's test
    message, a number shared with another service) or one whose id was lost with a crashed
    worker; after this long no dispatcher will write its id.
    """
    return _get("ALERTS_UNMATCHED_REPORT_DAYS", 30, _positive_int) or 1


def decision_clock_days() -> int:
    """Days a `decision_pending` alert may stay unanswered before it escalates one severity
    (docs/clinical-rules.md, "Decision clock"); at least 1."""
    return _get("ALERTS_DECISION_CLOCK_DAYS", 28, _positive_int) or 1
