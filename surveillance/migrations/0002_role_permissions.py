"""Model permissions of the staff groups for the surveillance admin.

Coordinators and clinicians view everything and add results and checks (the admin's add forms
call the services); only clinicians change a surveillance plan. The due items are view-only:
`services.replan` writes them.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GRANTS = {
    "coordinator": {
        "surveillanceplan": ("view",),
        "scheduleditem": ("view",),
        "imagingstudy": ("view", "add"),
        "labresult": ("view", "add"),
        "symptomcheck": ("view", "add"),
        "clinicvisit": ("view", "add"),
        "injection": ("view", "add"),
    },
    "clinician": {
        "surveillanceplan": ("view", "change"),
        "scheduleditem": ("view",),
        "imagingstudy": ("view", "add"),
        "labresult": ("view", "add"),
        "symptomcheck": ("view", "add"),
        "clinicvisit": ("view", "add"),
        "injection": ("view", "add"),
    },
}


def _ensure_permissions(apps, using):
    # Permissions are created by the post_migrate signal, after all migrations: on a fresh
    # database they do not exist yet at this point, so create them first.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=using)
        app_config.models_module = None


def _permissions(apps, using, grants):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    wanted = []
    for model, actions in grants.items():
        content_type = ContentType.objects.db_manager(using).get_for_model(
            apps.get_model("surveillance", model)
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
    for name, grants in GRANTS.items():
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(*_permissions(apps, using, grants))


def revoke(apps, schema_editor):
    using = schema_editor.connection.alias
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.using(using).filter(name__in=GRANTS):
        group.permissions.remove(*_permissions(apps, using, GRANTS[group.name]))


class Migration(migrations.Migration):
    dependencies = [
        ("surveillance", "0001_initial"),
        ("treatments", "0002_groups_and_append_only_log"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
