"""Helpers more than one alerts service uses: the clock and batching of long id lists."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TypeVar

from django.utils import timezone

T = TypeVar("T")

Clock = Callable[[], datetime]


def clock(now: datetime | None) -> Clock:
    """A fixed clock when the caller passed `now` (tests, replays), the real one otherwise."""
    return (lambda: now) if now is not None else timezone.now


def chunks(items: Sequence[T], size: int = 500) -> Iterable[Sequence[T]]:
    """`items` in consecutive slices of at most `size` (bounds SQL parameter lists)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
