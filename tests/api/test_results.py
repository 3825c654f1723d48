"""Results and checks posted through the API become events and alerts, bad ones write nothing."""

import pytest

from surveillance.models import ImagingStudy, LabResult, SymptomCheck
from treatments.models import CourseEvent

pytestmark = pytest.mark.django_db

NEGATIVE = {
    "reported_on": "2026-11-01", "flushing_per_day": 0, "stools_per_day": 1, "wheezing": False,
    "abdominal_pain": 0, "vomiting": False, "no_stool_or_gas": False,
    "palpitations_or_swelling": False, "weight_loss_kg": 0,
}  # fmt: skip


def test_an_integration_posts_a_scan_showing_recurrence_and_the_course_moves(
    api, integration, course
):
    client = api(integration)
    body = {"course": course.pk, "performed_on": "2026-08-03", "modality": "mri",
            "purpose": "surveillance", "result": "recurrence", "site": "liver", "resectable": True}  # fmt: skip

    response = client.post("/api/v1/imaging-studies/", body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["event"]["type"] == "recurrence_detected"
    course.refresh_from_db()
    assert course.state == "recurrence"


def test_functional_imaging_for_surveillance_is_kept_with_a_warning(api, coordinator, course):
    body = {"course": course.pk, "performed_on": "2026-08-03", "modality": "sstr_pet",
            "purpose": "surveillance", "result": "ned"}  # fmt: skip

    response = api(coordinator).post("/api/v1/imaging-studies/", body, format="json")

    assert response.status_code == 201
    assert response.json()["warnings"], "functional imaging for surveillance must warn"
    assert response.json()["event"] is None


def test_an_integration_may_not_read_results(api, integration, course):
    assert api(integration).get("/api/v1/imaging-studies/").status_code == 403


def test_a_lab_value_in_a_unit_not_allowed_for_its_analyte_writes_nothing(api, coordinator, course):
    body = {"course": course.pk, "analyte": "chromogranin_a", "value": "120", "unit": "mg/24h",
            "collected_on": "2026-08-03"}  # fmt: skip

    response = api(coordinator).post("/api/v1/lab-results/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "unit" in response.json()["errors"]
    assert LabResult.objects.count() == 0


def test_a_patient_posts_its_own_symptom_check_without_naming_the_course(api, patient_user, course):
    positive = NEGATIVE | {"flushing_per_day": 3}

    response = api(patient_user).post("/api/v1/symptom-checks/", positive, format="json")

    assert response.status_code == 201, response.json()
    assessment = response.json()["assessment"]
    assert assessment["carcinoid_syndrome_suspected"] is True
    assert assessment["escalated"] is True
    assert all(set(f) == {"kind", "patient_advice"} for f in assessment["findings"])
    assert CourseEvent.objects.filter(course=course, type="symptoms_reported").count() == 1


def test_a_negative_symptom_check_records_no_event(api, patient_user, course):
    response = api(patient_user).post("/api/v1/symptom-checks/", NEGATIVE, format="json")

    assert response.status_code == 201
    assert response.json()["assessment"]["escalated"] is False
    assert not CourseEvent.objects.filter(course=course, type="symptoms_reported").exists()


def test_a_symptom_answer_out_of_range_writes_nothing(api, patient_user, course):
    response = api(patient_user).post(
        "/api/v1/symptom-checks/", NEGATIVE | {"abdominal_pain": 11}, format="json"
    )

    assert response.status_code == 400
    assert "abdominal_pain" in response.json()["errors"]
    assert SymptomCheck.objects.count() == 0


def test_a_result_for_another_teams_course_is_refused_without_revealing_it(
    api, coordinator2, course
):
    body = {"course": course.pk, "performed_on": "2026-08-03", "modality": "ct",
            "purpose": "surveillance", "result": "ned"}  # fmt: skip
    missing = body | {"course": 987654}

    hidden = api(coordinator2).post("/api/v1/imaging-studies/", body, format="json")
    absent = api(coordinator2).post("/api/v1/imaging-studies/", missing, format="json")

    assert hidden.status_code == absent.status_code == 400
    assert hidden.json() == absent.json()
    assert ImagingStudy.objects.count() == 0


def test_a_symptom_check_takes_the_version_2_questions_and_answers_worsening_and_severity(
    api, patient_user, course
):
    client = api(patient_user)
    first = client.post("/api/v1/symptom-checks/", NEGATIVE | {"stools_per_day": 2}, format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["fainting"] is False  # a first-release client answers "no"
    assert first.json()["assessment"]["severity"] is None

    body = NEGATIVE | {"reported_on": "2026-11-02", "stools_per_day": 5, "fainting": True,
                       "breathless_at_rest": False, "weight_kg": "72.5"}  # fmt: skip
    response = client.post("/api/v1/symptom-checks/", body, format="json")

    assert response.status_code == 201, response.json()
    assert (response.json()["fainting"], response.json()["weight_kg"]) == (True, "72.5")
    assessment = response.json()["assessment"]
    assert assessment["worsening"] is True  # stools from 2 to 5
    assert assessment["severity"] == "urgent"  # fainting: emergency advice
    assert any("emergency" in (f["patient_advice"] or "") for f in assessment["findings"])


@pytest.mark.parametrize("weight", [19.9, 300.1, "heavy"])
def test_a_weight_outside_20_to_300_kg_writes_nothing(api, patient_user, course, weight):
    response = api(patient_user).post(
        "/api/v1/symptom-checks/", NEGATIVE | {"weight_kg": weight}, format="json"
    )

    assert response.status_code == 400
    assert "weight_kg" in response.json()["errors"]
    assert SymptomCheck.objects.count() == 0
