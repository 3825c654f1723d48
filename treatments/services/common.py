"""What every use case of the treatments app shares: today's date and model errors as fields."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.utils import timezone


def today() -> dt.date:
    """Today in the site's time zone (settings.TIME_ZONE): the day "in the future" starts after."""
    return timezone.localdate()


def prefixed(prefix: str, error: ValidationError) -> dict[str, list[str]]:
    """A model's ValidationError as field errors keyed "prefix.field" (or "field" unprefixed).

    Errors not tied to a field go under ``prefix`` itself, or "non_field_errors".
    """
    if hasattr(error, "error_dict"):
        return {
            f"{prefix}{'.' if prefix else ''}{name}": [m for e in errs for m in e.messages]
            for name, errs in error.error_dict.items()
        }
    return {prefix or "non_field_errors": list(error.messages)}


OVERRIDE_NEEDS_REASON = "An override needs a written reason."
CORRECTION_NEEDS_REASON = "A correction needs a written reason: what was wrong, and why."


def missing_reasons(
    *, override: bool, override_reason: str, correction: bool, reason: str
) -> dict[str, list[str]]:
    """Field errors for the written reasons an event needs (the API and the admin form ask this).

    The one rule: an override of a guideline guard needs ``override_reason``, a correction of
    the date order needs ``reason``; otherwise both are optional. Keys: "override_reason",
    "reason"; an empty dict when nothing is missing.
    """
    errors: dict[str, list[str]] = {}
    if override and not (override_reason or "").strip():
        errors["override_reason"] = [OVERRIDE_NEEDS_REASON]
    if correction and not (reason or "").strip():
        errors["reason"] = [CORRECTION_NEEDS_REASON]
    return errors
