"""surveillance/schedule.py: due dates and symptom scoring, as pure functions (no database).

Expected values are written out literally from docs/clinical-rules.md so that a change to a rule
shows up here as a change to a number someone can check against the guideline.
"""

from dataclasses import replace
from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from surveillance.schedule import (
    ACTIVE_LINE_STATES,
    ALLOWED_RANGES,
    DUE_WINDOW_DAYS,
    IMAGING_CAP_MONTHS,
    NO_LINE_REASON,
    NO_LINE_STATES,
    PREPARATION_5HIAA,
    PREPARATION_CGA,
    RESTAGING_REASON,
    RESTAGING_STATES,
    SSA_INJECTION_DAYS,
    SYMPTOM_RANGES,
    DueItem,
    Facts,
    Kind,
    PlanParams,
    RiskGroup,
    Severity,
    SymptomAnswers,
    assess_symptoms,
    default_plan,
    due_items,
    earliest_due,
    imaging_gap_exceeded,
    next_due_by_kind,
    risk_group,
    severity_rank,
    surveillance_complete,
    validate_plan,
    validate_symptom_answers,
)
from treatments.machine import State
from treatments.rules_version import RULE_VERSION

SURGERY = date(2025, 3, 10)
STANDARD = default_plan(RiskGroup.STANDARD)
# The first release's ten-year standard plan: still a valid choice for a clinician.
STANDARD_10Y = replace(STANDARD, duration_years=10)
LOW = default_plan(RiskGroup.LOW)
HIGH = default_plan(RiskGroup.HIGH)


def make_facts(**overrides: object) -> Facts:
    values: dict[str, object] = {
        "surgery_on": SURGERY,
        "anchor_on": SURGERY,
        "state": "surveillance",
        "cga_elevated_preop": False,
    }
    values.update(overrides)
    return Facts(**values)  # type: ignore[arg-type]


def items_by_kind(items: list[DueItem]) -> dict[str, DueItem]:
    result = {str(item.kind): item for item in items}
    assert len(result) == len(items), "one item per kind"
    return result


def months_after(day: date, months: int) -> date:
    return day + relativedelta(months=months)


# ---------------------------------------------------------------------------------------------
# Risk group and default plans
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        # risk_group, first, years 1–3, years 4–10, duration, symptom check, on SSA
        (RiskGroup.LOW, PlanParams(RiskGroup.LOW, 6, 12, 12, 10, 3, 3)),
        # Standard and high: lifelong (ESMO 2020), 12-monthly after year 10.
        (RiskGroup.STANDARD, PlanParams(RiskGroup.STANDARD, 6, 6, 12, None, 3, 1)),
        (RiskGroup.HIGH, PlanParams(RiskGroup.HIGH, 3, 3, 6, None, 1, 1)),
    ],
)
def test_default_plan_for_each_risk_group_is_the_clinical_table(
    group: RiskGroup, expected: PlanParams
) -> None:
    assert default_plan(group) == expected
    assert default_plan(str(group)) == expected
    assert validate_plan(expected) == []


def test_the_seed_patient_stage_iii_g2_ki67_4_r0_is_standard_risk() -> None:
    assert risk_group("III", "G2", 4.0, "R0") is RiskGroup.STANDARD


@pytest.mark.parametrize(
    ("stage", "grade", "ki67", "margin"),
    [
        ("III", "G3", 25.0, "R0"),
        ("I", "G3", None, "R0"),
        ("III", "NEC", 60.0, "R0"),
        ("II", "MiNEN", None, "R0"),
        ("III", "G2", 10.1, "R0"),
        ("II", "G1", 2.0, "R1"),
        ("III", "G2", 4.0, "R2"),
    ],
)
def test_g3_or_ki67_over_10_or_an_r1_margin_is_high_risk(
    stage: str, grade: str, ki67: float | None, margin: str
) -> None:
    assert risk_group(stage, grade, ki67, margin) is RiskGroup.HIGH


def test_ki67_of_exactly_10_is_not_high_risk() -> None:
    assert risk_group("III", "G2", 10.0, "R0") is RiskGroup.STANDARD


@pytest.mark.parametrize("stage", ["I", "II"])
def test_stage_i_or_ii_g1_r0_is_low_risk(stage: str) -> None:
    assert risk_group(stage, "G1", 1.0, "R0") is RiskGroup.LOW
    assert risk_group(stage, "NET G1", None, "r0") is RiskGroup.LOW


@pytest.mark.parametrize(
    ("stage", "grade", "margin"),
    [
        ("III", "G1", "R0"),
        ("II", "G2", "R0"),
        ("II", "G1", "RX"),
        ("unknown", "G1", "R0"),
        ("II", "unknown", "R0"),
        ("IV", "G1", "R0"),
    ],
)
def test_missing_or_worse_facts_never_make_a_patient_low_risk(
    stage: str, grade: str, margin: str
) -> None:
    assert risk_group(stage, grade, None, margin) is RiskGroup.STANDARD


@pytest.mark.parametrize(
    ("stage", "grade", "ki67", "margin"),
    [
        ("IIIB", "G2", 4.0, "R0"),
        ("III", "G4", 4.0, "R0"),
        ("III", "G2", 4.0, "R3"),
        ("III", "G2", 101.0, "R0"),
        ("III", "G2", -1.0, "R0"),
        ("III", "G2", float("nan"), "R0"),
    ],
)
def test_risk_group_refuses_values_it_cannot_place_rather_than_guessing(
    stage: str, grade: str, ki67: float, margin: str
) -> None:
    with pytest.raises(ValueError):
        risk_group(stage, grade, ki67, margin)


