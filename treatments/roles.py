"""Who a user is to NetCare: a role, from the user's groups."""

from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Role(StrEnum):
    COORDINATOR = "coordinator"
    CLINICIAN = "clinician"
    PATIENT = "patient"
    INTEGRATION = "integration"
    SYSTEM = "system"
    NONE = "none"


STAFF_ROLES = frozenset({Role.COORDINATOR, Role.CLINICIAN})
SYSTEM_USERNAME = "netcare-system"


def role_of(user: AbstractBaseUser | AnonymousUser | None) -> Role:
    """The user's role; a clinician who is also a coordinator counts as a clinician."""
    if user is None or not user.is_authenticated:
        return Role.NONE
    if user.get_username() == SYSTEM_USERNAME:
        return Role.SYSTEM
    cached = getattr(user, "_netcare_role", None)
    if cached is not None:
        return cached
    names = set(user.groups.values_list("name", flat=True))
    role = Role.NONE
    for candidate in (Role.CLINICIAN, Role.COORDINATOR, Role.INTEGRATION, Role.PATIENT):
        if candidate.value in names:
            role = candidate
            break
    else:
        if user.is_superuser:
            role = Role.CLINICIAN
    user._netcare_role = role
    return role


def may_override_guards(user: AbstractBaseUser | None) -> bool:
    """Only a clinician may override a guideline guard (docs/clinical-rules.md#how-to-read-this-rule-book)."""
    return role_of(user) == Role.CLINICIAN


def system_user():
    """The user that Celery tasks and commands act as, so every history row has an actor."""
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"is_active": False}
    )
    return user
