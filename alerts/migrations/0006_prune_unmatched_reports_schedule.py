"""Seed the daily pruning of provider reports no reminder matched (editable in the admin).

Seeded like the other periodic tasks of the alerts app (0003_beat_schedules): by name, so a
second run, or a run after an admin edited the interval, leaves one task on its default.
"""

from django.db import migrations
from django.utils import timezone

NAME = "alerts: prune unmatched provider reports"
TASK = "alerts.prune_unmatched_reports"


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    interval, _ = IntervalSchedule.objects.get_or_create(every=1, period="days")
    PeriodicTask.objects.update_or_create(
        name=NAME,
        defaults={
            "task": TASK,
            "interval": interval,
            "enabled": True,
            "args": "[]",
            "kwargs": "{}",
        },
    )
    # The beat scheduler notices changes through this row; a bulk seed does not touch it.
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0005_provider_reports_and_task_heartbeats"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
