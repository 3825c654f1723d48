"""Reads of the alerts app for a user: everything outside these querysets answers 404."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from treatments.roles import STAFF_ROLES, role_of
from treatments.selectors import courses_visible_to, patients_visible_to

from .models import CoordinatorAlert, InboundMessage, Reminder, StatusReport

ALERT_STATUSES = ("open", "acknowledged", "resolved")


def reminders_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Reminder]:
    """Staff: their teams' reminders; a patient: its own (through the course scope)."""
    return Reminder.objects.filter(course__in=courses_visible_to(user))


def is_staff(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Coordinators, clinicians and superusers: who reads the alerts app's operational rows."""
    return role_of(user) in STAFF_ROLES or getattr(user, "is_superuser", False)


def inbound_messages_visible_to(
    user: AbstractBaseUser | AnonymousUser,
) -> QuerySet[InboundMessage]:
    """Staff: SMS sent from the phone number of one of their teams' patients; a superuser:
    all of them (an unknown number's messages too); anyone else: none."""
    if not is_staff(user):
        return InboundMessage.objects.none()
    if getattr(user, "is_superuser", False):
        return InboundMessage.objects.all()
    numbers = patients_visible_to(user).exclude(phone="").values("phone")
    return InboundMessage.objects.filter(from_number__in=numbers)


def status_reports_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[StatusReport]:
    """Staff: the provider reports about their teams' reminders; a superuser: all of them (the
    unmatched ones name no patient); anyone else: none."""
    if not is_staff(user):
        return StatusReport.objects.none()
    if getattr(user, "is_superuser", False):
        return StatusReport.objects.all()
    ids = reminders_visible_to(user).exclude(provider_message_id="").values("provider_message_id")
    return StatusReport.objects.filter(provider_message_id__in=ids)


def alerts_visible_to(
    user: AbstractBaseUser | AnonymousUser, *, status: str | None = None
) -> QuerySet[CoordinatorAlert]:
    """The coordinator worklist: staff of the course's care team only (patients see none).

    `status`: open (neither acknowledged nor resolved), acknowledged (not yet resolved) or
    resolved; None for all.
    """
    if not is_staff(user):
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
