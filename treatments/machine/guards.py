"""The guideline guards: what must hold before an event is recorded, with its source.

Pure: no ORM, no clock, no I/O. A guard reads ``CourseFacts`` (what the service read from the
database) and the event's cleaned data, and answers whether the event may go ahead. A failed
guard is a ``GuardResult`` carrying its reason, its published source and evidence level, and
whether a clinician may override it. ``docs/clinical-rules.md#guard-table`` is generated
from ``GUARDS`` by ``python manage.py rule_book --write``. The guards of PRRT, everolimus and
chemotherapy are in ``guards_systemic``; the shapes in ``guard_base``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from . import guards_systemic
from .effects import LineNotFoundError, chosen_line
from .facts import SYNDROME_CONTROL, CourseFacts, LineFacts, PrrtCycleFacts
from .guard_base import (
    ADJUVANT_RULE,
    CLOSED_RULE,
    PROCEDURE_RULE,
    Guard,
    GuardResult,
    refuse,
    refuse_always,
    warn,
)
from .guards_systemic import (
    EVEROLIMUS_DOSES_MG,
    EVEROLIMUS_PROGRESSION_WINDOW_DAYS,
    OCTREOTIDE_COVER,
    OCTREOTIDE_COVER_SOURCE,
    PRRT_ACTIVITY_GBQ,
    PRRT_CYCLE_MAX_DAYS,
    PRRT_CYCLE_MIN_DAYS,
    PRRT_FIRST_LINE_KI67,
    PRRT_LABEL_CYCLES,
    PRRT_SSA_WASHOUT_DAYS,
)
from .states import Category, EventType, State, event_type_of

__all__ = [
    "ADJUVANT_RULE",
    "CLOSED_RULE",
    "EVEROLIMUS_DOSES_MG",
    "EVEROLIMUS_PROGRESSION_WINDOW_DAYS",
    "GUARDS",
    "PROCEDURE_RULE",
    "PRRT_ACTIVITY_GBQ",
    "PRRT_CYCLE_MAX_DAYS",
    "PRRT_CYCLE_MIN_DAYS",
    "PRRT_FIRST_LINE_KI67",
    "PRRT_LABEL_CYCLES",
    "PRRT_SSA_WASHOUT_DAYS",
    "SSA_ALLOWED_DOSES_MG",
    "SSA_INTERVAL_DAYS",
    "SSA_SYNDROME_CONTROL_DOSES_MG",
    "CourseFacts",
    "Guard",
    "GuardResult",
    "LineFacts",
    "PrrtCycleFacts",
    "guards_for",
]

SSA_SOURCE: Final = "PROMID; CLARINET; ENETS 2024 small-intestine NET guidance"
SSA_EVIDENCE: Final = "trial evidence (PROMID and CLARINET randomised trials)"
SSA_SYNDROME_SOURCE: Final = "ESMO 2020; NCCN Neuroendocrine and Adrenal Tumors"

# Antiproliferative SSA schedules: the labelled doses every 4 weeks. Escalations (lanreotide
# every 14 days, octreotide LAR 60 mg) exist but are off-label: override only.
SSA_ALLOWED_DOSES_MG: Final[Mapping[str, tuple[float, ...]]] = {
    "octreotide_lar": (20.0, 30.0),
    "lanreotide": (120.0,),
}
# For syndrome control the labels also give lower doses.
SSA_SYNDROME_CONTROL_DOSES_MG: Final[Mapping[str, tuple[float, ...]]] = {
    "octreotide_lar": (10.0, 20.0, 30.0),
    "lanreotide": (60.0, 90.0, 120.0),
}
SSA_INTERVAL_DAYS: Final = 28


def _syndrome_control(data: Mapping[str, Any]) -> bool:
    return data.get("intent") == SYNDROME_CONTROL


def ssa_schedule_allowed(agent: str, dose_mg: Any, interval_days: Any, intent: str) -> bool:
    """An SSA schedule within the labels: a listed dose of ``agent`` every 28 days.

    Syndrome control allows octreotide LAR 10 mg and lanreotide 60/90 mg as well (ESMO 2020;
    NCCN); anything else (lanreotide every 14 days, octreotide LAR 60 mg) is an escalation.
    """
    doses = SSA_SYNDROME_CONTROL_DOSES_MG if intent == SYNDROME_CONTROL else SSA_ALLOWED_DOSES_MG
    return dose_mg in doses.get(agent, ()) and interval_days == SSA_INTERVAL_DAYS


def _changed_line(facts: CourseFacts, data: Mapping[str, Any]) -> LineFacts | None:
    try:
        return chosen_line(facts, data)
    except LineNotFoundError:
        return None  # the service answers the missing line as a field error


def _change_within_label(facts: CourseFacts, data: Mapping[str, Any]) -> bool:
    line = _changed_line(facts, data)
    if line is None or data.get("change") in ("hold", "resume"):
        return True
    if line.category == Category.SSA:
        return ssa_schedule_allowed(
            data.get("agent", line.agent),
            data.get("dose_mg", line.dose_mg),
            data.get("interval_days", line.interval_days),
            line.intent,
        )
    if line.category == Category.EVEROLIMUS and "dose_mg" in data:
        return data["dose_mg"] in EVEROLIMUS_DOSES_MG
    return True


def _change_fits_line(facts: CourseFacts, data: Mapping[str, Any]) -> bool:
    line = _changed_line(facts, data)
    if line is None or data.get("change") != "agent":
        return True
    return line.category == Category.SSA


SSA_STARTED: Final = (
    warn(
        "ssa_with_gallbladder_in_place_warns",
        EventType.SSA_STARTED,
        "Long-term somatostatin analogues raise the risk of gallstones and the gallbladder "
        "is in place: consider prophylactic cholecystectomy at any further abdominal "
        "operation.",
        "Guideline summary 2025 (pitfalls); ENETS 2024 small-intestine NET guidance",
        "expert consensus (no level given)",
        lambda facts, data: not facts.gallbladder_in_place,
    ),
    refuse(
        "ssa_syndrome_control_requires_a_syndrome",
        EventType.SSA_STARTED,
        "An SSA for syndrome control needs a functional tumour or carcinoid syndrome on "
        "record; record it with status_updated first.",
        SSA_SYNDROME_SOURCE,
        "guideline recommendation (no level given)",
        lambda facts, data: not _syndrome_control(data) or facts.syndrome,
    ),
    refuse(
        "ssa_requires_well_differentiated",
        EventType.SSA_STARTED,
        "A somatostatin analogue is for well-differentiated NET; poorly differentiated or "
        "mixed neoplasms need another line.",
        SSA_SOURCE,
        SSA_EVIDENCE,
        lambda facts, data: facts.differentiation == "well",
    ),
    warn(
        "ssa_grade_g3_warns",
        EventType.SSA_STARTED,
        "NET G3: the somatostatin-analogue trials enrolled G1/G2 disease (CLARINET Ki-67 "
        "below 10 %); starting one is a clinician decision.",
        SSA_SOURCE,
        SSA_EVIDENCE,
        lambda facts, data: facts.grade != "G3",
    ),
    refuse(
        "ssa_requires_positive_sstr_imaging",
        EventType.SSA_STARTED,
        "Somatostatin-receptor imaging must be positive before a somatostatin analogue is "
        "started for tumour control.",
        "CLARINET (required SSTR scintigraphy uptake); PROMID; "
        "ENETS 2024 small-intestine NET guidance",
        SSA_EVIDENCE,
        lambda facts, data: _syndrome_control(data) or facts.sstr_imaging == "positive",
    ),
    warn(
        "ssa_syndrome_control_without_positive_sstr_warns",
        EventType.SSA_STARTED,
        "Somatostatin-receptor imaging is not positive: an SSA may still control the "
        "syndrome, but a response is less likely.",
        SSA_SYNDROME_SOURCE,
        "guideline recommendation (no level given)",
        lambda facts, data: not _syndrome_control(data) or facts.sstr_imaging == "positive",
    ),
    refuse(
        "ssa_dose_in_allowed_set",
        EventType.SSA_STARTED,
        "The somatostatin-analogue dose must be octreotide LAR 20 or 30 mg or lanreotide "
        "120 mg every 28 days (for syndrome control also octreotide LAR 10 mg or lanreotide "
        "60 or 90 mg).",
        "Octreotide LAR and lanreotide labels; PROMID; CLARINET; ESMO 2020",
        "label",
        lambda facts, data: ssa_schedule_allowed(
            data.get("agent", ""),
            data.get("dose_mg"),
            data.get("interval_days"),
            str(data.get("intent", "")),
        ),
    ),
    warn(
        "ssa_octreotide_20mg_warns",
        EventType.SSA_STARTED,
        "The antiproliferative evidence for octreotide LAR (PROMID) is for 30 mg every "
        "28 days; 20 mg is a symptom-control dose.",
        "PROMID (octreotide LAR 30 mg, midgut NET)",
        "trial evidence (PROMID randomised trial)",
        lambda facts, data: (
            _syndrome_control(data)
            or not (data.get("agent") == "octreotide_lar" and data.get("dose_mg") == 20)
        ),
    ),
)

RESECTION_STARTED: Final = (
    refuse(
        "resection_requires_resectable_recurrence",
        EventType.RESECTION_STARTED,
        "Re-resection is for locoregional or oligometastatic recurrence judged resectable; "
        "the last recorded recurrence was not judged resectable.",
        "ESMO 2020; ENETS 2024 small-intestine NET guidance; guideline summary 2025 "
        "(10-year overall survival 50.4 % after hepatic resection of NET metastases)",
        "observational series (no level given)",
        lambda facts, data: (
            facts.state is not State.RECURRENCE
            or bool(facts.last_recurrence and facts.last_recurrence.get("resectable") is True)
        ),
    ),
    warn(
        "resection_on_ssa_with_gallbladder_warns",
        EventType.RESECTION_STARTED,
        "The patient is on a somatostatin analogue and the gallbladder is in place: consider "
        "a prophylactic cholecystectomy during this operation.",
        "Guideline summary 2025 (pitfalls); ENETS 2024 small-intestine NET guidance",
        "expert consensus (no level given)",
        lambda facts, data: (
            not (
                facts.gallbladder_in_place
                and any(line.category == Category.SSA for line in facts.open_lines)
            )
        ),
    ),
    warn(
        "resection_octreotide_cover_reminder",
        EventType.RESECTION_STARTED,
        OCTREOTIDE_COVER.format(what="operation"),
        OCTREOTIDE_COVER_SOURCE,
        "expert consensus (no level given)",
        lambda facts, data: not facts.carcinoid_syndrome,
    ),
)

RESECTION_COMPLETED: Final = (
    warn(
        "resection_ned_with_incomplete_margin_warns",
        EventType.RESECTION_COMPLETED,
        "No evidence of disease is recorded although the margin is R1 or R2; surveillance "
        "assumes a complete resection.",
        "Guideline summary 2025 (surveillance after complete resection); "
        "docs/clinical-rules.md#surveillance-after-resection",
        "guideline summary (no level given)",
        lambda facts, data: not (data.get("ned") is True and data.get("margin") in ("R1", "R2")),
    ),
    warn(
        "resection_ned_ends_antiproliferative_lines_warns",
        EventType.RESECTION_COMPLETED,
        "No evidence of disease after the operation: the running anticancer lines are ended, "
        "since adjuvant somatostatin analogues or other therapy are not recommended after "
        "complete resection.",
        "ESMO 2020; ENETS 2024 small-intestine NET guidance (no adjuvant therapy)",
        "LoE 4, grade D",
        lambda facts, data: (
            not (data.get("ned") is True and any(line.is_anticancer for line in facts.open_lines))
        ),
    ),
)

LINE_CHANGED: Final = (
    refuse_always(
        "line_change_fits_the_line",
        EventType.LINE_CHANGED,
        "Only a somatostatin-analogue line switches agent (octreotide LAR or lanreotide); "
        "another line is stopped and a new one started.",
        "NetCare record integrity (docs/clinical-rules.md#lines-that-run-together)",
        "product rule",
        _change_fits_line,
    ),
    refuse(
        "line_change_within_label",
        EventType.LINE_CHANGED,
        "The new schedule is outside the label: lanreotide 120 mg every 14 days (CLARINET "
        "FORTE), octreotide LAR 60 mg (NETTER-1 control arm) or another escalation needs a "
        "clinician's override; everolimus stays 10 or 5 mg a day.",
        "CLARINET FORTE (Pavel et al., Eur J Cancer 2021); NETTER-1 control arm; SSA and "
        "everolimus labels",
        "phase 2 single-arm trial (CLARINET FORTE); label",
        _change_within_label,
    ),
)

PROCEDURE_RECORDED: Final = (
    warn(
        "procedure_octreotide_cover_reminder",
        EventType.PROCEDURE_RECORDED,
        OCTREOTIDE_COVER.format(what="embolisation"),
        OCTREOTIDE_COVER_SOURCE,
        "expert consensus (no level given)",
        lambda facts, data: (
            not (facts.carcinoid_syndrome and data.get("procedure") in ("tae", "tace"))
        ),
    ),
)

GUARDS: Final[Mapping[EventType, tuple[Guard, ...]]] = {
    event: {
        EventType.RESECTION_STARTED: RESECTION_STARTED,
        EventType.RESECTION_COMPLETED: RESECTION_COMPLETED,
        EventType.SSA_STARTED: SSA_STARTED,
        EventType.LINE_CHANGED: LINE_CHANGED,
        EventType.PROCEDURE_RECORDED: PROCEDURE_RECORDED,
        **guards_systemic.all_guards(),
    }.get(event, ())
    for event in EventType
}


def guards_for(event_type: str) -> tuple[Guard, ...]:
    """The guards of one event, in the order they are checked; ValueError for an unknown type."""
    return GUARDS[event_type_of(event_type)]
