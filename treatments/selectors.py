"""Reads scoped to a user: everything outside these querysets answers 404.

A request authenticated by an API token already knows the user's care-team ids (the token's
claims, kept true by revoking the token when the membership changes: api/credentials.py);
:func:`remember_scope` puts them on the user, and the querysets below then filter by that
list instead of reading the membership table. Without it they read the table.
"""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import QuerySet

from .models import CareTeam, Course, Patient
from .roles import Role, role_of

# Set by remember_scope: the user's care-team ids as a tuple, known for this request.
TEAM_IDS_ATTR = "_netcare_team_ids"


def remember_scope(user: AbstractBaseUser, role: Role, team_ids: Iterable[int]) -> None:
    """Tell role_of and the querysets below the user's role and care-team ids (for one request).

    The caller vouches that they are current: api.authentication takes them from a token
    whose generation was just checked.
    """
    user._netcare_role = role
    setattr(user, TEAM_IDS_ATTR, tuple(team_ids))


def team_ids_of(user: AbstractBaseUser) -> list[int]:
    """The user's care-team ids, read from the membership table (ascending)."""
    through = CareTeam.members.through.objects.filter(user_id=user.pk)
    return sorted(through.values_list("careteam_id", flat=True))


def _team_ids(user: AbstractBaseUser) -> QuerySet | tuple[int, ...]:
    """The user's care-team ids: known ones (remember_scope), else a subquery of the
    membership table alone (no join to the teams)."""
    known = getattr(user, TEAM_IDS_ATTR, None)
    if known is not None:
        return known
    return CareTeam.members.through.objects.filter(user_id=user.pk).values("careteam_id")


def teams_of(user: AbstractBaseUser | AnonymousUser) -> QuerySet[CareTeam]:
    if not user.is_authenticated:
        return CareTeam.objects.none()
    if user.is_superuser:
        return CareTeam.objects.all()
    known = getattr(user, TEAM_IDS_ATTR, None)
    if known is not None:
        return CareTeam.objects.filter(pk__in=known)
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


def course_is_visible_to(user: AbstractBaseUser | AnonymousUser, course: Course) -> bool:
    """Whether ``course`` is one of ``courses_visible_to(user)``: the same rule, for a row
    already read (its patient loaded for a patient's login). Reads the membership table
    only when the user's teams are not known (remember_scope)."""
    role = role_of(user)
    if role == Role.NONE and not getattr(user, "is_superuser", False):
        return False
    if role == Role.PATIENT:
        return course.patient.user_id == user.pk
    if user.is_superuser:
        return True
    known = getattr(user, TEAM_IDS_ATTR, None)
    if known is not None:
        return course.care_team_id in known
    members = CareTeam.members.through.objects
    return members.filter(user_id=user.pk, careteam_id=course.care_team_id).exists()
