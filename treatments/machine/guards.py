"""The guideline guards: what must hold before an event is recorded, with its source.

Pure: no ORM, no clock, no I/O. A guard reads ``CourseFacts`` (what the service read from the
database) and the event's cleaned data, and answers whether the event may go ahead. A failed
guard is a ``GuardResult`` carrying its reason, its published source and evidence level, and
whether a clinician may override it. ``docs/clinical-rules.md#guard-table`` is generated
from ``GUARDS`` by ``python manage.py rule_book --write``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .states import (
    PLATINUM_REGIMENS,
    TEMOZOLOMIDE_REGIMENS,
    Category,
    EventType,
    State,
    event_type_of,
)

# --------------------------------------------------------------------------------------------
# Facts the guards read
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineFacts:
    """A treatment line as the guards see it."""

    category: str  # a Category value
    agent: str
    ended_reason: str | None = None  # "progression", ...; None while the line runs


@dataclass(frozen=True)
class CourseFacts:
    """What the guards need to know about a course, read by the service from the database."""

    state: State
    differentiation: str  # "well", "poor", "mixed"
    grade: str  # "G1", "G2", "G3", "NEC", "MiNEN"
    ki67_percent: float | None
    sstr_imaging: str  # "positive", "negative", "equivocal", "not_done"
    functional: bool
    lines: tuple[LineFacts, ...] = ()  # oldest first
    # data of the latest recurrence_detected event, e.g. {"site": "liver", "resectable": True}
    last_recurrence: Mapping[str, Any] | None = field(default=None, hash=False)
    # The gallbladder is still in place (no cholecystectomy recorded):
    # docs/clinical-rules.md#pitfalls.
    gallbladder_in_place: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", State(self.state))
        object.__setattr__(self, "lines", tuple(self.lines))


# --------------------------------------------------------------------------------------------
# Guards (docs/clinical-rules.md#treatment-lines; docs/clinical-rules.md#guard-table)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GuardResult:
    """Why an event is refused or warned about, with its source and evidence level."""

    guard: str
    reason: str
    source: str
    evidence: str
    overridable: bool
    blocking: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "guard": self.guard,
            "reason": self.reason,
            "source": self.source,
            "evidence": self.evidence,
            "overridable": self.overridable,
            "blocking": self.blocking,
        }


@dataclass(frozen=True)
class Guard:
    """A named precondition of one event.

    ``holds`` returns True when the event may go ahead; a guard that does not apply to the
    data (the platinum rule for a temozolomide regimen) holds. A non-blocking guard is a
    warning: it never refuses, so it needs no override (``overridable`` is True).
    """

    name: str
    event: EventType
    reason: str
    source: str
    evidence: str
    blocking: bool
    overridable: bool
    holds: Callable[[CourseFacts, Mapping[str, Any]], bool] = field(compare=False, repr=False)

    def result(self) -> GuardResult:
        return GuardResult(
            guard=self.name,
            reason=self.reason,
            source=self.source,
            evidence=self.evidence,
            overridable=self.overridable,
            blocking=self.blocking,
        )


Check = Callable[[CourseFacts, Mapping[str, Any]], bool]


def _refuse(
    name: str, event: EventType, reason: str, source: str, evidence: str, holds: Check
) -> Guard:
    """A blocking guard a clinician may override with a written reason."""
    return Guard(
        name, event, reason, source, evidence, blocking=True, overridable=True, holds=holds
    )


def _warn(
    name: str, event: EventType, reason: str, source: str, evidence: str, holds: Check
) -> Guard:
    """A warning: shown with the decision, never refuses."""
    return Guard(
        name, event, reason, source, evidence, blocking=False, overridable=True, holds=holds
    )


def _has_line_ended_by_progression(facts: CourseFacts, category: str | None = None) -> bool:
    return any(
        line.ended_reason == "progression" and (category is None or line.category == category)
        for line in facts.lines
    )


SSA_SOURCE: Final = "PROMID; CLARINET; ENETS 2024 small-intestine NET guidance"
SSA_EVIDENCE: Final = "trial evidence (PROMID and CLARINET randomised trials)"
PRRT_EVIDENCE: Final = "LoE 3, grade B (seed); NETTER-1 randomised trial"
EVEROLIMUS_EVIDENCE: Final = (
    "LoE 1, grade A (seed, extrapolated from pancreatic NET); RADIANT-4 randomised trial"
)

# Allowed SSA schedules: the labelled antiproliferative doses every 4 weeks. Escalations
# (lanreotide every 14 days, octreotide LAR 60 mg) exist but are off-label: override only.
SSA_ALLOWED_DOSES_MG: Final[Mapping[str, tuple[float, ...]]] = {
    "octreotide_lar": (20.0, 30.0),
    "lanreotide": (120.0,),
}
SSA_INTERVAL_DAYS: Final = 28
PRRT_ACTIVITY_GBQ: Final = (3.7, 7.4)
PRRT_LABEL_CYCLES: Final = 4
EVEROLIMUS_DOSES_MG: Final = (5.0, 10.0)

GUARDS: Final[Mapping[EventType, tuple[Guard, ...]]] = {
    EventType.RECURRENCE_DETECTED: (),
    EventType.RESECTION_STARTED: (
        _refuse(
            "resection_requires_resectable_recurrence",
            EventType.RESECTION_STARTED,
            "Re-resection is for locoregional or oligometastatic recurrence judged resectable; "
            "the last recorded recurrence was not judged resectable.",
            "ESMO 2020; ENETS 2024 small-intestine NET guidance; guideline summary 2025 "
            "(10-year overall survival 50.4 % after hepatic resection of NET metastases)",
            "observational series (no level given)",
            lambda facts, data: bool(
                facts.last_recurrence and facts.last_recurrence.get("resectable") is True
            ),
        ),
    ),
    EventType.RESECTION_COMPLETED: (
        _warn(
            "resection_ned_with_incomplete_margin_warns",
            EventType.RESECTION_COMPLETED,
            "No evidence of disease is recorded although the margin is R1 or R2; surveillance "
            "assumes a complete resection.",
            "Guideline summary 2025 (surveillance after complete resection); "
            "docs/clinical-rules.md#surveillance-after-resection",
            "guideline summary (no level given)",
            lambda facts, data: (
                not (data.get("ned") is True and data.get("margin") in ("R1", "R2"))
            ),
        ),
    ),
    EventType.SSA_STARTED: (
        _warn(
            "ssa_with_gallbladder_in_place_warns",
            EventType.SSA_STARTED,
            "Long-term somatostatin analogues raise the risk of gallstones and the gallbladder "
            "is in place: consider prophylactic cholecystectomy at any further abdominal "
            "operation.",
            "Guideline summary 2025 (pitfalls); ENETS 2024 small-intestine NET guidance",
            "expert consensus (no level given)",
            lambda facts, data: not facts.gallbladder_in_place,
        ),
        _refuse(
            "ssa_requires_well_differentiated",
            EventType.SSA_STARTED,
            "A somatostatin analogue is for well-differentiated NET; poorly differentiated or "
            "mixed neoplasms need another line.",
            SSA_SOURCE,
            SSA_EVIDENCE,
            lambda facts, data: facts.differentiation == "well",
        ),
        _warn(
            "ssa_grade_g3_warns",
            EventType.SSA_STARTED,
            "NET G3: the somatostatin-analogue trials enrolled G1/G2 disease (CLARINET Ki-67 "
            "below 10 %); starting one is a clinician decision.",
            SSA_SOURCE,
            SSA_EVIDENCE,
            lambda facts, data: facts.grade != "G3",
        ),
        _refuse(
            "ssa_requires_positive_sstr_imaging",
            EventType.SSA_STARTED,
            "Somatostatin-receptor imaging must be positive before a somatostatin analogue is "
            "started.",
            "CLARINET (required SSTR scintigraphy uptake); PROMID; "
            "ENETS 2024 small-intestine NET guidance",
            SSA_EVIDENCE,
            lambda facts, data: facts.sstr_imaging == "positive",
        ),
        _refuse(
            "ssa_dose_in_allowed_set",
            EventType.SSA_STARTED,
            "The somatostatin-analogue dose must be octreotide LAR 20 or 30 mg or lanreotide "
            "120 mg, every 28 days.",
            "Octreotide LAR and lanreotide labels; PROMID; CLARINET",
            "label",
            lambda facts, data: (
                data.get("dose_mg") in SSA_ALLOWED_DOSES_MG.get(data.get("agent", ""), ())
                and data.get("interval_days") == SSA_INTERVAL_DAYS
            ),
        ),
        _warn(
            "ssa_octreotide_20mg_warns",
            EventType.SSA_STARTED,
            "The antiproliferative evidence for octreotide LAR (PROMID) is for 30 mg every "
            "28 days; 20 mg is a symptom-control dose.",
            "PROMID (octreotide LAR 30 mg, midgut NET)",
            "trial evidence (PROMID randomised trial)",
            lambda facts, data: (
                not (data.get("agent") == "octreotide_lar" and data.get("dose_mg") == 20)
            ),
        ),
    ),
    EventType.PROGRESSION_DETECTED: (),
    EventType.PRRT_STARTED: (
        _refuse(
            "prrt_requires_positive_sstr_imaging",
            EventType.PRRT_STARTED,
            "PRRT needs positive somatostatin-receptor imaging (uptake at least that of normal "
            "liver).",
            "NETTER-1; 177Lu-DOTATATE label",
            PRRT_EVIDENCE,
            lambda facts, data: facts.sstr_imaging == "positive",
        ),
        _refuse(
            "prrt_requires_progression_on_ssa",
            EventType.PRRT_STARTED,
            "PRRT follows progression on a somatostatin analogue; no SSA line ended with "
            "progression. First-line PRRT (Ki-67 10-55 %) needs a clinician override.",
            "NETTER-1 (midgut NET progressing on SSA); NETTER-2 (first line, Ki-67 10-55 %)",
            "LoE 3, grade B (seed); NETTER-1 and NETTER-2 randomised trials",
            lambda facts, data: _has_line_ended_by_progression(facts, Category.SSA),
        ),
        _refuse(
            "prrt_activity_in_range",
            EventType.PRRT_STARTED,
            "177Lu-DOTATATE activity must be 3.7 to 7.4 GBq per cycle (7.4 GBq standard).",
            "177Lu-DOTATATE label; NETTER-1",
            "label",
            lambda facts, data: (
                PRRT_ACTIVITY_GBQ[0] <= data.get("activity_gbq", -1) <= PRRT_ACTIVITY_GBQ[1]
            ),
        ),
        _warn(
            "prrt_more_than_four_cycles_warns",
            EventType.PRRT_STARTED,
            "More than 4 PRRT cycles planned: the label gives 4 cycles 8 weeks apart; more is "
            "retreatment.",
            "177Lu-DOTATATE label; NETTER-2 (retreatment after benefit)",
            "label",
            lambda facts, data: data.get("cycles_planned", 0) <= PRRT_LABEL_CYCLES,
        ),
    ),
    EventType.EVEROLIMUS_STARTED: (
        _refuse(
            "everolimus_requires_documented_progression",
            EventType.EVEROLIMUS_STARTED,
            "Everolimus is for progressive NET; no prior line ended with documented progression.",
            "RADIANT-4; everolimus label (progressive NET)",
            EVEROLIMUS_EVIDENCE,
            lambda facts, data: _has_line_ended_by_progression(facts),
        ),
        _warn(
            "everolimus_functional_tumour_warns",
            EventType.EVEROLIMUS_STARTED,
            "The everolimus label excludes functional carcinoid tumours; RADIANT-4 studied "
            "non-functional NET.",
            "Everolimus label; RADIANT-4",
            "label",
            lambda facts, data: not facts.functional,
        ),
        _refuse(
            "everolimus_dose_in_allowed_set",
            EventType.EVEROLIMUS_STARTED,
            "The everolimus dose must be 10 mg once a day, or 5 mg as a reduction.",
            "Everolimus label; RADIANT-4 (10 mg once daily)",
            "label",
            lambda facts, data: data.get("dose_mg") in EVEROLIMUS_DOSES_MG,
        ),
    ),
    EventType.CHEMOTHERAPY_STARTED: (
        _refuse(
            "platinum_etoposide_requires_poorly_differentiated",
            EventType.CHEMOTHERAPY_STARTED,
            "Platinum-etoposide is reserved for poorly differentiated neuroendocrine carcinoma "
            "(NEC); it is not given for well-differentiated NET.",
            "ENETS 2023 digestive NEC guidance; guideline summary 2025",
            "guideline recommendation (no level given)",
            lambda facts, data: (
                data.get("regimen") not in PLATINUM_REGIMENS
                or facts.differentiation == "poor"
                or facts.grade == "NEC"
            ),
        ),
        _warn(
            "temozolomide_grade_g1_warns",
            EventType.CHEMOTHERAPY_STARTED,
            "Temozolomide-based chemotherapy is for aggressive disease (G2 with high Ki-67, or "
            "G3); this tumour is G1.",
            "Guideline summary 2025; E2211 (CAPTEM, pancreatic NET)",
            "LoE 3, grade B/C",
            lambda facts, data: (
                data.get("regimen") not in TEMOZOLOMIDE_REGIMENS or facts.grade != "G1"
            ),
        ),
    ),
    EventType.SUPPORTIVE_CARE_STARTED: (),
    EventType.SYMPTOMS_REPORTED: (),
    EventType.COURSE_CLOSED: (),
}


def guards_for(event_type: str) -> tuple[Guard, ...]:
    """The guards of one event, in the order they are checked; ValueError for an unknown type."""
    return GUARDS[event_type_of(event_type)]


# Why an event is absent from the table for a state. Neither can be overridden: they are the
# 409 "not allowed from this state", not the 422 "guideline guard".
ADJUVANT_RULE: Final = GuardResult(
    guard="no_adjuvant_therapy_after_complete_resection",
    reason="No systemic therapy is started after complete resection without a recorded "
    "recurrence; record the recurrence first.",
    source="ESMO 2020; ENETS (no adjuvant therapy outside trials); guideline summary 2025",
    evidence="LoE 4, grade D",
    overridable=False,
    blocking=True,
)
CLOSED_RULE: Final = GuardResult(
    guard="course_closed_is_final",
    reason="Nothing is recorded after a course is closed.",
    source="NetCare course state machine (docs/clinical-rules.md#states-and-transitions): "
    "closed is terminal",
    evidence="product rule",
    overridable=False,
    blocking=True,
)
