"""The courses a NET clinic records every week, walked through the API (clinical model v2).

One test per walk of the clinical model's acceptance list, clinician unless said: first-line
PRRT, its guard and override, watch-and-wait, an SSA beside PRRT with its washout, an
escalated SSA interval, residual disease at registration, the date order and its
correction, and a resection completed while a line runs.
"""

import copy
import datetime as dt

import pytest

from surveillance import services as surveillance
from treatments.models import Course, Surgery

pytestmark = pytest.mark.django_db

REGISTRATION = {
    "patient": {
        "mrn": "V2-1", "given_name": "Ana", "family_name": "Silva", "birth_date": "1961-04-02",
        "sex": "female", "email": "ana@example.org", "phone": "+447700900123",
        "timezone": "Europe/London", "language": "en", "sms_consent": True, "email_consent": True,
    },
    "diagnosis": {
        "primary_site": "ileum", "diagnosed_on": "2026-01-10", "differentiation": "well",
        "ki67_percent": 4.0, "t": "T3", "n": "N1", "m": "M0", "sstr_imaging": "positive",
        "cga_elevated_preop": True, "functional": False,
    },
    "surgery": {
        "performed_on": "2026-02-01", "procedure": "segmental_ileal_resection", "margin": "R0",
        "nodes_examined": 14, "nodes_positive": 3, "gallbladder_removed": True,
    },
}  # fmt: skip
LANREOTIDE = {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28}
PRRT = {"agent": "lu177_dotatate", "activity_gbq": 7.4, "cycles_planned": 4}
LIVER = {"site": "liver", "resectable": False}


def registration(**sections: dict) -> dict:
    """The registration body with some fields of each section changed."""
    body = copy.deepcopy(REGISTRATION)
    for name, changes in sections.items():
        body[name] |= changes
    return body


