"""Scoring of the patient-reported symptom check, and the one ``Severity`` scale.

Pure: answers in, findings out. A finding carries its severity, its reason, advice for the
coordinator and, where the patient must act at once, advice for the patient.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from django.db.models.enums import TextChoices

from treatments.rules_version import RULE_VERSION

from .sources import SOURCE_SYMPTOM_SCORING, SOURCE_TELESTAR

# Carcinoid syndrome: flushing at least daily together with diarrhoea, or frequent flushing
# alone, or wheeze with any flushing (docs/clinical-rules.md#scoring-thresholds).
SYNDROME_FLUSHING_WITH_DIARRHOEA_PER_DAY = 1.0
# TELESTAR entry criterion: 4 or more bowel movements a day is uncontrolled carcinoid diarrhoea.
SYNDROME_STOOLS_PER_DAY = 4.0
SYNDROME_FLUSHING_ALONE_PER_DAY = 3.0
# Obstruction: severe pain (7 or more on 0–10) with vomiting or no stool or gas
# (docs/clinical-rules.md#scoring-thresholds).
OBSTRUCTION_PAIN_SCORE = 7
# Weight loss since the last check that raises an alert (docs/clinical-rules.md#scoring-thresholds).
WEIGHT_LOSS_ALERT_KG = 5.0

# Version 2 (docs/clinical-rules.md#version-2-symptom-scoring).
# Diarrhoea alone: 4 or more bowel movements a day (TELESTAR's uncontrolled carcinoid diarrhoea).
DIARRHOEA_ALONE_STOOLS_PER_DAY = SYNDROME_STOOLS_PER_DAY
# New flushing: at least once a day when the previous check had none.
NEW_FLUSHING_PER_DAY = 1.0
# Severe abdominal pain alone (obstruction or mesenteric ischaemia in small-intestine NET).
SEVERE_PAIN_ALONE_SCORE = 8
# Worsening against the previous check: stools or flushing up by 2 or more a day.
WORSENING_STOOLS_PER_DAY = 2.0
WORSENING_FLUSHING_PER_DAY = 2.0
# Weight loss: 5 % of the highest weight of the last 6 months when weights are known.
WEIGHT_LOSS_ALERT_FRACTION = 0.05
WEIGHT_REFERENCE_MONTHS = 6
WEIGHT_KG_RANGE = (20.0, 300.0)

SYMPTOM_RANGES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "flushing_per_day": (0, 50),
        "stools_per_day": (0, 30),
        "abdominal_pain": (0, 10),
        "weight_loss_kg": (0, 50),
    }
)
_SYMPTOM_FLAGS = (
    "wheezing",
    "vomiting",
    "no_stool_or_gas",
    "palpitations_or_swelling",
    "fainting",
    "breathless_at_rest",
)

# Preparation the reminder text must carry (docs/clinical-rules.md#preparation-for-tests).
PREPARATION_5HIAA = (
    "24-hour urine 5-HIAA needs a diet free of serotonin-rich foods (bananas, avocados, "
    "pineapple, plums, walnuts, tomatoes, kiwi) for the preceding days."
)
PREPARATION_CGA = (
    "Chromogranin A is falsely raised by proton-pump inhibitors: ask the clinician whether to "
    "pause them before the test."
)


class AlertKind(StrEnum):
    CARCINOID_SYNDROME = "carcinoid_syndrome"
    OBSTRUCTION = "obstruction"
    CARCINOID_HEART = "carcinoid_heart"
    WEIGHT_LOSS = "weight_loss"
    CARCINOID_CRISIS = "carcinoid_crisis"
    # Fainting or breathlessness at rest without flushing (arrhythmia, heart disease,
    # bradycardia on SSA): urgent, emergency advice.
    EMERGENCY_SYMPTOMS = "emergency_symptoms"
    SYMPTOMS_WORSENING = "symptoms_worsening"


class Severity(TextChoices):
    """How soon a coordinator must act, lowest first; THE one definition for every app.

    A ``TextChoices`` (a plain ``str`` enum with ``values``/``choices`` for model fields and
    API enums) so alerts store and filter it without a copy. Order is meaning: ``rank`` is
    NORMAL 0, HIGH 1, URGENT 2, CRITICAL 3, and an open alert's severity only ever rises.
    """

    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for NORMAL up to 3 for CRITICAL: compare ranks, never the strings."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK: Mapping[str, int] = MappingProxyType(
    {Severity.NORMAL: 0, Severity.HIGH: 1, Severity.URGENT: 2, Severity.CRITICAL: 3}
)


def severity_rank(severity: str) -> int:
    """Rank of a severity given as a member or its string value (``"high"`` -> 1).

    Raises ``ValueError`` for a string that is not one of ``Severity.values``.
    """
    return Severity(severity).rank


@dataclass(frozen=True)
class SymptomAnswers:
    flushing_per_day: float
    stools_per_day: float
    wheezing: bool  # wheezing or shortness of breath with flushing
    abdominal_pain: int  # 0–10
    vomiting: bool
    no_stool_or_gas: bool  # no stool or wind for more than a day
    palpitations_or_swelling: bool
    weight_loss_kg: float  # since the last check
    # Version 2: a first-release client that does not ask them answers "no" / unknown.
    fainting: bool = False
    breathless_at_rest: bool = False
    weight_kg: float | None = None  # 20–300 when given


@dataclass(frozen=True)
class PreviousCheck:
    """What the comparison reads from the patient's previous check (the "new" and "worsening"
    rules apply only when there is one)."""

    flushing_per_day: float
    stools_per_day: float


@dataclass(frozen=True)
class SymptomContext:
    """What scoring reads besides the answers: the previous check, the highest ``weight_kg`` of
    the last 6 months, and whether the patient is on SSA or had ileal surgery (for the text)."""

    previous: PreviousCheck | None = None
    highest_recent_weight_kg: float | None = None
    on_ssa: bool = False
    ileal_surgery: bool = False


@dataclass(frozen=True)
class Finding:
    kind: str
    severity: str
    reason: str
    advice: str  # for the coordinator
    patient_advice: str | None = None  # told to the patient at once by app and message
    source: str = SOURCE_SYMPTOM_SCORING


@dataclass(frozen=True)
class SymptomAssessment:
    carcinoid_syndrome_suspected: bool
    obstruction_suspected: bool
    carcinoid_heart_suspected: bool
    weight_loss_flag: bool
    carcinoid_crisis_suspected: bool
    findings: tuple[Finding, ...]
    worsening: bool = False
    emergency_suspected: bool = False
    # The clinical rule set that scored the check (docs/clinical-rules.md#rule-versions).
    rule_version: str = RULE_VERSION

    @property
    def positive(self) -> bool:
        """True when any alert is raised (the symptom check's ``escalated``)."""
        return bool(self.findings)

    @property
    def moves_imaging(self) -> bool:
        """True when the check brings imaging forward: any alert but a weight-only one
        (docs/clinical-rules.md#version-2-surveillance-and-monitoring)."""
        return any(f.kind != AlertKind.WEIGHT_LOSS for f in self.findings)

    @property
    def highest_severity(self) -> str | None:
        if not self.findings:
            return None
        return max((Severity(f.severity) for f in self.findings), key=severity_rank)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def validate_symptom_answers(answers: SymptomAnswers) -> dict[str, list[str]]:
    """Field errors for answers outside the ranges of docs/clinical-rules.md#questions-and-ranges;
    empty when valid."""
    errors: dict[str, list[str]] = {}
    for field, (low, high) in SYMPTOM_RANGES.items():
        value = getattr(answers, field)
        if not _is_number(value) or not math.isfinite(value):
            errors.setdefault(field, []).append("Must be a number.")
            continue
        if field == "abdominal_pain" and not float(value).is_integer():
            errors.setdefault(field, []).append("Must be a whole number from 0 to 10.")
            continue
        if not (low <= value <= high):
            errors.setdefault(field, []).append(
                f"Must be between {low:g} and {high:g} "
                "(docs/clinical-rules.md#questions-and-ranges)."
            )
    for field in _SYMPTOM_FLAGS:
        if not isinstance(getattr(answers, field), bool):
            errors.setdefault(field, []).append("Must be yes or no (true or false).")
    weight = answers.weight_kg
    if weight is not None:
        low, high = WEIGHT_KG_RANGE
        if not _is_number(weight) or not math.isfinite(weight):
            errors["weight_kg"] = ["Must be a number, or left out."]
        elif not (low <= weight <= high):
            errors["weight_kg"] = [
                f"Must be between {low:g} and {high:g} kg "
                "(docs/clinical-rules.md#version-2-symptom-scoring)."
            ]
    return errors


_EMERGENCY_ADVICE = (
    "Seek emergency care now: call the emergency number or go to the nearest emergency "
    "department, and say you have a neuroendocrine tumour."
)


def _weight_finding(answers: SymptomAnswers, context: SymptomContext) -> str | None:
    """The reason a weight alert is raised, or None (docs/clinical-rules.md#version-2-symptom-scoring).

    5 % below the highest weight of the last 6 months when both are known, else 5 kg lost
    since the last check.
    """
    highest, weight = context.highest_recent_weight_kg, answers.weight_kg
    if highest is not None and weight is not None and highest > 0:
        lost = highest - weight
        if lost >= highest * WEIGHT_LOSS_ALERT_FRACTION:
            return (
                f"Weight {weight:g} kg, {lost:g} kg below the highest of the last "
                f"{WEIGHT_REFERENCE_MONTHS} months ({highest:g} kg; ≥ "
                f"{WEIGHT_LOSS_ALERT_FRACTION:.0%})."
            )
        return None
    if answers.weight_loss_kg >= WEIGHT_LOSS_ALERT_KG:
        return (
            f"Weight loss of {answers.weight_loss_kg:g} kg since the last check "
            f"(≥ {WEIGHT_LOSS_ALERT_KG:g} kg)."
        )
    return None


def _syndrome_reasons(answers: SymptomAnswers, previous: PreviousCheck | None) -> list[str]:
    flushing, stools = answers.flushing_per_day, answers.stools_per_day
    reasons: list[str] = []
    if flushing >= SYNDROME_FLUSHING_WITH_DIARRHOEA_PER_DAY and stools >= SYNDROME_STOOLS_PER_DAY:
        reasons.append(
            f"flushing {flushing:g} a day with {stools:g} bowel movements a day "
            f"(≥ {SYNDROME_FLUSHING_WITH_DIARRHOEA_PER_DAY:g} with ≥ {SYNDROME_STOOLS_PER_DAY:g}; "
            f"{SOURCE_TELESTAR})"
        )
    elif stools >= DIARRHOEA_ALONE_STOOLS_PER_DAY:
        reasons.append(
            f"{stools:g} bowel movements a day (≥ {DIARRHOEA_ALONE_STOOLS_PER_DAY:g}; "
            f"{SOURCE_TELESTAR})"
        )
    if flushing >= SYNDROME_FLUSHING_ALONE_PER_DAY:
        reasons.append(f"flushing {flushing:g} a day (≥ {SYNDROME_FLUSHING_ALONE_PER_DAY:g})")
    elif (
        previous is not None and previous.flushing_per_day == 0 and flushing >= NEW_FLUSHING_PER_DAY
    ):
        reasons.append(f"new flushing, {flushing:g} a day (none at the previous check)")
    if answers.wheezing and flushing > 0:
        reasons.append("wheezing or shortness of breath with flushing")
    return reasons


def _worsening_reasons(answers: SymptomAnswers, previous: PreviousCheck | None) -> list[str]:
    if previous is None:
        return []
    reasons: list[str] = []
    stools_up = answers.stools_per_day - previous.stools_per_day
    flushing_up = answers.flushing_per_day - previous.flushing_per_day
    if stools_up >= WORSENING_STOOLS_PER_DAY:
        reasons.append(
            f"bowel movements up from {previous.stools_per_day:g} to "
            f"{answers.stools_per_day:g} a day (≥ {WORSENING_STOOLS_PER_DAY:g} more)"
        )
    if flushing_up >= WORSENING_FLUSHING_PER_DAY:
        reasons.append(
            f"flushing up from {previous.flushing_per_day:g} to {answers.flushing_per_day:g} a "
            f"day (≥ {WORSENING_FLUSHING_PER_DAY:g} more)"
        )
    return reasons


def _syndrome_advice(answers: SymptomAnswers, context: SymptomContext) -> str:
    advice = (
        "Ask for chromogranin A and 24-hour urinary 5-HIAA and bring imaging forward: new "
        "flushing or diarrhoea can signal recurrence in the liver."
    )
    if answers.stools_per_day >= DIARRHOEA_ALONE_STOOLS_PER_DAY:
        causes = ["bile-acid malabsorption after ileal surgery"] if context.ileal_surgery else []
        causes.append("steatorrhoea on a somatostatin analogue" if context.on_ssa else "infection")
        advice += " Diarrhoea has other causes to consider: " + ", ".join(causes) + "."
        if context.on_ssa:
            advice += (
                " Diarrhoea of 4 or more a day despite a somatostatin analogue: consider "
                "telotristat ethyl (TELESTAR)."
            )
    return f"{advice} {PREPARATION_5HIAA} {PREPARATION_CGA}"


def assess_symptoms(
    answers: SymptomAnswers, context: SymptomContext | None = None
) -> SymptomAssessment:
    """Score a symptom check (docs/clinical-rules.md#scoring-thresholds, version 2 in
    docs/clinical-rules.md#version-2-symptom-scoring).

    ``context`` carries the previous check (for "new flushing" and "worsening"), the highest
    recent weight and the text hints; without it the check is scored on its own. Findings by
    severity: fainting or breathlessness at rest, urgent with emergency advice (a possible
    carcinoid crisis when with flushing); suspected obstruction (vomiting with no stool or gas,
    pain ≥ 7 with either, or pain ≥ 8 alone), urgent with same-day advice; suspected carcinoid
    syndrome (≥ 4 stools a day, flushing ≥ 3, new flushing, wheeze with flushing), high;
    worsening (stools or flushing up by 2 a day), high; palpitations or swelling, high; weight
    loss, normal. Invalid answers raise ValueError.
    """
    errors = validate_symptom_answers(answers)
    if errors:
        raise ValueError(f"Invalid symptom answers: {errors}")
    context = context or SymptomContext()
    any_flushing = answers.flushing_per_day > 0

    syndrome_reasons = _syndrome_reasons(answers, context.previous)
    worsening_reasons = _worsening_reasons(answers, context.previous)

    obstruction_reasons: list[str] = []
    if answers.vomiting and answers.no_stool_or_gas:
        obstruction_reasons.append("vomiting with no stool or wind for more than a day")
    if answers.abdominal_pain >= OBSTRUCTION_PAIN_SCORE and (
        answers.vomiting or answers.no_stool_or_gas
    ):
        obstruction_reasons.append(
            f"abdominal pain {answers.abdominal_pain}/10 (≥ {OBSTRUCTION_PAIN_SCORE}) with "
            + ("vomiting" if answers.vomiting else "no stool or wind")
        )
    elif answers.abdominal_pain >= SEVERE_PAIN_ALONE_SCORE:
        obstruction_reasons.append(
            f"severe abdominal pain {answers.abdominal_pain}/10 (≥ {SEVERE_PAIN_ALONE_SCORE}): "
            "obstruction or mesenteric ischaemia"
        )

    emergency = answers.fainting or answers.breathless_at_rest
    # A crisis means haemodynamic instability: only fainting or breathlessness at rest say so;
    # wheeze with flushing alone is the syndrome (high), not a crisis.
    crisis = emergency and any_flushing
    what = " and ".join(
        label
        for label, asked in (
            ("fainting", answers.fainting),
            ("breathlessness at rest", answers.breathless_at_rest),
        )
        if asked
    )
    weight_reason = _weight_finding(answers, context)

    findings: list[Finding] = []
    if crisis:
        findings.append(
            Finding(
                kind=AlertKind.CARCINOID_CRISIS,
                severity=Severity.URGENT,
                reason=f"{what.capitalize()} together with flushing: possible carcinoid crisis.",
                advice="Urgent: contact the patient now and confirm emergency care was sought.",
                patient_advice=_EMERGENCY_ADVICE,
            )
        )
    elif emergency:
        findings.append(
            Finding(
                kind=AlertKind.EMERGENCY_SYMPTOMS,
                severity=Severity.URGENT,
                reason=f"{what.capitalize()}: possible arrhythmia, carcinoid heart disease or a "
                "slow heart rate on a somatostatin analogue.",
                advice="Urgent: contact the patient now and confirm emergency care was sought.",
                patient_advice=_EMERGENCY_ADVICE,
            )
        )
    if obstruction_reasons:
        findings.append(
            Finding(
                kind=AlertKind.OBSTRUCTION,
                severity=Severity.URGENT,
                reason="Possible bowel obstruction: " + "; ".join(obstruction_reasons) + ".",
                advice="Urgent: contact the patient today; mesenteric disease can obstruct the "
                "bowel or its blood supply and may need emergency surgery.",
                patient_advice="Please seek medical care today: vomiting, severe abdominal pain "
                "or no stool or wind can mean a blocked bowel.",
            )
        )
    if syndrome_reasons:
        reasons = syndrome_reasons + [f"worsening: {r}" for r in worsening_reasons]
        findings.append(
            Finding(
                kind=AlertKind.CARCINOID_SYNDROME,
                severity=Severity.HIGH,
                reason="Carcinoid syndrome suspected: " + "; ".join(reasons) + ".",
                advice=_syndrome_advice(answers, context),
            )
        )
    elif worsening_reasons:
        findings.append(
            Finding(
                kind=AlertKind.SYMPTOMS_WORSENING,
                severity=Severity.HIGH,
                reason="Symptoms worse than at the previous check: "
                + "; ".join(worsening_reasons)
                + ".",
                advice=_syndrome_advice(answers, context),
            )
        )
    if answers.palpitations_or_swelling:
        findings.append(
            Finding(
                kind=AlertKind.CARCINOID_HEART,
                severity=Severity.HIGH,
                reason="Palpitations or swelling of the legs or abdomen: possible carcinoid heart "
                "disease.",
                advice="Arrange NT-proBNP and echocardiography.",
            )
        )
    if weight_reason is not None:
        findings.append(
            Finding(
                kind=AlertKind.WEIGHT_LOSS,
                severity=Severity.NORMAL,
                reason=weight_reason,
                advice="Review the weight loss with the clinician and consider nutrition "
                "screening.",
            )
        )

    return SymptomAssessment(
        carcinoid_syndrome_suspected=bool(syndrome_reasons),
        obstruction_suspected=bool(obstruction_reasons),
        carcinoid_heart_suspected=answers.palpitations_or_swelling,
        weight_loss_flag=weight_reason is not None,
        carcinoid_crisis_suspected=crisis,
        findings=tuple(findings),
        worsening=bool(worsening_reasons),
        emergency_suspected=emergency,
    )