# ---------------------------------------------------------------------------------------------
# Plan validation
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "code", "range_text"),
    [
        ("first_imaging_months", 2, "out_of_range", "3–12 months"),
        ("first_imaging_months", 13, "exceeds_imaging_cap", "3–12 months"),
        ("early_interval_months", 2, "out_of_range", "3–12 months"),
        ("early_interval_months", 18, "exceeds_imaging_cap", "3–12 months"),
        ("late_interval_months", 5, "out_of_range", "6–12 months"),
        ("late_interval_months", 24, "exceeds_imaging_cap", "6–12 months"),
        ("duration_years", 4, "out_of_range", "5 years to lifelong"),
        ("symptom_check_months", 0, "out_of_range", "1–6 months"),
        ("symptom_check_months", 7, "out_of_range", "1–6 months"),
        ("symptom_check_months_on_ssa", 7, "out_of_range", "1–6 months"),
        ("early_interval_months", 6.5, "not_a_whole_number", "3–12 months"),
        ("symptom_check_months", True, "not_a_whole_number", "1–6 months"),
    ],
)
def test_validate_plan_refuses_a_value_outside_its_range_with_field_code_range_and_source(
    field: str, value: object, code: str, range_text: str
) -> None:
    issues = validate_plan(replace(STANDARD, **{field: value}))

    assert [(i.field, i.code, i.blocking) for i in issues] == [(field, code, True)]
    assert range_text in issues[0].message
    assert "docs/clinical-rules.md#" in issues[0].message


def test_an_imaging_interval_over_12_months_is_refused_because_imaging_is_never_further_apart() -> (
    None
):
    (issue,) = validate_plan(replace(STANDARD, late_interval_months=13))
    assert issue.code == "exceeds_imaging_cap"
    assert "never beyond 12 months between imaging" in issue.message


@pytest.mark.parametrize("field", ["first_imaging_months", "early_interval_months"])
def test_plan_bounds_are_inclusive(field: str) -> None:
    assert validate_plan(replace(STANDARD, **{field: 3})) == []
    assert validate_plan(replace(STANDARD, **{field: 12})) == []


def test_a_duration_below_10_years_is_accepted_with_a_warning() -> None:
    (issue,) = validate_plan(replace(STANDARD, duration_years=9))
    assert (issue.field, issue.code, issue.blocking) == (
        "duration_years",
        "below_recommended_duration",
        False,
    )
    assert validate_plan(replace(STANDARD, duration_years=5))[0].blocking is False


@pytest.mark.parametrize("duration", [10, 12, 30, None])
def test_a_duration_of_10_years_or_more_or_lifelong_raises_nothing(duration: int | None) -> None:
    assert validate_plan(replace(STANDARD, duration_years=duration)) == []


def test_allowed_ranges_are_the_clinical_ranges() -> None:
    ranges = {name: (r.minimum, r.maximum) for name, r in ALLOWED_RANGES.items()}
    assert ranges == {
        "first_imaging_months": (3, 12),
        "early_interval_months": (3, 12),
        "late_interval_months": (6, 12),
        "duration_years": (5, None),
        "symptom_check_months": (1, 6),
        "symptom_check_months_on_ssa": (1, 6),
    }


# ---------------------------------------------------------------------------------------------
# Imaging, visit and CgA in surveillance
# ---------------------------------------------------------------------------------------------


def test_first_imaging_is_due_the_plan_months_after_the_anchor() -> None:
    items = items_by_kind(due_items(STANDARD, make_facts(), SURGERY))
    assert items["imaging"].due_on == date(2025, 9, 10)
    assert "First multiphase CT or MRI 6 months" in items["imaging"].why

    high = items_by_kind(due_items(HIGH, make_facts(), SURGERY))
    assert high["imaging"].due_on == date(2025, 6, 10)


def test_month_arithmetic_is_end_of_month_safe() -> None:
    facts = make_facts(surgery_on=date(2025, 8, 31), anchor_on=date(2025, 8, 31))
    assert items_by_kind(due_items(STANDARD, facts, facts.anchor_on))["imaging"].due_on == date(
        2026, 2, 28
    )
    leap = make_facts(surgery_on=date(2027, 8, 31), anchor_on=date(2027, 8, 31))
    assert items_by_kind(due_items(STANDARD, leap, leap.anchor_on))["imaging"].due_on == date(
        2028, 2, 29
    )


def test_years_1_to_3_use_the_early_interval_with_a_sentence_citing_the_rule() -> None:
    facts = make_facts(last_imaging_on=date(2026, 3, 20))
    imaging = items_by_kind(due_items(STANDARD, facts, date(2026, 3, 20)))["imaging"]

    assert imaging.due_on == date(2026, 9, 20)
    assert imaging.why == (
        "Multiphase CT or MRI every 6 months in years 1–3 after resection "
        "(standard risk; ESMO 2020 / ENETS; never more than 12 months apart)"
    )


