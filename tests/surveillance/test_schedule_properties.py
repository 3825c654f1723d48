"""A property over random plans and event histories (bounded for a fast CI run).

A patient who does everything on the day it is due, while random events happen to the course
(recurrence, SSA lines with any interval, PRRT with its cycles, everolimus, progression,
watch-and-wait, positive symptom checks, a syndrome found, heart symptoms), never has two
items of one kind and never has an item dated before the day it was planned: nothing the
schedule creates is born overdue.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from surveillance.schedule import (
    DueItem,
    Facts,
    PlanParams,
    PrrtCourse,
    RiskGroup,
    SsaLine,
    due_items,
    next_prrt_cycle,
)

plans = st.builds(
    PlanParams,
    risk_group=st.sampled_from(list(RiskGroup)),
    first_imaging_months=st.integers(3, 12),
    early_interval_months=st.integers(3, 12),
    late_interval_months=st.integers(6, 12),
    duration_years=st.one_of(st.none(), st.integers(5, 20)),
    symptom_check_months=st.integers(1, 6),
    symptom_check_months_on_ssa=st.integers(1, 6),
)
EVENTS = (
    "nothing",
    "recurrence",
    "ssa",
    "prrt",
    "everolimus",
    "progression",
    "observation",
    "positive_check",
    "syndrome",
    "heart_symptoms",
)
steps = st.lists(
    st.tuples(st.sampled_from(EVENTS), st.integers(0, 200), st.sampled_from([14, 28, 56])),
    min_size=5,
    max_size=40,
)


def _do_what_is_due(facts: Facts, items: list[DueItem], today: date) -> Facts:
    """Everything due today is done today (imaging with its visit, tests, the injection)."""
    done = dict(facts.last_done)
    for item in items:
        if item.due_on != today:
            continue
        kind = str(item.kind)
        if kind == "imaging":
            facts = replace(facts, last_imaging_on=today, last_visit_on=today)
        elif kind == "symptom_check":
            facts = replace(facts, last_symptom_check_on=today)
        elif kind == "ssa_injection":
            lines = tuple(replace(line, last_injection_on=today) for line in facts.ssa_lines)
            facts = replace(facts, ssa_lines=lines)
        elif kind == "nt_probnp":
            done[kind] = today
            facts = replace(facts, latest_nt_probnp=(today, 100.0))
        elif kind != "visit":
            done[kind] = today
    return replace(facts, last_done=done)


def _event(facts: Facts, event: str, today: date, interval: int) -> Facts:
    state = str(facts.state)
    known = state != "surveillance"
    if event == "recurrence" and not known:
        return replace(facts, state="recurrence", state_entered_on=today)
    if event == "ssa" and known and not facts.ssa_lines:
        line = SsaLine(started_on=today, interval_days=interval)
        return replace(facts, state="ssa", state_entered_on=today, ssa_lines=(line,),
                       line_started_on=today, on_ssa=True, prrt=None,
                       everolimus_started_on=None)  # fmt: skip
    if event == "prrt" and known and facts.prrt is None:
        # The SSA line stays open beside PRRT (continue_ssa).
        return replace(facts, state="prrt", state_entered_on=today, line_started_on=today,
                       prrt=PrrtCourse((today,), 4), everolimus_started_on=None)  # fmt: skip
    if event == "everolimus" and known and facts.everolimus_started_on is None:
        last_cycle = max(facts.prrt.cycle_dates) if facts.prrt else facts.last_prrt_cycle_on
        return replace(facts, state="everolimus", state_entered_on=today, line_started_on=today,
                       everolimus_started_on=today, prrt=None,
                       last_prrt_cycle_on=last_cycle)  # fmt: skip
    if event in {"progression", "observation"} and known:
        last_cycle = max(facts.prrt.cycle_dates) if facts.prrt else facts.last_prrt_cycle_on
        return replace(facts, state=event, state_entered_on=today, prrt=None,
                       everolimus_started_on=None, last_prrt_cycle_on=last_cycle)  # fmt: skip
    if event == "positive_check":
        return replace(facts, symptom_alert_on=today, last_symptom_check_on=today)
    if event == "syndrome" and not facts.carcinoid_syndrome:
        return replace(facts, carcinoid_syndrome=True, syndrome_since=today)
    if event == "heart_symptoms":
        return replace(facts, heart_symptoms_on=today, last_symptom_check_on=today)
    return facts


@settings(max_examples=120, deadline=None)
@given(
    plan=plans,
    surgery_on=st.dates(date(2005, 1, 1), date(2035, 12, 31)),
    cga=st.booleans(),
    functional=st.booleans(),
    ileal=st.booleans(),
    history=steps,
)
def test_due_items_are_unique_per_kind_and_never_in_the_past_when_created(
    plan: PlanParams,
    surgery_on: date,
    cga: bool,
    functional: bool,
    ileal: bool,
    history: list[tuple[str, int, int]],
) -> None:
    facts = Facts(
        surgery_on=surgery_on,
        anchor_on=surgery_on,
        state="surveillance",
        cga_elevated_preop=cga,
        functional=functional,
        ileal_resection=ileal,
    )
    today = surgery_on
    items = due_items(plan, facts, today)
    for event, wait_days, interval in history:
        # The patient comes back on a random day, never later than the earliest due item.
        earliest = min((item.due_on for item in items), default=today + timedelta(days=wait_days))
        today = min(today + timedelta(days=wait_days), max(earliest, today))
        if facts.prrt is not None and next_prrt_cycle(facts) == today:
            facts = replace(facts, prrt=PrrtCourse((*facts.prrt.cycle_dates, today), 4))
        facts = _do_what_is_due(facts, items, today)
        facts = _event(facts, event, today, interval)

        items = due_items(plan, facts, today)

        kinds = [str(item.kind) for item in items]
        assert len(kinds) == len(set(kinds)), kinds
        past = [(str(i.kind), i.due_on, i.why) for i in items if i.due_on < today]
        assert past == [], (today, past)
        assert all(i.window_start <= i.due_on for i in items)
        if str(facts.state) != "surveillance" or plan.duration_years is None:
            assert "imaging" in kinds  # follow-up never runs out with known disease or for life
