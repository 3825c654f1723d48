"""Admin for reminders, delivery attempts and the coordinators' alerts.

Everything is scoped to the courses the user may see, and nothing is edited in place: the
bulk actions call the services, which write the history with the acting user.
"""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.errors import DomainError
from treatments.admin import ScopedHistoryAdmin, ViewOnlyAdmin

from . import services
from .models import CoordinatorAlert, DeliveryAttempt, Reminder, ReminderStatus


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
