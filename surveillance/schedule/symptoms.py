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

SYMPTOM_RANGES: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "flushing_per_day": (0, 50),
        "stools_per_day": (0, 30),
        "abdominal_pain": (0, 10),
        "weight_loss_kg": (0, 50),
    }
)
_SYMPTOM_FLAGS = ("wheezing", "vomiting", "no_stool_or_gas", "palpitations_or_swelling")

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

    @property
    def positive(self) -> bool:
        """True when any alert is raised (the symptom check's ``escalated``)."""
        return bool(self.findings)

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
    return errors


def assess_symptoms(answers: SymptomAnswers) -> SymptomAssessment:
    """Score a symptom check exactly as docs/clinical-rules.md#scoring-thresholds says. Invalid
    answers raise ValueError."""
    errors = validate_symptom_answers(answers)
    if errors:
        raise ValueError(f"Invalid symptom answers: {errors}")

    flushing = answers.flushing_per_day
    stools = answers.stools_per_day
    any_flushing = flushing > 0
    # The wheeze question is asked "with flushing": without flushing it is not the syndrome.
    wheeze_with_flushing = answers.wheezing and any_flushing

    syndrome_reasons: list[str] = []
    if flushing >= SYNDROME_FLUSHING_WITH_DIARRHOEA_PER_DAY and stools >= SYNDROME_STOOLS_PER_DAY:
        syndrome_reasons.append(
            f"flushing {flushing:g} a day with {stools:g} bowel movements a day "
            f"(≥ {SYNDROME_FLUSHING_WITH_DIARRHOEA_PER_DAY:g} with ≥ {SYNDROME_STOOLS_PER_DAY:g}; "
            f"{SOURCE_TELESTAR})"
        )
    if flushing >= SYNDROME_FLUSHING_ALONE_PER_DAY:
        syndrome_reasons.append(
            f"flushing {flushing:g} a day (≥ {SYNDROME_FLUSHING_ALONE_PER_DAY:g})"
        )
    if wheeze_with_flushing:
        syndrome_reasons.append("wheezing or shortness of breath with flushing")
    syndrome = bool(syndrome_reasons)

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
    obstruction = bool(obstruction_reasons)

    heart = answers.palpitations_or_swelling
    weight = answers.weight_loss_kg >= WEIGHT_LOSS_ALERT_KG
    # Severe breathlessness or wheeze together with flushing: possible carcinoid crisis. The
    # questionnaire has no fainting item, so wheeze with flushing is the only trigger here.
    crisis = wheeze_with_flushing

    findings: list[Finding] = []
    if crisis:
        findings.append(
            Finding(
                kind=AlertKind.CARCINOID_CRISIS,
                severity=Severity.URGENT,
                reason="Wheezing or shortness of breath together with flushing: possible "
                "carcinoid crisis.",
                advice="Urgent: contact the patient now and confirm emergency care was sought.",
                patient_advice="Seek emergency care now: call the emergency number or go to the "
                "nearest emergency department, and say you have a neuroendocrine tumour.",
            )
        )
    if obstruction:
        findings.append(
            Finding(
                kind=AlertKind.OBSTRUCTION,
                severity=Severity.URGENT,
                reason="Possible bowel obstruction: " + "; ".join(obstruction_reasons) + ".",
                advice="Urgent: contact the patient today; mesenteric disease can obstruct the "
                "bowel and may need emergency surgery.",
                patient_advice="Please seek medical care today: vomiting, severe abdominal pain "
                "or no stool or wind can mean a blocked bowel.",
            )
        )
    if syndrome:
        findings.append(
            Finding(
                kind=AlertKind.CARCINOID_SYNDROME,
                severity=Severity.HIGH,
                reason="Carcinoid syndrome suspected: " + "; ".join(syndrome_reasons) + ".",
                advice="Ask for chromogranin A and 24-hour urinary 5-HIAA and bring imaging "
                "forward: new flushing or diarrhoea can signal recurrence in the liver. "
                f"{PREPARATION_5HIAA} {PREPARATION_CGA}",
            )
        )
    if heart:
        findings.append(
            Finding(
                kind=AlertKind.CARCINOID_HEART,
                severity=Severity.HIGH,
                reason="Palpitations or swelling of the legs or abdomen: possible carcinoid heart "
                "disease.",
                advice="Arrange NT-proBNP and echocardiography.",
            )
        )
    if weight:
        findings.append(
            Finding(
                kind=AlertKind.WEIGHT_LOSS,
                severity=Severity.NORMAL,
                reason=f"Weight loss of {answers.weight_loss_kg:g} kg since the last check "
                f"(≥ {WEIGHT_LOSS_ALERT_KG:g} kg).",
                advice="Review the weight loss with the clinician and consider nutrition "
                "screening.",
            )
        )

    return SymptomAssessment(
        carcinoid_syndrome_suspected=syndrome,
        obstruction_suspected=obstruction,
        carcinoid_heart_suspected=heart,
        weight_loss_flag=weight,
        carcinoid_crisis_suspected=crisis,
        findings=tuple(findings),
    )
