"""Registering a patient's course after surgery (docs/api.md#courses; docs/clinical-rules.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError

from core.errors import InvalidInput
from tests import factories
from tests.treatments.support import TODAY, registration_counts
from treatments import services
from treatments.models import Course, CourseEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]


def register(actor, team, **sections: Any) -> services.Registration:
    """The service with the seed patient's data, each section replaceable."""
    return services.register_course(
        actor=actor,
        care_team=team,
        patient=sections.get("patient", factories.patient_data()),
        diagnosis=sections.get("diagnosis", factories.diagnosis_data()),
        surgery=sections.get("surgery", factories.surgery_data()),
        reason=sections.get("reason", ""),
    )


def refused(actor, team, **sections: Any) -> dict[str, list[str]]:
    """Assert the registration is refused and writes nothing; return its field errors."""
    before = registration_counts()
    with pytest.raises(InvalidInput) as refusal:
        services.register_course(actor=actor, care_team=team, **sections)
    assert registration_counts() == before
    assert refusal.value.status == 400
    assert refusal.value.code == "invalid"
    return refusal.value.errors


# --- What a registration writes --------------------------------------------------------------


def test_it_registers_the_seed_patient_in_surveillance_at_version_1(coordinator, team_a):
    before = registration_counts()

    registration = register(
        coordinator,
        team_a,
        patient=factories.patient_data(mrn="A-2001", family_name="Silva"),
        reason="tumour board 2026-02-10",
    )

    course = Course.objects.select_related("patient", "diagnosis", "surgery").get(
        pk=registration.course.pk
    )
    assert course.state == "surveillance"
    assert course.version == 1
    assert course.current_line is None
    assert course.closed_on is None
    assert course.opened_on == factories.SURGERY_ON
    assert course.care_team == team_a
    assert course.patient.mrn == "A-2001"
    assert course.patient.family_name == "Silva"
    assert course.patient.care_team == team_a
    assert course.patient.clinic == "Clinic 1"
    assert course.surgery.performed_on == factories.SURGERY_ON
    assert course.surgery.margin == "R0"
    assert course.diagnosis.patient == course.patient
    assert course.surgery.patient == course.patient
    assert not CourseEvent.objects.filter(course=course).exists()
    assert registration.warnings == []
    after = registration_counts()
    assert after == {key: count + 1 for key, count in before.items()}


def test_it_computes_stage_iii_and_grade_g2_for_the_seed_patient(coordinator, team_a):
    # T3 N1 M0 is stage III (any T with N1); Ki-67 4 % is G2 although 1 mitosis is G1.
    course = register(coordinator, team_a).course

    course.diagnosis.refresh_from_db()
    assert course.diagnosis.stage == "III"
    assert course.diagnosis.grade == "G2"


NODE_NEGATIVE = {"nodes_examined": 14, "nodes_positive": 0}
NODES_UNKNOWN = {"nodes_examined": 0, "nodes_positive": 0}


@pytest.mark.parametrize(
    ("changes", "nodes", "stage", "grade"),
    [
        ({"t": "T1", "n": "N0", "ki67_percent": 1.0, "mitoses_per_2mm2": 0}, NODE_NEGATIVE, "I", "G1"),
        ({"t": "T2", "n": "N0", "ki67_percent": 2.9, "mitoses_per_2mm2": 0}, NODE_NEGATIVE, "II", "G1"),
        ({"t": "T4", "n": "N0", "ki67_percent": 20.0, "mitoses_per_2mm2": 0}, NODE_NEGATIVE, "III", "G2"),
        (
            {"t": "T3", "n": "N2", "ki67_percent": 2.0, "mitoses_per_2mm2": 21},
            {"nodes_examined": 20, "nodes_positive": 12},
            "III",
            "G3",
        ),
        ({"t": "T2", "n": "NX", "ki67_percent": 3.0}, NODES_UNKNOWN, "unknown", "G2"),
        ({"differentiation": "poor", "ki67_percent": 60.0}, {}, None, "NEC"),
        ({"m": "M1a", "notes": "single liver metastasis resected with the primary"}, {}, "IV", "G2"),
        ({"primary_site": "cecum", "t": "T3", "n": "N1"}, {}, "IIIB", "G2"),
        ({"primary_site": "ileocecal_valve", "t": "T2", "n": "N0"}, NODE_NEGATIVE, "IIA", "G2"),
    ],
    ids=[
        "T1N0-G1", "T2N0-G1", "T4N0-G2", "N2-12-nodes-mitoses-G3", "NX-unknown", "poor-NEC",
        "M1a-IV", "cecum-N1-IIIB", "valve-T2N0-IIA",
    ],
)  # fmt: skip
def test_it_stores_the_ajcc_stage_and_who_grade_from_the_diagnosis(
    coordinator, team_a, changes, nodes, stage, grade
):
    course = register(
        coordinator,
        team_a,
        diagnosis=factories.diagnosis_data(**changes),
        surgery=factories.surgery_data(**nodes),
    ).course

    course.diagnosis.refresh_from_db()
    assert (course.diagnosis.stage, course.diagnosis.grade) == (stage, grade)


