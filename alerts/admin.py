"""Admin for reminders, delivery attempts, the coordinators' alerts, what providers and
patients' phones sent back, and the heartbeats /healthz reads.

Everything holding patient data is scoped to what the user may see (alerts.selectors), and
nothing is edited in place: the bulk actions call the services, which write the history with
the acting user.
"""

from collections.abc import Iterable

from django.contrib import admin, messages
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest

from core.errors import DomainError
from treatments.admin import ScopedHistoryAdmin, ViewOnlyAdmin
from treatments.models import Patient

from . import selectors, services
from .models import (
    CoordinatorAlert,
    DeliveryAttempt,
    InboundMessage,
    Reminder,
    ReminderStatus,
    StatusReport,
    TaskHeartbeat,
    WorkerHeartbeat,
)


class ReadOnlyScopedAdmin(ViewOnlyAdmin):
    """Lists only rows of visible courses; no add, change or delete from the admin."""


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("attempt", "started_at", "finished_at", "outcome", "error", "provider_message_id")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyScopedAdmin):
    list_display = (
        "id", "course", "kind", "stage", "channel", "due_on", "status", "skip_reason",
        "attempts", "send_after", "sent_at",
    )  # fmt: skip
    list_filter = ("status", "kind", "channel", "stage", "skip_reason")
    date_hierarchy = "due_on"
    search_fields = ("course__patient__mrn", "provider_message_id")
    list_select_related = ("course__patient",)
    inlines = [DeliveryAttemptInline]
    actions = ["resend_failed"]

    @admin.action(description="Resend the selected failed reminders")
    def resend_failed(self, request: HttpRequest, queryset: QuerySet[Reminder]) -> None:
        ids = list(queryset.filter(status=ReminderStatus.FAILED).values_list("pk", flat=True))
        count = services.reminder_resend(reminder_ids=ids, actor=request.user)
        self.message_user(request, f"{count} reminder(s) queued again.", messages.SUCCESS)


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyScopedAdmin):
    scope_path = "reminder__course"
    patient_path = "reminder__course__patient"
    list_display = ("reminder", "attempt", "outcome", "started_at", "finished_at", "error")
    list_filter = ("outcome",)
    list_select_related = ("reminder",)


@admin.register(CoordinatorAlert)
class CoordinatorAlertAdmin(ScopedHistoryAdmin):
    list_display = (
        "id", "course", "kind", "severity", "opened_at", "occurrences", "last_seen_at",
        "acknowledged_by", "resolved_at",
    )  # fmt: skip
    list_filter = ("severity", "kind", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("course__patient__mrn", "kind")
    list_select_related = ("course__patient", "acknowledged_by")
    actions = ["acknowledge", "resolve"]
    # The export names the patient in columns of their own (TeamScopedAdmin.export_view).
    export_fields = (
        ("id", "ID"), ("course__id", "course"), ("course__patient__mrn", "MRN"),
        ("course__patient__family_name", "family name"),
        ("course__patient__given_name", "given name"), ("course__care_team", "care team"),
        "kind", "severity", "opened_at", "occurrences", "last_seen_at", "acknowledged_by",
        "acknowledged_at", "resolved_at",
    )  # fmt: skip

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return [f.name for f in CoordinatorAlert._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # changes go through the actions (services), never a form

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def _apply(self, request: HttpRequest, queryset: QuerySet, action, verb: str) -> None:
        done = 0
        for alert in queryset:
            try:
                action(alert)
            except DomainError as exc:
                self.message_user(request, f"Alert {alert.pk}: {exc.detail}", messages.ERROR)
            else:
                done += 1
        self.message_user(request, f"{done} alert(s) {verb}.", messages.SUCCESS)

    @admin.action(description="Acknowledge the selected alerts")
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[CoordinatorAlert]) -> None:
        self._apply(
            request,
            queryset,
            lambda alert: services.alert_acknowledge(alert=alert, actor=request.user),
            "acknowledged",
        )

    @admin.action(description="Resolve the selected alerts")
    def resolve(self, request: HttpRequest, queryset: QuerySet[CoordinatorAlert]) -> None:
        self._apply(
            request,
            queryset,
            lambda alert: services.alert_resolve(
                alert=alert, actor=request.user, note="Resolved from the admin list"
            ),
            "resolved",
        )


@admin.register(InboundMessage)
class InboundMessageAdmin(ReadOnlyScopedAdmin):
    """SMS patients sent (keywords and what they did). The sender's number is patient data:
    staff see the messages from their teams' patients' numbers."""

    scope_path = "pk"
    scope_selector = staticmethod(selectors.inbound_messages_visible_to)
    list_display = ("received_at", "from_number", "keyword", "outcome", "sent_at")
    list_filter = ("keyword", "outcome")
    search_fields = ("provider_message_id", "from_number")
    date_hierarchy = "received_at"

    def patient_ids(self, objs: Iterable[models.Model]) -> list[int]:
        # Every patient holding the number: the number shown is theirs.
        numbers = {obj.from_number for obj in objs}
        if not numbers:
            return []
        return list(Patient.objects.filter(phone__in=numbers).values_list("pk", flat=True))


@admin.register(StatusReport)
class StatusReportAdmin(ReadOnlyScopedAdmin):
    """Providers' delivery reports, with when each was applied (empty: no reminder matched it
    yet; the daily `alerts.prune_unmatched_reports` deletes those past their days)."""

    scope_path = "pk"
    scope_selector = staticmethod(selectors.status_reports_visible_to)
    list_display = (
        "received_at", "channel", "provider_message_id", "status", "error_code", "applied_at",
    )  # fmt: skip
    list_filter = ("channel", "status", ("applied_at", admin.EmptyFieldListFilter))
    search_fields = ("provider_message_id",)
    date_hierarchy = "received_at"

    def patient_ids(self, objs: Iterable[models.Model]) -> list[int]:
        ids = {obj.provider_message_id for obj in objs}
        if not ids:
            return []
        return list(
            Reminder.objects.filter(provider_message_id__in=ids)
            .values_list("course__patient_id", flat=True)
            .distinct()
        )


def _staff_sees_all(model: type[models.Model]):
    def visible(user: AbstractBaseUser | AnonymousUser) -> QuerySet:
        return (
            model._default_manager.all()
            if selectors.is_staff(user)
            else model._default_manager.none()
        )

    return staticmethod(visible)


class OperationalAdmin(ReadOnlyScopedAdmin):
    """Rows about the system itself, of no patient and no team: every staff user allowed to
    view the model sees all of them."""

    scope_path = "pk"
    patient_path = None
    #: Not one team's data: another team reading a row is no leak.
    holds_team_data = False


@admin.register(TaskHeartbeat)
class TaskHeartbeatAdmin(OperationalAdmin):
    """When each periodic task last ran to its end, and when beat last started."""

    scope_selector = _staff_sees_all(TaskHeartbeat)
    list_display = ("task", "ran_at")


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(OperationalAdmin):
    """When each Celery worker last consumed its heartbeat task."""

    scope_selector = _staff_sees_all(WorkerHeartbeat)
    list_display = ("worker", "seen_at")
