"""Use cases of the alerts app: the only code that writes its data."""

from datetime import datetime

from django.utils import timezone

from .models import WorkerHeartbeat


def heartbeat_record(*, worker: str, now: datetime | None = None) -> WorkerHeartbeat:
    """Note that `worker` is alive and consuming tasks."""
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        worker=worker, defaults={"seen_at": now or timezone.now()}
    )
    return beat
