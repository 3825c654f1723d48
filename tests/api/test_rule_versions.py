"""Every answer of the clinical rules carries the rule set that produced it, over HTTP
(docs/api.md#rule-versions): stored when produced, never stamped when read."""

import pytest

from surveillance import services
from surveillance.models import ScheduledItem, SurveillancePlan, SymptomCheck
from tests import factories
from treatments.models import CourseEvent
from treatments.rules_version import RULE_VERSION

pytestmark = pytest.mark.django_db

EARLIER = "2019.9"  # a version no code has ever had: only a stored value can answer it
SSA = {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28}
RECURRENCE = ("recurrence_detected", {"site": "liver", "resectable": False})
POSITIVE_CHECK = {
    "reported_on": "2026-09-02", "flushing_per_day": 4, "stools_per_day": 6, "wheezing": False,
    "abdominal_pain": 2, "vomiting": False, "no_stool_or_gas": False,
    "palpitations_or_swelling": False, "weight_loss_kg": 0,
}  # fmt: skip


def registration(team, **diagnosis):
    body = {
        "patient": factories.patient_data(),
        "care_team": team.pk,
        "diagnosis": factories.diagnosis_data(**diagnosis),
        "surgery": factories.surgery_data(),
    }
    for part in body.values():
        if isinstance(part, dict):
            part.update({k: v.isoformat() for k, v in part.items() if hasattr(v, "isoformat")})
    return body


def post_event(client, course_id, type_, on, data, **extra):
    body = {"type": type_, "occurred_on": on, "data": data, "reason": "tumour board"}
    return client.post(f"/api/v1/courses/{course_id}/events/", body | extra, format="json")


def test_registration_answers_each_due_item_and_the_plan_with_the_rule_set_and_stores_it(
    api, coordinator, team_a
):
    created = api(coordinator).post("/api/v1/courses/", registration(team_a), format="json")

    assert created.status_code == 201, created.json()
    body = created.json()
    assert len(body["due"]) >= 3
    assert {item["rule_version"] for item in body["due"]} == {RULE_VERSION}
    assert body["plan"]["risk_group"] == "standard"
    assert body["plan"]["rule_version"] == RULE_VERSION
    stored = ScheduledItem.objects.filter(course_id=body["id"], active=True)
    assert set(stored.values_list("rule_version", flat=True)) == {RULE_VERSION}
    assert SurveillancePlan.objects.get(course_id=body["id"]).rule_version == RULE_VERSION


def test_a_refusing_guard_names_its_rule_set_in_the_422_body_and_each_failure(
    api, coordinator, clinician, team_a
):
    course = factories.register(
        coordinator, team_a, diagnosis=factories.diagnosis_data(sstr_imaging="negative")
    )
    factories.advance(course, coordinator, RECURRENCE)

    refused = post_event(api(clinician), course.pk, "ssa_started", "2026-09-10", SSA)

    assert refused.status_code == 422, refused.json()
    body = refused.json()
    assert body["code"] == "guideline_guard"
    assert body["guard"] == "ssa_requires_positive_sstr_imaging"
    assert body["rule_version"] == RULE_VERSION
    assert body["failures"]
    assert {failure["rule_version"] for failure in body["failures"]} == {RULE_VERSION}


def test_an_events_warnings_carry_the_rule_set_they_were_given_under(
    api, coordinator, clinician, team_a
):
    course = factories.register(coordinator, team_a)  # gallbladder in place: the SSA warns
    factories.advance(course, coordinator, RECURRENCE)
    doctor = api(clinician)

    recorded = post_event(doctor, course.pk, "ssa_started", "2026-09-10", SSA)

    assert recorded.status_code == 201, recorded.json()
    warnings = recorded.json()["event"]["warnings"]
    assert "ssa_with_gallbladder_in_place_warns" in {w["guard"] for w in warnings}
    assert {w["rule_version"] for w in warnings} == {RULE_VERSION}
    # Stored with the event (append-only), and read back from there in the log.
    event = CourseEvent.objects.get(pk=recorded.json()["event"]["id"])
    assert {w["rule_version"] for w in event.warnings} == {RULE_VERSION}
    log = doctor.get(f"/api/v1/courses/{course.pk}/events/").json()["results"]
    ssa = next(e for e in log if e["type"] == "ssa_started")
    assert ssa["warnings"] == event.warnings


