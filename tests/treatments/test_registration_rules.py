"""Registration refuses contradictory staging and impossible dates, and warns what is implausible.

Through the service, the API and (for dates) the other doors that record clinical facts:
results, events and the model validation the admin forms run.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from core.errors import InvalidInput
from surveillance import services as surveillance_services
from surveillance.models import SurveillancePlan
from tests import factories
from tests.treatments.support import registration_counts
from treatments import services
from treatments.models import Diagnosis, Patient, Surgery
from treatments.registration_rules import registration_warnings

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]

BORN = dt.date(1961, 4, 2)


def post(user, **sections: dict) -> Any:
    """POST a registration of the seed patient, each section changed as given."""
    client = APIClient()
    client.force_authenticate(user)
    body = {
        "patient": factories.patient_data(birth_date=BORN),
        "care_team": sections.pop("care_team"),
        "diagnosis": factories.diagnosis_data(),
        "surgery": factories.surgery_data(),
    }
    for name, changes in sections.items():
        body[name] = body[name] | changes
    return client.post("/api/v1/courses/", body, format="json")


def refused(actor, team, **sections: dict) -> dict[str, list[str]]:
    before = registration_counts()
    with pytest.raises(InvalidInput) as refusal:
        services.register_course(
            actor=actor,
            care_team=team,
            patient=factories.patient_data(birth_date=BORN) | sections.get("patient", {}),
            diagnosis=factories.diagnosis_data(**sections.get("diagnosis", {})),
            surgery=factories.surgery_data(**sections.get("surgery", {})),
        )
    assert registration_counts() == before
    return refusal.value.errors


# --- The examples, through the API ---------------------------------------------------


def test_t2_n0_with_3_of_14_nodes_positive_is_a_400_on_diagnosis_n(coordinator, team_a):
    before = registration_counts()

    response = post(
        coordinator,
        care_team=team_a.pk,
        diagnosis={"t": "T2", "n": "N0"},
        surgery={"nodes_examined": 14, "nodes_positive": 3},
    )

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"]
    (message,) = body["errors"]["diagnosis.n"]
    assert "N definitions" in message  # names the rule
    assert "N1" in message
    assert registration_counts() == before


def test_the_same_patient_with_n1_is_stage_iii(coordinator, team_a):
    response = post(
        coordinator,
        care_team=team_a.pk,
        diagnosis={"t": "T2", "n": "N1"},
        surgery={"nodes_examined": 14, "nodes_positive": 3},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["stage"], body["stage_system"], body["t_display"]) == (
        "III",
        "ajcc8_jejunum_ileum",
        "T2",
    )


@pytest.mark.parametrize("surgery_on", ["1916-02-01", "0001-01-02", "1899-12-31"])
def test_a_surgery_before_the_birth_date_or_1900_is_a_400(coordinator, team_a, surgery_on):
    before = registration_counts()

    response = post(
        coordinator,
        care_team=team_a.pk,
        diagnosis={"diagnosed_on": "2026-01-10"},
        surgery={"performed_on": surgery_on},
    )

    assert response.status_code == 400, response.content
    assert "surgery.performed_on" in response.json()["errors"]
    assert registration_counts() == before


def test_nec_with_ki67_70_is_not_staged_is_high_risk_and_says_why(coordinator, team_a):
    response = post(
        coordinator,
        care_team=team_a.pk,
        diagnosis={"differentiation": "poor", "ki67_percent": 70.0, "t": "T2", "n": "N0"},
        surgery={"nodes_positive": 0},
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["stage"], body["stage_system"], body["grade"]) == (None, "unsupported", "NEC")
    (warning,) = [w for w in body["warnings"] if w["code"] == "stage_system_unsupported"]
    assert "small intestine (carcinoma)" in warning["detail"]
    assert SurveillancePlan.objects.get(course_id=body["id"]).risk_group == "high"


def test_a_multifocal_t3_m_without_a_count_keeps_the_count_unrecorded(coordinator, team_a):
    response = post(coordinator, care_team=team_a.pk, diagnosis={"t": "T3(m)"})

    assert response.status_code == 201, response.content
    assert response.json()["t_display"] == "T3(m)"
    dx = Diagnosis.objects.get(course__pk=response.json()["id"])
    assert (dx.t, dx.tumour_count) == ("T3", None)


def test_a_multifocal_t3_m_is_accepted_and_answered_with_its_suffix(coordinator, team_a):
    response = post(coordinator, care_team=team_a.pk, diagnosis={"t": "T3(m)", "tumour_count": 3})

    assert response.status_code == 201, response.content
    assert (response.json()["t_display"], response.json()["stage"]) == ("T3(m)", "III")
    dx = Diagnosis.objects.get(course__pk=response.json()["id"])
    assert (dx.t, dx.tumour_count) == ("T3", 3)


def test_n2_is_justified_by_a_mesenteric_mass_over_2cm(coordinator, team_a):
    refused_without = post(coordinator, care_team=team_a.pk, diagnosis={"n": "N2"})
    accepted_with = post(
        coordinator, care_team=team_a.pk, diagnosis={"n": "N2", "mesenteric_mass_over_2cm": True}
    )

    assert refused_without.status_code == 400
    assert "mesenteric_mass_over_2cm" in refused_without.json()["errors"]["diagnosis.n"][0]
    assert accepted_with.status_code == 201, accepted_with.content
    assert accepted_with.json()["stage"] == "III"


def test_a_caecal_primary_is_staged_with_the_colon_rectum_table(coordinator, team_a):
    response = post(
        coordinator,
        care_team=team_a.pk,
        diagnosis={"primary_site": "cecum", "t": "T3", "n": "N0"},
        surgery={"nodes_positive": 0},
    )

    assert response.status_code == 201, response.content
    assert (response.json()["stage"], response.json()["stage_system"]) == (
        "IIB",
        "ajcc8_colon_rectum_net",
    )
    # IIB counts as II for the risk table: G2 with R0 is standard risk.
    assert SurveillancePlan.objects.get(course_id=response.json()["id"]).risk_group == "standard"


def test_an_implausible_grade_is_registered_with_a_warning(coordinator, team_a):
    response = post(
        coordinator, care_team=team_a.pk, diagnosis={"differentiation": "poor", "ki67_percent": 2.0}
    )

    assert response.status_code == 201, response.content
    codes = [w["code"] for w in response.json()["warnings"]]
    assert "poorly_differentiated_with_low_ki67" in codes


def test_the_schema_documents_the_new_fields():
    client = APIClient()
    schema = client.get("/api/schema/", {"format": "json"}).json()
    diagnosis = schema["components"]["schemas"]["DiagnosisInRequest"]["properties"]
    course = schema["components"]["schemas"]["CourseDetail"]["properties"]

    assert {"tumour_count", "tumour_size_mm", "mesenteric_mass_over_2cm"} <= set(diagnosis)
    assert {"stage_system", "t_display"} <= set(course)
    assert course["stage"].get("nullable") is True


# --- Dates through every door ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "changes", "field"),
    [
        ("diagnosis", {"diagnosed_on": dt.date(1916, 1, 10)}, "diagnosis.diagnosed_on"),
        ("diagnosis", {"sstr_imaging_on": dt.date(1960, 1, 1)}, "diagnosis.sstr_imaging_on"),
        ("surgery", {"performed_on": dt.date(1, 1, 2)}, "surgery.performed_on"),
    ],
)
def test_no_registration_date_precedes_the_birth_date(coordinator, team_a, section, changes, field):
    errors = refused(coordinator, team_a, **{section: changes})

    assert field in errors


def test_an_existing_patients_birth_date_bounds_a_second_course(coordinator, team_a):
    first = factories.register(coordinator, team_a, birth_date=BORN)

    with pytest.raises(InvalidInput) as refusal:
        services.register_course(
            actor=coordinator,
            care_team=team_a,
            patient_id=first.patient_id,
            diagnosis=factories.diagnosis_data(diagnosed_on=dt.date(1916, 1, 10)),
            surgery=factories.surgery_data(performed_on=dt.date(1916, 2, 1)),
        )

    assert {"diagnosis.diagnosed_on", "surgery.performed_on"} <= set(refusal.value.errors)


@pytest.fixture
def legacy_course(coordinator, team_a):
    """A course registered before the date rule: its patient's birth date is after surgery."""
    course = factories.register(coordinator, team_a, birth_date=BORN)
    # A queryset update stands for data written before the rule existed.
    Patient.objects.filter(pk=course.patient_id).update(birth_date=dt.date(2026, 6, 1))
    return course