def test_each_row_it_writes_has_a_history_row_with_the_actor_and_the_reason(coordinator, team_a):
    course = register(coordinator, team_a, reason="tumour board 2026-02-10").course

    for instance in (course.patient, course.diagnosis, course.surgery, course):
        rows = list(instance.history.all())
        assert len(rows) == 1, type(instance).__name__
        assert rows[0].history_type == "+"
        assert rows[0].history_user == coordinator
        assert rows[0].history_change_reason == "tumour board 2026-02-10"


def test_without_a_reason_its_history_rows_still_carry_one(coordinator, team_a):
    course = register(coordinator, team_a).course

    reason = course.history.get().history_change_reason
    assert reason
    assert reason.strip()


def test_it_stamps_only_the_consents_the_patient_gave(coordinator, team_a):
    course = register(
        coordinator,
        team_a,
        patient=factories.patient_data(email_consent=True, sms_consent=False),
    ).course

    course.patient.refresh_from_db()
    assert course.patient.email_consent_at is not None
    assert course.patient.sms_consent_at is None


# --- Warnings (docs/clinical-rules.md#pitfalls) ----------------------------------------------


def test_it_warns_when_fewer_than_8_nodes_were_examined(coordinator, team_a):
    registration = register(
        coordinator, team_a, surgery=factories.surgery_data(nodes_examined=7, nodes_positive=2)
    )

    assert [w["guard"] for w in registration.warnings] == ["too_few_lymph_nodes_examined"]
    warning = registration.warnings[0]
    assert "8" in warning["reason"]
    assert warning["source"]
    assert Course.objects.filter(pk=registration.course.pk).exists()


def test_it_does_not_warn_when_8_nodes_were_examined(coordinator, team_a):
    registration = register(
        coordinator, team_a, surgery=factories.surgery_data(nodes_examined=8, nodes_positive=2)
    )

    assert registration.warnings == []


@pytest.mark.parametrize("margin", ["R1", "R2"])
def test_it_warns_when_the_margin_is_not_r0(coordinator, team_a, margin):
    registration = register(coordinator, team_a, surgery=factories.surgery_data(margin=margin))

    assert [w["guard"] for w in registration.warnings] == ["incomplete_resection_margin"]
    assert margin in registration.warnings[0]["reason"]
    registration.course.surgery.refresh_from_db()
    assert registration.course.surgery.margin == margin


def test_it_warns_about_distant_metastasis_recorded_with_a_note(coordinator, team_a):
    registration = register(
        coordinator,
        team_a,
        diagnosis=factories.diagnosis_data(m="M1a", notes="liver metastasis resected"),
    )

    assert [w["guard"] for w in registration.warnings] == ["distant_metastasis_at_registration"]


# --- Refusals: field errors, and nothing written ---------------------------------------------

DIAGNOSED_ON = factories.diagnosis_data()["diagnosed_on"]

