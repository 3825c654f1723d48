"""Reads of the alerts app for a user: everything outside these querysets answers 404."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from treatments.roles import STAFF_ROLES, role_of
from treatments.selectors import courses_visible_to

from .models import CoordinatorAlert, Reminder

ALERT_STATUSES = ("open", "acknowledged", "resolved")


def reminders_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Reminder]:
    """Staff: their teams' reminders; a patient: its own (through the course scope)."""
    return Reminder.objects.filter(course__in=courses_visible_to(user))


def alerts_visible_to(
    user: AbstractBaseUser | AnonymousUser, *, status: str | None = None
) -> QuerySet[CoordinatorAlert]:
    """The coordinator worklist: staff of the course's care team only (patients see none).

    `status`: open (neither acknowledged nor resolved), acknowledged (not yet resolved) or
    resolved; None for all.
    """
    if role_of(user) not in STAFF_ROLES and not getattr(user, "is_superuser", False):
        return CoordinatorAlert.objects.none()
    alerts = CoordinatorAlert.objects.filter(course__in=courses_visible_to(user))
    return alerts if status is None else alerts_with_status(alerts, status)


def alerts_with_status(
    alerts: QuerySet[CoordinatorAlert], status: str
) -> QuerySet[CoordinatorAlert]:
    """`alerts` narrowed to one status of ALERT_STATUSES; ValueError for any other."""
    if status not in ALERT_STATUSES:
        raise ValueError(f"status must be one of {', '.join(ALERT_STATUSES)}")
    if status == "resolved":
        return alerts.filter(resolved_at__isnull=False)
    unresolved = alerts.filter(resolved_at__isnull=True)
    acknowledged = Q(acknowledged_at__isnull=False)
    return (
        unresolved.filter(acknowledged)
        if status == "acknowledged"
        else unresolved.exclude(acknowledged)
    )
