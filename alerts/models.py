"""Models of the alerts app: reminders (an outbox), delivery attempts, coordinator alerts."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

# The one severity scale, defined with its rank in surveillance.schedule; re-exported here for
# the alert's field and for callers that import it with the alert model.
from surveillance.schedule import Severity as Severity
from treatments.models import Course


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker ran the heartbeat task (shown by /healthz)."""

    worker = models.CharField(max_length=200, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.worker} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"


class ReminderKind(models.TextChoices):
    IMAGING_DUE = "imaging_due", "imaging due"
    VISIT_DUE = "visit_due", "clinic visit due"
    CGA_DUE = "cga_due", "chromogranin A due"
    SYMPTOM_CHECK_DUE = "symptom_check_due", "symptom check due"
    SSA_INJECTION_DUE = "ssa_injection_due", "SSA injection due"
    # Version 2 monitoring (surveillance.schedule.Kind + "_due").
    U5HIAA_DUE = "u5hiaa_due", "24-hour urinary 5-HIAA due"
    NT_PROBNP_DUE = "nt_probnp_due", "NT-proBNP due"
    ECHOCARDIOGRAPHY_DUE = "echocardiography_due", "echocardiography due"
    VITAMIN_B12_DUE = "vitamin_b12_due", "vitamin B12 due"
    VITAMIN_D_DUE = "vitamin_d_due", "vitamin D due"
    PRRT_LABS_DUE = "prrt_labs_due", "pre-PRRT labs due"
    BLOOD_COUNTS_DUE = "blood_counts_due", "blood counts due"
    METABOLIC_PANEL_DUE = "metabolic_panel_due", "glucose and lipids due"
    OVERDUE = "overdue", "overdue (generic)"


class Stage(models.TextChoices):
    ADVANCE = "advance", "advance notice"
    DUE = "due", "due day"
    OVERDUE = "overdue", "overdue"


class Channel(models.TextChoices):
    EMAIL = "email"
    SMS = "sms", "SMS"


class ReminderStatus(models.TextChoices):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"


class SkipReason(models.TextChoices):
    OPTED_OUT = "opted_out", "patient opted out of this channel"
    NO_ADDRESS = "no_address", "no email address or phone number"
    RATE_CAP = "rate_cap", "daily SMS cap reached"
    COURSE_CLOSED = "course_closed", "course closed"
    SUPERSEDED = "superseded", "the item was rescheduled or done"


