"""Version 2 of the course machine: the new transitions and guards, case by case.

Expected values are the rules of docs/clinical-rules.md#treatment-lines and the events table
of docs/api.md#event-types (version 2), written out here, not read from the code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from tests.treatments.event_cases import VALID_DATA, course, data_for
from treatments.machine import (
    PROCEDURE_RULE,
    CourseFacts,
    LineFacts,
    LineNotFoundError,
    PrrtCycleFacts,
    State,
    date_order_error,
    evaluate,
    not_allowed,
    replay_course,
    target_state,
)

DAY = dt.date(2026, 9, 1)
LANREOTIDE = LineFacts(
    "ssa", "lanreotide", id=1, intent="antiproliferative", dose_mg=120, interval_days=28
)
SYNDROME_SSA = dataclasses.replace(LANREOTIDE, id=5, intent="syndrome_control", dose_mg=90)
PRRT = LineFacts("prrt", "lu177_dotatate", id=2, cycles=(PrrtCycleFacts(1, DAY, 7.4),))
CAPTEM = LineFacts("chemotherapy", "capecitabine_temozolomide", id=3)
EVEROLIMUS = LineFacts("everolimus", "everolimus", id=4, dose_mg=10, interval_days=1)


def untreated(state: str = "recurrence", **changes) -> CourseFacts:
    """A course with no line yet: well differentiated G2, Ki-67 15 %, SSTR-positive."""
    defaults = {"lines": (), "ki67_percent": 15.0, "progression_documented_on": None}
    return course(state, **{**defaults, **changes})


def failed(decision) -> list[str]:
    return [f.guard for f in decision.failures]


def warned(decision) -> list[str]:
    return [w.guard for w in decision.warnings]


# --- First-line PRRT (NETTER-2) ---------------------------------------------------------------


@pytest.mark.parametrize("state", ["recurrence", "residual_disease", "observation"])
def test_first_line_prrt_passes_for_ki67_15_sstr_positive_and_untreated(state):
    decision = evaluate(untreated(state), "prrt_started", VALID_DATA["prrt_started"])
    assert decision.ok and decision.warnings == ()
    assert decision.target is State.PRRT


@pytest.mark.parametrize(
    ("ki67", "ok"), [(4.0, False), (9.9, False), (10.0, True), (55.0, True), (55.1, False)]
)
def test_first_line_prrt_needs_ki67_from_10_to_55_percent_else_an_override(ki67, ok):
    decision = evaluate(untreated(ki67_percent=ki67), "prrt_started", VALID_DATA["prrt_started"])
    assert decision.ok is ok
    if not ok:
        assert failed(decision) == ["prrt_line_position"]
        assert decision.overridable
        assert "NETTER-1" in decision.failures[0].source


def test_first_line_prrt_is_not_first_line_after_an_earlier_anticancer_line():
    facts = untreated(lines=(dataclasses.replace(CAPTEM, ended_reason="toxicity"),))
    decision = evaluate(facts, "prrt_started", VALID_DATA["prrt_started"])
    assert failed(decision) == ["prrt_line_position"]


def test_an_ssa_given_only_for_syndrome_control_is_no_earlier_anticancer_line():
    stopped = dataclasses.replace(SYNDROME_SSA, ended_reason="patient_choice")
    facts = untreated(lines=(stopped,), carcinoid_syndrome=True)
    assert "prrt_line_position" not in failed(
        evaluate(facts, "prrt_started", VALID_DATA["prrt_started"])
    )


def test_first_line_prrt_for_g3_passes_with_the_eu_label_warning():
    facts = untreated(grade="G3", ki67_percent=30.0)
    decision = evaluate(facts, "prrt_started", VALID_DATA["prrt_started"])
    assert decision.ok
    assert warned(decision) == ["prrt_first_line_g3_label_warns"]
    assert "G1-G2" in decision.warnings[0].reason


def test_prrt_evidence_is_labelled_phase_3_rct():
    decision = evaluate(untreated(ki67_percent=4.0), "prrt_started", VALID_DATA["prrt_started"])
    assert decision.failures[0].evidence.startswith("phase 3 RCT")


@pytest.mark.parametrize("event", ["prrt_started", "everolimus_started"])
@pytest.mark.parametrize(("differentiation", "grade"), [("poor", "NEC"), ("mixed", "MiNEN")])
def test_prrt_and_everolimus_are_refused_for_carcinoma_unless_overridden(
    event, differentiation, grade
):
    facts = course(differentiation=differentiation, grade=grade, ki67_percent=60.0)
    decision = evaluate(facts, event, VALID_DATA[event])
    assert failed(decision)[0] == event.split("_")[0] + "_requires_well_differentiated"
    assert decision.overridable


@pytest.mark.parametrize(("uptake", "ok"), [("above", True), ("equal", True), ("below", False)])
def test_prrt_needs_uptake_at_least_that_of_the_liver(uptake, ok):
    facts = course(sstr_uptake_vs_liver=uptake)
    decision = evaluate(facts, "prrt_started", VALID_DATA["prrt_started"])
    assert decision.ok is ok


# --- Everolimus (RADIANT-4) ----------------------------------------------------------------


@pytest.mark.parametrize(("days", "ok"), [(0, True), (183, True), (184, False), (400, False)])
def test_everolimus_needs_progression_documented_within_six_months(days, ok):
    facts = untreated("progression", progression_documented_on=DAY)
    decision = evaluate(
        facts,
        "everolimus_started",
        VALID_DATA["everolimus_started"],
        occurred_on=DAY + dt.timedelta(days=days),
    )
    assert decision.ok is ok
    if not ok:
        assert failed(decision) == ["everolimus_requires_recent_progression"]
        assert decision.overridable


def test_watch_and_wait_then_progression_then_everolimus_needs_no_override():
    replayed = replay_course(
        "recurrence",
        [
            ("watchful_waiting_started", {"rationale": "low_volume_stable"}, DAY),
            ("progression_detected", {"recist": "PD"}, DAY + dt.timedelta(days=90)),
        ],
    )
    assert replayed.state is State.PROGRESSION
    facts = untreated(
        "progression", lines=replayed.lines, progression_documented_on=DAY + dt.timedelta(days=90)
    )
    decision = evaluate(
        facts, "everolimus_started", {"dose_mg": 10}, occurred_on=DAY + dt.timedelta(days=100)
    )
    assert decision.ok and decision.target is State.EVEROLIMUS


@pytest.mark.parametrize(
    ("changes", "warning"),
    [
        ({"grade": "G3", "ki67_percent": 25.0}, "everolimus_grade_g3_warns"),
        ({"functional": True}, "everolimus_functional_tumour_warns"),
        ({"carcinoid_syndrome": True}, "everolimus_functional_tumour_warns"),
    ],
)
def test_everolimus_warns_for_g3_and_for_a_syndrome(changes, warning):
    decision = evaluate(course(**changes), "everolimus_started", {"dose_mg": 10})
    assert decision.ok
    assert warned(decision) == [warning]


def test_everolimus_evidence_is_labelled_phase_3_rct():
    facts = course(progression_documented_on=None)
    decision = evaluate(facts, "everolimus_started", {"dose_mg": 10})
    assert decision.failures[0].evidence == "phase 3 RCT (RADIANT-4)"


# --- Chemotherapy in NEC -------------------------------------------------------------------

NEC = {"differentiation": "poor", "grade": "NEC", "ki67_percent": 70.0}


@pytest.mark.parametrize("regimen", ["temozolomide", "capecitabine_temozolomide"])
def test_a_temozolomide_first_line_in_nec_warns(regimen):
    decision = evaluate(untreated(**NEC), "chemotherapy_started", {"regimen": regimen})
    assert decision.ok
    assert warned(decision) == ["nec_temozolomide_first_line_warns"]
    assert "ENETS 2023" in decision.warnings[0].source


def test_platinum_etoposide_first_line_in_nec_needs_no_warning():
    decision = evaluate(
        untreated(**NEC), "chemotherapy_started", {"regimen": "carboplatin_etoposide"}
    )
    assert decision.ok and decision.warnings == ()


def test_a_temozolomide_later_line_in_nec_does_not_warn():
    facts = untreated(
        **NEC,
        lines=(
            dataclasses.replace(CAPTEM, agent="carboplatin_etoposide", ended_reason="progression"),
        ),
    )
    decision = evaluate(facts, "chemotherapy_started", {"regimen": "temozolomide"})
    assert "nec_temozolomide_first_line_warns" not in warned(decision)


def test_adjuvant_chemotherapy_for_nec_is_an_overridable_guard_not_a_state_refusal():
    decision = evaluate(
        untreated("surveillance", **NEC), "chemotherapy_started", {"regimen": "cisplatin_etoposide"}
    )
    assert decision.allowed_from_state
    assert failed(decision) == ["adjuvant_chemotherapy_for_carcinoma_needs_override"]
    assert decision.overridable
    assert decision.target is State.CHEMOTHERAPY


def test_adjuvant_chemotherapy_for_a_well_differentiated_net_stays_refused_by_state():
    decision = evaluate(
        untreated("surveillance"), "chemotherapy_started", {"regimen": "temozolomide"}
    )
    assert not decision.allowed_from_state
    assert decision.not_allowed_reason.guard == "no_adjuvant_therapy_after_complete_resection"
    assert not decision.not_allowed_reason.overridable


# --- SSA for syndrome control, SSA changes -------------------------------------------------

SYNDROME_DOSE = {
    "agent": "lanreotide",
    "dose_mg": 90,
    "interval_days": 28,
    "intent": "syndrome_control",
}


def test_syndrome_control_ssa_needs_a_syndrome_on_record():
    decision = evaluate(untreated(), "ssa_started", SYNDROME_DOSE)
    assert failed(decision) == ["ssa_syndrome_control_requires_a_syndrome"]
    assert decision.overridable


@pytest.mark.parametrize("syndrome", [{"functional": True}, {"carcinoid_syndrome": True}])
@pytest.mark.parametrize(
    ("agent", "dose"), [("octreotide_lar", 10), ("lanreotide", 60), ("lanreotide", 90)]
)
def test_syndrome_control_allows_the_lower_doses(syndrome, agent, dose):
    data = {**SYNDROME_DOSE, "agent": agent, "dose_mg": dose}
    assert evaluate(untreated(**syndrome), "ssa_started", data).ok


def test_syndrome_control_ssa_only_warns_when_receptor_imaging_is_not_positive():
    facts = untreated(carcinoid_syndrome=True, sstr_imaging="negative")
    decision = evaluate(facts, "ssa_started", SYNDROME_DOSE)
    assert decision.ok
    assert warned(decision) == ["ssa_syndrome_control_without_positive_sstr_warns"]


def test_syndrome_control_is_not_started_from_surveillance():
    reason = not_allowed(
        "surveillance", "ssa_started", untreated("surveillance", carcinoid_syndrome=True)
    )
    assert reason is not None and not reason.overridable


@pytest.mark.parametrize(
    ("line", "change", "ok"),
    [
        (LANREOTIDE, {"change": "interval", "interval_days": 14}, False),  # CLARINET FORTE
        (
            dataclasses.replace(LANREOTIDE, agent="octreotide_lar", dose_mg=30),
            {"change": "dose", "dose_mg": 60},
            False,
        ),
        (LANREOTIDE, {"change": "agent", "agent": "octreotide_lar", "dose_mg": 30}, True),
        (LANREOTIDE, {"change": "hold"}, True),
        (LANREOTIDE, {"change": "resume"}, True),
        (SYNDROME_SSA, {"change": "dose", "dose_mg": 60}, True),
        (EVEROLIMUS, {"change": "dose", "dose_mg": 5}, True),
        (EVEROLIMUS, {"change": "dose", "dose_mg": 2.5}, False),
    ],
)
def test_ssa_escalations_need_an_override_and_switches_do_not(line, change, ok):
    state = "ssa" if line.category == "ssa" else "everolimus"
    decision = evaluate(course(state, lines=(line,)), "line_changed", change)
    assert decision.ok is ok
    if not ok:
        assert failed(decision) == ["line_change_within_label"]
        assert decision.overridable


def test_only_an_ssa_line_switches_agent():
    decision = evaluate(
        course("everolimus", lines=(EVEROLIMUS,)),
        "line_changed",
        {"change": "agent", "agent": "lanreotide"},
    )
    assert failed(decision) == ["line_change_fits_the_line"]
    assert not decision.overridable


def test_a_line_change_recorded_in_progression_is_the_decision_and_returns_to_the_line():
    facts = course("progression", lines=(LANREOTIDE,))
    change = {"change": "interval", "interval_days": 14}
    assert target_state("progression", "line_changed", change, facts) is State.SSA
    assert target_state("ssa", "line_changed", change, facts) is State.SSA


def test_a_line_change_must_name_the_line_when_several_are_open():
    facts = course("prrt", lines=(LANREOTIDE, PRRT))
    with pytest.raises(LineNotFoundError, match="name the line"):
        evaluate(facts, "line_changed", {"change": "hold"})
    assert evaluate(facts, "line_changed", {"change": "hold", "line": 1}).ok
    with pytest.raises(LineNotFoundError, match="not an open treatment line"):
        evaluate(facts, "line_changed", {"change": "hold", "line": 99})


# --- PRRT cycles ---------------------------------------------------------------------------


def cycle(number: int, days_after_first: int, **extra) -> tuple[CourseFacts, dict]:
    facts = course("prrt", lines=(LANREOTIDE, PRRT))
    data = {
        "cycle": number,
        "activity_gbq": 7.4,
        "given_on": (DAY + dt.timedelta(days=days_after_first)).isoformat(),
        **extra,
    }
    return facts, data


@pytest.mark.parametrize(
    ("days", "refused", "warns"),
    [
        (48, True, False),
        (49, False, False),
        (56, False, False),
        (63, False, False),
        (64, False, True),
    ],
)
def test_prrt_cycles_are_49_to_63_days_apart(days, refused, warns):
    facts, data = cycle(2, days)
    decision = evaluate(facts, "prrt_cycle_given", data)
    assert (failed(decision) == ["prrt_cycle_interval_at_least_49_days"]) is refused
    assert ("prrt_cycle_interval_over_63_days_warns" in warned(decision)) is warns
    if refused:
        assert decision.overridable
    assert decision.target is State.PRRT


@pytest.mark.parametrize("number", [1, 3, 4])
def test_prrt_cycle_numbers_are_sequential_and_not_overridable(number):
    facts, data = cycle(number, 56)
    decision = evaluate(facts, "prrt_cycle_given", data)
    assert failed(decision) == ["prrt_cycle_is_the_next"]
    assert not decision.overridable


@pytest.mark.parametrize(("activity", "ok"), [(3.6, False), (3.7, True), (7.4, True), (7.5, False)])
def test_prrt_cycle_activity_is_3_7_to_7_4_gbq(activity, ok):
    facts, data = cycle(2, 56, activity_gbq=activity)
    assert evaluate(facts, "prrt_cycle_given", data).ok is ok


def test_a_fifth_prrt_cycle_warns_of_retreatment():
    cycles = tuple(
        PrrtCycleFacts(n, DAY + dt.timedelta(days=56 * (n - 1)), 7.4) for n in range(1, 5)
    )
    facts = course("prrt", lines=(dataclasses.replace(PRRT, cycles=cycles),))
    data = {
        "cycle": 5,
        "activity_gbq": 7.4,
        "given_on": (DAY + dt.timedelta(days=56 * 4)).isoformat(),
    }
    decision = evaluate(facts, "prrt_cycle_given", data)
    assert decision.ok
    assert warned(decision) == ["prrt_cycle_beyond_four_warns"]


@pytest.mark.parametrize(("days_since_injection", "warns"), [(10, True), (27, True), (28, False)])
def test_a_prrt_cycle_soon_after_a_long_acting_injection_warns_of_the_washout(
    days_since_injection, warns
):
    facts, data = cycle(2, 56)
    given_on = DAY + dt.timedelta(days=56)
    facts = dataclasses.replace(
        facts, last_long_acting_injection_on=given_on - dt.timedelta(days=days_since_injection)
    )
    decision = evaluate(facts, "prrt_cycle_given", data)
    assert ("prrt_cycle_ssa_washout_warns" in warned(decision)) is warns
    if warns:
        assert "washout" in decision.warnings[0].reason


def test_the_first_prrt_cycle_checks_the_washout_on_the_event_day():
    facts = course(last_long_acting_injection_on=DAY)
    decision = evaluate(
        facts, "prrt_started", VALID_DATA["prrt_started"], occurred_on=DAY + dt.timedelta(days=10)
    )
    assert warned(decision) == ["prrt_ssa_washout_warns"]


@pytest.mark.parametrize("event", ["prrt_started", "resection_started"])
def test_carcinoid_syndrome_reminds_of_octreotide_cover(event):
    facts = course(
        "recurrence" if event == "resection_started" else "progression", carcinoid_syndrome=True
    )
    decision = evaluate(facts, event, VALID_DATA[event])
    assert any(w.endswith("octreotide_cover_reminder") for w in warned(decision))


@pytest.mark.parametrize(
    ("procedure", "reminds"), [("tae", True), ("tace", True), ("ablation", False)]
)
def test_embolisation_with_carcinoid_syndrome_reminds_of_octreotide_cover(procedure, reminds):
    facts = course("ssa", lines=(LANREOTIDE,), carcinoid_syndrome=True)
    decision = evaluate(facts, "procedure_recorded", {"procedure": procedure, "target": "liver"})
    assert decision.ok
    assert (warned(decision) == ["procedure_octreotide_cover_reminder"]) is reminds


# --- Completing and stopping lines ---------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "lines", "data", "target"),
    [
        ("prrt", (LANREOTIDE, PRRT), {"best_response": "partial_response"}, "ssa"),
        ("prrt", (PRRT,), {"best_response": "stable"}, "observation"),
        ("prrt", (LANREOTIDE, PRRT), {"best_response": "progression"}, "progression"),
        ("chemotherapy", (CAPTEM,), {"best_response": "complete_response"}, "observation"),
        ("chemotherapy", (CAPTEM,), {"best_response": "progression"}, "progression"),
    ],
)
def test_a_completed_line_leads_to_ssa_progression_or_observation(state, lines, data, target):
    decision = evaluate(course(state, lines=lines), "line_completed", data)
    assert decision.ok and decision.target == target


@pytest.mark.parametrize(
    ("state", "lines", "data", "target"),
    [
        ("everolimus", (EVEROLIMUS,), {"reason": "toxicity"}, "observation"),
        ("everolimus", (SYNDROME_SSA, EVEROLIMUS), {"reason": "toxicity", "line": 4}, "ssa"),
        ("prrt", (LANREOTIDE, PRRT), {"reason": "patient_choice", "line": 1}, "prrt"),
        ("ssa", (LANREOTIDE,), {"reason": "toxicity"}, "observation"),
        ("progression", (LANREOTIDE,), {"reason": "toxicity"}, "progression"),
        ("observation", (SYNDROME_SSA,), {"reason": "other"}, "observation"),
    ],
)
def test_a_stopped_line_leads_where_the_lines_left_open_say(state, lines, data, target):
    decision = evaluate(course(state, lines=lines), "line_stopped", data)
    assert decision.ok and decision.target == target


def test_a_line_cannot_be_stopped_when_none_is_open():
    reason = not_allowed("recurrence", "line_stopped", untreated())
    assert reason is not None and "needs an open treatment line" in reason.reason


# --- Resections during a line, procedures, status updates ----------------------------------


@pytest.mark.parametrize(
    "state", ["ssa", "prrt", "everolimus", "chemotherapy", "observation", "residual_disease"]
)
def test_a_resection_may_start_from_a_line_or_known_disease(state):
    facts = course(state, lines=(), last_recurrence=None)
    decision = evaluate(facts, "resection_started", VALID_DATA["resection_started"])
    assert decision.ok and decision.target is State.RESECTION


def test_resection_then_ssa_then_resection_completed_is_a_defined_outcome():
    # The dead end of version 1: resection_started -> ssa_started -> resection_completed.
    replayed = replay_course(
        "recurrence",
        [
            ("resection_started", {"procedure": "hepatectomy"}),
            ("ssa_started", {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28}),
        ],
    )
    assert (replayed.state, replayed.resection_open) == (State.SSA, True)
    facts = course("ssa", lines=replayed.lines, resection_open=True)
    ned = data_for("resection_completed", ned=True)
    decision = evaluate(facts, "resection_completed", ned)
    assert decision.ok and decision.target is State.SURVEILLANCE
    assert warned(decision) == ["resection_ned_ends_antiproliferative_lines_warns"]
    not_ned = data_for("resection_completed", ned=False, margin="R2")
    assert evaluate(facts, "resection_completed", not_ned).target is State.SSA
    after = replay_course(
        "recurrence",
        [
            ("resection_started", {"procedure": "hepatectomy"}),
            ("ssa_started", {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28}),
            ("resection_completed", ned),
        ],
    )
    assert after.state is State.SURVEILLANCE and not after.resection_open
    assert [line.ended_reason for line in after.lines] == ["no_evidence_of_disease"]


def test_a_second_resection_does_not_open_while_one_is_open():
    reason = not_allowed("ssa", "resection_started", course("ssa", resection_open=True))
    assert reason is not None and "resection_completed first" in reason.reason


def test_resection_on_ssa_with_the_gallbladder_in_place_suggests_cholecystectomy():
    facts = course("ssa", lines=(LANREOTIDE,), gallbladder_in_place=True)
    decision = evaluate(facts, "resection_started", VALID_DATA["resection_started"])
    assert warned(decision) == ["resection_on_ssa_with_gallbladder_warns"]


def test_a_procedure_in_surveillance_is_refused_as_implying_disease():
    reason = not_allowed("surveillance", "procedure_recorded")
    assert reason == PROCEDURE_RULE
    assert not reason.overridable


@pytest.mark.parametrize(
    "state",
    [
        "recurrence",
        "residual_disease",
        "observation",
        "progression",
        "ssa",
        "prrt",
        "everolimus",
        "chemotherapy",
        "supportive",
    ],
)
def test_supportive_care_procedures_and_status_updates_are_open_in_known_disease(state):
    facts = course(state, lines=())
    for event in ("procedure_recorded", "status_updated", "progression_detected"):
        if event == "progression_detected" and state == "progression":
            continue
        assert not_allowed(state, event, facts) is None, event
    if state != "supportive":
        assert evaluate(facts, "supportive_care_started", {}).target is State.SUPPORTIVE


@pytest.mark.parametrize("state", ["recurrence", "residual_disease", "progression"])
def test_watchful_waiting_leads_to_observation(state):
    decision = evaluate(
        course(state, lines=()), "watchful_waiting_started", {"rationale": "comorbidity"}
    )
    assert decision.ok and decision.target is State.OBSERVATION


def test_a_status_update_is_recorded_in_surveillance_and_keeps_the_state():
    decision = evaluate(
        course("surveillance", lines=()), "status_updated", {"carcinoid_syndrome": True}
    )
    assert decision.ok and decision.target is State.SURVEILLANCE


# --- Date order ----------------------------------------------------------------------------

RECURRENCE_ON = dt.date(2026, 8, 1)


def entered(state: str = "recurrence") -> CourseFacts:
    return course(state, state_entered_on=RECURRENCE_ON, state_entered_by="recurrence_detected")


def test_a_state_changing_event_dated_before_the_state_began_is_refused_naming_it():
    message = date_order_error(
        entered(), "ssa_started", RECURRENCE_ON - dt.timedelta(days=240), target=State.SSA
    )
    assert message is not None
    assert "recurrence_detected" in message and "2026-08-01" in message


@pytest.mark.parametrize("days", [0, 1, 30])
def test_a_state_changing_event_on_or_after_the_state_began_is_in_order(days):
    assert (
        date_order_error(
            entered(), "ssa_started", RECURRENCE_ON + dt.timedelta(days=days), target=State.SSA
        )
        is None
    )


def test_a_correction_may_record_an_earlier_date():
    early = RECURRENCE_ON - dt.timedelta(days=240)
    assert (
        date_order_error(entered(), "ssa_started", early, target=State.SSA, correction=True) is None
    )


@pytest.mark.parametrize("event", ["symptoms_reported", "status_updated", "procedure_recorded"])
def test_events_that_keep_the_state_are_not_held_to_the_state_date(event):
    early = RECURRENCE_ON - dt.timedelta(days=10)
    assert date_order_error(entered(), event, early) is None
    assert date_order_error(entered(), event, early, target=State.RECURRENCE) is None


def test_without_a_known_state_date_nothing_is_refused():
    assert date_order_error(course("recurrence"), "ssa_started", dt.date(2000, 1, 1)) is None
