"""The role groups and their admin permissions outlive a flush of the database."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from coordinator.roles_setup import GRANTS, ROLES


@pytest.mark.django_db(transaction=True)
def test_a_flush_leaves_every_role_group_with_its_admin_permissions():
    Group.objects.all().delete()

    call_command("flush", "--no-input", verbosity=0)

    assert set(Group.objects.values_list("name", flat=True)) == set(ROLES)
    for role, grants in GRANTS.items():
        held = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in Group.objects.get(name=role).permissions.select_related("content_type")
        }
        wanted = {
            f"{label.split('.')[0]}.{action}_{label.split('.')[1]}"
            for label, actions in grants.items()
            for action in actions
        }
        assert held == wanted, role
    assert not Group.objects.get(name="patient").permissions.exists()
