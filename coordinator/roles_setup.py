"""The role groups and the admin permissions of each, kept in place after every migrate.

Run on post_migrate, which Django sends after `migrate` and after the flush that ends each
transactional test, so the groups and their permissions are always there (the groups are
first made by treatments' data migration 0002).
"""

from typing import Any

from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db import DEFAULT_DB_ALIAS

ROLES = ("coordinator", "clinician", "patient", "integration")

_RESULTS = {
    "surveillance.scheduleditem": ("view",),
    "surveillance.imagingstudy": ("view", "add"),
    "surveillance.labresult": ("view", "add"),
    "surveillance.symptomcheck": ("view", "add"),
    "surveillance.clinicvisit": ("view", "add"),
    "surveillance.injection": ("view", "add"),
    "alerts.reminder": ("view",),
    "alerts.deliveryattempt": ("view",),
    "alerts.coordinatoralert": ("view",),
    # What patients' phones and the providers sent back, and the heartbeats /healthz reads.
    "alerts.inboundmessage": ("view",),
    "alerts.statusreport": ("view",),
    "alerts.taskheartbeat": ("view",),
    "alerts.workerheartbeat": ("view",),
}
# Staff read and correct patients, diagnoses, surgeries and courses; care teams, lines and
# the event log are view-only (membership is an access decision; lines and events are
# written only by record_event). Only clinicians tune a surveillance plan.
_CLINICAL = {
    "treatments.careteam": ("view",),
    "treatments.patient": ("view", "change"),
    "treatments.diagnosis": ("view", "change"),
    "treatments.surgery": ("view", "change"),
    "treatments.course": ("view", "change"),
    "treatments.treatmentline": ("view",),
    "treatments.courseevent": ("view",),
}
GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    "coordinator": _CLINICAL | _RESULTS | {"surveillance.surveillanceplan": ("view",)},
    "clinician": _CLINICAL | _RESULTS | {"surveillance.surveillanceplan": ("view", "change")},
}


def ensure_role_groups(using: str = DEFAULT_DB_ALIAS) -> None:
    """Create the role groups and give them exactly the listed permissions (idempotent)."""
    wanted = {
        (label.split(".")[0], f"{action}_{label.split('.')[1]}")
        for grants in GRANTS.values()
        for label, actions in grants.items()
        for action in actions
    }
    by_key = {
        (p.content_type.app_label, p.codename): p
        for p in Permission.objects.using(using)
        .select_related("content_type")
        .filter(codename__in={codename for _, codename in wanted})
    }
    for role in ROLES:
        group, _ = Group.objects.using(using).get_or_create(name=role)
        perms = [
            by_key[(label.split(".")[0], f"{action}_{label.split('.')[1]}")]
            for label, actions in GRANTS.get(role, {}).items()
            for action in actions
            if (label.split(".")[0], f"{action}_{label.split('.')[1]}") in by_key
        ]
        group.permissions.set(perms)


def on_post_migrate(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    # Sent once per app with models, in INSTALLED_APPS order: after the last one, every
    # app's permissions are in place.
    with_models = [config for config in apps.get_app_configs() if config.models_module]
    if with_models and sender.label == with_models[-1].label:
        ensure_role_groups(using)