def test_an_overridden_guard_is_kept_with_its_rule_set(api, coordinator, clinician, team_a):
    course = factories.register(
        coordinator, team_a, diagnosis=factories.diagnosis_data(sstr_imaging="negative")
    )
    factories.advance(course, coordinator, RECURRENCE)

    recorded = post_event(api(clinician), course.pk, "ssa_started", "2026-09-10", SSA,
                          override=True, override_reason="syndrome control")  # fmt: skip

    assert recorded.status_code == 201, recorded.json()
    overridden = recorded.json()["event"]["overridden_guards"]
    assert [g["guard"] for g in overridden] == ["ssa_requires_positive_sstr_imaging"]
    assert overridden[0]["rule_version"] == RULE_VERSION


def test_a_symptom_checks_assessment_carries_the_rule_set_that_scored_it(api, coordinator, course):
    staff = api(coordinator)

    posted = staff.post(
        "/api/v1/symptom-checks/", POSITIVE_CHECK | {"course": course.pk}, format="json"
    )

    assert posted.status_code == 201, posted.json()
    assessment = posted.json()["assessment"]
    assert assessment["escalated"] is True
    assert assessment["rule_version"] == RULE_VERSION
    check = SymptomCheck.objects.get(pk=posted.json()["id"])
    assert check.assessment["rule_version"] == RULE_VERSION
    # A check scored before versions were recorded has none, and says so.
    SymptomCheck.objects.filter(pk=check.pk).update(
        assessment={k: v for k, v in check.assessment.items() if k != "rule_version"}
    )
    listed = staff.get(f"/api/v1/symptom-checks/?course={course.pk}").json()["results"]
    assert [c["assessment"]["rule_version"] for c in listed] == [None]


def test_the_course_answers_the_versions_stored_not_todays(api, coordinator, course):
    ScheduledItem.objects.filter(course=course).update(rule_version=EARLIER)
    SurveillancePlan.objects.filter(course=course).update(rule_version=None)

    body = api(coordinator).get(f"/api/v1/courses/{course.pk}/").json()

    assert body["due"]
    assert {item["rule_version"] for item in body["due"]} == {EARLIER}
    assert body["plan"]["rule_version"] is None


def test_a_re_plan_stamps_only_the_items_it_rewrites(api, coordinator, clinician, course):
    ScheduledItem.objects.filter(course=course).update(rule_version=EARLIER)
    before = dict(ScheduledItem.objects.filter(course=course).values_list("kind", "rule_version"))
    assert before["symptom_check"] == before["imaging"] == EARLIER

    # status_updated moves imaging and its companions, never the symptom check
    # (surveillance/schedule/affected.py).
    recorded = post_event(api(clinician), course.pk, "status_updated", "2026-09-01",
                          {"carcinoid_syndrome": True, "functional": True})  # fmt: skip

    assert recorded.status_code == 201, recorded.json()
    due = {item["kind"]: item["rule_version"] for item in recorded.json()["course"]["due"]}
    assert due["imaging"] == RULE_VERSION
    assert due["symptom_check"] == EARLIER


def test_a_clinicians_plan_change_records_the_rule_set_that_checked_it(clinician, course):
    SurveillancePlan.objects.filter(course=course).update(rule_version=None)

    services.plan_update(course=course, actor=clinician, reason="tumour board", risk_group="high")

    assert SurveillancePlan.objects.get(course=course).rule_version == RULE_VERSION


def test_the_published_schema_documents_rule_version_on_every_carrier(api, coordinator):
    schema = api(coordinator).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]

    for name in ("DueItem", "Plan", "AssessmentOut", "GuardResult", "Warning"):
        assert "rule_version" in components[name]["properties"], name
    assert components["DueItem"]["properties"]["rule_version"]["nullable"] is True
    assert "rule_version" in components["DueItem"]["required"]
    event = components["Event"]["properties"]
    assert event["warnings"]["items"]["$ref"].endswith("/GuardResult")
    assert event["overridden_guards"]["items"]["$ref"].endswith("/GuardResult")
    assert "rule_version" in components["ErrorBody"]["properties"]
    detail = components["CourseDetail"]["properties"]
    assert "plan" in detail
