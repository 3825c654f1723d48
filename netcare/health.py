"""Liveness of what the system needs: the database, the Celery broker, and the periodic
tasks (sweep, dispatch, escalation) having run recently."""

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


def _tasks() -> tuple[dict[str, dict], list[str]]:
    """Each watched task's age and bound (seconds); the names of those late past it."""
    from alerts.services import task_health

    try:
        health = task_health()
    except Exception:  # the database check reports why; do not report tasks as late too
        return {}, []
    report = {
        task: {
            "age_seconds": None if h.age_seconds is None else round(h.age_seconds, 1),
            "max_age_seconds": h.max_age_seconds,
            "late": h.late,
        }
        for task, h in health.items()
    }
    return report, [task for task, h in health.items() if h.late]


def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer and every periodic task ran within its
    bound (settings.HEALTHZ_MAX_TASK_AGE); 503 naming what is down (`down`) or late (`late`).
    A task that never ran is late once beat has been up longer than its bound, or if beat
    never started (alerts.services.heartbeats)."""
    db_ok, db_info = _database_ok()
    broker_ok, broker_info = _broker_ok()
    down = [name for name, ok in (("database", db_ok), ("broker", broker_ok)) if not ok]
    tasks, late = _tasks() if db_ok else ({}, [])
    healthy = not down and not late
    body = {
        "status": "ok" if healthy else "unavailable",
        "down": down,
        "late": late,
        "database": {"ok": db_ok, "info": db_info},
        "broker": {"ok": broker_ok, "info": broker_info},
        "tasks": tasks,
    }
    return JsonResponse(body, status=200 if healthy else 503)
