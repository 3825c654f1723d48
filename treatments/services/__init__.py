"""Use cases of the treatments app: the only code that writes clinical data.

Each service takes an explicit ``actor`` (Celery tasks and commands have no request), writes
its own history rows with that actor and a reason (``core.audit.with_history``), and
publishes domain events through ``core.events``. One module per concern:

- ``registration``: a patient's course registered after the surgery that opened it;
- ``events``: one clinical event applied to a course (``record_event``);
- ``facts``: what the guards and the course answer know now (diagnosis, newer status
  updates, lines, facts registered by the apps above);
- ``lines``: the treatment-line rows an event ends, opens and changes, and PRRT cycles;
- ``procedures``: what a recorded procedure changes (the gallbladder);
- ``patients``: contact details, quiet hours and consents.
"""

from .common import missing_reasons, today
from .events import Recorded, record_event
from .facts import SHOWN as SHOWN_FACTS
from .facts import answer_facts, course_facts, current_facts, register_fact_source
from .patients import PATIENT_EDITABLE_BY_PATIENT, PATIENT_EDITABLE_BY_STAFF, patient_update
from .registration import (
    DIAGNOSIS_FIELDS,
    MRN_TAKEN,
    PATIENT_FIELDS,
    SURGERY_BEFORE_DIAGNOSIS_MAX_DAYS,
    SURGERY_FIELDS,
    Registration,
    register_course,
)

__all__ = [
    "DIAGNOSIS_FIELDS",
    "MRN_TAKEN",
    "PATIENT_EDITABLE_BY_PATIENT",
    "PATIENT_EDITABLE_BY_STAFF",
    "PATIENT_FIELDS",
    "SHOWN_FACTS",
    "SURGERY_BEFORE_DIAGNOSIS_MAX_DAYS",
    "SURGERY_FIELDS",
    "Recorded",
    "Registration",
    "answer_facts",
    "course_facts",
    "current_facts",
    "missing_reasons",
    "patient_update",
    "record_event",
    "register_course",
    "register_fact_source",
    "today",
]
