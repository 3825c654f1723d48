"""Liveness of what the system needs: the database and the Celery broker."""

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from .celery import app as celery_app


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "down"; the reason goes in the body
        return False, exc.__class__.__name__
    return True, connection.vendor


def _broker_ok() -> tuple[bool, str]:
    scheme = settings.CELERY_BROKER_URL.split("://", 1)[0]
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return False, f"{scheme}: {exc.__class__.__name__}"
    return True, scheme


def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer; 503 naming what is down."""
    db_ok, db_info = _database_ok()
    broker_ok, broker_info = _broker_ok()
    down = [name for name, ok in (("database", db_ok), ("broker", broker_ok)) if not ok]
    body = {
        "status": "ok" if not down else "unavailable",
        "down": down,
        "database": {"ok": db_ok, "info": db_info},
        "broker": {"ok": broker_ok, "info": broker_info},
    }
    return JsonResponse(body, status=503 if down else 200)
