"""Treatment lines: what each line-starting event records, and which events end the line."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from tests.treatments.event_cases import course
from treatments.lines import (
    LineNotFoundError,
    apply_effects,
    line_effects,
    line_end_reason,
    line_spec,
)
from treatments.machine import LineFacts, PrrtCycleFacts


@pytest.mark.parametrize(
    ("event", "data", "category", "agent", "route", "interval"),
    [
        ("ssa_started", {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28},
         "ssa", "lanreotide", "deep subcutaneous", 28),
        ("ssa_started", {"agent": "octreotide_lar", "dose_mg": 30, "interval_days": 28},
         "ssa", "octreotide_lar", "intramuscular", 28),
        ("prrt_started", {"agent": "lu177_dotatate", "activity_gbq": 7.4, "cycles_planned": 4},
         "prrt", "lu177_dotatate", "intravenous", 56),
        ("everolimus_started", {"dose_mg": 10}, "everolimus", "everolimus", "oral", 1),
        ("chemotherapy_started", {"regimen": "cisplatin_etoposide"},
         "chemotherapy", "cisplatin_etoposide", "intravenous", 21),
        ("supportive_care_started", {}, "supportive", "best_supportive_care", "", None),
    ],
)  # fmt: skip
def test_each_line_starting_event_describes_its_line(event, data, category, agent, route, interval):
    spec = line_spec(event, data)

    assert (spec["category"], spec["agent"], spec["route"], spec["interval_days"]) == (
        category, agent, route, interval,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("event", "data", "expected"),
    [
        ("progression_detected", {"recist": "PD"}, "progression"),
        ("course_closed", {"reason": "deceased"}, "deceased"),
        ("prrt_started", {"agent": "lu177_dotatate", "activity_gbq": 7.4, "cycles_planned": 4},
         "switched"),
        ("symptoms_reported", {}, None),
        ("recurrence_detected", {"site": "liver", "resectable": True}, None),
    ],
)  # fmt: skip
def test_progression_closing_and_a_new_line_end_the_running_line(event, data, expected):
    assert line_end_reason(event, data) == expected
    assert (line_spec(event, data) is None) == (
        event
        in {"progression_detected", "course_closed", "symptoms_reported", "recurrence_detected"}
    )


# --- Version 2: several open lines (docs/clinical-rules.md#lines-that-run-together) -------------

SSA = LineFacts(
    "ssa", "lanreotide", id=1, intent="antiproliferative", dose_mg=120, interval_days=28
)
SYNDROME_SSA = dataclasses.replace(SSA, id=2, intent="syndrome_control")
PRRT = LineFacts(
    "prrt", "lu177_dotatate", id=3, cycles=(PrrtCycleFacts(1, dt.date(2026, 9, 1), 7.4),)
)
EVEROLIMUS = LineFacts("everolimus", "everolimus", id=4, dose_mg=10)
PRRT_DATA = {"agent": "lu177_dotatate", "activity_gbq": 7.4, "cycles_planned": 4}


def ended(effects) -> dict[int, str]:
    return {end.line.id: end.reason for end in effects.ends}


@pytest.mark.parametrize(
    ("event", "data", "syndrome", "ssa_ends"),
    [
        ("prrt_started", PRRT_DATA, False, False),  # default true for PRRT (label)
        ("prrt_started", {**PRRT_DATA, "continue_ssa": False}, False, True),
        ("everolimus_started", {"dose_mg": 10}, False, True),  # default false without a syndrome
        ("everolimus_started", {"dose_mg": 10}, True, False),  # true with carcinoid syndrome
        ("chemotherapy_started", {"regimen": "temozolomide"}, True, False),
        ("chemotherapy_started", {"regimen": "temozolomide", "continue_ssa": False}, True, True),
    ],
)
def test_continue_ssa_keeps_the_ssa_beside_the_new_line_by_its_defaults(
    event, data, syndrome, ssa_ends
):
    facts = course("progression", lines=(SSA,), carcinoid_syndrome=syndrome)
    effects = line_effects(event, data, facts, on=dt.date(2026, 10, 1))
    assert ended(effects) == ({1: "progression"} if ssa_ends else {})
    assert effects.starts["category"] == event.removesuffix("_started")


def test_progression_ends_the_lines_other_than_the_ssa_which_runs_until_the_decision():
    facts = course("prrt", lines=(SSA, PRRT))
    assert ended(line_effects("progression_detected", {"recist": "PD"}, facts)) == {
        3: "progression"
    }


def test_supportive_care_keeps_only_an_ssa_given_for_syndrome_control():
    facts = course("everolimus", lines=(SYNDROME_SSA, EVEROLIMUS))
    assert ended(line_effects("supportive_care_started", {}, facts)) == {4: "switched"}


def test_no_evidence_of_disease_after_a_resection_ends_the_anticancer_lines():
    facts = course("ssa", lines=(SSA, SYNDROME_SSA), resection_open=True)
    effects = line_effects(
        "resection_completed", {"performed_on": "2026-10-01", "margin": "R0", "ned": True}, facts
    )
    assert ended(effects) == {1: "no_evidence_of_disease"}


def test_closing_the_course_ends_every_open_line_with_the_closing_reason():
    facts = course("prrt", lines=(SSA, PRRT))
    assert ended(line_effects("course_closed", {"reason": "deceased"}, facts)) == {
        1: "deceased",
        3: "deceased",
    }


def test_a_hold_and_a_resume_change_the_line_without_ending_it():
    facts = course("ssa", lines=(SSA,))
    held = apply_effects(facts.lines, line_effects("line_changed", {"change": "hold"}, facts))
    assert held[0].held and held[0].is_open
    resumed = apply_effects(
        held,
        line_effects("line_changed", {"change": "resume"}, dataclasses.replace(facts, lines=held)),
    )
    assert not resumed[0].held


def test_an_interval_change_is_the_new_prescription():
    facts = course("ssa", lines=(SSA,))
    changed = apply_effects(
        facts.lines,
        line_effects("line_changed", {"change": "interval", "interval_days": 14}, facts),
    )
    assert (changed[0].interval_days, changed[0].dose_mg) == (14, 120)


def test_a_prrt_cycle_is_added_to_the_running_prrt_line_and_prrt_started_is_cycle_one():
    facts = course("prrt", lines=(SSA, PRRT))
    data = {"cycle": 2, "activity_gbq": 7.4, "given_on": "2026-10-27"}
    lines = apply_effects(facts.lines, line_effects("prrt_cycle_given", data, facts))
    assert lines[1].cycles == (PRRT.cycles[0], PrrtCycleFacts(2, dt.date(2026, 10, 27), 7.4))
    started = line_effects(
        "prrt_started", PRRT_DATA, course("progression", lines=()), on=dt.date(2026, 9, 1)
    )
    assert started.cycle == PrrtCycleFacts(1, dt.date(2026, 9, 1), 7.4)


def test_a_stopped_line_must_be_named_among_several():
    facts = course("prrt", lines=(SSA, PRRT))
    with pytest.raises(LineNotFoundError):
        line_effects("line_stopped", {"reason": "toxicity"}, facts)
    assert ended(line_effects("line_stopped", {"reason": "toxicity", "line": 1}, facts)) == {
        1: "toxicity"
    }


def test_an_ssa_line_starts_antiproliferative_unless_syndrome_control_is_named():
    facts = course("recurrence", lines=())
    data = {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28}
    assert line_effects("ssa_started", data, facts).starts["intent"] == "antiproliferative"
    syndrome = {**data, "intent": "syndrome_control"}
    assert line_effects("ssa_started", syndrome, facts).starts["intent"] == "syndrome_control"
