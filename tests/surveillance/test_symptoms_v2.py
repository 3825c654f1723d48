"""Symptom scoring version 2: the cases of docs/clinical-rules.md#version-2-symptom-scoring.

Each expected severity and flag is read from the rule book's table, not from the code.
"""

from __future__ import annotations

import pytest

from surveillance.schedule import (
    PreviousCheck,
    SymptomAnswers,
    SymptomContext,
    assess_symptoms,
    validate_symptom_answers,
)

CALM = {
    "flushing_per_day": 0.0,
    "stools_per_day": 2.0,
    "wheezing": False,
    "abdominal_pain": 0,
    "vomiting": False,
    "no_stool_or_gas": False,
    "palpitations_or_swelling": False,
    "weight_loss_kg": 0.0,
}


def answers(**changes: object) -> SymptomAnswers:
    return SymptomAnswers(**(CALM | changes))  # type: ignore[arg-type]


def kinds(result) -> dict[str, str]:
    return {str(f.kind): str(f.severity) for f in result.findings}


def test_six_stools_a_day_alone_is_suspected_carcinoid_syndrome_with_a_high_alert():
    result = assess_symptoms(answers(stools_per_day=6))

    assert result.carcinoid_syndrome_suspected is True
    assert kinds(result) == {"carcinoid_syndrome": "high"}
    assert result.highest_severity == "high"


def test_diarrhoea_names_its_other_causes_and_on_an_ssa_mentions_telotristat():
    plain = assess_symptoms(answers(stools_per_day=6)).findings[0].advice
    assert "telotristat" not in plain

    context = SymptomContext(on_ssa=True, ileal_surgery=True)
    advice = assess_symptoms(answers(stools_per_day=6), context).findings[0].advice
    assert "bile-acid malabsorption" in advice
    assert "steatorrhoea" in advice
    assert "telotristat" in advice and "TELESTAR" in advice


def test_pain_9_alone_is_urgent_with_same_day_advice():
    result = assess_symptoms(answers(abdominal_pain=9))

    assert result.obstruction_suspected is True
    (finding,) = result.findings
    assert (str(finding.kind), str(finding.severity)) == ("obstruction", "urgent")
    assert finding.patient_advice is not None and "today" in finding.patient_advice


def test_trace_flushing_with_wheeze_and_no_fainting_is_high_not_urgent():
    result = assess_symptoms(answers(flushing_per_day=0.2, wheezing=True))

    assert result.carcinoid_crisis_suspected is False
    assert result.highest_severity == "high"
    assert kinds(result) == {"carcinoid_syndrome": "high"}
    assert all(f.patient_advice is None for f in result.findings)


def test_flushing_with_fainting_is_urgent_with_crisis_advice():
    result = assess_symptoms(answers(flushing_per_day=1, fainting=True))

    assert result.carcinoid_crisis_suspected is True
    crisis = next(f for f in result.findings if f.kind == "carcinoid_crisis")
    assert crisis.severity == "urgent"
    assert "carcinoid crisis" in crisis.reason
    assert crisis.patient_advice is not None and "emergency" in crisis.patient_advice


@pytest.mark.parametrize("flag", ["fainting", "breathless_at_rest"])
def test_fainting_or_breathlessness_at_rest_alone_is_urgent_with_emergency_advice(flag):
    result = assess_symptoms(answers(**{flag: True}))

    assert result.carcinoid_crisis_suspected is False
    (finding,) = result.findings
    assert str(finding.severity) == "urgent"
    assert finding.patient_advice is not None and "emergency" in finding.patient_advice


def test_stools_from_2_to_5_is_worsening():
    context = SymptomContext(previous=PreviousCheck(flushing_per_day=0, stools_per_day=2))
    result = assess_symptoms(answers(stools_per_day=5), context)

    assert result.worsening is True
    assert result.highest_severity == "high"


@pytest.mark.parametrize(
    ("previous", "now", "worsening"),
    [
        ((0, 1), {"stools_per_day": 3}, True),  # up by 2: worsening alone, below 4
        ((0, 1), {"stools_per_day": 2.9}, False),
        ((0.5, 2), {"flushing_per_day": 2.5}, True),
        ((0.5, 2), {"flushing_per_day": 2.4}, False),
    ],
)
def test_worsening_is_an_increase_of_2_a_day_against_the_previous_check(previous, now, worsening):
    context = SymptomContext(previous=PreviousCheck(*previous))
    result = assess_symptoms(answers(**now), context)

    assert result.worsening is worsening
    assert kinds(result) == ({"symptoms_worsening": "high"} if worsening else {})
    # Without a previous check there is nothing to compare with.
    assert assess_symptoms(answers(**now)).worsening is False


def test_new_flushing_is_suspected_only_against_a_previous_check_without_any():
    once_a_day = answers(flushing_per_day=1)
    assert assess_symptoms(once_a_day).carcinoid_syndrome_suspected is False
    none_before = SymptomContext(previous=PreviousCheck(flushing_per_day=0, stools_per_day=2))
    assert assess_symptoms(once_a_day, none_before).carcinoid_syndrome_suspected is True
    some_before = SymptomContext(previous=PreviousCheck(flushing_per_day=0.5, stools_per_day=2))
    assert assess_symptoms(once_a_day, some_before).carcinoid_syndrome_suspected is False


@pytest.mark.parametrize(
    ("highest", "weight", "lost_kg", "flag"),
    [
        (80.0, 76.0, 0.0, True),  # 5 % of 80 kg
        (80.0, 76.1, 0.0, False),
        (None, 70.0, 5.0, True),  # no earlier weight: the 5 kg rule
        (None, None, 4.9, False),
    ],
)
def test_weight_loss_is_5_percent_of_the_highest_recent_weight_else_5_kg(
    highest, weight, lost_kg, flag
):
    context = SymptomContext(highest_recent_weight_kg=highest)
    result = assess_symptoms(answers(weight_kg=weight, weight_loss_kg=lost_kg), context)

    assert result.weight_loss_flag is flag
    if flag:
        assert kinds(result) == {"weight_loss": "normal"}
        assert result.moves_imaging is False  # a weight-only alert does not move imaging


@pytest.mark.parametrize("weight", [19.9, 300.1, float("nan")])
def test_a_weight_outside_20_to_300_kg_is_refused(weight):
    assert "weight_kg" in validate_symptom_answers(answers(weight_kg=weight))
    with pytest.raises(ValueError):
        assess_symptoms(answers(weight_kg=weight))