def test_the_early_interval_applies_while_the_due_date_is_within_3_years_of_the_anchor() -> None:
    on_boundary = make_facts(last_imaging_on=date(2027, 9, 10))  # + 6 months = anchor + 3 years
    after = make_facts(last_imaging_on=date(2027, 9, 11))

    assert items_by_kind(due_items(STANDARD, on_boundary, date(2027, 9, 10)))[
        "imaging"
    ].due_on == date(2028, 3, 10)
    late = items_by_kind(due_items(STANDARD, after, date(2027, 9, 11)))["imaging"]
    assert late.due_on == date(2028, 9, 11)
    assert "every 12 months in years 4–10" in late.why


def test_imaging_before_a_curative_re_resection_does_not_count_the_new_anchor_restarts() -> None:
    facts = make_facts(anchor_on=date(2028, 1, 15), last_imaging_on=date(2027, 11, 1))
    imaging = items_by_kind(due_items(STANDARD, facts, date(2028, 1, 15)))["imaging"]
    assert imaging.due_on == date(2028, 7, 15)


def test_an_unvalidated_plan_over_the_cap_is_still_held_to_12_months_and_says_so() -> None:
    plan = replace(STANDARD, late_interval_months=24)
    facts = make_facts(last_imaging_on=date(2029, 5, 2))
    imaging = items_by_kind(due_items(plan, facts, date(2029, 5, 2)))["imaging"]

    assert imaging.due_on == date(2030, 5, 2)
    assert "never beyond 12 months between imaging" in imaging.why


def test_a_visit_is_due_with_each_imaging_even_when_a_visit_was_just_done() -> None:
    facts = make_facts(last_imaging_on=date(2026, 3, 20), last_visit_on=date(2026, 4, 2))
    items = items_by_kind(due_items(STANDARD, facts, date(2026, 4, 2)))

    assert items["visit"].due_on == items["imaging"].due_on == date(2026, 9, 20)
    assert "hormonal excess" in items["visit"].why
    assert "bowel obstruction" in items["visit"].why


def test_cga_is_due_with_each_imaging_only_when_it_was_elevated_before_surgery() -> None:
    without = items_by_kind(due_items(STANDARD, make_facts(), SURGERY))
    assert "cga" not in without

    with_cga = items_by_kind(due_items(STANDARD, make_facts(cga_elevated_preop=True), SURGERY))
    assert with_cga["cga"].due_on == with_cga["imaging"].due_on
    assert "proton-pump inhibitors" in with_cga["cga"].why
    assert "same assay" in with_cga["cga"].why


@pytest.mark.parametrize("state", sorted(NO_LINE_STATES))
def test_while_a_decision_is_pending_imaging_stays_on_the_surveillance_schedule(
    state: str,
) -> None:
    facts = make_facts(state=state, last_imaging_on=date(2026, 3, 20))
    items = items_by_kind(due_items(STANDARD, facts, date(2026, 3, 20)))

    assert items["imaging"].due_on == date(2026, 9, 20)
    assert "never slips" in items["imaging"].why
    assert items["visit"].due_on == date(2026, 9, 20)


def test_a_closed_course_has_nothing_due() -> None:
    facts = make_facts(state="closed", on_ssa=True, cga_elevated_preop=True)
    assert due_items(STANDARD, facts, date(2026, 1, 1)) == []
    assert imaging_gap_exceeded(STANDARD, facts, date(2030, 1, 1)) is False


# ---------------------------------------------------------------------------------------------
# Duration
# ---------------------------------------------------------------------------------------------


def test_surveillance_completes_when_the_next_imaging_would_fall_after_the_duration() -> None:
    facts = make_facts(last_imaging_on=date(2034, 9, 10), cga_elevated_preop=True)  # 9.5 years
    today = date(2034, 9, 10)

    kinds = {str(item.kind) for item in due_items(STANDARD_10Y, facts, today)}
    assert kinds == {"symptom_check"}  # the patient may still report late symptoms
    assert surveillance_complete(STANDARD_10Y, facts, today) is True
    assert imaging_gap_exceeded(STANDARD_10Y, facts, date(2036, 1, 1)) is False


def test_a_ten_year_standard_plan_imaged_on_time_has_13_studies_over_10_years() -> None:
    facts = make_facts()
    done: list[date] = []
    while (items := items_by_kind(due_items(STANDARD_10Y, facts, facts.anchor_on))).get("imaging"):
        done.append(items["imaging"].due_on)
        facts = replace(facts, last_imaging_on=done[-1])

    every_6_months_to_year_3 = [months_after(SURGERY, m) for m in range(6, 37, 6)]
    then_yearly_to_year_10 = [months_after(SURGERY, m) for m in range(48, 121, 12)]
    assert done == every_6_months_to_year_3 + then_yearly_to_year_10
    assert surveillance_complete(STANDARD_10Y, facts, done[-1])


def test_response_imaging_is_counted_from_a_re_resection_that_followed_the_line_start() -> None:
    facts = make_facts(
        state="ssa",
        on_ssa=True,
        anchor_on=date(2027, 6, 1),
        line_started_on=date(2027, 2, 1),
        last_ssa_injection_on=date(2027, 5, 20),
    )
    imaging = items_by_kind(due_items(STANDARD, facts, date(2027, 6, 1)))["imaging"]
    assert imaging.due_on == date(2027, 9, 1)
    assert "started earlier" in imaging.why


