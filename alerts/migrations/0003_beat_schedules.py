"""Seed the periodic tasks of the alerts app in django-celery-beat (editable in the admin).

update_or_create by name: running it again, or after an admin edited the interval, puts the
task back on its default schedule without creating a second one.
"""

from django.db import migrations
from django.utils import timezone

SCHEDULES = [
    # (name, task, every, period)
    ("alerts: sweep due reminders", "alerts.sweep", 15, "minutes"),
    ("alerts: dispatch reminders", "alerts.dispatch", 10, "seconds"),
    ("alerts: escalate overdue items", "alerts.escalate", 1, "hours"),
    ("alerts: worker heartbeat", "alerts.heartbeat", 1, "minutes"),
]


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, period in SCHEDULES:
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period=period)
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": task,
                "interval": interval,
                "enabled": True,
                "args": "[]",
                "kwargs": "{}",
            },
        )
    # The beat scheduler notices changes through this row; bulk seeding does not touch it.
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, *_ in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0002_reminders_and_alerts"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
