"""Throttles that let requests through when their cache (Redis) is down.

The throttle counters live in the cache, which production shares with the broker's Redis:
a Redis outage must not turn every API call into a 500 while the database, which holds the
clinical record, is fine. Login lockout (django-axes) is kept in the database and still holds.
"""

import logging

from rest_framework import throttling
from rest_framework.request import Request

logger = logging.getLogger(__name__)


class _FailOpen:
    def allow_request(self, request: Request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning("throttle cache unavailable; request let through", exc_info=True)
            return True


class UserRateThrottle(_FailOpen, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(_FailOpen, throttling.ScopedRateThrottle):
    pass
