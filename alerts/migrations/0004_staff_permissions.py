"""Let coordinators and clinicians open reminders, delivery attempts and alerts in the admin.

View only: the admin changes them through actions that call the services (resend, acknowledge,
resolve), each scoped to the user's care teams.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

STAFF_GROUPS = ("coordinator", "clinician")
MODELS = ("reminder", "deliveryattempt", "coordinatoralert")


def _permissions(apps, using):
    # Permissions are normally created after all migrations (post_migrate): make sure ours exist.
    app_config = apps.get_app_config("alerts")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0, using=using)
    app_config.models_module = None
    Permission = apps.get_model("auth", "Permission")
    return list(
        Permission.objects.using(using).filter(
            content_type__app_label="alerts", codename__in=[f"view_{m}" for m in MODELS]
        )
    )


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    permissions = _permissions(apps, using)
    for name in STAFF_GROUPS:
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    permissions = _permissions(apps, using)
    for group in Group.objects.using(using).filter(name__in=STAFF_GROUPS):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0003_beat_schedules"),
        ("treatments", "0002_groups_and_append_only_log"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
