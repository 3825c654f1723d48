"""Guards of PRRT (and its cycles), everolimus and chemotherapy.

Pure: each guard reads ``CourseFacts`` and the event's cleaned data. Sources and evidence
labels are the published trials and labels (docs/clinical-rules.md#prrt,
docs/clinical-rules.md#everolimus, docs/clinical-rules.md#chemotherapy).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from .facts import CourseFacts, LineFacts
from .guard_base import Guard, refuse, refuse_always, warn
from .states import PLATINUM_REGIMENS, TEMOZOLOMIDE_REGIMENS, Category, EventType, State

PRRT_EVIDENCE: Final = "phase 3 RCT (NETTER-1; NETTER-2 first line)"
EVEROLIMUS_EVIDENCE: Final = "phase 3 RCT (RADIANT-4)"
PRRT_ACTIVITY_GBQ: Final = (3.7, 7.4)
PRRT_LABEL_CYCLES: Final = 4
# NETTER-2 enrolled Ki-67 from 10 to 55 % (newly diagnosed, untreated G2/G3 NET).
PRRT_FIRST_LINE_KI67: Final = (10.0, 55.0)
# The label gives cycles every 8 weeks; NetCare accepts 7 to 9 weeks between cycles.
PRRT_CYCLE_MIN_DAYS: Final = 49
PRRT_CYCLE_MAX_DAYS: Final = 63
# Long-acting SSA is stopped at least 4 weeks before each cycle (label).
PRRT_SSA_WASHOUT_DAYS: Final = 28
# NETTER-1's laboratory exclusions (Strosberg et al., N Engl J Med 2017;376:125-135,
# protocol eligibility), in the units of ``CourseFacts.latest_prrt_labs``: a value beyond one of
# these at the newest PRRT labs refuses the cycle unless a clinician overrides.
PRRT_MIN_PLATELETS_10E9_L: Final = 75.0  # platelets < 75 000/mm3 excluded
PRRT_MIN_HAEMOGLOBIN_G_L: Final = 80.0  # haemoglobin < 8.0 g/dL excluded
PRRT_MIN_LEUKOCYTES_10E9_L: Final = 2.0  # white cells < 2 000/mm3 excluded
PRRT_MAX_CREATININE_UMOL_L: Final = 150.0  # serum creatinine > 150 umol/L (1.7 mg/dL) excluded
PRRT_MIN_CREATININE_CLEARANCE_ML_MIN: Final = 50.0  # clearance < 50 mL/min excluded
# Total bilirubin > 3 x the upper limit of normal excluded. NetCare stores no per-laboratory
# reference range, so it takes the common adult upper limit of 21 umol/L (1.2 mg/dL): a product
# choice a deployment may change.
BILIRUBIN_UPPER_LIMIT_OF_NORMAL_UMOL_L: Final = 21.0
PRRT_MAX_BILIRUBIN_UMOL_L: Final = 3 * BILIRUBIN_UPPER_LIMIT_OF_NORMAL_UMOL_L
# Albumin < 3.0 g/dL excluded only with an abnormal prothrombin time, which NetCare does not
# record: a low albumin warns (check the prothrombin time) rather than refuses.
PRRT_MIN_ALBUMIN_G_L: Final = 30.0
NETTER1_SOURCE: Final = "NETTER-1 (Strosberg et al., N Engl J Med 2017; laboratory eligibility)"
NETTER1_EVIDENCE: Final = "phase 3 RCT (NETTER-1)"
# (analyte, lowest allowed, highest allowed); None is no bound on that side.
PRRT_LAB_LIMITS: Final = (
    ("platelets", PRRT_MIN_PLATELETS_10E9_L, None),
    ("haemoglobin", PRRT_MIN_HAEMOGLOBIN_G_L, None),
    ("leukocytes", PRRT_MIN_LEUKOCYTES_10E9_L, None),
    ("creatinine", None, PRRT_MAX_CREATININE_UMOL_L),
    ("creatinine_clearance", PRRT_MIN_CREATININE_CLEARANCE_ML_MIN, None),
    ("bilirubin", None, PRRT_MAX_BILIRUBIN_UMOL_L),
)
EVEROLIMUS_DOSES_MG: Final = (5.0, 10.0)
# Progression documented within about 6 months before everolimus starts (RADIANT-4 enrolled
# progression within 6 months); a product constant a deployment may change.
EVEROLIMUS_PROGRESSION_WINDOW_DAYS: Final = 183


def _day(value: Any) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(value) if isinstance(value, str) else None


def first_line_prrt_criteria(facts: CourseFacts) -> bool:
    """NETTER-2's population: 10 % <= Ki-67 <= 55 %, SSTR-positive, no earlier anticancer line."""
    low, high = PRRT_FIRST_LINE_KI67
    return (
        facts.ki67_percent is not None
        and low <= facts.ki67_percent <= high
        and facts.sstr_imaging == "positive"
        and not facts.had_anticancer_line
    )


