"""`Idempotency-Key` on POST: a retried request returns the first response, writes nothing new.

The key row is inserted in the same transaction as the request's writes, so on PostgreSQL a
concurrent duplicate waits on the unique index until the first commits, then replays it.
The same key with a different body answers 422.
"""

import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpResponse, HttpResponseBase
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
        existing = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
        if existing is not None:
            return _replay(existing, fingerprint)
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=request.user,
                    key=key,
                    method=request.method,
                    path=request.path[:300],
                    body_hash=fingerprint,
                    status_code=0,
                )
                try:
                    response = method(view, request, *args, **kwargs)
                except Exception as exc:
                    response = view.handle_exception(exc)
                if response.status_code >= 500:
                    raise _DoNotStore(response)
                record.status_code = response.status_code
                # Kept as the rendered text (a JSON string), not as a document: PostgreSQL's
                # jsonb reorders keys, and a replay must be the first answer byte for byte.
                record.response = JSONRenderer().render(response.data).decode()
                record.save(update_fields=["status_code", "response"])
                return response
        except _DoNotStore as failed:
            return failed.response
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(user=request.user, key=key).first()
            if existing is None or existing.status_code == 0:
                return _error(409, "idempotency_in_progress", "The first request is still running.")
            return _replay(existing, fingerprint)

    # The schema documents the Idempotency-Key header on the operations that honour it.
    wrapper.idempotent = True  # type: ignore[attr-defined]
    return wrapper


class _DoNotStore(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__("server error: not stored")
        self.response = response
