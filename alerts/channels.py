"""Channels: how a rendered message leaves the system, behind one interface.

`send(message) -> SendResult` returns the provider's message id or raises `TransientError`
(worth retrying later) or `PermanentError` (retrying cannot help). SMS backends are chosen by
`settings.NETCARE_SMS_BACKEND`; email goes through Django's email framework, so
`settings.EMAIL_BACKEND` picks SMTP, an anymail provider, the console or locmem (tests use
the recording backends of alerts.testing). (Healthchecks `hc/api/transports.py`: one class per channel,
`TransportError(permanent=...)`.)
"""

from __future__ import annotations

import json
import logging
import smtplib
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from anymail.exceptions import AnymailAPIError, AnymailInvalidAddress, AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import make_msgid
from django.urls import reverse
from django.utils.module_loading import import_string

from .models import Channel

logger = logging.getLogger(__name__)


class ChannelError(Exception):
    permanent = False


class TransientError(ChannelError):
    """The provider may accept the message later (timeout, 5xx, rate limit)."""


class PermanentError(ChannelError):
    """The provider refused the message for good (bad number, unsubscribed recipient)."""

    permanent = True


@dataclass(frozen=True)
class Message:
    channel: str
    to: str
    body: str
    subject: str = ""
    html_body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    reminder_id: int | None = None
    attempt: int = 1


@dataclass(frozen=True)
class SendResult:
    provider_message_id: str


Outcome = SendResult | ChannelError


class Backend:
    """One channel. Subclasses implement `send`; `send_many` may be overridden to batch."""

    #: True when `send_many` does better than one `send` per message (one write per batch).
    bulk = False

    def send(self, message: Message) -> SendResult:
        raise NotImplementedError

    def send_many(self, messages: Sequence[Message]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        for message in messages:
            try:
                outcomes.append(self.send(message))
            except ChannelError as exc:
                outcomes.append(exc)
            except Exception as exc:
                # An unexpected failure may be a provider hiccup as well as a bug: retry it,
                # and the attempt cap turns a bug into `failed` + a coordinator alert.
                logger.exception(
                    "channel %s failed on reminder %s", message.channel, message.reminder_id
                )
                outcomes.append(TransientError(f"{exc.__class__.__name__}: {exc}"))
        return outcomes

    def close(self) -> None:
        """Release whatever the backend opened for a batch."""


# --- SMS ----------------------------------------------------------------------------------


class ConsoleSMSBackend(Backend):
    """Prints each SMS (development)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, message: Message) -> SendResult:
        sid = f"console-{uuid.uuid4().hex}"
        self.stream.write(f"SMS to {message.to} [{sid}]: {message.body}\n")
        self.stream.flush()
        return SendResult(sid)


class FileSMSBackend(Backend):
    """Appends each SMS as one JSON line to var/sms.log (development, demos)."""

    def send(self, message: Message) -> SendResult:
        sid = f"file-{uuid.uuid4().hex}"
        line = json.dumps(
            {"sid": sid, "to": message.to, "body": message.body, "reminder": message.reminder_id}
        )
        path = settings.VAR_DIR / "sms.log"
        # One write() of one line in append mode: lines from several workers never interleave.
        with path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        return SendResult(sid)


class TwilioSMSBackend(Backend):
    """Production SMS through Twilio's SDK; delivery reports come to /webhooks/sms/status/."""

    def __init__(self, client: Any | None = None) -> None:
        if client is None:
            from twilio.rest import Client  # imported here: only production loads the SDK

            client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
        self.client = client
        self.status_callback = settings.PUBLIC_BASE_URL + reverse("alerts:sms-status")

    def send(self, message: Message) -> SendResult:
        from twilio.base.exceptions import TwilioRestException

        try:
            sent = self.client.messages.create(
                to=message.to,
                from_=settings.TWILIO_FROM_NUMBER,
                body=message.body,
                status_callback=self.status_callback,
            )
        except TwilioRestException as exc:
            # 429 and 5xx may pass later; any other 4xx (invalid or unsubscribed number,
            # e.g. error 21610) will not.
            if exc.status == 429 or exc.status >= 500:
                raise TransientError(f"Twilio {exc.status} {exc.code}: {exc.msg}") from exc
            raise PermanentError(f"Twilio {exc.status} {exc.code}: {exc.msg}") from exc
        except OSError as exc:  # connection refused, timeouts (requests' errors are OSErrors)
            raise TransientError(f"Twilio unreachable: {exc}") from exc
        return SendResult(sent.sid)


# --- Email --------------------------------------------------------------------------------


def _classify_email_error(exc: Exception) -> ChannelError:
    if isinstance(exc, AnymailRecipientsRefused | AnymailInvalidAddress):
        return PermanentError(str(exc))
    if isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None)
        if status is not None and 400 <= status < 500 and status != 429:
            return PermanentError(str(exc))
        return TransientError(str(exc))
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return PermanentError(str(exc))
    if isinstance(exc, smtplib.SMTPResponseException) and 500 <= exc.smtp_code < 600:
        return PermanentError(f"{exc.smtp_code} {exc.smtp_error!r}")
    return TransientError(f"{exc.__class__.__name__}: {exc}")


class EmailChannel(Backend):
    """Email through `settings.EMAIL_BACKEND`, one connection per batch."""

    def __init__(self) -> None:
        self.connection = get_connection()

    @property
    def bulk(self) -> bool:
        return bool(getattr(self.connection, "netcare_bulk", False))

    def _email(self, message: Message) -> EmailMultiAlternatives:
        message_id = make_msgid(domain="netcare.invalid")
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            headers={"Message-ID": message_id, **message.headers},
            connection=self.connection,
        )
        if message.html_body:
            email.attach_alternative(message.html_body, "text/html")
        # For email backends that record what they accept (alerts.testing); never put in a
        # header (no internal ids leave us).
        email.netcare_reminder_id = message.reminder_id
        email.netcare_attempt = message.attempt
        return email

    @staticmethod
    def _result(email: EmailMultiAlternatives) -> Outcome:
        error = getattr(email, "netcare_error", None)
        if error is not None:
            return error
        status: Any = getattr(email, "anymail_status", None)
        provider_id = getattr(status, "message_id", None) if status is not None else None
        return SendResult(str(provider_id or email.extra_headers["Message-ID"]))

    def send(self, message: Message) -> SendResult:
        email = self._email(message)
        try:
            email.send()
        except Exception as exc:
            raise _classify_email_error(exc) from exc
        outcome = self._result(email)
        if isinstance(outcome, ChannelError):
            raise outcome
        return outcome

    def send_many(self, messages: Sequence[Message]) -> list[Outcome]:
        if not self.bulk:
            return super().send_many(messages)
        emails = [self._email(message) for message in messages]
        self.connection.send_messages(emails)
        return [self._result(email) for email in emails]

    def close(self) -> None:
        try:
            self.connection.close()
        except Exception:  # closing is best effort: the outcomes are already known
            logger.warning("closing the email connection failed", exc_info=True)


def sms_backend() -> Backend:
    """A new instance of the SMS backend named by settings.NETCARE_SMS_BACKEND."""
    return import_string(settings.NETCARE_SMS_BACKEND)()


def backend_for(channel: str) -> Backend:
    """The backend of `channel` (email or sms), new for each batch; ValueError otherwise."""
    if channel == Channel.EMAIL:
        return EmailChannel()
    if channel == Channel.SMS:
        return sms_backend()
    raise ValueError(f"unknown channel {channel!r}")