def test_imaging_due_exactly_at_the_end_of_the_duration_is_still_due() -> None:
    facts = make_facts(last_imaging_on=date(2034, 3, 10))
    imaging = items_by_kind(due_items(STANDARD_10Y, facts, date(2034, 3, 10)))["imaging"]

    assert imaging.due_on == date(2035, 3, 10)
    assert surveillance_complete(STANDARD_10Y, facts, date(2034, 3, 10)) is False


def test_lifelong_surveillance_never_completes() -> None:
    plan = replace(HIGH, duration_years=None)  # 6-monthly in years 4–10, then 12-monthly
    facts = make_facts(last_imaging_on=date(2054, 9, 10))
    imaging = items_by_kind(due_items(plan, facts, date(2054, 9, 10)))["imaging"]

    assert imaging.due_on == date(2055, 9, 10)
    assert "every 12 months from year 10" in imaging.why and "lifelong" in imaging.why
    assert surveillance_complete(plan, facts, date(2054, 9, 10)) is False


def test_the_duration_does_not_stop_imaging_after_a_recurrence() -> None:
    facts = make_facts(
        state="recurrence", state_entered_on=date(2034, 6, 1), last_imaging_on=date(2036, 1, 5)
    )
    # Restaging every 6 months after the first year of known disease (ESMO 2020: 3–6 months).
    imaging = items_by_kind(due_items(STANDARD_10Y, facts, date(2036, 1, 5)))["imaging"]
    assert imaging.due_on == date(2036, 7, 5)
    assert surveillance_complete(STANDARD_10Y, facts, date(2036, 1, 5)) is False


# ---------------------------------------------------------------------------------------------
# Active lines: response imaging and SSA injections
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", sorted(ACTIVE_LINE_STATES))
def test_response_imaging_is_due_3_months_after_a_line_starts(state: str) -> None:
    facts = make_facts(
        state=state, last_imaging_on=date(2027, 1, 5), line_started_on=date(2027, 2, 1)
    )
    imaging = items_by_kind(due_items(STANDARD, facts, date(2027, 2, 1)))["imaging"]

    assert imaging.due_on == date(2027, 5, 1)
    assert "3 months after the" in imaging.why


@pytest.mark.parametrize(
    ("plan", "expected_months"),
    [(HIGH, 3), (STANDARD, 6), (LOW, 6), (replace(STANDARD, early_interval_months=4), 4)],
)
def test_later_response_imaging_follows_the_plan_interval_held_within_3_to_6_months(
    plan: PlanParams, expected_months: int
) -> None:
    facts = make_facts(state="ssa", line_started_on=date(2027, 2, 1), on_ssa=True)
    facts = replace(facts, last_imaging_on=date(2027, 5, 3))
    imaging = items_by_kind(due_items(plan, facts, date(2027, 5, 3)))["imaging"]

    assert imaging.due_on == months_after(date(2027, 5, 3), expected_months)


def test_response_imaging_is_still_never_more_than_12_months_after_the_last_imaging() -> None:
    facts = make_facts(
        state="everolimus", last_imaging_on=date(2027, 1, 5), line_started_on=date(2027, 12, 1)
    )
    imaging = items_by_kind(due_items(STANDARD, facts, date(2027, 12, 1)))["imaging"]
    assert imaging.due_on == date(2028, 1, 5)


def test_an_active_line_without_a_start_date_keeps_the_surveillance_schedule() -> None:
    facts = make_facts(state="prrt", last_imaging_on=date(2026, 3, 20))
    imaging = items_by_kind(due_items(STANDARD, facts, date(2026, 3, 20)))["imaging"]
    assert imaging.due_on == date(2026, 9, 20)
    assert "not recorded" in imaging.why


def test_ssa_injections_are_due_every_28_days_within_7_days_either_side() -> None:
    facts = make_facts(
        state="ssa",
        on_ssa=True,
        line_started_on=date(2027, 2, 1),
        last_ssa_injection_on=date(2027, 3, 1),
    )
    injection = items_by_kind(due_items(STANDARD, facts, date(2027, 3, 1)))["ssa_injection"]

    assert SSA_INJECTION_DAYS == 28
    assert injection.due_on == date(2027, 3, 29)
    assert (injection.window_start, injection.window_end) == (date(2027, 3, 22), date(2027, 4, 5))


def test_the_first_ssa_injection_is_counted_from_the_line_start() -> None:
    facts = make_facts(state="ssa", on_ssa=True, line_started_on=date(2027, 2, 1))
    injection = items_by_kind(due_items(STANDARD, facts, date(2027, 2, 1)))["ssa_injection"]
    assert injection.due_on == date(2027, 3, 1)


def test_no_ssa_injection_is_due_when_not_on_ssa() -> None:
    facts = make_facts(state="everolimus", line_started_on=date(2027, 2, 1))
    assert "ssa_injection" not in items_by_kind(due_items(STANDARD, facts, date(2027, 2, 1)))


def test_being_on_ssa_without_any_injection_or_line_date_is_refused_not_guessed() -> None:
    facts = make_facts(state="progression", on_ssa=True)
    with pytest.raises(ValueError, match="on_ssa"):
        due_items(STANDARD, facts, date(2027, 2, 1))


