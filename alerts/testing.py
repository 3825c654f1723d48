"""Test doubles of the alerts channels: recording backends and their fault injection.

Nothing in production imports this module. Tests, benchmarks and fault-test workers select
the backends by dotted path:

- `SMS_BACKEND` / `settings.NETCARE_SMS_BACKEND` = `alerts.testing.RecordingSMSBackend`
- `EMAIL_BACKEND` / `settings.EMAIL_BACKEND` = `alerts.testing.RecordingEmailBackend`

Both write one `RecordedMessage` row per accepted message, so a test (or a benchmark in
another process) sees exactly what the "provider" accepted. Their failures are tuned like the
other alerts settings (a Django setting, else the environment variable of the same name):

- `ALERTS_RECORDING_FAIL_FIRST`: the first N attempts of every reminder fail (transient);
- `ALERTS_RECORDING_FAIL_PERMANENT_TO`: comma-separated addresses refused for good;
- `ALERTS_RECORDING_SLEEP_SECONDS`: each send sleeps this long (a slow provider), which also
  makes the backends send one message at a time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from .channels import (
    Backend,
    ChannelError,
    Message,
    Outcome,
    PermanentError,
    SendResult,
    TransientError,
)
from .conf import _csv, _float, _get, _positive_int
from .models import Channel, RecordedMessage


def recording_fail_first() -> int:
    """The first N attempts of every reminder fail with a transient error."""
    return _get("ALERTS_RECORDING_FAIL_FIRST", 0, _positive_int)


def recording_fail_permanent_to() -> tuple[str, ...]:
    """Addresses the recording backends refuse with a permanent error."""
    return _get("ALERTS_RECORDING_FAIL_PERMANENT_TO", (), _csv)


def recording_sleep_seconds() -> float:
    """Seconds each recorded send sleeps, to widen the crash window in fault tests."""
    return _get("ALERTS_RECORDING_SLEEP_SECONDS", 0.0, _float)


def inject_faults(message: Message) -> None:
    """Raise the failure the settings above ask for this message, if any.

    Raises PermanentError for a refused address, else TransientError while the attempt is
    among the first `ALERTS_RECORDING_FAIL_FIRST`.
    """
    if message.to in recording_fail_permanent_to():
        raise PermanentError(f"recording backend refuses {message.to}")
    if message.attempt <= recording_fail_first():
        raise TransientError(f"recording backend fails attempt {message.attempt}")


class RecordingSMSBackend(Backend):
    """Writes a RecordedMessage row per accepted SMS (tests and benchmarks, across processes)."""

    @property
    def bulk(self) -> bool:
        # A sleeping backend stands in for a slow provider: one message at a time.
        return recording_sleep_seconds() == 0

    def send(self, message: Message) -> SendResult:
        return self.send_many([message])[0]  # type: ignore[return-value]

    def send_many(self, messages: Sequence[Message]) -> list[Outcome]:
        pause = recording_sleep_seconds()
        outcomes: list[Outcome] = []
        accepted: list[RecordedMessage] = []
        for message in messages:
            if pause:
                time.sleep(pause)
            try:
                inject_faults(message)
            except ChannelError as exc:
                outcomes.append(exc)
                continue
            sid = f"rec-{uuid.uuid4().hex}"
            accepted.append(
                RecordedMessage(
                    channel=Channel.SMS,
                    to=message.to,
                    body=message.body,
                    reminder_id=message.reminder_id,
                )
            )
            outcomes.append(SendResult(sid))
        RecordedMessage.objects.bulk_create(accepted)
        return outcomes


class RecordingEmailBackend(BaseEmailBackend):
    """A Django email backend writing RecordedMessage rows (tests and benchmarks).

    A message it refuses (fault injection) gets `netcare_error` set instead of raising, so one
    refused message does not hide the others of a batch (alerts.channels.EmailChannel reads it).
    """

    @property
    def netcare_bulk(self) -> bool:
        return recording_sleep_seconds() == 0

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        pause = recording_sleep_seconds()
        accepted: list[RecordedMessage] = []
        for email in email_messages:
            if pause:
                time.sleep(pause)
            probe = Message(
                channel=Channel.EMAIL,
                to=email.to[0] if email.to else "",
                body="",
                attempt=getattr(email, "netcare_attempt", 1),
            )
            try:
                inject_faults(probe)
            except ChannelError as exc:
                email.netcare_error = exc
                continue
            accepted.append(
                RecordedMessage(
                    channel=Channel.EMAIL,
                    to=", ".join(email.to),
                    subject=email.subject,
                    body=email.body,
                    reminder_id=getattr(email, "netcare_reminder_id", None),
                )
            )
        RecordedMessage.objects.bulk_create(accepted)
        return len(accepted)
