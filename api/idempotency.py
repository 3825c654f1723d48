"""`Idempotency-Key` on POST: a retried request returns the first response, writes nothing new.

The key row is inserted in the same transaction as the request's writes (``INSERT ... ON
CONFLICT DO NOTHING``), so on PostgreSQL a concurrent duplicate waits on the unique index until
the first commits, then replays it.
The same key with a different body answers 422.
"""

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.http import HttpResponse, HttpResponseBase
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from api.models import IdempotencyRecord

MAX_KEY_LENGTH = 200


def _error(status: int, code: str, detail: str) -> Response:
    return Response({"code": code, "detail": detail, "errors": {}}, status=status)


def _fingerprint(request: Request) -> str:
    canonical = json.dumps(request.data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(f"{request.path}\n{canonical}".encode()).hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> HttpResponseBase:
    if record.body_hash != fingerprint:
        return _error(
            422, "idempotency_key_reused", "This Idempotency-Key was used with another request."
        )
    response: HttpResponseBase
    if isinstance(record.response, str):
        response = HttpResponse(
            record.response, status=record.status_code, content_type="application/json"
        )
    else:  # stored as a JSON document before the body was kept verbatim
        response = Response(record.response, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(method: Callable[..., Response]) -> Callable[..., HttpResponseBase]:
    """Wrap an APIView's post() so that retries with the same key are answered from storage."""

    @functools.wraps(method)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return method(view, request, *args, **kwargs)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            return _error(
                400, "invalid", f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters."
            )
        fingerprint = _fingerprint(request)
        try:
            with transaction.atomic():
                record_id = _claim(request, key, fingerprint)
                if record_id is None:
                    raise _Taken()
                try:
                    response = method(view, request, *args, **kwargs)
                except Exception as exc:
                    response = view.handle_exception(exc)
                if response.status_code >= 500:
                    raise _DoNotStore(response)
                # Kept as the rendered text (a JSON string), not as a document: PostgreSQL's
                # jsonb reorders keys, and a replay must be the first answer byte for byte.
                IdempotencyRecord.objects.filter(pk=record_id).update(
                    status_code=response.status_code,
                    response=JSONRenderer().render(response.data).decode(),
                )
                return response
        except _DoNotStore as failed:
            return failed.response
        except _Taken:
            existing = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
            if existing is None or existing.status_code == 0:
                return _error(409, "idempotency_in_progress", "The first request is still running.")
            return _replay(existing, fingerprint)

    # The schema documents the Idempotency-Key header on the operations that honour it.
    wrapper.idempotent = True  # type: ignore[attr-defined]
    return wrapper


def _claim(request: Request, key: str, fingerprint: str) -> int | None:
    """Insert the key's row (status 0: running) and return its id; None when the user's key
    is taken. One statement, ``INSERT ... ON CONFLICT (user_id, key) DO NOTHING RETURNING``
    (the ORM's ``bulk_create(ignore_conflicts=True)`` does not say whether it inserted): a
    concurrent first request holding the key makes it wait until that one commits (then the
    key is taken) or rolls back (then it inserts)."""
    table = connection.ops.quote_name(IdempotencyRecord._meta.db_table)
    sql = (
        f"INSERT INTO {table} (user_id, key, method, path, body_hash, status_code, response, "  # noqa: S608
        "created_at) VALUES (%s, %s, %s, %s, %s, 0, NULL, %s) "
        "ON CONFLICT (user_id, key) DO NOTHING RETURNING id"
    )
    params = [request.user.pk, key, request.method, request.path[:300], fingerprint]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, timezone.now()])
        row = cursor.fetchone()
    return None if row is None else row[0]


class _Taken(Exception):
    """The user's key already has a row: replay it."""


class _DoNotStore(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__("server error: not stored")
        self.response = response
