"""Reads scoped to a user: everything outside these querysets answers 404."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from .models import CareTeam, Course, Patient
from .roles import Role, role_of


def _team_ids(user: AbstractBaseUser) -> QuerySet:
    """The user's care-team ids, read from the membership table alone (no join to the teams)."""
    return CareTeam.members.through.objects.filter(user_id=user.pk).values("careteam_id")


def teams_of(user: AbstractBaseUser | AnonymousUser) -> QuerySet[CareTeam]:
    if not user.is_authenticated:
        return CareTeam.objects.none()
    if user.is_superuser:
        return CareTeam.objects.all()
    return CareTeam.objects.filter(members=user)


def patients_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Patient]:
    """Staff and integrations: their teams' patients; a patient: itself; anyone else: none."""
    role = role_of(user)
    if role == Role.NONE and not getattr(user, "is_superuser", False):
        return Patient.objects.none()
    if role == Role.PATIENT:
        return Patient.objects.filter(user=user)
    if user.is_superuser:
        return Patient.objects.all()
    return Patient.objects.filter(care_team_id__in=_team_ids(user))


def courses_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Course]:
    role = role_of(user)
    if role == Role.NONE and not getattr(user, "is_superuser", False):
        return Course.objects.none()
    if role == Role.PATIENT:
        return Course.objects.filter(patient__user=user)
    if user.is_superuser:
        return Course.objects.all()
    return Course.objects.filter(care_team_id__in=_team_ids(user))
