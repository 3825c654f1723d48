"""`check_registrations` lists registrations that break the current rules and changes nothing."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command

from coordinator.management.commands.seed_demo import DEMO_PATIENTS, TEAM_B_PATIENTS
from tests import factories
from tests.treatments.support import registration_counts
from treatments.models import Course, CourseEvent, Diagnosis, Patient, Surgery

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]


def run(*args: str) -> tuple[list[dict], str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("check_registrations", "--json", *args, stdout=out, stderr=err)
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def snapshot() -> list[tuple]:
    return [
        *Diagnosis.objects.order_by("pk").values_list(
            "pk", "t", "n", "stage", "stage_system", "grade", "diagnosed_on"
        ),
        *Surgery.objects.order_by("pk").values_list("pk", "performed_on", "nodes_positive"),
        *Patient.objects.order_by("pk").values_list("pk", "birth_date"),
    ]


@pytest.fixture
def legacy(coordinator, team_a):
    """Courses registered under the first release's rules, written here as it wrote them."""
    good = factories.register(coordinator, team_a, mrn="OK-1")
    n0_with_nodes = factories.register(coordinator, team_a, mrn="N0-1")
    Diagnosis.objects.filter(pk=n0_with_nodes.diagnosis_id).update(t="T2", n="N0", stage="II")
    nec_staged = factories.register(coordinator, team_a, mrn="NEC-1")
    Diagnosis.objects.filter(pk=nec_staged.diagnosis_id).update(
        differentiation="poor", ki67_percent=70, grade="NEC", stage="III"
    )
    swapped = factories.register(coordinator, team_a, mrn="SWAP-1")
    Surgery.objects.filter(pk=swapped.surgery_id).update(performed_on=dt.date(1916, 2, 1))
    late_birth = factories.register(coordinator, team_a, mrn="BIRTH-1")
    factories.advance(
        late_birth, coordinator, ("recurrence_detected", {"site": "liver", "resectable": True})
    )
    Patient.objects.filter(pk=late_birth.patient_id).update(birth_date=dt.date(2026, 10, 1))
    return {
        "good": good,
        "n0": n0_with_nodes,
        "nec": nec_staged,
        "swapped": swapped,
        "late_birth": late_birth,
    }


def test_it_lists_each_registration_breaking_a_rule_with_the_field_to_correct(legacy):
    problems, summary = run()

    by_course: dict[int, set[tuple[str, str]]] = {}
    for item in problems:
        by_course.setdefault(item["course"], set()).add((item["field"], item["code"]))
    assert legacy["good"].pk not in by_course
    assert by_course[legacy["n0"].pk] == {("diagnosis.n", "refused_by_current_rules")}
    assert by_course[legacy["nec"].pk] == {("diagnosis.stage", "stage_differs")}
    assert by_course[legacy["swapped"].pk] == {("surgery.performed_on", "date_before_birth")}
    assert {
        ("diagnosis.diagnosed_on", "date_before_birth"),
        ("surgery.performed_on", "date_before_birth"),
        ("events.1.occurred_on", "date_before_birth"),
    } <= by_course[legacy["late_birth"].pk]
    assert summary.strip() == "4 registrations to correct."


def test_it_names_the_rule_and_the_patient_to_find(legacy):
    problems, _ = run()

    (n0,) = [p for p in problems if p["course"] == legacy["n0"].pk]
    assert n0["mrn"] == "N0-1"
    assert "N definitions" in n0["detail"]
    (nec,) = [p for p in problems if p["course"] == legacy["nec"].pk]
    assert "III" in nec["detail"] and "unsupported" in nec["detail"]


def test_it_changes_nothing(legacy):
    before_rows, before_counts = snapshot(), registration_counts()
    events = CourseEvent.objects.count()

    run()
    call_command("check_registrations", stdout=io.StringIO())

    assert snapshot() == before_rows
    assert registration_counts() == before_counts
    assert CourseEvent.objects.count() == events


def test_it_can_be_limited_to_one_care_team(legacy, coordinator2, team_b):
    theirs = factories.register(coordinator2, team_b, mrn="B-N0")
    Diagnosis.objects.filter(pk=theirs.diagnosis_id).update(n="N0", stage="II")

    only_b, _ = run("--care-team", str(team_b.pk))

    assert {item["course"] for item in only_b} == {theirs.pk}


def test_a_clean_database_has_nothing_to_correct(coordinator, team_a):
    factories.register(coordinator, team_a)
    out = io.StringIO()

    call_command("check_registrations", stdout=out)

    assert out.getvalue().strip() == "0 registrations to correct."
    assert Course.objects.count() == 1


def test_the_demo_data_registers_under_the_current_rules_and_has_nothing_to_correct():
    call_command("seed_demo", stdout=io.StringIO())
    out = io.StringIO()

    call_command("check_registrations", stdout=out)

    # The demo patients of the two demo care teams.
    assert Course.objects.count() == len(DEMO_PATIENTS) + len(TEAM_B_PATIENTS)
    assert out.getvalue().strip() == "0 registrations to correct."
