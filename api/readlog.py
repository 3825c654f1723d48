"""The read-access log: one row per patient per request that returned the patient's data.

One helper for both doors. The API's views and the admin's pages (its ModelAdmin base in
treatments/admin.py and the worklist) call :func:`log_reads` with the patients whose data the
answer holds, so a read is logged the same way whichever door served it.
"""

from collections.abc import Iterable

from django.db import DatabaseError
from django.http import HttpRequest
from rest_framework.exceptions import APIException
from rest_framework.request import Request

from api.models import CalendarFeed, ReadAccess


class ReadLogUnavailable(APIException):
    """503: the log cannot be written, so the data is not served (the API answers its body)."""

    status_code = 503
    default_code = "read_log_unavailable"
    default_detail = "The read-access log cannot be written; no patient data is returned."


def log_reads(
    request: HttpRequest | Request,
    patient_ids: Iterable[int | None],
    *,
    calendar_feed: CalendarFeed | None = None,
    endpoint: str | None = None,
) -> int:
    """Record that ``request`` read these patients' data; the number of rows written.

    ``patient_ids`` may repeat and hold ``None`` (a row without a patient): each patient is
    logged once per request. The row keeps the user, the path (at most 200 characters) and
    the method. A subscribed calendar logs in as no one: its reads pass ``calendar_feed``,
    which the row names as the reader instead of a user, and ``endpoint``, the path to keep
    instead of the request's (which holds the feed's secret). Fails closed: a read that
    cannot be logged is not served, so a database error raises :class:`ReadLogUnavailable`
    (503) and the caller answers it instead of the data.
    """
    ids = sorted({pid for pid in patient_ids if pid is not None})
    if not ids:
        return 0
    if calendar_feed is None and not getattr(request.user, "is_authenticated", False):
        return 0
    actor_id = None if calendar_feed is not None else request.user.pk
    try:
        ReadAccess.objects.bulk_create(
            [
                ReadAccess(
                    actor_id=actor_id,
                    calendar_feed=calendar_feed,
                    patient_id=pid,
                    endpoint=(endpoint or request.path)[:200],
                    method=request.method or "GET",
                )
                for pid in ids
            ]
        )
    except DatabaseError as exc:
        raise ReadLogUnavailable() from exc
    return len(ids)