def progressed_on_ssa(facts: CourseFacts) -> bool:
    """NETTER-1's population: an antiproliferative SSA line ended with progression, or the
    course is in ``progression`` while one still runs (it runs on until the decision)."""
    for line in facts.lines:
        if line.category != Category.SSA or not line.is_anticancer:
            continue
        if line.ended_reason == "progression":
            return True
        if line.is_open and facts.state is State.PROGRESSION:
            return True
    return False


def _washout_kept(facts: CourseFacts, cycle_on: dt.date | None) -> bool:
    last = facts.last_long_acting_injection_on
    if cycle_on is None or last is None:
        return True
    return (cycle_on - last).days >= PRRT_SSA_WASHOUT_DAYS


def _prrt_line(facts: CourseFacts) -> LineFacts | None:
    return next((line for line in facts.open_lines if line.category == Category.PRRT), None)


def _days_since_last_cycle(facts: CourseFacts, data: Mapping[str, Any]) -> int | None:
    line = _prrt_line(facts)
    given_on = _day(data.get("given_on")) or facts.occurred_on
    if line is None or not line.cycles or given_on is None:
        return None
    previous = max((c.given_on for c in line.cycles if c.given_on is not None), default=None)
    return None if previous is None else (given_on - previous).days


def prrt_labs_outside_limits(labs: Mapping[str, float]) -> tuple[str, ...]:
    """The analytes of ``labs`` beyond NETTER-1's laboratory limits, in ``PRRT_LAB_LIMITS`` order.

    ``labs`` maps an analyte to its newest value in the units of ``PRRT_LAB_LIMITS`` (counts in
    10^9/L, haemoglobin in g/L, creatinine and bilirubin in umol/L, clearance in mL/min). A
    value at a limit is within it (NETTER-1 excluded values strictly beyond); an analyte not
    measured is not judged (the ``prrt_labs`` due item asks for it). Albumin is not judged here
    (see ``PRRT_MIN_ALBUMIN_G_L``). Source: NETTER-1 (N Engl J Med 2017).
    """
    outside = []
    for analyte, low, high in PRRT_LAB_LIMITS:
        value = labs.get(analyte)
        if value is None:
            continue
        if (low is not None and value < low) or (high is not None and value > high):
            outside.append(analyte)
    return tuple(outside)


def _labs_within(facts: CourseFacts, data: Mapping[str, Any]) -> bool:
    return not prrt_labs_outside_limits(facts.latest_prrt_labs)


def _albumin_kept(facts: CourseFacts, data: Mapping[str, Any]) -> bool:
    albumin = facts.latest_prrt_labs.get("albumin")
    return albumin is None or albumin >= PRRT_MIN_ALBUMIN_G_L


def _recent_progression(facts: CourseFacts) -> bool:
    documented = facts.progression_documented_on
    if documented is None:
        return False
    if facts.occurred_on is None:
        return True
    return (facts.occurred_on - documented).days <= EVEROLIMUS_PROGRESSION_WINDOW_DAYS


def _activity_in_range(data: Mapping[str, Any]) -> bool:
    return PRRT_ACTIVITY_GBQ[0] <= data.get("activity_gbq", -1) <= PRRT_ACTIVITY_GBQ[1]


