"""The Celery app: configuration from Django settings (CELERY_*), tasks from each app.

Every task's policy is in settings too: acknowledged late (CELERY_TASK_ACKS_LATE) and
retried with backoff and jitter (CELERY_TASK_ANNOTATIONS). Apps connect their own Celery
signals in their AppConfig.ready() (alerts repairs the beat schedule at start).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "netcare.settings")

app = Celery("netcare")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