# (section, invalid changes, the nearest valid changes, the field error expected)
BAD_INPUT = {
    "ki67-above-100": ("diagnosis", {"ki67_percent": 101}, {"ki67_percent": 100}, "ki67_percent"),
    "ki67-negative": ("diagnosis", {"ki67_percent": -1}, {"ki67_percent": 0}, "ki67_percent"),
    "ki67-true": ("diagnosis", {"ki67_percent": True}, {"ki67_percent": 1}, "ki67_percent"),
    "mitoses-negative": (
        "diagnosis",
        {"mitoses_per_2mm2": -1},
        {"mitoses_per_2mm2": 0},
        "mitoses_per_2mm2",
    ),
    "unknown-t": ("diagnosis", {"t": "T5"}, {"t": "T4"}, "t"),
    "unknown-n": ("diagnosis", {"n": "N3"}, {"n": "N2", "mesenteric_mass_over_2cm": True}, "n"),
    "unknown-m": ("diagnosis", {"m": "M1", "notes": "liver"}, {"m": "M1a", "notes": "liver"}, "m"),
    "appendix": (
        "diagnosis",
        {"primary_site": "appendix"},
        {"primary_site": "ileum"},
        "primary_site",
    ),
    "m1a-without-note": ("diagnosis", {"m": "M1a"}, {"m": "M1a", "notes": "liver resected"}, "m"),
    "diagnosis-in-future": (
        "diagnosis",
        {"diagnosed_on": TODAY + dt.timedelta(days=1)},
        {"diagnosed_on": factories.SURGERY_ON},
        "diagnosed_on",
    ),
    "surgery-in-future": (
        "surgery",
        {"performed_on": TODAY + dt.timedelta(days=1)},
        {"performed_on": TODAY},
        "performed_on",
    ),
    "surgery-181-days-before-diagnosis": (
        "surgery",
        {"performed_on": DIAGNOSED_ON - dt.timedelta(days=181)},
        {"performed_on": DIAGNOSED_ON - dt.timedelta(days=180)},
        "performed_on",
    ),
    "more-positive-nodes-than-examined": (
        "surgery",
        {"nodes_examined": 9, "nodes_positive": 10},
        {"nodes_examined": 10, "nodes_positive": 10},
        "nodes_positive",
    ),
    "birth-date-in-future": (
        "patient",
        {"birth_date": TODAY + dt.timedelta(days=1)},
        {"birth_date": TODAY - dt.timedelta(days=365 * 60)},
        "birth_date",
    ),
    "phone-national-form": (
        "patient",
        {"phone": "07700900123"},
        {"phone": "+447700900123"},
        "phone",
    ),
    "phone-with-spaces": (
        "patient",
        {"phone": "+44 7700 900123"},
        {"phone": "+447700900123"},
        "phone",
    ),
    "unknown-time-zone": (
        "patient",
        {"timezone": "Europe/Atlantis"},
        {"timezone": "Europe/Lisbon"},
        "timezone",
    ),
    "unknown-language": ("patient", {"language": "xx"}, {"language": "pt"}, "language"),
    "r2-called-no-evidence-of-disease": (
        "surgery",
        {"margin": "R2", "disease_after_surgery": "ned"},
        {"margin": "R1", "disease_after_surgery": "ned"},
        "disease_after_surgery",
    ),
    "unknown-disease-after-surgery": (
        "surgery",
        {"disease_after_surgery": "some"},
        {"disease_after_surgery": "ned"},
        "disease_after_surgery",
    ),
    "procedure-not-listed": (
        "surgery",
        {"procedure": "Whipple"},
        {"procedure": "other", "procedure_detail": "Whipple"},
        "procedure",
    ),
}


def sections_with(section: str, changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        "patient": factories.patient_data(**(changes if section == "patient" else {})),
        "diagnosis": factories.diagnosis_data(**(changes if section == "diagnosis" else {})),
        "surgery": factories.surgery_data(**(changes if section == "surgery" else {})),
    }


@pytest.mark.parametrize(("section", "bad", "good", "field"), BAD_INPUT.values(), ids=BAD_INPUT)
def test_it_refuses_bad_input_with_a_field_error_and_writes_nothing(
    coordinator, team_a, section, bad, good, field
):
    errors = refused(coordinator, team_a, **sections_with(section, bad))

    assert f"{section}.{field}" in errors
    assert all(message for message in errors[f"{section}.{field}"])
    # The nearest valid value goes through, so the refusal is about that value.
    registration = register(coordinator, team_a, **sections_with(section, good))
    assert registration.course.state == "surveillance"