@pytest.mark.parametrize(
    ("days_from_due", "status"),
    [(-8, "upcoming"), (-7, "due"), (0, "due"), (7, "due"), (8, "overdue")],
)
def test_ssa_injection_status_turns_at_the_edges_of_its_window(
    days_from_due: int, status: str
) -> None:
    facts = make_facts(state="ssa", on_ssa=True, line_started_on=date(2027, 2, 1))
    today = date(2027, 3, 1) + timedelta(days=days_from_due)
    assert items_by_kind(due_items(STANDARD, facts, today))["ssa_injection"].status == status


# ---------------------------------------------------------------------------------------------
# Symptom checks, status, ordering and helpers
# ---------------------------------------------------------------------------------------------


def test_symptom_checks_follow_the_plan_and_are_monthly_on_ssa_for_standard_risk() -> None:
    facts = make_facts(last_symptom_check_on=date(2026, 1, 31))
    assert items_by_kind(due_items(STANDARD, facts, date(2026, 1, 31)))[
        "symptom_check"
    ].due_on == date(2026, 4, 30)

    on_ssa = replace(facts, state="ssa", on_ssa=True, line_started_on=date(2026, 1, 2))
    check = items_by_kind(due_items(STANDARD, on_ssa, date(2026, 1, 31)))["symptom_check"]
    assert check.due_on == date(2026, 2, 28)
    assert "every 1 month while on SSA" in check.why


def test_the_first_symptom_check_is_counted_from_the_anchor() -> None:
    check = items_by_kind(due_items(HIGH, make_facts(), SURGERY))["symptom_check"]
    assert check.due_on == date(2025, 4, 10)


@pytest.mark.parametrize(
    ("days_from_due", "status"),
    [
        (-(DUE_WINDOW_DAYS + 1), "upcoming"),
        (-DUE_WINDOW_DAYS, "due"),
        (0, "due"),
        (1, "overdue"),
    ],
)
def test_items_turn_due_30_days_before_their_date_and_overdue_the_day_after(
    days_from_due: int, status: str
) -> None:
    today = date(2025, 9, 10) + timedelta(days=days_from_due)
    items = items_by_kind(due_items(STANDARD, make_facts(cga_elevated_preop=True), today))
    for kind in ("imaging", "visit", "cga"):
        assert items[kind].due_on == date(2025, 9, 10)
        assert items[kind].window_start == date(2025, 8, 11)
        assert items[kind].window_end is None
        assert items[kind].status == status


def test_no_due_date_precedes_the_surgery_and_the_item_says_why() -> None:
    facts = make_facts(last_symptom_check_on=date(2024, 6, 1))
    check = items_by_kind(due_items(STANDARD, facts, SURGERY))["symptom_check"]

    assert check.due_on == SURGERY
    assert "nothing is due before the operation" in check.why


def test_every_course_state_of_the_machine_is_placed_in_exactly_one_scheduling_group() -> None:
    groups = [
        {State.SURVEILLANCE},
        {State.CLOSED},
        ACTIVE_LINE_STATES,
        NO_LINE_STATES,
        RESTAGING_STATES,
    ]
    placed = [str(state) for group in groups for state in group]
    assert sorted(placed) == sorted(str(state) for state in State)
    assert len(placed) == len(set(placed))
    assert set(NO_LINE_REASON) == NO_LINE_STATES
    assert set(RESTAGING_REASON) == RESTAGING_STATES


@pytest.mark.parametrize("state", list(State))
def test_facts_accept_each_state_as_the_machine_member_or_its_stored_string(state: State) -> None:
    on_line = state in ACTIVE_LINE_STATES
    started = {"line_started_on": date(2024, 9, 1)} if on_line else {}
    today = SURGERY + timedelta(days=400)
    from_member = due_items(STANDARD, make_facts(state=state, **started), today)
    from_string = due_items(STANDARD, make_facts(state=str(state), **started), today)
    assert from_member == from_string
    assert (from_member == []) is (state is State.CLOSED)


def test_facts_refuse_an_anchor_before_the_surgery_and_an_unknown_state() -> None:
    with pytest.raises(ValueError, match="anchor_on"):
        make_facts(anchor_on=SURGERY - timedelta(days=1))
    with pytest.raises(ValueError, match="state"):
        make_facts(state="adjuvant")


def test_items_are_sorted_by_due_date_then_kind_and_serialise_with_iso_dates() -> None:
    facts = make_facts(
        state="ssa",
        cga_elevated_preop=True,
        on_ssa=True,
        last_imaging_on=date(2025, 12, 20),
        line_started_on=date(2026, 1, 5),
        last_symptom_check_on=date(2026, 3, 5),
    )
    items = due_items(STANDARD, facts, date(2026, 1, 5))

    assert [(str(i.kind), i.due_on) for i in items] == [
        ("ssa_injection", date(2026, 2, 2)),
        ("cga", date(2026, 4, 5)),
        ("imaging", date(2026, 4, 5)),
        ("symptom_check", date(2026, 4, 5)),
        ("visit", date(2026, 4, 5)),
        # On SSA: vitamin B12 and D yearly from the line's start.
        ("vitamin_b12", date(2027, 1, 5)),
        ("vitamin_d", date(2027, 1, 5)),
    ]
    assert items[0].as_dict() == {
        "kind": "ssa_injection",
        "due_on": "2026-02-02",
        "window_start": "2026-01-26",
        "window_end": "2026-02-09",
        "status": "upcoming",
        "why": items[0].why,
        "source": items[0].source,
        "rule_version": RULE_VERSION,
    }
    assert items[1].as_dict()["window_end"] is None
    assert DueItem.Kind is Kind
    assert {str(k) for k in Kind} == {
        "imaging",
        "visit",
        "cga",
        "symptom_check",
        "ssa_injection",
        "u5hiaa",
        "nt_probnp",
        "echocardiography",
        "vitamin_b12",
        "vitamin_d",
        "prrt_labs",
        "blood_counts",
        "metabolic_panel",
    }


