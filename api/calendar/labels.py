"""What a calendar may call each kind of due item: a generic kind and nothing more.

A phone calendar is seen by more people than its owner (a lock screen, a shared family
calendar, a synced work account), so an event names only what kind of appointment it is,
never a test or a drug whose name would tell a reader the diagnosis. This is presentation,
not a clinical rule: the kinds themselves, and when each is due, are
``surveillance.schedule``'s. A kind added there and not here falls back to
:data:`FALLBACK_LABEL`, and the calendar tests fail until it is given its own label.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from surveillance import schedule


class GenericLabel(StrEnum):
    """The only names a calendar event may carry."""

    SCAN = "scan"
    BLOOD_TEST = "blood test"
    URINE_TEST = "urine test"
    HEART_SCAN = "heart scan"
    INJECTION = "injection"
    CLINIC_APPOINTMENT = "clinic appointment"
    QUESTIONNAIRE = "questionnaire"


Kind = schedule.Kind

LABELS: Final[Mapping[schedule.Kind, GenericLabel]] = {
    Kind.IMAGING: GenericLabel.SCAN,
    Kind.VISIT: GenericLabel.CLINIC_APPOINTMENT,
    Kind.CGA: GenericLabel.BLOOD_TEST,
    Kind.SYMPTOM_CHECK: GenericLabel.QUESTIONNAIRE,
    Kind.SSA_INJECTION: GenericLabel.INJECTION,
    Kind.U5HIAA: GenericLabel.URINE_TEST,
    Kind.NT_PROBNP: GenericLabel.BLOOD_TEST,
    Kind.ECHOCARDIOGRAPHY: GenericLabel.HEART_SCAN,
    Kind.VITAMIN_B12: GenericLabel.BLOOD_TEST,
    Kind.VITAMIN_D: GenericLabel.BLOOD_TEST,
    Kind.PRRT_LABS: GenericLabel.BLOOD_TEST,
    Kind.BLOOD_COUNTS: GenericLabel.BLOOD_TEST,
    Kind.METABOLIC_PANEL: GenericLabel.BLOOD_TEST,
}

# Says nothing about the diagnosis, whatever the item is.
FALLBACK_LABEL: Final = GenericLabel.CLINIC_APPOINTMENT


def label_of(kind: str) -> GenericLabel:
    """The generic label of a due item's ``kind`` (a ``schedule.Kind`` value).

    Never raises: a kind with no label yet (or an unknown string) gets
    :data:`FALLBACK_LABEL`, so a new kind can never put its own name into a calendar.
    """
    try:
        return LABELS[schedule.Kind(kind)]
    except (KeyError, ValueError):
        return FALLBACK_LABEL
