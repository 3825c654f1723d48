"""A recording SMS "provider" that reports delivery before the dispatcher has written the id.

Real providers call the status webhook within a fraction of a second; the dispatcher writes
provider ids at its flush, after the send returns. This backend makes that race certain: as
each message is accepted it POSTs a correctly signed Twilio status report for it, and waits
for the answer, before returning the ids. Reports go through HTTP: to
`RELIABILITY_CALLBACK_URL` (a live server, from a worker subprocess) when set, else through
Django's test client in the same process.
"""

from __future__ import annotations

import os
import urllib.parse
import urllib.request
from collections.abc import Sequence

from django.conf import settings
from django.urls import reverse
from twilio.request_validator import RequestValidator

from alerts.channels import Message, Outcome, SendResult
from alerts.testing import RecordingSMSBackend

#: Base URL of a live server to call back (worker subprocesses); empty: in-process client.
CALLBACK_URL = "RELIABILITY_CALLBACK_URL"
#: Every N-th reminder id (id % N == 0) is reported undelivered, the others delivered.
UNDELIVERED_EVERY = "RELIABILITY_UNDELIVERED_EVERY"
#: Each report is sent this many times (duplicates, as providers retry).
REPORT_TIMES = "RELIABILITY_REPORT_TIMES"
#: A Redis URL where the backend counts reports that arrived before their id was written.
EARLY_COUNTER = "RELIABILITY_EARLY_COUNTER_URL"
EARLY_KEY = "reliability:early_reports"


def _count_early(reminder_id: int | None, sid: str) -> None:
    url = os.environ.get(EARLY_COUNTER, "")
    if not url or reminder_id is None:
        return
    from alerts.models import Reminder

    if not Reminder.objects.filter(pk=reminder_id, provider_message_id=sid).exists():
        import redis

        redis.Redis.from_url(url).incr(EARLY_KEY)


def reported_status(reminder_id: int) -> str:
    """The status this provider reports for a reminder (what the test expects to end with)."""
    every = int(os.environ.get(UNDELIVERED_EVERY, "0") or 0)
    return "undelivered" if every and reminder_id % every == 0 else "delivered"


def _post(path: str, data: dict[str, str]) -> int:
    base = os.environ.get(CALLBACK_URL, "")
    public = settings.PUBLIC_BASE_URL + path
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(public, data)
    if base:
        request = urllib.request.Request(  # noqa: S310 - a loopback test server
            base + path,
            data=urllib.parse.urlencode(data).encode(),
            headers={"X-Twilio-Signature": signature},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    from django.test import Client

    return Client().post(path, data, HTTP_X_TWILIO_SIGNATURE=signature).status_code


class EarlyCallbackSMSBackend(RecordingSMSBackend):
    """The recording backend whose delivery reports arrive before the id is written."""

    bulk = False  # one message per send: a report per message, each before its flush

    def send_many(self, messages: Sequence[Message]) -> list[Outcome]:
        outcomes = super().send_many(messages)
        path = reverse("alerts:sms-status")
        times = int(os.environ.get(REPORT_TIMES, "1") or 1)
        for message, outcome in zip(messages, outcomes, strict=True):
            if not isinstance(outcome, SendResult):
                continue
            status = reported_status(message.reminder_id or 0)
            for sent_status in ("sent", status):
                for _ in range(times):
                    _post(path, {"MessageSid": outcome.provider_message_id,
                                 "MessageStatus": sent_status, "ErrorCode": "30003"
                                 if sent_status == "undelivered" else ""})  # fmt: skip
            _count_early(message.reminder_id, outcome.provider_message_id)
        return outcomes
