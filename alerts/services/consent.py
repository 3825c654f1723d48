"""A patient's consent per channel: set by staff, inbound SMS keywords and unsubscribe links."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.audit import with_history
from treatments.models import Patient
from treatments.roles import system_user

from .. import keywords, messages
from ..models import Channel, InboundMessage

logger = logging.getLogger(__name__)


def consent_set(
    *,
    patient: Patient | int,
    channel: str,
    consent: bool,
    reason: str,
    actor: AbstractBaseUser | None = None,
    now: datetime | None = None,
) -> bool:
    """Record a patient's consent to one channel; True when it changed.

    The history row carries the actor (the system user for webhooks and links) and the
    reason. Idempotent: a repeated STOP writes nothing.
    """
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    now = now or timezone.now()
    with transaction.atomic():
        person = Patient.objects.select_for_update().get(
            pk=patient.pk if isinstance(patient, Patient) else patient
        )
        if getattr(person, f"{channel}_consent") == consent:
            return False
        setattr(person, f"{channel}_consent", consent)
        setattr(person, f"{channel}_consent_at", now if consent else None)
        with_history(person, actor=actor or system_user(), reason=reason)
        # The history row is dated by the same clock as the change, so that ordering
        # checks (last_consent_change) agree with a caller's explicit `now`.
        person._history_date = now
        person.save(update_fields=[f"{channel}_consent", f"{channel}_consent_at"])
    return True


def last_consent_change(patient_id: int, channel: str) -> datetime | None:
    """When the patient's consent to `channel` last changed, from the patient's history
    (every door, API, admin or webhook, writes a history row); None if it never changed."""
    field_name = f"{channel}_consent"
    rows = Patient.history.filter(id=patient_id).order_by("-history_date", "-history_id")
    newer: tuple[bool, datetime] | None = None
    for value, when in rows.values_list(field_name, "history_date").iterator():
        if newer is not None and value != newer[0]:
            return newer[1]
        newer = (value, when)
    return None


@dataclass(frozen=True)
class InboundResult:
    """What an inbound SMS did: `outcome` is opted_out, opted_in, help, replayed, stale,
    text (not a keyword) or unknown_number; `language` is the sender's, for a reply."""

    outcome: str
    language: str = "en"


def sms_inbound(
    *,
    from_number: str,
    body: str,
    message_sid: str = "",
    sent_at: datetime | None = None,
    now: datetime | None = None,
) -> InboundResult:
    """Act on a keyword from a patient's phone (alerts.keywords: opt-out, opt-in, help).

    Kept by the provider's message id: a replayed message, however well signed, is ignored
    (a replayed START after a STOP must not restore consent). A keyword sent before the
    patient's latest consent change (`sent_at`, default: now) does not override it.
    """
    now = now or timezone.now()
    sent_at = sent_at or now
    meaning = keywords.classify(body)
    patients = list(Patient.objects.filter(phone=from_number).values_list("pk", "language"))
    language = messages.language_of(patients[0][1]) if patients else messages.DEFAULT_LANGUAGE
    if message_sid:
        try:
            with transaction.atomic():
                record = InboundMessage.objects.create(
                    provider_message_id=message_sid[:100],
                    from_number=from_number[:20],
                    keyword=str(meaning or ""),
                    sent_at=sent_at,
                    received_at=now,
                )
        except IntegrityError:
            logger.warning("ignored a replay of inbound SMS %s", message_sid)
            return InboundResult("replayed", language)
    else:
        record = None

    outcome = _act_on_keyword(meaning, patients, body=body, sent_at=sent_at, now=now)
    if record is not None:
        InboundMessage.objects.filter(pk=record.pk).update(outcome=outcome)
    return InboundResult(outcome, language)


def _act_on_keyword(
    meaning: keywords.Keyword | None,
    patients: Sequence[tuple[int, str]],
    *,
    body: str,
    sent_at: datetime,
    now: datetime,
) -> str:
    if meaning is None:
        return "text"
    if meaning == keywords.Keyword.HELP:
        return "help"
    if not patients:
        return "unknown_number"
    consent = meaning == keywords.Keyword.OPT_IN
    outcome = "stale"
    for patient_id, _language in patients:
        changed_at = last_consent_change(patient_id, Channel.SMS)
        if changed_at is not None and changed_at > sent_at:
            logger.warning("inbound %s older than patient %s's consent change", meaning, patient_id)
            continue
        consent_set(
            patient=patient_id,
            channel=Channel.SMS,
            consent=consent,
            reason=f"inbound SMS {keywords.normalise(body)[:20]}",
            now=now,
        )
        outcome = "opted_in" if consent else "opted_out"
    return outcome


def unsubscribe(*, token: str, now: datetime | None = None) -> Patient:
    """One-click unsubscribe from a signed link; raises signing.BadSignature when tampered."""
    patient_id, channel = messages.read_unsubscribe_token(token)
    consent_set(
        patient=patient_id,
        channel=channel,
        consent=False,
        reason=f"unsubscribe link ({channel})",
        now=now,
    )
    return Patient.objects.get(pk=patient_id)