def test_an_event_dated_before_the_birth_date_is_refused(legacy_course, clinician):
    with pytest.raises(InvalidInput) as refusal:
        services.record_event(
            course=legacy_course,
            type="recurrence_detected",
            occurred_on=dt.date(2026, 5, 1),
            data={"site": "liver", "resectable": True},
            actor=clinician,
        )

    assert "birth date" in refusal.value.errors["occurred_on"][0]
    assert not legacy_course.events.exists()


def test_a_result_dated_before_the_birth_date_is_refused(legacy_course, clinician):
    with pytest.raises(InvalidInput) as refusal:
        surveillance_services.lab_record(
            course=legacy_course,
            actor=clinician,
            analyte="cga",
            value=80,
            unit="ng/mL",
            collected_on=dt.date(2026, 5, 1),
        )

    assert "birth date" in refusal.value.errors["collected_on"][0]


def test_the_model_validation_admin_forms_run_asks_the_same_date_rule(legacy_course):
    surgery = Surgery.objects.get(pk=legacy_course.surgery_id)
    diagnosis = Diagnosis.objects.get(pk=legacy_course.diagnosis_id)

    with pytest.raises(ValidationError) as surgery_error:
        surgery.full_clean()
    with pytest.raises(ValidationError) as diagnosis_error:
        diagnosis.full_clean()

    assert "performed_on" in surgery_error.value.message_dict
    assert "diagnosed_on" in diagnosis_error.value.message_dict


