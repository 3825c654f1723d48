"""Use cases of the surveillance app: the only code that writes surveillance data.

Every service takes keyword-only arguments and an explicit ``actor`` (Celery tasks and commands
have no request), writes history with its actor and reason through ``core.audit``, validates
everything before it writes anything, and re-plans what is due in the same transaction, so
the denormalised due dates never disagree with what was recorded. The rules themselves
(intervals, units, scoring, warnings) live in ``surveillance.schedule``; these modules read
and write.

- ``plans``: the plan (default, a clinician's change, re-anchoring) and ``replan``.
- ``course_facts``: what planning reads from a course (``facts_for``).
- ``results``: imaging, lab results and the symptom check.
- ``visits``: clinic visits and SSA injections.
- ``common``: course reads and locks, input checks, the clinical event a result implies.

Results that change the course (recurrence, progression, a positive symptom check) go through
``treatments.services.record_event``: nothing here touches ``Course.state``.
"""

from .common import NOTES_MAX, CourseClosed
from .course_facts import facts_for
from .plans import (
    PLAN_FIELDS,
    PlanRefused,
    PlanUpdated,
    plan_create,
    plan_reanchor,
    plan_update,
    replan,
)
from .results import (
    RESULT_EVENTS,
    SYMPTOM_FIELDS,
    ImagingRecorded,
    LabRecorded,
    SymptomCheckRecorded,
    imaging_record,
    lab_record,
    symptom_check_record,
)
from .visits import (
    INJECTION_DOSE_MAX_MG,
    InjectionRecorded,
    NotOnSsa,
    injection_record,
    visit_record,
)

__all__ = [
    "INJECTION_DOSE_MAX_MG",
    "NOTES_MAX",
    "PLAN_FIELDS",
    "RESULT_EVENTS",
    "SYMPTOM_FIELDS",
    "CourseClosed",
    "ImagingRecorded",
    "InjectionRecorded",
    "LabRecorded",
    "NotOnSsa",
    "PlanRefused",
    "PlanUpdated",
    "SymptomCheckRecorded",
    "facts_for",
    "imaging_record",
    "injection_record",
    "lab_record",
    "plan_create",
    "plan_reanchor",
    "plan_update",
    "replan",
    "symptom_check_record",
    "visit_record",
]