class Reminder(models.Model):
    """One message to one patient on one channel: the outbox row the sweep inserts.

    Operational and rewritten on every try, so it has no history table (docs/architecture.md,
    "Operational tables have no history");
    DeliveryAttempt rows are its audit. The unique key makes the sweep idempotent.
    """

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=40, choices=ReminderKind.choices)
    due_on = models.DateField()
    stage = models.CharField(max_length=10, choices=Stage.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    send_after = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.PENDING
    )
    skip_reason = models.CharField(max_length=20, blank=True, choices=SkipReason.choices)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    provider_message_id = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["course", "kind", "due_on", "channel", "stage"], name="reminder_once"
            )
        ]
        indexes = [
            # The dispatcher's claim: pending rows oldest first. Sent rows (almost all of
            # the table) stay out of the index.
            models.Index(
                fields=["send_after", "id"],
                name="reminder_claimable",
                condition=Q(status="pending"),
            ),
            # Leases to recover after a crash: only rows being sent.
            models.Index(
                fields=["leased_until"],
                name="reminder_leased",
                condition=Q(status="sending"),
            ),
            # Status callbacks find their reminder by the provider's id.
            models.Index(
                fields=["provider_message_id"],
                name="reminder_provider_id",
                condition=~Q(provider_message_id=""),
            ),
            # The SMS cap counts a patient's recent messages.
            models.Index(fields=["course", "channel", "sent_at"], name="reminder_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.stage} by {self.channel} for course {self.course_id}"


class AttemptOutcome(models.TextChoices):
    SENDING = "sending"
    SENT = "sent"
    TRANSIENT_ERROR = "transient_error"
    PERMANENT_ERROR = "permanent_error"
    UNKNOWN = "unknown", "unknown (the worker was lost mid-send)"


class DeliveryAttempt(models.Model):
    """One try at sending a reminder, written (as `sending`) before the channel is called."""

    reminder = models.ForeignKey(Reminder, on_delete=models.CASCADE, related_name="deliveries")
    attempt = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=20, choices=AttemptOutcome.choices, default=AttemptOutcome.SENDING
    )
    error = models.TextField(blank=True)
    provider_message_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["reminder", "attempt"]
        indexes = [
            models.Index(
                fields=["reminder"], name="attempt_in_flight", condition=Q(outcome="sending")
            )
        ]

    def __str__(self) -> str:
        return f"attempt {self.attempt} of reminder {self.reminder_id}: {self.outcome}"


class CoordinatorAlert(models.Model):
    """Something a coordinator must look at; at most one open per course and kind."""

    kind = models.CharField(max_length=40)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="alerts")
    opened_at = models.DateTimeField()
    occurrences = models.PositiveIntegerField(default=1)
    last_seen_at = models.DateTimeField()
    details = models.JSONField(default=dict, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        constraints = [
            # Dedup under concurrency: two positives racing cannot open two alerts.
            models.UniqueConstraint(
                fields=["course", "kind"],
                condition=Q(resolved_at__isnull=True),
                name="one_open_alert_per_course_kind",
            )
        ]
        indexes = [
            models.Index(
                fields=["severity", "opened_at"],
                name="alert_open_worklist",
                condition=Q(resolved_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.severity}) on course {self.course_id}"

    @property
    def status(self) -> str:
        """open, acknowledged or resolved (the `status` filter of GET alerts/, docs/api.md)."""
        if self.resolved_at is not None:
            return "resolved"
        return "acknowledged" if self.acknowledged_at is not None else "open"


class RecordedMessage(models.Model):
    """What the recording backends accepted: a test's and a benchmark's view of the provider."""

    channel = models.CharField(max_length=10, choices=Channel.choices)
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField()
    reminder_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.channel} to {self.to} (reminder {self.reminder_id})"


class TaskHeartbeat(models.Model):
    """When each periodic task last ran to its end (shown by /healthz with its age)."""

    task = models.CharField(max_length=100, unique=True)
    ran_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.task} @ {self.ran_at:%Y-%m-%d %H:%M:%S}"


class InboundMessage(models.Model):
    """An SMS a patient sent us, kept by the provider's message id so a replay is a no-op.

    Holds the keyword it carried, never the text: a free-text answer may say anything.
    """

    provider_message_id = models.CharField(max_length=100, unique=True)
    from_number = models.CharField(max_length=20)
    keyword = models.CharField(max_length=10, blank=True)
    sent_at = models.DateTimeField()
    received_at = models.DateTimeField()
    outcome = models.CharField(max_length=20, blank=True)

    def __str__(self) -> str:
        return f"inbound {self.provider_message_id} ({self.keyword or 'text'}): {self.outcome}"


class StatusReport(models.Model):
    """A provider's delivery report, kept once per (message id, status).

    A report whose message id no reminder carries yet (it came before the dispatcher wrote
    the id) stays with `applied_at` empty and is applied when the id is written.
    """

    channel = models.CharField(max_length=10, choices=Channel.choices)
    provider_message_id = models.CharField(max_length=100)
    status = models.CharField(max_length=20)
    error_code = models.CharField(max_length=100, blank=True)
    received_at = models.DateTimeField()
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider_message_id", "status"], name="status_report_once"
            )
        ]
        indexes = [
            models.Index(
                fields=["provider_message_id"],
                name="status_report_pending",
                condition=Q(applied_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.provider_message_id}: {self.status}"