def register(client, team, **sections: dict) -> dict:
    response = client.post(
        "/api/v1/courses/", registration(**sections) | {"care_team": team.pk}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def post_event(client, course_id: int, type_: str, on: str, data=None, **extra):
    body = {"type": type_, "occurred_on": on, "data": data or {}, "reason": "tumour board"}
    return client.post(f"/api/v1/courses/{course_id}/events/", body | extra, format="json")


def walk(client, course_id: int, *steps: tuple[str, str, dict]) -> dict:
    """Record (type, date, data) steps that must each be accepted; the last course answer."""
    answer: dict = {}
    for type_, on, data in steps:
        response = post_event(client, course_id, type_, on, data)
        assert response.status_code == 201, (type_, response.json())
        answer = response.json()["course"]
    return answer


def injection(course_id: int, actor, on: str) -> None:
    """A long-acting SSA injection given, recorded as the clinic records it."""
    surveillance.injection_record(course=course_id, actor=actor, given_on=dt.date.fromisoformat(on))


def due_of(course: dict, kind: str) -> list[dict]:
    return [item for item in course["due"] if item["kind"] == kind]


def test_first_line_prrt_for_a_g2_tumour_with_ki67_15_percent_is_accepted(api, clinician, team_a):
    doctor = api(clinician)
    course = register(doctor, team_a, diagnosis={"ki67_percent": 15.0})

    answer = walk(
        doctor, course["id"],
        ("recurrence_detected", "2026-06-01", LIVER),
        ("prrt_started", "2026-06-15", PRRT),
    )  # fmt: skip

    assert answer["state"] == "prrt"
    assert [(line["category"], [c["number"] for c in line["cycles"]])
            for line in answer["active_lines"]] == [("prrt", [1])]  # fmt: skip
    assert answer["facts"]["ki67_percent"] == {
        "value": 15.0, "source": "diagnosis", "on": "2026-01-10", "event_seq": None,
    }  # fmt: skip


def test_first_line_prrt_with_ki67_4_percent_needs_a_clinicians_override_with_a_reason(
    api, clinician, coordinator, team_a
):
    doctor = api(clinician)
    course = register(doctor, team_a)
    walk(doctor, course["id"], ("recurrence_detected", "2026-06-01", LIVER))

    refused = post_event(doctor, course["id"], "prrt_started", "2026-06-15", PRRT)
    assert refused.status_code == 422
    assert (refused.json()["code"], refused.json()["override_allowed"]) == (
        "guideline_guard", True,
    )  # fmt: skip
    no_reason = post_event(doctor, course["id"], "prrt_started", "2026-06-15", PRRT,
                           override=True, override_reason=" ")  # fmt: skip
    assert no_reason.status_code == 400
    assert "override_reason" in no_reason.json()["errors"]
    by_coordinator = post_event(api(coordinator), course["id"], "prrt_started", "2026-06-15",
                                PRRT, override=True, override_reason="NETTER-2 board")  # fmt: skip
    assert by_coordinator.status_code == 403

    accepted = post_event(doctor, course["id"], "prrt_started", "2026-06-15", PRRT,
                          override=True, override_reason="tumour board: bulky liver disease")  # fmt: skip
    assert accepted.status_code == 201, accepted.json()
    assert accepted.json()["event"]["override"] is True
    assert accepted.json()["course"]["state"] == "prrt"


def test_watch_and_wait_then_progression_then_everolimus_needs_no_override(api, clinician, team_a):
    doctor = api(clinician)
    course = register(doctor, team_a)

    observed = walk(
        doctor, course["id"],
        ("recurrence_detected", "2026-05-01", LIVER),
        ("watchful_waiting_started", "2026-05-10", {"rationale": "low_volume_stable"}),
    )  # fmt: skip
    assert observed["state"] == "observation"
    assert observed["active_lines"] == []

    progressed = walk(
        doctor, course["id"], ("progression_detected", "2026-09-01", {"recist": "PD"})
    )
    assert progressed["state"] == "progression"
    started = post_event(doctor, course["id"], "everolimus_started", "2026-09-10", {"dose_mg": 10})

    assert started.status_code == 201, started.json()
    assert started.json()["event"]["override"] is False
    assert started.json()["course"]["state"] == "everolimus"
    assert [line["agent"] for line in started.json()["course"]["active_lines"]] == ["everolimus"]


def test_prrt_beside_lanreotide_keeps_both_lines_and_the_injection_and_warns_of_the_washout(
    api, clinician, team_a
):
    doctor = api(clinician)
    course = register(doctor, team_a, diagnosis={"functional": True, "ki67_percent": 4.0})
    cid = course["id"]
    walk(
        doctor, cid,
        ("recurrence_detected", "2026-03-01", LIVER),
        ("ssa_started", "2026-03-05", LANREOTIDE),
    )  # fmt: skip
    injection(cid, clinician, "2026-03-05")
    walk(doctor, cid, ("progression_detected", "2026-05-20", {"recist": "PD"}))

    answer = walk(doctor, cid, ("prrt_started", "2026-06-01", PRRT | {"continue_ssa": True}))

    assert answer["state"] == "prrt"
    assert [(line["category"], line["agent"], line["intent"], line["interval_days"],
             line["held"]) for line in answer["active_lines"]] == [
        ("ssa", "lanreotide", "antiproliferative", 28, False),
        ("prrt", "lu177_dotatate", "", 56, False),
    ]  # fmt: skip
    assert answer["current_line"]["category"] == "prrt"
    assert due_of(answer, "ssa_injection"), answer["due"]

    # The depot given 10 days before the second cycle blocks the receptors it targets.
    injection(cid, clinician, "2026-07-17")
    cycle = post_event(doctor, cid, "prrt_cycle_given", "2026-07-27",
                       {"cycle": 2, "activity_gbq": 7.4})  # fmt: skip

    assert cycle.status_code == 201, cycle.json()
    warnings = cycle.json()["event"]["warnings"]
    assert any("washout" in (w["guard"] + w["reason"]).lower() for w in warnings), warnings
    lines = cycle.json()["course"]["active_lines"]
    assert [c["number"] for c in lines[1]["cycles"]] == [1, 2]
    assert lines[1]["cumulative_gbq"] == 14.8


def test_lanreotide_every_14_days_with_an_override_moves_the_next_injection_14_days_on(
    api, clinician, team_a
):
    doctor = api(clinician)
    course = register(doctor, team_a)
    cid = course["id"]
    walk(
        doctor, cid,
        ("recurrence_detected", "2026-09-01", LIVER),
        ("ssa_started", "2026-09-05", LANREOTIDE),
    )  # fmt: skip
    injection(cid, clinician, "2026-11-01")
    change = {"change": "interval", "interval_days": 14}

    escalated = post_event(doctor, cid, "line_changed", "2026-11-02", change, override=True,
                           override_reason="CLARINET FORTE: progression on 28-day dosing")  # fmt: skip

    assert escalated.status_code == 201, escalated.json()
    answer = escalated.json()["course"]
    assert answer["state"] == "ssa"
    assert [line["interval_days"] for line in answer["active_lines"]] == [14]
    assert [item["due_on"] for item in due_of(answer, "ssa_injection")] == ["2026-11-15"]


@pytest.mark.parametrize(
    ("surgery", "diagnosis", "state"),
    [
        ({"margin": "R2"}, {}, "residual_disease"),
        ({"margin": "R2", "disease_after_surgery": "residual"}, {}, "residual_disease"),
        ({"margin": "R1"}, {}, "surveillance"),
        ({"margin": "R0", "disease_after_surgery": "residual"}, {}, "residual_disease"),
        ({"disease_after_surgery": "residual"}, {"m": "M1a"}, "residual_disease"),
        ({"disease_after_surgery": "ned"}, {"m": "M1a", "notes": "liver metastasis resected"},
         "surveillance"),
    ],
    ids=["r2", "r2-residual", "r1", "r0-residual", "m1-residual", "m1-all-resected"],
)  # fmt: skip
def test_a_surgery_that_left_disease_starts_the_course_in_residual_disease(
    api, clinician, team_a, surgery, diagnosis, state
):
    course = register(api(clinician), team_a, surgery=surgery, diagnosis=diagnosis)

    assert course["state"] == state
    stored = Surgery.objects.get(course__pk=course["id"])
    assert stored.disease_after_surgery == ("residual" if state == "residual_disease" else "ned")


@pytest.mark.parametrize(
    ("surgery", "diagnosis", "field"),
    [
        ({"margin": "R2", "disease_after_surgery": "ned"}, {}, "surgery.disease_after_surgery"),
        ({"disease_after_surgery": "unknown"}, {}, "surgery.disease_after_surgery"),
        # M1 called ned (or unsaid, as before version 2) needs a note of what was resected.
        ({"disease_after_surgery": "ned"}, {"m": "M1a"}, "diagnosis.m"),
        ({}, {"m": "M1a"}, "diagnosis.m"),
    ],
    ids=["r2-called-ned", "unknown-value", "m1-ned-without-note", "m1-unsaid-without-note"],
)
def test_a_contradictory_disease_after_surgery_is_a_field_error_and_writes_nothing(
    api, clinician, team_a, surgery, diagnosis, field
):
    response = api(clinician).post(
        "/api/v1/courses/",
        registration(surgery=surgery, diagnosis=diagnosis) | {"care_team": team_a.pk},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert not Course.objects.exists()


def test_a_residual_course_may_start_a_line_at_once(api, clinician, team_a):
    doctor = api(clinician)
    course = register(doctor, team_a, surgery={"margin": "R2"})

    answer = walk(doctor, course["id"], ("ssa_started", "2026-03-01", LANREOTIDE))

    assert answer["state"] == "ssa"


def test_an_ssa_dated_before_the_recurrence_it_answers_is_refused_unless_a_clinician_corrects(
    api, clinician, coordinator, team_a
):
    doctor = api(clinician)
    course = register(doctor, team_a)
    cid = course["id"]
    walk(doctor, cid, ("recurrence_detected", "2026-10-01", LIVER))

    early = post_event(doctor, cid, "ssa_started", "2026-03-01", LANREOTIDE)
    assert early.status_code == 400
    message = " ".join(early.json()["errors"]["occurred_on"])
    assert "recurrence_detected" in message and "2026-10-01" in message
    unexplained = post_event(doctor, cid, "ssa_started", "2026-03-01", LANREOTIDE,
                             correction=True, reason="")  # fmt: skip
    assert unexplained.status_code == 400
    assert list(unexplained.json()["errors"]) == ["reason"]
    by_coordinator = post_event(api(coordinator), cid, "ssa_started", "2026-03-01", LANREOTIDE,
                                correction=True, reason="started elsewhere in March")  # fmt: skip
    assert by_coordinator.status_code == 403

    corrected = post_event(doctor, cid, "ssa_started", "2026-03-01", LANREOTIDE,
                           correction=True, reason="started at the referring hospital in March")  # fmt: skip

    assert corrected.status_code == 201, corrected.json()
    assert corrected.json()["course"]["state"] == "ssa"
    assert corrected.json()["event"]["reason"] == "started at the referring hospital in March"


def test_a_resection_completed_while_an_ssa_runs_returns_to_surveillance_and_ends_the_line(
    api, clinician, team_a
):
    doctor = api(clinician)
    course = register(doctor, team_a)
    cid = course["id"]
    on_ssa = walk(
        doctor, cid,
        ("recurrence_detected", "2026-08-01", {"site": "liver", "resectable": True}),
        ("resection_started", "2026-08-10", {"procedure": "liver segmentectomy"}),
        ("ssa_started", "2026-08-12", LANREOTIDE),
    )  # fmt: skip
    assert on_ssa["state"] == "ssa"
    assert "resection_completed" in on_ssa["allowed_events"]

    completed = post_event(doctor, cid, "resection_completed", "2026-08-20",
                           {"performed_on": "2026-08-20", "margin": "R0", "ned": True})  # fmt: skip

    assert completed.status_code == 201, completed.json()
    answer = completed.json()["course"]
    assert answer["state"] == "surveillance"
    assert answer["active_lines"] == []
    assert [line["end_reason"] for line in answer["lines"]] == ["no_evidence_of_disease"]
    assert completed.json()["event"]["warnings"], "an adjuvant SSA is not recommended"
    assert Course.objects.get(pk=cid).resection_open is False


def test_a_status_update_changes_the_facts_the_answer_shows_and_names_its_source(
    api, clinician, team_a
):
    doctor = api(clinician)
    course = register(doctor, team_a, diagnosis={"sstr_imaging": "negative"})
    cid = course["id"]
    assert course["facts"]["sstr_imaging"]["source"] == "diagnosis"

    answer = walk(
        doctor, cid,
        ("recurrence_detected", "2026-06-01", LIVER),
        ("status_updated", "2026-06-05",
         {"sstr_imaging": "positive", "sstr_uptake_vs_liver": "above", "study_on": "2026-06-03",
          "carcinoid_syndrome": True, "ki67_percent": 12.0}),
    )  # fmt: skip

    facts = answer["facts"]
    assert (facts["sstr_imaging"]["value"], facts["sstr_imaging"]["source"],
            facts["sstr_imaging"]["on"]) == ("positive", "status_updated", "2026-06-03")  # fmt: skip
    assert (facts["carcinoid_syndrome"]["value"], facts["carcinoid_syndrome"]["source"]) == (
        True, "status_updated",
    )  # fmt: skip
    assert (facts["grade"]["value"], facts["grade"]["source"]) == ("G2", "status_updated")
    assert (facts["functional"]["value"], facts["functional"]["source"]) == (False, "diagnosis")
