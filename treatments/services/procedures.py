"""What a recorded procedure changes beyond the event log."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from core.audit import with_history

from .. import machine
from ..models import Course


def apply_procedure(
    course: Course,
    *,
    type: str,
    data: Mapping[str, Any],
    actor: AbstractBaseUser,
    reason: str,
) -> None:
    """A `procedure_recorded` cholecystectomy records the gallbladder as removed.

    The SSA gallstone warning reads it (docs/clinical-rules.md#pitfalls). Other events and
    procedures write nothing here. The surgery row gets a history row with ``reason``.
    """
    if type != getattr(machine.EventType, "PROCEDURE_RECORDED", None):
        return
    if data.get("procedure") != "cholecystectomy":
        return
    surgery = course.surgery
    if surgery.gallbladder_removed:
        return
    surgery.gallbladder_removed = True
    with_history(surgery, actor=actor, reason=reason)
    surgery.save(update_fields=["gallbladder_removed"])