# --- Property: whatever the service accepts stages as a table allows, N agrees with nodes ---

JEJUNUM_ILEUM_STAGES = {"I", "II", "III", "IV", "unknown"}
COLON_RECTUM_STAGES = {"I", "IIA", "IIB", "IIIA", "IIIB", "IV", "unknown"}
_mrns = itertools.count(1)


@st.composite
def registrations(draw) -> tuple[dict, dict]:
    """Registrations biased towards valid ones, with enough contradictions mixed in."""
    n = draw(st.sampled_from(["NX", "N0", "N1", "N2"]))
    mass = draw(st.sampled_from([False, False, True]))
    examined = draw(st.integers(0, 30))
    if draw(st.booleans()):  # counts drawn to fit N, as a careful pathologist reports them
        examined = draw(st.integers(12, 30))
        positive = {
            "NX": 0,
            "N0": 0,
            "N1": draw(st.integers(1, 11)),
            "N2": draw(st.integers(1, examined)),
        }[n]
        examined = 0 if n == "NX" else examined
        mass = mass and n == "N2"
    else:
        positive = draw(st.integers(0, examined))
    t = draw(st.sampled_from(["TX", "T0", "T1", "T1a", "T1b", "T2", "T3", "T4", "T3(m)", "T2(2)"]))
    size = {"T1a": 8.0, "T1b": 15.0}.get(t, draw(st.sampled_from([None, 5.0, 25.0])))
    diagnosis = factories.diagnosis_data(
        primary_site=draw(
            st.sampled_from(["jejunum", "ileum", "ileocecal", "ileocecal_valve", "cecum"])
        ),
        differentiation=draw(st.sampled_from(["well", "well", "well", "poor", "mixed"])),
        ki67_percent=draw(st.integers(0, 10_000)) / 100,  # two decimals, as stored
        t=t,
        n=n,
        m=draw(st.sampled_from(["M0", "M0", "M1a", "M1c"])),
        notes="liver metastasis resected",
        tumour_count=draw(st.sampled_from([None, 1, 2, 3])),
        tumour_size_mm=size,
        mesenteric_mass_over_2cm=mass,
    )
    diagnosis = {k: v for k, v in diagnosis.items() if v is not None}
    surgery = factories.surgery_data(nodes_examined=examined, nodes_positive=positive)
    return diagnosis, surgery


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=registrations())
def test_any_accepted_registration_stages_as_its_table_allows_and_n_agrees_with_the_nodes(
    coordinator, team_a, case
):
    diagnosis, surgery = case
    try:
        course = services.register_course(
            actor=coordinator,
            care_team=team_a,
            patient=factories.patient_data(mrn=f"PROP-{next(_mrns)}"),
            diagnosis=diagnosis,
            surgery=surgery,
        ).course
    except InvalidInput:
        event("refused")
        return
    event(f"accepted, {diagnosis['differentiation']}, {diagnosis['primary_site']}")
    dx = Diagnosis.objects.get(pk=course.diagnosis_id)
    n, positive, mass = dx.n, surgery["nodes_positive"], dx.mesenteric_mass_over_2cm
    assert positive <= surgery["nodes_examined"]
    if positive > 0:
        assert n in ("N1", "N2")
    if n in ("N1", "N2") and surgery["nodes_examined"] > 0:
        assert positive > 0 or mass
    if diagnosis["differentiation"] != "well":
        assert (dx.stage, dx.stage_system) == (None, "unsupported")
    elif diagnosis["primary_site"] in ("ileocecal_valve", "cecum"):
        assert dx.stage_system == "ajcc8_colon_rectum_net"
        assert dx.stage in COLON_RECTUM_STAGES
        assert n != "N2"
        assert not (mass and n == "N0")
    else:
        assert dx.stage_system == "ajcc8_jejunum_ileum"
        assert dx.stage in JEJUNUM_ILEUM_STAGES
        assert dx.t in ("TX", "T0", "T1", "T2", "T3", "T4")
        if n == "N2":
            assert positive >= 12 or mass
        if n == "N1":
            assert positive < 12 and not mass
    if dx.m != "M0" and dx.stage is not None:
        assert dx.stage == "IV"
    assert (dx.tumour_count is None or dx.tumour_count > 1) == dx.t_display.endswith("(m)")
    assert dx.diagnosed_on >= course.patient.birth_date