WELL_DIFFERENTIATED_ONLY: Final = (
    "{therapy} is for well-differentiated NET: {trials} enrolled well-differentiated NET "
    "only; this tumour is recorded as poorly differentiated or mixed (NEC/MiNEN)."
)
OCTREOTIDE_COVER: Final = (
    "Carcinoid syndrome is recorded: plan octreotide cover around the {what} to prevent a "
    "carcinoid crisis."
)
OCTREOTIDE_COVER_SOURCE: Final = (
    "Review of carcinoid crisis (Cancers 2022); ENETS 2024 small-intestine NET guidance"
)
WASHOUT: Final = (
    "Long-acting somatostatin analogue given less than 4 weeks before this PRRT cycle: the "
    "label asks for a washout of at least 4 weeks (it competes for the receptor)."
)
LABEL: Final = "177Lu-DOTATATE SmPC/USPI"
LABS_OUTSIDE: Final = (
    "The newest PRRT labs are outside the NETTER-1 limits (platelets at least "
    f"{PRRT_MIN_PLATELETS_10E9_L:g} x 10^9/L, haemoglobin at least 8 g/dL, white cells at least "
    f"{PRRT_MIN_LEUKOCYTES_10E9_L:g} x 10^9/L, creatinine at most "
    f"{PRRT_MAX_CREATININE_UMOL_L:g} umol/L, creatinine clearance at least "
    f"{PRRT_MIN_CREATININE_CLEARANCE_ML_MIN:g} mL/min, bilirubin at most 3 x the upper limit "
    f"of normal, {PRRT_MAX_BILIRUBIN_UMOL_L:g} umol/L): a clinician decides whether to give "
    "this cycle."
)
LOW_ALBUMIN: Final = (
    "Albumin below 3.0 g/dL at the newest PRRT labs: NETTER-1 excluded it with an abnormal "
    "prothrombin time; check the prothrombin time before this cycle."
)


def _cover(facts: CourseFacts, data: Mapping[str, Any]) -> bool:
    return not facts.carcinoid_syndrome


PRRT_STARTED: Final = (
    refuse(
        "prrt_requires_well_differentiated",
        EventType.PRRT_STARTED,
        WELL_DIFFERENTIATED_ONLY.format(therapy="PRRT", trials="NETTER-1 and NETTER-2"),
        "NETTER-1 (N Engl J Med 2017); NETTER-2 (Lancet 2024)",
        PRRT_EVIDENCE,
        lambda facts, data: not facts.neuroendocrine_carcinoma,
    ),
    refuse(
        "prrt_requires_positive_sstr_imaging",
        EventType.PRRT_STARTED,
        "PRRT needs positive somatostatin-receptor imaging with uptake at least that of normal "
        "liver.",
        f"NETTER-1; {LABEL}",
        PRRT_EVIDENCE,
        lambda facts, data: (
            facts.sstr_imaging == "positive" and facts.sstr_uptake_vs_liver != "below"
        ),
    ),
    refuse(
        "prrt_line_position",
        EventType.PRRT_STARTED,
        "PRRT is given after progression on a somatostatin analogue (NETTER-1), or as first "
        "line when Ki-67 is 10-55 %, the tumour is SSTR-positive and no anticancer line was "
        "given before (NETTER-2); neither holds for this course.",
        "NETTER-1 (N Engl J Med 2017, progression on SSA); NETTER-2 (Lancet 2024, first line)",
        PRRT_EVIDENCE,
        lambda facts, data: first_line_prrt_criteria(facts) or progressed_on_ssa(facts),
    ),
    warn(
        "prrt_first_line_g3_label_warns",
        EventType.PRRT_STARTED,
        "First-line PRRT for a G3 NET follows NETTER-2, but the EU label names G1-G2 tumours.",
        f"NETTER-2 (Lancet 2024); {LABEL}",
        PRRT_EVIDENCE,
        lambda facts, data: not (facts.grade == "G3" and not facts.had_anticancer_line),
    ),
    refuse(
        "prrt_activity_in_range",
        EventType.PRRT_STARTED,
        "177Lu-DOTATATE activity must be 3.7 to 7.4 GBq per cycle (7.4 GBq standard).",
        f"{LABEL}; NETTER-1",
        "label",
        lambda facts, data: _activity_in_range(data),
    ),
    warn(
        "prrt_more_than_four_cycles_warns",
        EventType.PRRT_STARTED,
        "More than 4 PRRT cycles planned: the label gives 4 cycles 8 weeks apart; more is "
        "retreatment.",
        f"{LABEL}; NETTER-2 (retreatment after benefit)",
        "label",
        lambda facts, data: data.get("cycles_planned", 0) <= PRRT_LABEL_CYCLES,
    ),
    refuse(
        "prrt_labs_within_netter1_limits",
        EventType.PRRT_STARTED,
        LABS_OUTSIDE,
        NETTER1_SOURCE,
        NETTER1_EVIDENCE,
        _labs_within,
    ),
    warn(
        "prrt_low_albumin_warns",
        EventType.PRRT_STARTED,
        LOW_ALBUMIN,
        NETTER1_SOURCE,
        NETTER1_EVIDENCE,
        _albumin_kept,
    ),
    warn(
        "prrt_ssa_washout_warns",
        EventType.PRRT_STARTED,
        WASHOUT,
        LABEL,
        "label",
        lambda facts, data: _washout_kept(facts, facts.occurred_on),
    ),
    warn(
        "prrt_octreotide_cover_reminder",
        EventType.PRRT_STARTED,
        OCTREOTIDE_COVER.format(what="PRRT cycle"),
        OCTREOTIDE_COVER_SOURCE,
        "expert consensus (no level given)",
        _cover,
    ),
)