def test_next_due_by_kind_and_earliest_due_summarise_the_items() -> None:
    items = due_items(STANDARD, make_facts(last_symptom_check_on=date(2025, 5, 1)), SURGERY)

    assert next_due_by_kind(items) == {
        "imaging": date(2025, 9, 10),
        "visit": date(2025, 9, 10),
        "symptom_check": date(2025, 8, 1),
    }
    assert earliest_due(items) == date(2025, 8, 1)
    assert earliest_due([]) is None


def test_an_imaging_gap_past_12_months_is_flagged_from_the_day_after_the_cap() -> None:
    facts = make_facts(last_imaging_on=date(2026, 3, 20))
    assert imaging_gap_exceeded(STANDARD, facts, date(2027, 3, 20)) is False
    assert imaging_gap_exceeded(STANDARD, facts, date(2027, 3, 21)) is True


# ---------------------------------------------------------------------------------------------
# Properties over generated histories
# ---------------------------------------------------------------------------------------------

valid_plans = st.builds(
    PlanParams,
    risk_group=st.sampled_from(list(RiskGroup)),
    first_imaging_months=st.integers(3, 12),
    early_interval_months=st.integers(3, 12),
    late_interval_months=st.integers(6, 12),
    duration_years=st.one_of(st.none(), st.integers(5, 20)),
    symptom_check_months=st.integers(1, 6),
    symptom_check_months_on_ssa=st.integers(1, 6),
)
open_states = st.sampled_from(sorted({"surveillance"} | NO_LINE_STATES | ACTIVE_LINE_STATES))


@settings(max_examples=200, deadline=None)
@given(
    plan=valid_plans,
    state=open_states,
    surgery_on=st.dates(date(2000, 1, 1), date(2040, 12, 31)),
    anchor_delay_days=st.integers(0, 400),
    line_delay_days=st.integers(0, 2000),
    cga=st.booleans(),
    # Each study is done on some day within or after its due window: days after window start.
    lateness=st.lists(st.integers(0, DUE_WINDOW_DAYS + 200), min_size=10, max_size=80),
)
def test_following_the_schedule_never_plans_imaging_more_than_12_months_apart(
    plan: PlanParams,
    state: str,
    surgery_on: date,
    anchor_delay_days: int,
    line_delay_days: int,
    cga: bool,
    lateness: list[int],
) -> None:
    anchor = surgery_on + timedelta(days=anchor_delay_days)
    on_line = state in ACTIVE_LINE_STATES
    facts = make_facts(
        surgery_on=surgery_on,
        anchor_on=anchor,
        state=state,
        cga_elevated_preop=cga,
        line_started_on=anchor + timedelta(days=line_delay_days) if on_line else None,
        on_ssa=state == "ssa",
    )
    today = anchor
    end = anchor + relativedelta(years=15)
    for days_late in lateness:
        items = due_items(plan, facts, today)
        assert all(item.due_on >= surgery_on for item in items)
        kinds = items_by_kind(items)
        if "imaging" not in kinds:
            # Only completed surveillance stops imaging.
            assert state == "surveillance"
            assert plan.duration_years is not None
            assert surveillance_complete(plan, facts, today)
            break
        imaging = kinds["imaging"]
        previous = facts.last_imaging_on or anchor
        assert imaging.due_on <= previous + relativedelta(months=IMAGING_CAP_MONTHS)
        assert kinds["visit"].due_on == imaging.due_on
        assert ("cga" in kinds) is cga

        done_on = imaging.window_start + timedelta(days=days_late)
        if done_on > end:
            break
        assert done_on >= previous
        facts = replace(facts, last_imaging_on=done_on, last_visit_on=done_on)
        today = done_on
        next_imaging = items_by_kind(due_items(plan, facts, today)).get("imaging")
        if next_imaging is not None:
            assert next_imaging.due_on > imaging.due_on
            assert next_imaging.due_on > done_on


@settings(max_examples=200, deadline=None)
@given(
    plan=valid_plans,
    intervals=st.tuples(st.integers(1, 36), st.integers(1, 36), st.integers(1, 36)),
    state=open_states,
    anchor_on=st.dates(date(2000, 1, 1), date(2040, 12, 31)),
    imaging_offset_days=st.one_of(st.none(), st.integers(-400, 6000)),
    line_offset_days=st.integers(-400, 6000),
)
def test_no_plan_value_and_no_state_defers_imaging_beyond_the_12_month_cap(
    plan: PlanParams,
    intervals: tuple[int, int, int],
    state: str,
    anchor_on: date,
    imaging_offset_days: int | None,
    line_offset_days: int,
) -> None:
    # Even an unvalidated plan (intervals up to 3 years) must not leave a gap past 12 months.
    plan = replace(
        plan,
        first_imaging_months=intervals[0],
        early_interval_months=intervals[1],
        late_interval_months=intervals[2],
    )
    last = None if imaging_offset_days is None else anchor_on + timedelta(days=imaging_offset_days)
    facts = make_facts(
        surgery_on=anchor_on,
        anchor_on=anchor_on,
        state=state,
        last_imaging_on=last,
        line_started_on=anchor_on + timedelta(days=line_offset_days),
    )
    imaging = items_by_kind(due_items(plan, facts, anchor_on)).get("imaging")
    if imaging is None:
        assert surveillance_complete(plan, facts, anchor_on)
        return
    since = last if last is not None and last >= anchor_on else anchor_on
    assert imaging.due_on <= since + relativedelta(months=IMAGING_CAP_MONTHS)
    assert imaging.due_on > since