def test_a_corrected_birth_date_may_not_fall_after_the_recorded_surgery(coordinator, team_a):
    course = factories.register(coordinator, team_a, birth_date=BORN)
    patient = Patient.objects.get(pk=course.patient_id)

    patient.birth_date = dt.date(2026, 1, 20)  # after the diagnosis of 2026-01-10
    with pytest.raises(ValidationError) as error:
        patient.full_clean()
    patient.birth_date = dt.date(1961, 4, 20)  # a plausible correction
    patient.full_clean()

    assert "2026-01-10" in error.value.message_dict["birth_date"][0]


def test_a_diagnosis_loaded_by_sql_without_the_new_columns_gets_their_defaults(coordinator, team_a):
    # Bulk loads (the benchmarks, an import) write the first release's columns only.
    patient_id = factories.register(coordinator, team_a).patient_id
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO treatments_diagnosis (primary_site, diagnosed_on, differentiation, "
            "ki67_percent, mitoses_per_2mm2, t, n, m, stage, grade, sstr_imaging, "
            "cga_elevated_preop, functional, notes, patient_id) VALUES ('ileum', '2026-01-10', "
            "'well', 4, 1, 'T3', 'N1', 'M0', 'III', 'G2', 'positive', true, false, '', %s)",
            [patient_id],
        )

    loaded = Diagnosis.objects.order_by("-pk").first()
    assert (loaded.stage_system, loaded.tumour_count, loaded.mesenteric_mass_over_2cm) == (
        "ajcc8_jejunum_ileum",
        1,
        False,
    )
    assert loaded.t_display == "T3"


def test_registration_warns_of_few_nodes_an_incomplete_margin_and_distant_disease():
    assert registration_warnings(nodes_examined=8, margin="R0", m="M0") == []
    names = [w.guard for w in registration_warnings(nodes_examined=7, margin="R1", m="M1a")]
    assert names == [
        "too_few_lymph_nodes_examined",
        "incomplete_resection_margin",
        "distant_metastasis_at_registration",
    ]
    assert [w.guard for w in registration_warnings(nodes_examined=20, margin="R2", m="M0")] == [
        "incomplete_resection_margin"
    ]
