"""The read-access log: one row per patient per request that returned the patient's data.

One helper for both doors. The API's views and the admin's pages (its ModelAdmin base in
treatments/admin.py and the worklist) call :func:`log_reads` with the patients whose data the
answer holds, so a read is logged the same way whichever door served it.
"""

from collections.abc import Iterable

from django.db import DatabaseError, connection
from django.http import HttpRequest
from django.utils import timezone
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
    feed_id = calendar_feed.pk if calendar_feed is not None else None
    try:
        _insert_rows(
            ids,
            actor_id=actor_id,
            feed_id=feed_id,
            endpoint=(endpoint or request.path)[:200],
            method=request.method or "GET",
        )
    except DatabaseError as exc:
        raise ReadLogUnavailable() from exc
    return len(ids)


def log_reads_by(actor_id: int, patient_ids: Iterable[int | None], *, endpoint: str,
                 method: str) -> int:  # fmt: skip
    """Record that the user ``actor_id`` read these patients' data outside a request (a
    management command's export); the number of rows written.

    Each patient once; ``endpoint`` names what read them (at most 200 characters kept) and
    ``method`` how (at most 10). Fails closed like :func:`log_reads`: a database error raises
    :class:`ReadLogUnavailable`, and the caller must not hand out the data.
    """
    ids = sorted({pid for pid in patient_ids if pid is not None})
    if not ids:
        return 0
    try:
        _insert_rows(ids, actor_id=actor_id, feed_id=None, endpoint=endpoint[:200],
                     method=method[:10])  # fmt: skip
    except DatabaseError as exc:
        raise ReadLogUnavailable() from exc
    return len(ids)


def _insert_rows(
    patient_ids: list[int], *, actor_id: int | None, feed_id: int | None, endpoint: str, method: str
) -> None:
    """Write one row per patient id in one statement; a refused write raises ``DatabaseError``.

    On PostgreSQL an ``INSERT ... SELECT`` over ``unnest`` of the ids: six parameters however
    many patients a page holds, and no model instance per row. Elsewhere (SQLite) the ORM's
    ``bulk_create`` (which stamps ``at`` itself).
    """
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(ReadAccess._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (actor_id, calendar_feed_id, patient_id, endpoint, method, at) "  # noqa: S608
                "SELECT %s, %s, p, %s, %s, %s FROM unnest(%s::bigint[]) AS p",
                [actor_id, feed_id, endpoint, method, timezone.now(), patient_ids],
            )
        return
    ReadAccess.objects.bulk_create(
        [
            ReadAccess(
                actor_id=actor_id,
                calendar_feed_id=feed_id,
                patient_id=pid,
                endpoint=endpoint,
                method=method,
            )
            for pid in patient_ids
        ]
    )