@settings(max_examples=200, deadline=None)
@given(
    today=st.dates(date(2024, 1, 1), date(2028, 12, 31)),
    on_ssa=st.booleans(),
    cga=st.booleans(),
)
def test_status_always_agrees_with_the_item_window(today: date, on_ssa: bool, cga: bool) -> None:
    facts = make_facts(
        state="ssa" if on_ssa else "surveillance",
        on_ssa=on_ssa,
        line_started_on=date(2026, 5, 1) if on_ssa else None,
        cga_elevated_preop=cga,
    )
    for item in due_items(STANDARD, facts, today):
        last_day = item.window_end or item.due_on
        expected = (
            "overdue" if today > last_day else "due" if today >= item.window_start else "upcoming"
        )
        assert item.status == expected


# ---------------------------------------------------------------------------------------------
# Symptom check scoring (docs/clinical-rules.md#scoring-thresholds)
# ---------------------------------------------------------------------------------------------


def answers(**overrides: object) -> SymptomAnswers:
    values: dict[str, object] = {
        "flushing_per_day": 0.0,
        "stools_per_day": 1.0,
        "wheezing": False,
        "abdominal_pain": 0,
        "vomiting": False,
        "no_stool_or_gas": False,
        "palpitations_or_swelling": False,
        "weight_loss_kg": 0.0,
    }
    values.update(overrides)
    return SymptomAnswers(**values)  # type: ignore[arg-type]


def test_a_check_with_no_symptoms_raises_no_alert() -> None:
    result = assess_symptoms(answers())
    assert result.positive is False
    assert result.findings == ()
    assert result.highest_severity is None


@pytest.mark.parametrize(
    ("flushing", "stools", "wheezing", "expected"),
    [
        (1, 4, False, True),
        (1, 3, False, False),
        (0.9, 4, False, True),  # 4 stools a day alone (version 2)
        (0.9, 3, False, False),
        (0, 10, False, True),
        (3, 0, False, True),
        (2.9, 3, False, False),
        (0, 1, True, False),
        (0.5, 1, True, True),
    ],
)
def test_carcinoid_syndrome_is_suspected_exactly_at_the_clinical_thresholds(
    flushing: float, stools: float, wheezing: bool, expected: bool
) -> None:
    result = assess_symptoms(
        answers(flushing_per_day=flushing, stools_per_day=stools, wheezing=wheezing)
    )
    assert result.carcinoid_syndrome_suspected is expected
    assert ("carcinoid_syndrome" in {str(f.kind) for f in result.findings}) is expected


def test_a_carcinoid_syndrome_alert_is_high_and_asks_for_markers_with_their_preparation() -> None:
    (finding,) = assess_symptoms(answers(flushing_per_day=1, stools_per_day=4)).findings
    assert (str(finding.kind), str(finding.severity)) == ("carcinoid_syndrome", "high")
    assert "TELESTAR" in finding.reason
    assert "5-HIAA" in finding.advice and "bring imaging forward" in finding.advice
    assert PREPARATION_5HIAA in finding.advice and PREPARATION_CGA in finding.advice


def test_fainting_with_flushing_suggests_a_carcinoid_crisis_and_tells_the_patient_at_once() -> None:
    result = assess_symptoms(answers(flushing_per_day=0.5, wheezing=True, fainting=True))
    assert result.carcinoid_crisis_suspected is True
    crisis = next(f for f in result.findings if f.kind == "carcinoid_crisis")
    assert crisis.severity == "urgent"
    assert crisis.patient_advice is not None and "emergency" in crisis.patient_advice

    without_flushing = assess_symptoms(answers(flushing_per_day=0, wheezing=True))
    assert without_flushing.carcinoid_crisis_suspected is False
    assert without_flushing.positive is False


@pytest.mark.parametrize(
    ("pain", "vomiting", "no_stool_or_gas", "expected"),
    [
        (0, True, True, True),
        (7, True, False, True),
        (7, False, True, True),
        (6, True, False, False),
        (6, False, True, False),
        (10, False, False, True),  # severe pain alone (version 2)
        (8, False, False, True),
        (7, False, False, False),
        (0, True, False, False),
        (0, False, True, False),
    ],
)
def test_obstruction_is_suspected_exactly_at_the_clinical_thresholds(
    pain: int, vomiting: bool, no_stool_or_gas: bool, expected: bool
) -> None:
    result = assess_symptoms(
        answers(abdominal_pain=pain, vomiting=vomiting, no_stool_or_gas=no_stool_or_gas)
    )
    assert result.obstruction_suspected is expected
    if expected:
        (finding,) = result.findings
        assert (str(finding.kind), str(finding.severity)) == ("obstruction", "urgent")
        assert finding.patient_advice is not None and "today" in finding.patient_advice