@pytest.mark.parametrize(
    ("section", "key"),
    [("patient", "nickname"), ("diagnosis", "stage"), ("surgery", "surgeon")],
)
def test_it_refuses_unknown_keys_in_each_section(coordinator, team_a, section, key):
    sections = sections_with(section, {})
    sections[section][key] = "anything"

    errors = refused(coordinator, team_a, **sections)

    assert f"{section}.{key}" in errors


def test_it_refuses_a_stage_given_instead_of_computed(coordinator, team_a):
    # The stage is computed from T, N and M: a caller cannot set it to something else.
    errors = refused(
        coordinator, team_a, **sections_with("diagnosis", {"stage": "I", "grade": "G1"})
    )

    assert {"diagnosis.stage", "diagnosis.grade"} <= set(errors)


def test_it_reports_every_bad_field_at_once(coordinator, team_a):
    sections = sections_with("diagnosis", {"ki67_percent": 101, "t": "T9"})
    sections["patient"]["phone"] = "12345"
    sections["surgery"]["performed_on"] = TODAY + dt.timedelta(days=3)

    errors = refused(coordinator, team_a, **sections)

    assert {
        "diagnosis.ki67_percent",
        "diagnosis.t",
        "patient.phone",
        "surgery.performed_on",
    } <= set(errors)


def test_it_refuses_a_duplicate_mrn_in_the_same_clinic(coordinator, team_a):
    register(coordinator, team_a, patient=factories.patient_data(mrn="DUP-1"))

    errors = refused(coordinator, team_a, **sections_with("patient", {"mrn": "DUP-1"}))

    assert "patient.mrn" in errors


def test_an_mrn_held_only_by_another_team_of_the_clinic_is_not_a_clash(coordinator, team_a):
    # MRNs are unique per care team: refusing here would tell this team that another team of
    # the clinic holds a patient with that MRN.
    theirs = register(coordinator, team_a, patient=factories.patient_data(mrn="DUP-2")).course
    same_clinic = factories.team("Team C", "Clinic 1")

    ours = register(coordinator, same_clinic, patient=factories.patient_data(mrn="DUP-2")).course

    assert ours.patient_id != theirs.patient_id
    assert ours.patient.care_team == same_clinic
    assert theirs.patient.care_team == team_a


def test_the_mrn_answer_is_the_same_whether_or_not_another_team_holds_it(coordinator, team_a):
    other_team = factories.team("Team C", "Clinic 1")
    register(coordinator, other_team, patient=factories.patient_data(mrn="HELD-1"))

    held_elsewhere = register(coordinator, team_a, patient=factories.patient_data(mrn="HELD-1"))
    held_nowhere = register(coordinator, team_a, patient=factories.patient_data(mrn="FREE-1"))

    assert held_elsewhere.course.state == held_nowhere.course.state == "surveillance"
    assert held_elsewhere.warnings == held_nowhere.warnings
    # A second registration in the same team is the only clash, and it names this team.
    errors = refused(coordinator, team_a, **sections_with("patient", {"mrn": "HELD-1"}))
    assert errors["patient.mrn"] == ["A patient with this MRN already exists in this care team."]


def test_it_allows_the_same_mrn_in_another_clinic(coordinator, coordinator2, team_a, team_b):
    first = register(coordinator, team_a, patient=factories.patient_data(mrn="SHARED-7")).course

    second = register(coordinator2, team_b, patient=factories.patient_data(mrn="SHARED-7")).course

    assert first.patient_id != second.patient_id
    assert second.patient.clinic == "Clinic 2"
    assert second.care_team == team_b


def test_it_opens_a_second_course_for_an_existing_patient_of_the_team(coordinator, team_a):
    first = register(coordinator, team_a).course
    before = registration_counts()

    second = services.register_course(
        actor=coordinator,
        care_team=team_a,
        patient_id=first.patient_id,
        diagnosis=factories.diagnosis_data(),
        surgery=factories.surgery_data(),
    ).course

    assert second.patient_id == first.patient_id
    after = registration_counts()
    assert after["Patient"] == before["Patient"]
    assert after["Course"] == before["Course"] + 1


