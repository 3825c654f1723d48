"""The sweep: one set-based statement inserts the reminders of everything due.

The unique key (course, kind, due date, channel, stage) makes a second run, or a second
beat, a no-op.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from django.db import connection
from django.utils import timezone

from surveillance import schedule
from surveillance.models import ScheduledItem
from treatments import machine
from treatments.models import Course, Patient

from .. import conf
from ..models import Reminder

logger = logging.getLogger(__name__)

_SWEEP_KINDS = tuple(str(kind) for kind in schedule.Kind)


def _sweep_sql() -> str:
    qn = connection.ops.quote_name
    reminder = qn(Reminder._meta.db_table)
    item = qn(ScheduledItem._meta.db_table)
    course = qn(Course._meta.db_table)
    patient = qn(Patient._meta.db_table)
    kinds = ", ".join(["%s"] * len(_SWEEP_KINDS))
    # Portable to SQLite >= 3.24 and PostgreSQL: dates arrive as parameters (no vendor date
    # arithmetic), `||` concatenates in both, and the channel list is a UNION of constants
    # because SQLite has no VALUES column aliases. The range on due_on is the partial index
    # scheduled_due_active; SQLite needs the WHERE to parse INSERT ... SELECT ... ON CONFLICT.
    # Identifiers are the models' own table names, never input.
    return f"""
        INSERT INTO {reminder} (
            course_id, kind, due_on, stage, channel, send_after, status, skip_reason,
            attempts, provider_message_id, last_error, created_at
        )
        SELECT si.course_id,
               si.kind || '_due',
               si.due_on,
               CASE WHEN si.due_on > %s THEN 'advance'
                    WHEN COALESCE(si.window_end, si.due_on) >= %s THEN 'due'
                    ELSE 'overdue' END,
               ch.channel, %s, 'pending', '', 0, '', '', %s
        FROM {item} si
        JOIN {course} c ON c.id = si.course_id
        JOIN {patient} p ON p.id = c.patient_id
        CROSS JOIN (SELECT 'email' AS channel UNION ALL SELECT 'sms' AS channel) ch
        WHERE si.active
          AND si.due_on >= %s AND si.due_on <= %s
          AND si.kind IN ({kinds})
          AND c.state <> %s
          AND ((ch.channel = 'email' AND p.email_consent AND p.email <> '')
               OR (ch.channel = 'sms' AND p.sms_consent AND p.phone <> ''))
        ON CONFLICT DO NOTHING
    """  # noqa: S608


def sweep(*, today: date, now: datetime | None = None) -> int:
    """Insert the reminders due on `today` in one statement; returns how many were new.

    Stage per item: `advance` while due within the look-ahead, `due` from its date to the end
    of its window, `overdue` after (for `ALERTS_OVERDUE_DAYS`; then escalation takes over).
    Only channels the patient consented to and has an address for; never closed courses.
    Idempotent and safe to run from two processes at once (ON CONFLICT on the unique key).
    """
    now = now or timezone.now()
    ops = connection.ops
    day = ops.adapt_datefield_value
    params = [
        day(today),
        day(today),
        ops.adapt_datetimefield_value(now),
        ops.adapt_datetimefield_value(now),
        day(today - timedelta(days=conf.overdue_days())),
        day(today + timedelta(days=conf.lookahead_days())),
        *_SWEEP_KINDS,
        machine.State.CLOSED.value,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_sweep_sql(), params)
        inserted = max(cursor.rowcount, 0)
    logger.info("sweep for %s inserted %d reminders", today, inserted)
    return inserted
