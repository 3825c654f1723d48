"""PRRT is refused when the newest PRRT labs are outside NETTER-1's laboratory limits.

The limits are NETTER-1's exclusions (Strosberg et al., N Engl J Med 2017), written out here
from the trial's criteria: platelets < 75 000/mm3, haemoglobin < 8.0 g/dL, white cells
< 2 000/mm3, creatinine > 150 umol/L (1.7 mg/dL), clearance < 50 mL/min, bilirubin > 3 x ULN
(docs/clinical-rules.md#prrt takes 21 umol/L as the upper limit of normal).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from core.errors import GuidelineGuard
from surveillance import services as surveillance
from tests import factories
from tests.treatments.event_cases import VALID_DATA, course
from tests.treatments.support import PROGRESSION, UNRESECTABLE, walk
from treatments import services
from treatments.machine import CourseFacts, LineFacts, PrrtCycleFacts, evaluate
from treatments.models import Course, PrrtCycle

D = dt.date
DAY = D(2026, 9, 1)
LANREOTIDE = LineFacts(
    "ssa", "lanreotide", id=1, intent="antiproliferative", dose_mg=120, interval_days=28
)
PRRT = LineFacts("prrt", "lu177_dotatate", id=2, cycles=(PrrtCycleFacts(1, DAY, 7.4),))
CYCLE_2 = {"cycle": 2, "activity_gbq": 7.4, "given_on": (DAY + dt.timedelta(days=56)).isoformat()}
CYCLE_GUARD = "prrt_cycle_labs_within_netter1_limits"
START_GUARD = "prrt_labs_within_netter1_limits"

# (analyte, a value just within NETTER-1's limit, one just beyond), in the units the guards
# read: counts in 10^9/L (1 000/mm3 = 1 x 10^9/L), haemoglobin in g/L (8.0 g/dL = 80 g/L),
# creatinine and bilirubin in umol/L, clearance in mL/min.
LIMITS = [
    ("platelets", 75.0, 74.9),
    ("haemoglobin", 80.0, 79.9),
    ("leukocytes", 2.0, 1.99),
    ("creatinine", 150.0, 150.1),
    ("creatinine_clearance", 50.0, 49.9),
    ("bilirubin", 63.0, 63.1),  # 3 x 21 umol/L
]
NORMAL = {
    "platelets": 250.0,
    "haemoglobin": 135.0,
    "leukocytes": 6.0,
    "creatinine": 80.0,
    "creatinine_clearance": 95.0,
    "bilirubin": 10.0,
    "albumin": 42.0,
}


def on_prrt(labs: dict[str, float]) -> CourseFacts:
    return course("prrt", lines=(LANREOTIDE, PRRT), latest_prrt_labs=labs)


def untreated(labs: dict[str, float]) -> CourseFacts:
    return course(
        "recurrence",
        lines=(),
        ki67_percent=15.0,
        progression_documented_on=None,
        latest_prrt_labs=labs,
    )


def failed(decision) -> list[str]:
    return [f.guard for f in decision.failures]


def warned(decision) -> list[str]:
    return [w.guard for w in decision.warnings]


# --- The pure guard --------------------------------------------------------------------------


@pytest.mark.parametrize(("analyte", "within", "beyond"), LIMITS)
def test_a_prrt_cycle_is_refused_just_beyond_each_netter1_limit_and_allowed_at_it(
    analyte, within, beyond
):
    allowed = evaluate(on_prrt({**NORMAL, analyte: within}), "prrt_cycle_given", CYCLE_2)
    refused = evaluate(on_prrt({**NORMAL, analyte: beyond}), "prrt_cycle_given", CYCLE_2)

    assert CYCLE_GUARD not in failed(allowed)
    assert failed(refused) == [CYCLE_GUARD]
    failure = refused.failures[0]
    assert failure.overridable and failure.blocking
    assert "NETTER-1" in failure.source and "N Engl J Med 2017" in failure.source
    assert failure.evidence == "phase 3 RCT (NETTER-1)"


@pytest.mark.parametrize(("analyte", "within", "beyond"), LIMITS)
def test_the_first_prrt_cycle_checks_the_same_limits(analyte, within, beyond):
    data = VALID_DATA["prrt_started"]
    assert START_GUARD not in failed(
        evaluate(untreated({**NORMAL, analyte: within}), "prrt_started", data)
    )
    assert failed(evaluate(untreated({**NORMAL, analyte: beyond}), "prrt_started", data)) == [
        START_GUARD
    ]


@pytest.mark.parametrize("labs", [{}, {"platelets": 250.0}, {"alt": 900.0, "ast": 700.0}])
def test_labs_not_measured_are_not_judged(labs):
    assert evaluate(on_prrt(labs), "prrt_cycle_given", CYCLE_2).ok


def test_several_labs_beyond_their_limits_give_one_refusal():
    labs = {**NORMAL, "platelets": 40.0, "creatinine": 200.0}
    assert failed(evaluate(on_prrt(labs), "prrt_cycle_given", CYCLE_2)) == [CYCLE_GUARD]


@pytest.mark.parametrize(("albumin", "warns"), [(30.0, False), (29.9, True), (None, False)])
def test_albumin_below_3_g_per_dl_warns_but_does_not_refuse(albumin, warns):
    labs = {k: v for k, v in {**NORMAL, "albumin": albumin}.items() if v is not None}
    decision = evaluate(on_prrt(labs), "prrt_cycle_given", CYCLE_2)
    assert decision.ok
    assert ("prrt_cycle_low_albumin_warns" in warned(decision)) is warns


def test_facts_built_without_labs_refuse_nothing_for_the_labs():
    facts = course("prrt", lines=(LANREOTIDE, PRRT))
    assert CYCLE_GUARD not in failed(evaluate(facts, "prrt_cycle_given", CYCLE_2))


# --- Through the service, with labs recorded in surveillance ---------------------------------


def record(course: Course, actor, type_: str, on: dt.date, data: dict, **kw: Any):
    return services.record_event(
        course=course, type=type_, occurred_on=on, data=data, actor=actor,
        reason=kw.pop("reason", "tumour board"), **kw,
    )  # fmt: skip


def lab(course: Course, actor, analyte: str, value: str, unit: str, on: dt.date) -> None:
    surveillance.lab_record(
        course=course,
        actor=actor,
        analyte=analyte,
        value=Decimal(value),
        unit=unit,
        collected_on=on,
    )


@pytest.fixture
def after_cycle_1(clinician, team_a) -> Course:
    """A course on PRRT since 2026-06-10 (cycle 1), after progression on lanreotide."""
    course = factories.register(clinician, team_a)
    walk(course, clinician, [("recurrence_detected", UNRESECTABLE),
                             ("ssa_started", factories.SSA)])  # fmt: skip
    walk(course, clinician, [("progression_detected", PROGRESSION)], start=D(2026, 6, 1))
    record(course, clinician, "prrt_started", D(2026, 6, 10), factories.PRRT)
    return course


CYCLE = {"cycle": 2, "activity_gbq": 7.4}
CYCLE_ON = D(2026, 8, 5)


@pytest.mark.django_db
@pytest.mark.usefixtures("today")
def test_low_platelets_recorded_before_a_cycle_refuse_it_until_a_clinician_overrides(
    clinician, after_cycle_1
):
    lab(after_cycle_1, clinician, "haemoglobin", "12.1", "g/dL", D(2026, 7, 28))
    lab(after_cycle_1, clinician, "platelets", "60", "10^9/L", D(2026, 7, 28))

    with pytest.raises(GuidelineGuard) as refused:
        record(after_cycle_1, clinician, "prrt_cycle_given", CYCLE_ON, CYCLE)

    assert refused.value.status == 422
    assert refused.value.extra["override_allowed"] is True
    assert [f["guard"] for f in refused.value.extra["failures"]] == [CYCLE_GUARD]
    assert list(PrrtCycle.objects.values_list("number", flat=True)) == [1]

    record(after_cycle_1, clinician, "prrt_cycle_given", CYCLE_ON, CYCLE, override=True,
           override_reason="platelets recovering, haematology agrees")  # fmt: skip

    assert list(PrrtCycle.objects.order_by("number").values_list("number", flat=True)) == [1, 2]


@pytest.mark.django_db
@pytest.mark.usefixtures("today")
def test_the_newest_result_of_each_analyte_decides(clinician, after_cycle_1):
    lab(after_cycle_1, clinician, "platelets", "60", "10^9/L", D(2026, 7, 20))
    lab(after_cycle_1, clinician, "platelets", "110", "10^9/L", D(2026, 7, 29))

    record(after_cycle_1, clinician, "prrt_cycle_given", CYCLE_ON, CYCLE)

    assert PrrtCycle.objects.filter(number=2).exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("today")
@pytest.mark.parametrize(
    ("analyte", "value", "unit", "refused"),
    [
        ("creatinine", "1.7", "mg/dL", False),  # 150 umol/L, NETTER-1's own conversion
        ("creatinine", "1.8", "mg/dL", True),  # about 159 umol/L
        ("haemoglobin", "7.9", "g/dL", True),
        ("haemoglobin", "80", "g/L", False),
        ("bilirubin", "4.0", "mg/dL", True),  # about 68 umol/L, above 3 x 21
    ],
)
def test_labs_in_other_units_are_converted_before_the_limits(
    clinician, after_cycle_1, analyte, value, unit, refused
):
    lab(after_cycle_1, clinician, analyte, value, unit, D(2026, 7, 28))

    if refused:
        with pytest.raises(GuidelineGuard):
            record(after_cycle_1, clinician, "prrt_cycle_given", CYCLE_ON, CYCLE)
    else:
        record(after_cycle_1, clinician, "prrt_cycle_given", CYCLE_ON, CYCLE)
        assert PrrtCycle.objects.filter(number=2).exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("today")
def test_without_recorded_labs_the_cycle_is_not_refused(clinician, after_cycle_1):
    record(after_cycle_1, clinician, "prrt_cycle_given", CYCLE_ON, CYCLE)

    assert services.course_facts(after_cycle_1).latest_prrt_labs == {}
    assert PrrtCycle.objects.filter(number=2).exists()
