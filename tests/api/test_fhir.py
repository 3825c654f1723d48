"""The FHIR export of a course: an mCODE Bundle that the FHIR library accepts, for every demo
course, with the codes and values of the stored record; scoped, logged, and costing the same
number of queries whatever the number of results."""

import datetime as dt
import io
import json
from collections import Counter
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B.bundle import Bundle

from api.fhir import course_bundle, fhir_courses
from api.models import ReadAccess
from coordinator.management.commands.seed_demo import DEMO_PATIENTS, TEAM_B_PATIENTS
from surveillance import services as surveillance
from surveillance.models import ImagingStudy, Injection, LabResult
from tests import factories
from tests.api.figures import report
from treatments.models import CareTeam, Course, PrrtCycle, TreatmentLine

pytestmark = pytest.mark.django_db

MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"


def _get(client, course_id: int):
    return client.get(f"/api/v1/courses/{course_id}/fhir/")


def _parse(response) -> Bundle:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("application/fhir+json")
    return Bundle.model_validate_json(response.content)


def _resources(bundle: Bundle, kind: str | None = None, profile: str | None = None) -> list:
    found = []
    for entry in bundle.entry or []:
        resource = entry.resource
        if kind and resource.get_resource_type() != kind:
            continue
        profiles = list(resource.meta.profile) if resource.meta and resource.meta.profile else []
        if profile and MCODE + profile not in profiles:
            continue
        found.append(resource)
    return found


def _codes(concept) -> set[tuple[str, str]]:
    return {(c.system, c.code) for c in (concept.coding or [])}


def _observations_coded(bundle: Bundle, system: str, code: str) -> list:
    return [o for o in _resources(bundle, "Observation") if (system, code) in _codes(o.code)]


def _check_course(bundle: Bundle, course: Course) -> None:
    """The Bundle of one course against its database rows."""
    assert bundle.type == "collection"
    diagnosis = course.diagnosis
    patients = _resources(bundle, "Patient", "mcode-cancer-patient")
    assert len(patients) == 1
    assert patients[0].identifier[0].value == course.patient.mrn
    assert patients[0].birthDate == course.patient.birth_date
    assert len(_resources(bundle, "Condition", "mcode-primary-cancer-condition")) == 1

    if diagnosis.stage:
        (group,) = _resources(bundle, "Observation", "mcode-tnm-stage-group")
        assert (SNOMED, "399588009") in _codes(group.code)
        assert (SNOMED, "897275008") in _codes(group.method)
        assert diagnosis.stage_system in group.method.text
        assert group.valueCodeableConcept.text == f"Stage {diagnosis.stage}"
    for profile, code, value in (
        ("mcode-tnm-primary-tumor-category", "384625004", f"p{diagnosis.t}"),
        ("mcode-tnm-regional-nodes-category", "371494008", f"p{diagnosis.n}"),
        ("mcode-tnm-distant-metastases-category", "277208005", diagnosis.m),
    ):
        (category,) = _resources(bundle, "Observation", profile)
        assert (SNOMED, code) in _codes(category.code)
        assert category.valueCodeableConcept.coding[0].code.endswith(value)

    (grade,) = _resources(bundle, "Observation", "mcode-histologic-grade")
    assert grade.valueCodeableConcept.text == diagnosis.grade
    ki67 = _observations_coded(bundle, LOINC, "29593-1")
    if diagnosis.ki67_percent is None:
        assert ki67 == []
    else:
        assert [o.valueQuantity.value for o in ki67] == [diagnosis.ki67_percent]
        assert ki67[0].valueQuantity.code == "%"

    stored_cga = sorted(
        (row.collected_on, row.value)
        for row in LabResult.objects.filter(course=course, analyte="chromogranin_a", unit="ng/mL")
    )
    cga = _observations_coded(bundle, LOINC, "9811-1")
    assert sorted((o.effectiveDateTime, o.valueQuantity.value) for o in cga) == stored_cga
    for observation in cga:
        assert MCODE + "mcode-tumor-marker-test" in observation.meta.profile
        assert observation.valueQuantity.system == "http://unitsofmeasure.org"
        assert observation.valueQuantity.code == "ng/mL"
    assert (
        len(_resources(bundle, "Observation"))
        >= LabResult.objects.filter(course=course).count() + 4
    )

    statuses = _resources(bundle, "Observation", "mcode-cancer-disease-status")
    tumour_imaging = ImagingStudy.objects.filter(course=course).exclude(modality="echocardiography")
    assert len(statuses) == tumour_imaging.count()
    for status in statuses:
        assert (LOINC, "97509-4") in _codes(status.code)

    requests = _resources(bundle, "MedicationRequest", "mcode-cancer-related-medication-request")
    drug_lines = TreatmentLine.objects.filter(course=course).exclude(category="supportive")
    assert len(requests) == drug_lines.count()
    administrations = _resources(
        bundle, "MedicationAdministration", "mcode-cancer-related-medication-administration"
    )
    assert len(administrations) == (
        Injection.objects.filter(course=course).count()
        + PrrtCycle.objects.filter(line__course=course).count()
    )
    surgeries = _resources(bundle, "Procedure", "mcode-cancer-related-surgical-procedure")
    assert course.surgery.performed_on in [p.performedDateTime for p in surgeries]
    (plan,) = _resources(bundle, "CarePlan")
    assert len(plan.activity or []) == course.scheduled_items.filter(active=True).count()


