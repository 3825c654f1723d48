"""Throttles that let requests through when their cache (Redis) is down.

The throttle counters live in the cache, which production shares with the broker's Redis:
a Redis outage must not turn every API call into a 500 while the database, which holds the
clinical record, is fine. Login lockout (django-axes) is kept in the database and still holds.

The per-user throttle of every API request counts in a fixed window: one Redis round trip
(``SET key 0 EX window NX`` and ``INCR key`` in one pipeline) on a client made once per
process. DRF's own throttle keeps the list of every request's time in the window and
rewrites it on each request (two round trips, and at a high rate a list of thousands of
floats). A fixed window may let up to twice the rate through across a window's edge; the
token endpoints, where the exact rate matters (password guessing), keep DRF's sliding window.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from rest_framework import throttling
from rest_framework.request import Request

logger = logging.getLogger(__name__)


class _FailOpen:
    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning("throttle cache unavailable; request let through", exc_info=True)
            return True


class _RedisCounter:
    """One pipelined round trip per count, on the default cache's own Redis connection pool."""

    def __init__(self) -> None:
        self._client: Any = None

    def incr(self, cache: Any, key: str, seconds: int) -> int:
        """Add one to ``key`` (created with a lifetime of ``seconds``); the new count.

        Raises whatever the cache raises when it is unreachable (the caller fails open).
        """
        full = cache.make_and_validate_key(key)
        client = self._redis(cache)
        if client is None:  # not Redis (a local-memory cache in some settings): two calls
            if cache.add(key, 1, timeout=seconds):
                return 1
            return cache.incr(key)
        pipe = client.pipeline(transaction=False)
        pipe.set(full, 0, ex=seconds, nx=True)
        pipe.incr(full)
        return int(pipe.execute()[1])

    def _redis(self, cache: Any) -> Any:
        if self._client is None:
            inner = getattr(cache, "_cache", None)
            get_client = getattr(inner, "get_client", None)
            self._client = get_client(write=True) if get_client else False
        return self._client or None


_COUNTER = _RedisCounter()


class UserRateThrottle(_FailOpen, throttling.UserRateThrottle):
    """DRF's per-user (or per-address) rate, counted in fixed windows of the rate's period."""

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        self._window_end = (window + 1) * self.duration
        try:
            count = _COUNTER.incr(self.cache, f"{self.key}:{window}", int(self.duration) + 1)
        except Exception:
            logger.warning("throttle cache unavailable; request let through", exc_info=True)
            return True
        if count > self.num_requests:
            self._wait = max(1, math.ceil(self._window_end - now))
            return False
        return True

    def wait(self) -> float | None:
        """Seconds until the window ends (at least 1: the Retry-After header is whole seconds)."""
        return getattr(self, "_wait", None)


class ScopedRateThrottle(_FailOpen, throttling.ScopedRateThrottle):
    pass