PRRT_CYCLE_GIVEN: Final = (
    refuse_always(
        "prrt_cycle_is_the_next",
        EventType.PRRT_CYCLE_GIVEN,
        "PRRT cycles are numbered in order: this number is not the next cycle of the running "
        "PRRT line.",
        "NetCare record integrity (docs/clinical-rules.md#prrt)",
        "product rule",
        lambda facts, data: (
            (line := _prrt_line(facts)) is None or data.get("cycle") == len(line.cycles) + 1
        ),
    ),
    refuse(
        "prrt_cycle_interval_at_least_49_days",
        EventType.PRRT_CYCLE_GIVEN,
        f"PRRT cycles are given 8 weeks apart; fewer than {PRRT_CYCLE_MIN_DAYS} days since "
        "the previous cycle.",
        f"{LABEL}; NETTER-1 (every 8 weeks)",
        "label",
        lambda facts, data: (
            (days := _days_since_last_cycle(facts, data)) is None or days >= PRRT_CYCLE_MIN_DAYS
        ),
    ),
    warn(
        "prrt_cycle_interval_over_63_days_warns",
        EventType.PRRT_CYCLE_GIVEN,
        f"More than {PRRT_CYCLE_MAX_DAYS} days since the previous PRRT cycle (8 weeks on the "
        "label; up to 16 weeks allowed for toxicity).",
        f"{LABEL}; NETTER-1",
        "label",
        lambda facts, data: (
            (days := _days_since_last_cycle(facts, data)) is None or days <= PRRT_CYCLE_MAX_DAYS
        ),
    ),
    refuse(
        "prrt_cycle_activity_in_range",
        EventType.PRRT_CYCLE_GIVEN,
        "177Lu-DOTATATE activity must be 3.7 to 7.4 GBq per cycle (7.4 GBq standard).",
        f"{LABEL}; NETTER-1",
        "label",
        lambda facts, data: "activity_gbq" not in data or _activity_in_range(data),
    ),
    warn(
        "prrt_cycle_beyond_four_warns",
        EventType.PRRT_CYCLE_GIVEN,
        "A PRRT cycle beyond the fourth: the label gives 4 cycles; more is retreatment.",
        f"{LABEL}; NETTER-2 (retreatment after benefit)",
        "label",
        lambda facts, data: data.get("cycle", 0) <= PRRT_LABEL_CYCLES,
    ),
    refuse(
        "prrt_cycle_labs_within_netter1_limits",
        EventType.PRRT_CYCLE_GIVEN,
        LABS_OUTSIDE,
        NETTER1_SOURCE,
        NETTER1_EVIDENCE,
        _labs_within,
    ),
    warn(
        "prrt_cycle_low_albumin_warns",
        EventType.PRRT_CYCLE_GIVEN,
        LOW_ALBUMIN,
        NETTER1_SOURCE,
        NETTER1_EVIDENCE,
        _albumin_kept,
    ),
    warn(
        "prrt_cycle_ssa_washout_warns",
        EventType.PRRT_CYCLE_GIVEN,
        WASHOUT,
        LABEL,
        "label",
        lambda facts, data: _washout_kept(facts, _day(data.get("given_on")) or facts.occurred_on),
    ),
    warn(
        "prrt_cycle_octreotide_cover_reminder",
        EventType.PRRT_CYCLE_GIVEN,
        OCTREOTIDE_COVER.format(what="PRRT cycle"),
        OCTREOTIDE_COVER_SOURCE,
        "expert consensus (no level given)",
        _cover,
    ),
)

