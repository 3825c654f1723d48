"""Model permissions of the staff groups, so coordinators and clinicians can use the admin.

Staff read and correct patients, diagnoses, surgeries and courses; care teams, treatment
lines and the event log are view-only (membership is an access decision, and lines and
events are written only by `treatments.services.record_event`).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

STAFF_GROUPS = ("coordinator", "clinician")
GRANTS = {
    "careteam": ("view",),
    "patient": ("view", "change"),
    "diagnosis": ("view", "change"),
    "surgery": ("view", "change"),
    "course": ("view", "change"),
    "treatmentline": ("view",),
    "courseevent": ("view",),
}


def _ensure_permissions(apps, using):
    # Permissions are created by the post_migrate signal, which runs after every migration:
    # on a fresh database they do not exist yet at this point, so create them first.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        app_config.models_module = None


def _permissions(apps, using):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    wanted = []
    for model, actions in GRANTS.items():
        content_type = ContentType.objects.db_manager(using).get_for_model(
            apps.get_model("treatments", model)
        )
        wanted.extend(
            Permission.objects.using(using).filter(
                content_type=content_type, codename__in=[f"{a}_{model}" for a in actions]
            )
        )
    return wanted


def grant(apps, schema_editor):
    using = schema_editor.connection.alias
    _ensure_permissions(apps, using)
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
        ("treatments", "0002_groups_and_append_only_log"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
