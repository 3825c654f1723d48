"""Version 2 of the surveillance rules, as pure functions: the cases of the clinical tables.

Expected dates are written out from docs/clinical-rules.md#version-2-surveillance-and-monitoring
(ESMO 2020 lifelong follow-up, restaging every 3–6 months in known disease, 5-HIAA with each
imaging, NT-proBNP yearly and echocardiography for carcinoid heart disease, vitamin B12 after
ileal resection) and #version-2-treatment-lines (SSA interval and window, PRRT cycles), never
from the code's output.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta

from surveillance.schedule import (
    DueItem,
    Facts,
    PrrtCourse,
    RiskGroup,
    SsaLine,
    default_plan,
    due_items,
    injection_in_prrt_washout,
    risk_group,
    surveillance_complete,
)

SURGERY = date(2026, 2, 1)
STANDARD = default_plan(RiskGroup.STANDARD)
LOW = default_plan(RiskGroup.LOW)


def facts(**overrides: object) -> Facts:
    values: dict[str, object] = {
        "surgery_on": SURGERY,
        "anchor_on": SURGERY,
        "state": "surveillance",
    }
    values.update(overrides)
    return Facts(**values)  # type: ignore[arg-type]


def by_kind(items: list[DueItem]) -> dict[str, DueItem]:
    result = {str(item.kind): item for item in items}
    assert len(result) == len(items), "one item per kind"
    return result


def months(day: date, n: int) -> date:
    return day + relativedelta(months=n)


def imaging_series(plan, start: Facts, years: int) -> list[date]:
    """Imaging done on each due date, until none is due or ``years`` have passed."""
    current, done = start, []
    end = months(start.anchor_on, 12 * years)
    while (imaging := by_kind(due_items(plan, current, current.anchor_on)).get("imaging")) and (
        imaging.due_on <= end
    ):
        done.append(imaging.due_on)
        current = replace(current, last_imaging_on=imaging.due_on, last_visit_on=imaging.due_on)
    return done


# --- Duration: lifelong for standard and high risk, 10 years then closure for low -------------


def test_the_seed_patient_over_25_years_never_waits_more_than_12_months_and_never_runs_out():
    # Stage III, G2, Ki-67 4 %, R0: standard risk (docs/clinical-rules.md#risk-groups).
    group = risk_group("III", "G2", 4.0, "R0")
    plan = default_plan(group)
    assert (group, plan.duration_years) == (RiskGroup.STANDARD, None)

    done = imaging_series(plan, facts(), 25)

    gaps = [b - a for a, b in zip([SURGERY, *done], done, strict=False)]
    assert max(gaps) <= timedelta(days=366)
    assert done[-1] == months(SURGERY, 12 * 25)  # still imaging at year 25
    # 6-monthly to year 3, yearly after (the seed table), 12-monthly after year 10.
    assert done[:6] == [months(SURGERY, m) for m in range(6, 37, 6)]
    assert done[6:] == [months(SURGERY, m) for m in range(48, 12 * 25 + 1, 12)]
    assert not surveillance_complete(plan, facts(last_imaging_on=done[-1]), done[-1])


def test_a_high_risk_patient_images_every_12_months_after_year_10_for_life():
    plan = default_plan(RiskGroup.HIGH)
    done = imaging_series(plan, facts(), 14)

    year_10 = months(SURGERY, 120)
    assert [d for d in done if d > year_10] == [months(SURGERY, m) for m in (132, 144, 156, 168)]
    assert months(SURGERY, 114) in done  # 6-monthly in years 4–10


def test_a_low_risk_patient_is_offered_closure_at_10_years():
    done = imaging_series(LOW, facts(), 30)

    # First study at 6 months, then yearly: the last one falls in year 10, and the next would
    # fall after it, so surveillance is complete and closure may be offered.
    assert done == [months(SURGERY, m) for m in range(6, 115, 12)]
    final = facts(last_imaging_on=done[-1])
    assert surveillance_complete(LOW, final, done[-1]) is True
    assert "imaging" not in by_kind(due_items(LOW, final, done[-1]))


# --- Restaging in known disease --------------------------------------------------------------


def test_a_recurrence_in_year_5_has_restaging_within_3_months():
    recurrence_on = date(2031, 3, 15)
    course = facts(
        state="recurrence", state_entered_on=recurrence_on, last_imaging_on=date(2031, 3, 15)
    )

    imaging = by_kind(due_items(STANDARD, course, recurrence_on))["imaging"]

    assert imaging.due_on == date(2031, 6, 15)
    assert "3 months" in imaging.why


@pytest.mark.parametrize("state", ["recurrence", "residual_disease", "observation", "progression"])
def test_known_disease_is_restaged_every_3_months_in_the_first_year_then_every_6(state):
    entered = date(2030, 1, 10)
    course = facts(state=state, state_entered_on=entered, last_imaging_on=date(2029, 12, 1))
    done = []
    for _ in range(6):
        imaging = by_kind(due_items(STANDARD, course, course.last_imaging_on))["imaging"]
        done.append(imaging.due_on)
        course = replace(course, last_imaging_on=imaging.due_on)

    assert done == [
        date(2030, 4, 10),
        date(2030, 7, 10),
        date(2030, 10, 10),
        date(2031, 1, 10),  # the last study of the first year is 2030-10-10
        date(2031, 7, 10),
        date(2032, 1, 10),
    ]


def test_neuroendocrine_carcinoma_is_restaged_every_3_months_beyond_the_first_year():
    course = facts(
        state="observation", state_entered_on=date(2030, 1, 10), last_imaging_on=date(2032, 5, 1)
    )
    assert by_kind(due_items(STANDARD, course, date(2032, 5, 1)))["imaging"].due_on == date(
        2032, 11, 1
    )
    nec = replace(course, nec=True)
    assert by_kind(due_items(STANDARD, nec, date(2032, 5, 1)))["imaging"].due_on == date(2032, 8, 1)


# --- 5-HIAA, carcinoid heart disease, vitamins ------------------------------------------------


@pytest.mark.parametrize("flag", ["functional", "carcinoid_syndrome"])
def test_a_functional_tumour_or_a_syndrome_has_5_hiaa_with_each_imaging(flag):
    course = facts(**{flag: True})
    for _ in range(8):
        items = by_kind(due_items(STANDARD, course, course.anchor_on))
        assert items["u5hiaa"].due_on == items["imaging"].due_on
        assert "diet" in items["u5hiaa"].why
        course = replace(course, last_imaging_on=items["imaging"].due_on)

    assert "u5hiaa" not in by_kind(due_items(STANDARD, facts(), SURGERY))


def test_carcinoid_syndrome_brings_nt_probnp_yearly_and_a_baseline_echocardiogram():
    course = facts(carcinoid_syndrome=True)
    items = by_kind(due_items(STANDARD, course, SURGERY))
    assert items["nt_probnp"].due_on == SURGERY  # baseline
    assert items["echocardiography"].due_on == SURGERY  # not skipped: NT-proBNP misses half

    dates = []
    for _ in range(4):
        nt = by_kind(due_items(STANDARD, course, SURGERY))["nt_probnp"]
        dates.append(nt.due_on)
        course = replace(
            course,
            last_done={"nt_probnp": nt.due_on, "echocardiography": SURGERY},
            latest_nt_probnp=(nt.due_on, 120.0),
        )
    assert dates == [SURGERY, date(2027, 2, 1), date(2028, 2, 1), date(2029, 2, 1)]
    assert "echocardiography" not in by_kind(due_items(STANDARD, course, SURGERY))
    assert "nt_probnp" not in by_kind(due_items(STANDARD, facts(), SURGERY))


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        ({"latest_nt_probnp": (date(2027, 3, 1), 261.0)}, date(2027, 3, 1)),
        ({"latest_nt_probnp": (date(2027, 3, 1), 260.0)}, None),
        ({"latest_u5hiaa": (date(2027, 4, 1), 301.0)}, date(2027, 4, 1)),
        ({"latest_u5hiaa": (date(2027, 4, 1), 300.0)}, None),
        ({"heart_symptoms_on": date(2027, 5, 1)}, date(2027, 5, 1)),
    ],
)
def test_echocardiography_is_due_when_a_heart_screening_threshold_is_crossed(trigger, expected):
    course = facts(carcinoid_syndrome=True, last_done={"echocardiography": SURGERY}, **trigger)
    echo = by_kind(due_items(STANDARD, course, date(2027, 5, 1))).get("echocardiography")
    assert (echo.due_on if echo else None) == expected


def test_established_carcinoid_heart_disease_has_an_echocardiogram_every_6_months():
    course = facts(
        carcinoid_syndrome=True,
        carcinoid_heart_disease=True,
        last_done={"echocardiography": SURGERY},
    )
    assert by_kind(due_items(STANDARD, course, SURGERY))["echocardiography"].due_on == date(
        2026, 8, 1
    )


def test_a_right_hemicolectomy_brings_vitamin_b12_yearly():
    course = facts(ileal_resection=True)
    dates = []
    for _ in range(3):
        b12 = by_kind(due_items(STANDARD, course, SURGERY))["vitamin_b12"]
        dates.append(b12.due_on)
        course = replace(course, last_done={"vitamin_b12": b12.due_on})
    assert dates == [date(2027, 2, 1), date(2028, 2, 1), date(2029, 2, 1)]
    assert "vitamin_b12" not in by_kind(due_items(STANDARD, facts(), SURGERY))
    assert "vitamin_d" not in by_kind(due_items(STANDARD, course, SURGERY))


def test_an_ssa_line_brings_vitamin_b12_and_vitamin_d_yearly_from_its_start():
    line = SsaLine(started_on=date(2027, 1, 10))
    items = by_kind(due_items(STANDARD, facts(state="ssa", ssa_lines=(line,)), date(2027, 1, 10)))
    assert items["vitamin_b12"].due_on == items["vitamin_d"].due_on == date(2028, 1, 10)


# --- SSA lines: interval, window, hold, PRRT cycles --------------------------------------------


@pytest.mark.parametrize(
    ("interval", "due_on", "window_days"),
    [(None, date(2027, 2, 7), 7), (28, date(2027, 2, 7), 7), (14, date(2027, 1, 24), 3),
     (56, date(2027, 3, 7), 7)],
)  # fmt: skip
def test_the_injection_follows_the_lines_interval_with_a_window_of_25_percent_at_most_7_days(
    interval, due_on, window_days
):
    line = SsaLine(started_on=date(2027, 1, 10), interval_days=interval)
    course = facts(state="ssa", ssa_lines=(line,))
    injection = by_kind(due_items(STANDARD, course, date(2027, 1, 10)))["ssa_injection"]

    assert injection.due_on == due_on
    assert injection.window_start == due_on - timedelta(days=window_days)
    assert injection.window_end == due_on + timedelta(days=window_days)


def test_a_held_line_has_no_injection_due_and_the_other_lines_keep_theirs():
    held = SsaLine(started_on=date(2027, 1, 10), held=True)
    course = facts(state="ssa", ssa_lines=(held,))
    assert "ssa_injection" not in by_kind(due_items(STANDARD, course, date(2027, 1, 10)))

    running = SsaLine(started_on=date(2027, 1, 20), interval_days=14)
    both = replace(course, ssa_lines=(held, running))
    assert by_kind(due_items(STANDARD, both, date(2027, 1, 20)))["ssa_injection"].due_on == date(
        2027, 2, 3
    )


def test_beside_prrt_the_injection_falls_due_on_each_cycle_day_not_every_28_days():
    cycle_1 = date(2027, 3, 1)
    line = SsaLine(started_on=date(2027, 1, 1), last_injection_on=date(2027, 1, 29))
    course = facts(state="prrt", ssa_lines=(line,), prrt=PrrtCourse((cycle_1,), 4))

    injection = by_kind(due_items(STANDARD, course, cycle_1))["ssa_injection"]
    assert (injection.due_on, injection.window_start, injection.window_end) == (
        cycle_1,
        cycle_1,
        date(2027, 3, 2),  # 4–24 h after the cycle
    )

    given = replace(course, ssa_lines=(replace(line, last_injection_on=cycle_1),))
    assert by_kind(due_items(STANDARD, given, cycle_1))["ssa_injection"].due_on == date(
        2027, 4, 26
    )  # the next cycle, 8 weeks on

    cycles = (cycle_1, date(2027, 4, 26), date(2027, 6, 21), date(2027, 8, 16))
    done = replace(
        course,
        prrt=PrrtCourse(cycles, 4),
        ssa_lines=(replace(line, last_injection_on=cycles[-1]),),
    )
    # After the last planned cycle, every 4 weeks again.
    assert by_kind(due_items(STANDARD, done, cycles[-1]))["ssa_injection"].due_on == date(
        2027, 9, 13
    )


def test_prrt_labs_are_due_2_to_4_weeks_before_the_next_cycle():
    course = facts(state="prrt", prrt=PrrtCourse((date(2027, 3, 1),), 4))
    labs = by_kind(due_items(STANDARD, course, date(2027, 3, 1)))["prrt_labs"]

    assert (labs.window_start, labs.due_on, labs.window_end) == (
        date(2027, 3, 29),
        date(2027, 4, 12),
        date(2027, 4, 26),
    )
    done = replace(course, last_done={"prrt_labs": date(2027, 4, 1)})
    assert "prrt_labs" not in by_kind(due_items(STANDARD, done, date(2027, 4, 1)))


def test_everolimus_brings_blood_counts_glucose_and_lipids_before_and_every_3_months():
    start = date(2027, 5, 1)
    course = facts(state="everolimus", everolimus_started_on=start, line_started_on=start)
    items = by_kind(due_items(STANDARD, course, start))
    assert items["blood_counts"].due_on == items["metabolic_panel"].due_on == start

    done = replace(course, last_done={"blood_counts": start, "metabolic_panel": start})
    items = by_kind(due_items(STANDARD, done, start))
    assert items["blood_counts"].due_on == items["metabolic_panel"].due_on == date(2027, 8, 1)


def test_blood_counts_are_due_yearly_after_prrt():
    course = facts(state="observation", last_prrt_cycle_on=date(2027, 8, 16))
    assert by_kind(due_items(STANDARD, course, date(2027, 9, 1)))["blood_counts"].due_on == date(
        2028, 8, 16
    )


# --- A positive symptom check ------------------------------------------------------------------


def test_a_positive_check_brings_imaging_within_4_weeks_and_the_markers_due_now():
    check_on = date(2026, 3, 10)
    course = facts(cga_elevated_preop=True, functional=True, symptom_alert_on=check_on)
    items = by_kind(due_items(STANDARD, course, check_on))

    assert items["imaging"].due_on == date(2026, 4, 7)  # first imaging was due 2026-08-01
    assert items["visit"].due_on == date(2026, 4, 7)
    assert items["cga"].due_on == items["u5hiaa"].due_on == check_on

    answered = replace(
        course,
        last_imaging_on=date(2026, 4, 1),
        last_done={"cga": check_on, "u5hiaa": check_on},
    )
    items = by_kind(due_items(STANDARD, answered, date(2026, 4, 1)))
    assert items["imaging"].due_on == date(2026, 10, 1)  # back on the plan
    assert items["cga"].due_on == items["u5hiaa"].due_on == date(2026, 10, 1)


def test_a_positive_check_reopens_imaging_after_completed_surveillance():
    final = facts(last_imaging_on=months(SURGERY, 120))
    assert surveillance_complete(LOW, final, months(SURGERY, 120))

    alert_on = months(SURGERY, 130)
    items = by_kind(due_items(LOW, replace(final, symptom_alert_on=alert_on), alert_on))
    assert items["imaging"].due_on == alert_on + timedelta(days=28)


def test_an_injection_in_the_4_weeks_before_the_next_prrt_cycle_is_in_the_washout():
    course = facts(state="prrt", prrt=PrrtCourse((date(2027, 3, 1),), 4))  # next: 2027-04-26
    assert injection_in_prrt_washout(course, date(2027, 3, 1)) is None  # the cycle day
    assert injection_in_prrt_washout(course, date(2027, 3, 28)) is None  # 29 days before
    assert injection_in_prrt_washout(course, date(2027, 3, 29)) == date(2027, 4, 26)
    assert injection_in_prrt_washout(course, date(2027, 4, 25)) == date(2027, 4, 26)
    last = replace(course, prrt=PrrtCourse((date(2027, 3, 1),), 1))  # no cycle left
    assert injection_in_prrt_washout(last, date(2027, 3, 29)) is None


def test_a_line_resumed_after_a_long_hold_has_its_injection_due_on_resuming():
    line = SsaLine(started_on=date(2027, 1, 10), resumed_on=date(2027, 3, 1))
    course = facts(state="ssa", ssa_lines=(line,))
    assert by_kind(due_items(STANDARD, course, date(2027, 3, 1)))["ssa_injection"].due_on == date(
        2027, 3, 1
    )
    short = replace(line, resumed_on=date(2027, 1, 20))  # within the interval: unchanged
    assert by_kind(due_items(STANDARD, replace(course, ssa_lines=(short,)), date(2027, 1, 20)))[
        "ssa_injection"
    ].due_on == date(2027, 2, 7)