def test_it_refuses_a_patient_id_of_another_team(coordinator, coordinator2, team_a, team_b):
    theirs = register(coordinator2, team_b).course.patient

    errors = refused(
        coordinator,
        team_a,
        patient_id=theirs.pk,
        diagnosis=factories.diagnosis_data(),
        surgery=factories.surgery_data(),
    )

    assert "patient_id" in errors
    # The message must not tell the caller that the patient exists elsewhere.
    assert theirs.family_name not in " ".join(errors["patient_id"])
    assert theirs.courses.count() == 1


def test_it_refuses_a_patient_id_that_does_not_exist(coordinator, team_a):
    errors = refused(
        coordinator,
        team_a,
        patient_id=987_654,
        diagnosis=factories.diagnosis_data(),
        surgery=factories.surgery_data(),
    )

    assert "patient_id" in errors


@pytest.mark.parametrize("both", [True, False], ids=["both", "neither"])
def test_it_needs_exactly_one_of_patient_and_patient_id(coordinator, team_a, both):
    existing = register(coordinator, team_a).course.patient

    errors = refused(
        coordinator,
        team_a,
        patient=factories.patient_data() if both else None,
        patient_id=existing.pk if both else None,
        diagnosis=factories.diagnosis_data(),
        surgery=factories.surgery_data(),
    )

    assert "patient" in errors


def test_a_failing_in_transaction_subscriber_undoes_the_registration(
    coordinator, team_a, subscribe
):
    # Not reported as a duplicate MRN: only the patient insert can break that constraint.
    def plan(event) -> None:
        raise IntegrityError("surveillance plan already exists")

    subscribe(plan, in_transaction=True)
    before = registration_counts()

    with pytest.raises(IntegrityError):
        register(coordinator, team_a)

    assert registration_counts() == before


# --- Version 2: what the surgery left, carcinoid syndrome ------------------------------------


@pytest.mark.parametrize(
    ("surgery", "diagnosis", "state", "after"),
    [
        ({"margin": "R0"}, {}, "surveillance", "ned"),
        ({"margin": "R1"}, {}, "surveillance", "ned"),
        ({"margin": "R2"}, {}, "residual_disease", "residual"),
        ({"margin": "R0", "disease_after_surgery": "residual"}, {}, "residual_disease", "residual"),
        # Liver metastases left in place need no note of what was resected.
        ({"disease_after_surgery": "residual"}, {"m": "M1b"}, "residual_disease", "residual"),
        ({"disease_after_surgery": "ned"}, {"m": "M1a", "notes": "liver metastasis resected"},
         "surveillance", "ned"),
    ],
    ids=["r0", "r1", "r2", "r0-residual", "m1-residual", "m1-resected"],
)  # fmt: skip
def test_the_disease_the_surgery_left_decides_the_first_state(
    coordinator, team_a, surgery, diagnosis, state, after
):
    registration = register(
        coordinator,
        team_a,
        surgery=factories.surgery_data(**surgery),
        diagnosis=factories.diagnosis_data(**diagnosis),
    )

    course = Course.objects.select_related("surgery").get(pk=registration.course.pk)
    assert (course.state, course.surgery.disease_after_surgery) == (state, after)
    assert course.history.get().state == state


@pytest.mark.parametrize("syndrome", [True, False])
def test_carcinoid_syndrome_at_registration_is_stored_beside_functional(
    coordinator, team_a, syndrome
):
    registration = register(
        coordinator, team_a, diagnosis=factories.diagnosis_data(carcinoid_syndrome=syndrome)
    )

    diagnosis = Course.objects.get(pk=registration.course.pk).diagnosis
    assert (diagnosis.carcinoid_syndrome, diagnosis.functional) == (syndrome, False)
    facts = services.course_facts(registration.course)
    assert (facts.carcinoid_syndrome, facts.syndrome) == (syndrome, syndrome)


def test_carcinoid_syndrome_defaults_to_false(coordinator, team_a):
    diagnosis = factories.diagnosis_data()
    diagnosis.pop("carcinoid_syndrome", None)

    registration = register(coordinator, team_a, diagnosis=diagnosis)

    assert Course.objects.get(pk=registration.course.pk).diagnosis.carcinoid_syndrome is False
