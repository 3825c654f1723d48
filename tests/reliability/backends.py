"""SMS backends that fail the way real processes do, for the fault tests.

A worker subprocess loads them by dotted path (`SMS_BACKEND=tests.reliability.backends...`);
which reminders they hit comes from environment variables, read at each send. alerts.testing
offers transient and permanent errors and a slow send, but no process exit: these add it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from alerts.channels import Message, Outcome
from alerts.testing import RecordingSMSBackend

#: Reminder ids whose first attempt is recorded by the "provider", then the process exits
#: before the dispatcher can write the outcome: the crash in the provider window.
CRASH_AFTER_SEND = "RELIABILITY_CRASH_AFTER_SEND"
#: Reminder ids whose every attempt kills the process before the provider gets it: poison.
CRASH_BEFORE_SEND = "RELIABILITY_CRASH_BEFORE_SEND"
EXIT_CODE = 70


def _ids(name: str) -> set[int]:
    return {int(part) for part in os.environ.get(name, "").split(",") if part.strip()}


class CrashingSMSBackend(RecordingSMSBackend):
    """The recording backend, one message at a time, that kills its process on cue."""

    bulk = False

    def send_many(self, messages: Sequence[Message]) -> list[Outcome]:
        poison = _ids(CRASH_BEFORE_SEND)
        if any(m.reminder_id in poison for m in messages):
            os._exit(EXIT_CODE)  # a segfault in the SDK: nothing reaches the provider
        outcomes = super().send_many(messages)  # committed: the provider has it
        window = _ids(CRASH_AFTER_SEND)
        if any(m.reminder_id in window and m.attempt == 1 for m in messages):
            os._exit(EXIT_CODE)  # dies before the dispatcher records the outcome
        return outcomes


#: Threads (by ident) whose sends wait on their event before reaching the provider.
GATES: dict[int, threading.Event] = {}


class GatedSMSBackend(RecordingSMSBackend):
    """The recording backend, but a registered thread stalls before each send (in-process)."""

    bulk = False

    def send_many(self, messages: Sequence[Message]) -> list[Outcome]:
        gate = GATES.get(threading.get_ident())
        if gate is not None:
            gate.wait(timeout=60)
        return super().send_many(messages)
