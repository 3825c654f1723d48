"""The Celery app: configuration from Django settings (CELERY_*), tasks from each app."""

import os

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netcare.settings")

app = Celery("netcare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@beat_init.connect
def _repair_schedule_at_beat_start(sender=None, **kwargs):
    # A past wrong clock leaves last_run_at in the future and stops those tasks: repair it.
    from alerts.beat import on_beat_init

    on_beat_init(sender=sender, **kwargs)


# The policy every task starts from: acknowledged after it ran (a worker that dies mid-task
# leaves the message to be redelivered where the broker can), retried with exponential
# backoff and jitter on errors that are worth retrying, never more than a few times.
TASK_DEFAULTS = {
    "acks_late": True,
    "autoretry_for": (ConnectionError, TimeoutError),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 5,
}