def test_every_demo_course_exports_a_valid_mcode_bundle_with_its_stored_values(
    api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", password=factories.PASSWORD, stdout=io.StringIO())
    users = get_user_model().objects
    # Each team's coordinator reads the team's courses.
    clients = {
        team.pk: api(users.get(username=username))
        for team, username in zip(
            CareTeam.objects.order_by("name"), ("coordinator", "coordinator2"), strict=True
        )
    }
    courses = list(Course.objects.select_related("diagnosis", "surgery", "patient"))
    assert len(courses) == len(DEMO_PATIENTS) + len(TEAM_B_PATIENTS)
    exported = Counter()
    for course in courses:
        bundle = _parse(_get(clients[course.care_team_id], course.pk))
        _check_course(bundle, course)
        for entry in bundle.entry:
            exported[entry.resource.get_resource_type()] += 1
    # The demo has lines, injections, PRRT cycles and due items: the checks were not vacuous.
    assert exported["MedicationRequest"] and exported["MedicationAdministration"]
    assert exported["CarePlan"] == len(courses)
    assert PrrtCycle.objects.exists() and Injection.objects.exists()
    report(
        "fhir export", f"demo: {len(courses)} courses, resources {dict(sorted(exported.items()))}"
    )


def test_stage_grade_ki67_and_markers_carry_their_codes_and_stored_values(
    api, clinician, coordinator, team_a
):
    course = factories.register(
        clinician, team_a, diagnosis=factories.diagnosis_data(ki67_percent=6.5)
    )
    surveillance.lab_record(course=course, actor=clinician, analyte="chromogranin_a",
                            value=Decimal("87.5"), unit="ng/mL", collected_on=dt.date(2026, 5, 2))  # fmt: skip
    surveillance.lab_record(course=course, actor=clinician, analyte="u5hiaa",
                            value=Decimal("6.2"), unit="mg/24h", collected_on=dt.date(2026, 5, 2))  # fmt: skip
    surveillance.imaging_record(course=course, actor=clinician, performed_on=dt.date(2026, 5, 3),
                                modality="ct", purpose="surveillance", result="ned")  # fmt: skip
    course.refresh_from_db()
    bundle = _parse(_get(api(coordinator), course.pk))
    _check_course(bundle, course)

    (ki67,) = _observations_coded(bundle, LOINC, "29593-1")
    assert ki67.valueQuantity.value == Decimal("6.5")
    (hiaa,) = _observations_coded(bundle, LOINC, "1695-6")
    assert hiaa.valueQuantity.code == "mg/(24.h)"
    assert hiaa.valueQuantity.value == Decimal("6.2")
    (grade,) = _resources(bundle, "Observation", "mcode-histologic-grade")
    assert grade.valueCodeableConcept.text == course.diagnosis.grade
    (condition,) = _resources(bundle, "Condition")
    # ileocecal is the terminal ileum: the ileum's ICD-10-CM carcinoid code.
    assert ("http://hl7.org/fhir/sid/icd-10-cm", "C7A.012") in _codes(condition.code)
    (status,) = _resources(bundle, "Observation", "mcode-cancer-disease-status")
    assert status.effectiveDateTime == dt.date(2026, 5, 3)
    evidence = status.extension[0]
    assert evidence.url == MCODE + "mcode-cancer-disease-status-evidence-type"
    assert (SNOMED, "363679005") in _codes(evidence.valueCodeableConcept)


def test_lines_carry_intent_and_stop_reason_and_prrt_cycles_their_activity(
    api, clinician, coordinator, team_a
):
    course = factories.register(clinician, team_a)
    factories.advance(
        course, clinician,
        ("recurrence_detected", {"site": "liver", "resectable": False}),
        ("ssa_started", factories.SSA),
        ("procedure_recorded", {"procedure": "tace", "target": "liver"}),
        ("procedure_recorded", {"procedure": "cholecystectomy", "target": "other"}),
        on=dt.date(2026, 6, 1),
    )  # fmt: skip
    factories.advance(course, clinician, ("progression_detected", {"recist": "PD"}),
                      on=dt.date(2026, 8, 1))  # fmt: skip
    factories.advance(course, clinician, ("prrt_started", factories.PRRT | {"continue_ssa": False}),
                      on=dt.date(2026, 8, 20))  # fmt: skip
    factories.advance(course, clinician, ("line_stopped", {"reason": "toxicity"}),
                      on=dt.date(2026, 9, 2))  # fmt: skip
    bundle = _parse(_get(api(coordinator), course.pk))
    requests = {
        r.medicationCodeableConcept.text: r for r in _resources(bundle, "MedicationRequest")
    }
    ssa = next(r for text, r in requests.items() if "lanreotide" in text)
    prrt = next(r for text, r in requests.items() if "177Lu" in text)
    intent_url = MCODE + "mcode-procedure-intent"
    assert [e.url for e in ssa.extension] == [intent_url]
    assert (SNOMED, "363676003") in _codes(ssa.extension[0].valueCodeableConcept)
    # The SSA ended when PRRT started after progression; PRRT stopped for toxicity.
    assert ssa.status == "stopped"
    assert (SNOMED, "266721009") in _codes(ssa.statusReason)
    assert prrt.status == "stopped"
    assert (SNOMED, "407563006") in _codes(prrt.statusReason)
    procedures = {p.code.text: p for p in _resources(bundle, "Procedure")}
    surgical = MCODE + "mcode-cancer-related-surgical-procedure"
    assert surgical in procedures["cholecystectomy"].meta.profile
    assert procedures["transarterial chemoembolisation (TACE)"].meta is None
    assert surgical in procedures["right hemicolectomy"].meta.profile
    (cycle,) = _resources(bundle, "MedicationAdministration")
    stored = PrrtCycle.objects.get(line__course=course)
    assert cycle.dosage.dose.value == stored.activity_gbq
    assert cycle.dosage.dose.code == "GBq"
    assert cycle.request.reference == next(e.fullUrl for e in bundle.entry if e.resource is prrt)


def test_two_exports_are_identical_but_for_the_timestamp(clinician, team_a):
    course = factories.register(clinician, team_a, email="", phone="")
    first = json.loads(course_bundle(course).model_dump_json())
    second = json.loads(course_bundle(course.pk).model_dump_json())
    first.pop("timestamp"), second.pop("timestamp")
    assert first == second
    urls = [e["fullUrl"] for e in first["entry"]]
    assert len(set(urls)) == len(urls)
    assert all(
        url == f"urn:uuid:{e['resource']['id']}"
        for url, e in zip(urls, first["entry"], strict=True)
    )
    # No contact details recorded: none sent (FHIR strings may not be empty).
    (patient,) = [
        e["resource"] for e in first["entry"] if e["resource"]["resourceType"] == "Patient"
    ]
    assert "telecom" not in patient


def test_another_teams_course_and_a_missing_one_are_404(api, coordinator2, course):
    client = api(coordinator2)
    for course_id in (course.pk, course.pk + 1000):
        response = _get(client, course_id)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert json.loads(response.content)["code"] == "not_found"
    assert not ReadAccess.objects.filter(patient=course.patient).exists()


def test_a_patient_reads_their_own_bundle_and_not_anothers(
    api, patient_user, course, neighbour_course
):
    client = api(patient_user)
    bundle = _parse(_get(client, course.pk))
    assert _resources(bundle, "Patient")[0].identifier[0].value == course.patient.mrn
    assert _get(client, neighbour_course.pk).status_code == 404


def test_an_integration_user_may_not_export(api, integration, course):
    assert _get(api(integration), course.pk).status_code == 403


def test_the_export_writes_a_read_log_row(api, coordinator, course):
    _parse(_get(api(coordinator), course.pk))
    row = ReadAccess.objects.get(patient=course.patient)
    assert row.endpoint == f"/api/v1/courses/{course.pk}/fhir/"
    assert row.actor.username == "coordinator"


def _grow(course: Course, actor, n: int) -> None:
    """`n` more imaging studies, lab results and injections a few days apart."""
    done = ImagingStudy.objects.filter(course=course).count()
    start = dt.date(2026, 3, 1) + dt.timedelta(days=3 * done)
    for i in range(n):
        day = start + dt.timedelta(days=3 * i)
        surveillance.imaging_record(course=course, actor=actor, performed_on=day,
                                    modality="mri", purpose="response_assessment", result="stable")  # fmt: skip
        surveillance.lab_record(course=course, actor=actor, analyte="chromogranin_a",
                                value=Decimal(60 + i), unit="ng/mL", collected_on=day)  # fmt: skip


def test_the_export_costs_the_same_queries_whatever_the_number_of_results(
    api, coordinator, clinician, team_a
):
    course = factories.register(clinician, team_a)
    factories.advance(
        course, clinician,
        ("recurrence_detected", {"site": "liver", "resectable": False}),
        ("ssa_started", factories.SSA),
        on=dt.date(2026, 2, 20),
    )  # fmt: skip
    client = api(coordinator)
    counts = []
    for size in (3, 30):
        _grow(course, clinician, size - ImagingStudy.objects.filter(course=course).count())
        with CaptureQueriesContext(connection) as queries:
            bundle = _parse(_get(client, course.pk))
        assert len(_resources(bundle, "Observation", "mcode-cancer-disease-status")) == size
        counts.append(len(queries))
    report("query counts", f"fhir export: {counts[0]} queries at 3 results, {counts[1]} at 30")
    assert counts[0] == counts[1], counts

    # The builder alone, from a prefetched course: one query per related table.
    with CaptureQueriesContext(connection) as queries:
        course_bundle(fhir_courses().get(pk=course.pk))
    assert len(queries) == 8, [q["sql"] for q in queries.captured_queries]
