"""Use cases of the alerts app: the only code that writes its data.

The reminder pipeline, after Healthchecks (`hc/api/management/commands/sendalerts.py`):

1. `sweep` (reminder_sweep) inserts reminders for what is due with one set-based statement;
   the unique key (course, kind, due date, channel, stage) makes a second run, or a second
   beat, a no-op.
2. `dispatch_batch` (dispatch) claims a batch (claims: row locks with SKIP LOCKED on
   PostgreSQL, compare-and-set everywhere), decides in the same short transaction what must
   not be sent now (consent, quiet_hours, the SMS cap), records a `sending` attempt per
   message and commits; then it calls the channels outside any transaction and writes the
   outcomes in bulk. A worker that dies leaves `sending` rows whose lease expires: the next
   dispatcher takes them again.
3. `escalate` (escalation) turns overdue items into coordinator alerts (coordinator_alerts).

Around it: provider_reports (delivery reports and email tracking), consent (keywords,
unsubscribe links), subscribers (domain events become alerts), heartbeats (/healthz).

Everything takes `now` / `today` explicitly so a worker, a test and a benchmark agree on time.
The names below are the app's public services; import them from here.
"""

from .claims import DispatchCounts, claimable, lease_expired
from .consent import (
    InboundResult,
    consent_set,
    last_consent_change,
    sms_inbound,
    unsubscribe,
)
from .coordinator_alerts import (
    ALERT_DECISION_PENDING,
    ALERT_GUARD_OVERRIDDEN,
    ALERT_REMINDER_FAILED,
    ALERT_RESULT_OUT_OF_ORDER,
    alert_acknowledge,
    alert_raise,
    alert_resolve,
)
from .dispatch import claimable_count, dispatch_batch, lease_expired_count, reminder_resend
from .escalation import OVERDUE_SEVERITY, OVERDUE_SUFFIX, escalate
from .heartbeats import (
    BEAT_STARTED,
    WATCHED_TASKS,
    TaskHealth,
    beat_start_record,
    beat_started_at,
    heartbeat_record,
    task_ages,
    task_health,
    task_heartbeat_record,
)
from .provider_reports import (
    apply_pending_reports,
    email_tracking,
    prune_unmatched_reports,
    status_callback,
)
from .quiet_hours import quiet_hours_end
from .reminder_sweep import sweep
from .subscribers import (
    on_course_event,
    on_email_tracking,
    on_result_out_of_order,
    on_symptom_check_assessed,
)

__all__ = [
    "ALERT_DECISION_PENDING",
    "ALERT_GUARD_OVERRIDDEN",
    "ALERT_REMINDER_FAILED",
    "ALERT_RESULT_OUT_OF_ORDER",
    "BEAT_STARTED",
    "OVERDUE_SEVERITY",
    "OVERDUE_SUFFIX",
    "WATCHED_TASKS",
    "DispatchCounts",
    "InboundResult",
    "TaskHealth",
    "alert_acknowledge",
    "alert_raise",
    "alert_resolve",
    "apply_pending_reports",
    "beat_start_record",
    "beat_started_at",
    "claimable",
    "claimable_count",
    "consent_set",
    "dispatch_batch",
    "email_tracking",
    "escalate",
    "heartbeat_record",
    "last_consent_change",
    "lease_expired",
    "lease_expired_count",
    "on_course_event",
    "on_email_tracking",
    "on_result_out_of_order",
    "on_symptom_check_assessed",
    "prune_unmatched_reports",
    "quiet_hours_end",
    "reminder_resend",
    "sms_inbound",
    "status_callback",
    "sweep",
    "task_ages",
    "task_health",
    "task_heartbeat_record",
    "unsubscribe",
]