def test_palpitations_or_swelling_suggest_carcinoid_heart_disease_and_ask_for_nt_probnp() -> None:
    result = assess_symptoms(answers(palpitations_or_swelling=True))
    assert result.carcinoid_heart_suspected is True
    (finding,) = result.findings
    assert (str(finding.kind), str(finding.severity)) == ("carcinoid_heart", "high")
    assert "NT-proBNP" in finding.advice and "echocardiography" in finding.advice


@pytest.mark.parametrize(("kg", "expected"), [(5.0, True), (4.9, False), (50, True), (0, False)])
def test_weight_loss_of_5_kg_or_more_raises_a_normal_alert(kg: float, expected: bool) -> None:
    result = assess_symptoms(answers(weight_loss_kg=kg))
    assert result.weight_loss_flag is expected
    assert [(str(f.kind), str(f.severity)) for f in result.findings] == (
        [("weight_loss", "normal")] if expected else []
    )


def test_several_positive_rules_give_one_finding_each_most_urgent_first() -> None:
    result = assess_symptoms(
        answers(
            flushing_per_day=4,
            stools_per_day=6,
            wheezing=True,
            fainting=True,
            abdominal_pain=8,
            vomiting=True,
            palpitations_or_swelling=True,
            weight_loss_kg=6,
        )
    )
    assert [str(f.kind) for f in result.findings] == [
        "carcinoid_crisis",
        "obstruction",
        "carcinoid_syndrome",
        "carcinoid_heart",
        "weight_loss",
    ]
    assert result.highest_severity == "urgent"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("flushing_per_day", -1),
        ("flushing_per_day", 50.5),
        ("stools_per_day", 31),
        ("stools_per_day", -0.1),
        ("abdominal_pain", 11),
        ("abdominal_pain", -1),
        ("abdominal_pain", 6.5),
        ("weight_loss_kg", 51),
        ("weight_loss_kg", float("nan")),
        ("flushing_per_day", True),
        ("stools_per_day", "4"),
        ("vomiting", "yes"),
        ("wheezing", 1),
    ],
)
def test_symptom_answers_outside_their_ranges_are_field_errors(field: str, value: object) -> None:
    bad = answers(**{field: value})
    errors = validate_symptom_answers(bad)
    assert list(errors) == [field]
    assert errors[field]
    with pytest.raises(ValueError, match=field):
        assess_symptoms(bad)


def test_symptom_range_bounds_are_inclusive() -> None:
    assert SYMPTOM_RANGES == {
        "flushing_per_day": (0, 50),
        "stools_per_day": (0, 30),
        "abdominal_pain": (0, 10),
        "weight_loss_kg": (0, 50),
    }
    lowest = answers(flushing_per_day=0, stools_per_day=0, abdominal_pain=0, weight_loss_kg=0)
    highest = answers(flushing_per_day=50, stools_per_day=30, abdominal_pain=10, weight_loss_kg=50)
    assert validate_symptom_answers(lowest) == {}
    assert validate_symptom_answers(highest) == {}


@settings(max_examples=200, deadline=None)
@given(
    flushing=st.floats(0, 50),
    stools=st.floats(0, 30),
    wheezing=st.booleans(),
    pain=st.integers(0, 10),
    vomiting=st.booleans(),
    no_stool=st.booleans(),
    heart=st.booleans(),
    weight=st.floats(0, 50),
)
def test_every_flag_has_exactly_its_finding_and_any_finding_makes_the_check_positive(
    flushing: float,
    stools: float,
    wheezing: bool,
    pain: int,
    vomiting: bool,
    no_stool: bool,
    heart: bool,
    weight: float,
) -> None:
    result = assess_symptoms(
        SymptomAnswers(flushing, stools, wheezing, pain, vomiting, no_stool, heart, weight)
    )
    flags = {
        "carcinoid_syndrome": result.carcinoid_syndrome_suspected,
        "obstruction": result.obstruction_suspected,
        "carcinoid_heart": result.carcinoid_heart_suspected,
        "weight_loss": result.weight_loss_flag,
        "carcinoid_crisis": result.carcinoid_crisis_suspected,
    }
    assert {str(f.kind) for f in result.findings} == {k for k, v in flags.items() if v}
    assert len(result.findings) == sum(flags.values())
    assert result.positive is any(flags.values())
    # A crisis is never reported without the syndrome it comes from.
    assert not result.carcinoid_crisis_suspected or result.carcinoid_syndrome_suspected


def test_severity_ranks_rise_from_normal_to_critical_and_strings_rank_like_members() -> None:
    assert [(str(s), s.rank) for s in Severity] == [
        ("normal", 0),
        ("high", 1),
        ("urgent", 2),
        ("critical", 3),
    ]
    assert [severity_rank(v) for v in ("normal", "high", "urgent", "critical")] == [0, 1, 2, 3]
    assert Severity.choices == [
        ("normal", "Normal"),
        ("high", "High"),
        ("urgent", "Urgent"),
        ("critical", "Critical"),
    ]


@pytest.mark.parametrize("value", ["", "HIGH", "severe", "none"])
def test_a_severity_that_is_not_one_of_the_four_has_no_rank(value: str) -> None:
    with pytest.raises(ValueError, match="Severity"):
        severity_rank(value)
