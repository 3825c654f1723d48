"""Changing a patient's contact details, quiet hours and consents."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core.audit import with_history
from core.errors import InvalidInput

from ..models import Patient
from ..roles import Role, role_of
from .common import prefixed

PATIENT_EDITABLE_BY_PATIENT = frozenset(
    {
        "email", "phone", "timezone", "language", "sms_consent", "email_consent",
        "quiet_hours_start", "quiet_hours_end",
    }
)  # fmt: skip
PATIENT_EDITABLE_BY_STAFF = PATIENT_EDITABLE_BY_PATIENT | {"given_name", "family_name"}


def patient_update(
    *, patient: Patient, actor: AbstractBaseUser, reason: str = "", **changes: Any
) -> Patient:
    """Change a patient's contact details, time zone, quiet hours or consents.

    A patient may change its contact details, consents and quiet hours; staff may also
    correct the names. A consent change stamps its time; nothing is saved (and no history row
    written) when nothing changed. Raises InvalidInput for a field the actor may not change
    or a value the model refuses. Returns the saved (or unchanged) patient.
    """
    allowed = (
        PATIENT_EDITABLE_BY_PATIENT if role_of(actor) == Role.PATIENT else PATIENT_EDITABLE_BY_STAFF
    )
    unknown = {key: ["This field cannot be changed here."] for key in changes if key not in allowed}
    if unknown:
        raise InvalidInput(unknown)
    with transaction.atomic():
        locked = Patient.objects.select_for_update().get(pk=patient.pk)
        changed = {k: v for k, v in changes.items() if getattr(locked, k) != v}
        if not changed:
            return locked
        now = timezone.now()
        for key, value in changed.items():
            setattr(locked, key, value)
            if key in ("sms_consent", "email_consent"):
                setattr(locked, f"{key}_at", now)
        try:
            locked.full_clean(exclude=["care_team", "user"], validate_unique=False)
        except ValidationError as exc:
            raise InvalidInput(prefixed("", exc)) from exc
        with_history(locked, actor=actor, reason=reason or "Contact details or consent changed")
        locked.save()
    return locked