EVEROLIMUS_STARTED: Final = (
    refuse(
        "everolimus_requires_well_differentiated",
        EventType.EVEROLIMUS_STARTED,
        WELL_DIFFERENTIATED_ONLY.format(therapy="Everolimus", trials="RADIANT-4"),
        "RADIANT-4 (Lancet 2016)",
        EVEROLIMUS_EVIDENCE,
        lambda facts, data: not facts.neuroendocrine_carcinoma,
    ),
    refuse(
        "everolimus_requires_recent_progression",
        EventType.EVEROLIMUS_STARTED,
        "Everolimus is for progressive NET: radiological progression must be documented "
        f"within the last {EVEROLIMUS_PROGRESSION_WINDOW_DAYS} days (about 6 months); a prior "
        "line is not required.",
        "RADIANT-4 (Lancet 2016: progression within 6 months); everolimus label",
        EVEROLIMUS_EVIDENCE,
        lambda facts, data: _recent_progression(facts),
    ),
    warn(
        "everolimus_grade_g3_warns",
        EventType.EVEROLIMUS_STARTED,
        "NET G3: RADIANT-4 enrolled G1/G2 disease.",
        "RADIANT-4 (Lancet 2016)",
        EVEROLIMUS_EVIDENCE,
        lambda facts, data: facts.grade != "G3",
    ),
    warn(
        "everolimus_functional_tumour_warns",
        EventType.EVEROLIMUS_STARTED,
        "The everolimus label excludes functional carcinoid tumours (carcinoid syndrome); "
        "RADIANT-4 studied non-functional NET.",
        "Everolimus label; RADIANT-4",
        "label",
        lambda facts, data: not facts.syndrome,
    ),
    refuse(
        "everolimus_dose_in_allowed_set",
        EventType.EVEROLIMUS_STARTED,
        "The everolimus dose must be 10 mg once a day, or 5 mg as a reduction.",
        "Everolimus label; RADIANT-4 (10 mg once daily)",
        "label",
        lambda facts, data: data.get("dose_mg") in EVEROLIMUS_DOSES_MG,
    ),
)

NEC_SOURCE: Final = "ENETS 2023 digestive NEC guidance (Sorbye et al., J Neuroendocrinol 2023)"

CHEMOTHERAPY_STARTED: Final = (
    refuse(
        "adjuvant_chemotherapy_for_carcinoma_needs_override",
        EventType.CHEMOTHERAPY_STARTED,
        "No recurrence is recorded: chemotherapy after complete resection is adjuvant, which "
        "is considered only for neuroendocrine carcinoma and needs a clinician's decision.",
        NEC_SOURCE,
        "guideline recommendation (no level given)",
        lambda facts, data: facts.state is not State.SURVEILLANCE,
    ),
    refuse(
        "platinum_etoposide_requires_poorly_differentiated",
        EventType.CHEMOTHERAPY_STARTED,
        "Platinum-etoposide is reserved for poorly differentiated neuroendocrine carcinoma "
        "(NEC); it is not given for well-differentiated NET.",
        f"{NEC_SOURCE}; guideline summary 2025",
        "guideline recommendation (no level given)",
        lambda facts, data: (
            data.get("regimen") not in PLATINUM_REGIMENS
            or facts.differentiation == "poor"
            or facts.grade == "NEC"
        ),
    ),
    warn(
        "temozolomide_grade_g1_warns",
        EventType.CHEMOTHERAPY_STARTED,
        "Temozolomide-based chemotherapy is for aggressive disease (G2 with high Ki-67, or "
        "G3); this tumour is G1.",
        "Guideline summary 2025; E2211 (CAPTEM, pancreatic NET)",
        "LoE 3, grade B/C",
        lambda facts, data: data.get("regimen") not in TEMOZOLOMIDE_REGIMENS or facts.grade != "G1",
    ),
    warn(
        "nec_temozolomide_first_line_warns",
        EventType.CHEMOTHERAPY_STARTED,
        "Neuroendocrine carcinoma: platinum-etoposide is the first line (carboplatin "
        "preferred); temozolomide-based chemotherapy is a later line.",
        NEC_SOURCE,
        "guideline recommendation (no level given)",
        lambda facts, data: (
            not (
                facts.neuroendocrine_carcinoma
                and data.get("regimen") in TEMOZOLOMIDE_REGIMENS
                and not facts.had_anticancer_line
            )
        ),
    ),
)


def all_guards() -> dict[EventType, tuple[Guard, ...]]:
    """The guards of this module by event."""
    return {
        EventType.PRRT_STARTED: PRRT_STARTED,
        EventType.PRRT_CYCLE_GIVEN: PRRT_CYCLE_GIVEN,
        EventType.EVEROLIMUS_STARTED: EVEROLIMUS_STARTED,
        EventType.CHEMOTHERAPY_STARTED: CHEMOTHERAPY_STARTED,
    }
