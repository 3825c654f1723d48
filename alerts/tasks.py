"""Celery tasks of the alerts app: thin, they take ids and call one service."""

import socket

from celery import shared_task

from netcare.celery import TASK_DEFAULTS

from . import services


@shared_task(name="alerts.heartbeat", **TASK_DEFAULTS)
def heartbeat(worker: str | None = None) -> int:
    """Record that a worker consumed a task; returns the heartbeat row id."""
    return services.heartbeat_record(worker=worker or socket.gethostname()).pk
