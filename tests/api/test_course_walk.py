"""A patient's whole course through the API, as the mobile app and the clinic's staff use it."""

import pytest

from api.models import ReadAccess
from treatments import machine
from treatments.models import CourseEvent

pytestmark = pytest.mark.django_db

REGISTRATION = {
    "patient": {
        "mrn": "A1001", "given_name": "Ana", "family_name": "Silva", "birth_date": "1961-04-02",
        "sex": "female", "email": "ana@example.org", "phone": "+447700900123",
        "timezone": "Europe/London", "language": "en", "sms_consent": True, "email_consent": True,
    },
    "diagnosis": {
        "primary_site": "ileocecal", "diagnosed_on": "2026-01-10", "differentiation": "well",
        "ki67_percent": 4.0, "mitoses_per_2mm2": 1, "t": "T3", "n": "N1", "m": "M0",
        "sstr_imaging": "positive", "cga_elevated_preop": True, "functional": False,
    },
    "surgery": {
        "performed_on": "2026-02-01", "procedure": "right_hemicolectomy", "margin": "R0",
        "nodes_examined": 14, "nodes_positive": 3, "gallbladder_removed": False,
    },
}  # fmt: skip


def post_event(client, course_id, type_, on, data=None, **extra):
    body = {"type": type_, "occurred_on": on, "data": data or {}, "reason": "tumour board"}
    return client.post(f"/api/v1/courses/{course_id}/events/", body | extra, format="json")


def test_a_course_walks_from_surgery_to_closure_through_the_api(
    api, coordinator, clinician, team_a, coordinator2
):
    staff = api(coordinator)
    doctor = api(clinician)

    created = staff.post("/api/v1/courses/", REGISTRATION | {"care_team": team_a.pk}, format="json")
    assert created.status_code == 201, created.json()
    course = created.json()
    cid = course["id"]
    assert (course["state"], course["stage"], course["grade"], course["version"]) == (
        "surveillance", "III", "G2", 1,
    )  # fmt: skip
    assert "recurrence_detected" in course["allowed_events"]
    assert "ssa_started" not in course["allowed_events"]

    # No adjuvant therapy: SSA from surveillance is a state conflict, not overridable.
    ssa = {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28}
    refused = post_event(doctor, cid, "ssa_started", "2026-08-01", ssa, override=True,
                         override_reason="asked")  # fmt: skip
    assert refused.status_code == 409
    assert refused.json()["code"] == "transition_not_allowed"
    assert refused.json()["state"] == "surveillance"

    steps = [
        (staff, "recurrence_detected", "2026-08-10", {"site": "locoregional", "resectable": True}, "recurrence"),
        (staff, "resection_started", "2026-08-20", {"procedure": "mesenteric resection"}, "resection"),
        (staff, "resection_completed", "2026-08-21", {"performed_on": "2026-08-21", "margin": "R0", "ned": True}, "surveillance"),
        (staff, "recurrence_detected", "2026-09-10", {"site": "liver", "resectable": False}, "recurrence"),
        (staff, "ssa_started", "2026-09-15", ssa, "ssa"),
        (staff, "progression_detected", "2026-10-15", {"recist": "PD"}, "progression"),
    ]  # fmt: skip
    for client, type_, on, data, state in steps:
        response = post_event(client, cid, type_, on, data)
        assert response.status_code == 201, (type_, response.json())
        assert response.json()["course"]["state"] == state

    # PRRT at an activity outside the label: refused, a coordinator may not override,
    # a clinician may with a reason.
    prrt = {"agent": "lu177_dotatate", "activity_gbq": 9.0, "cycles_planned": 4}
    guard = post_event(staff, cid, "prrt_started", "2026-10-20", prrt)
    assert guard.status_code == 422
    assert guard.json()["code"] == "guideline_guard"
    assert guard.json()["guard"] == "prrt_activity_in_range"
    assert guard.json()["override_allowed"] is True
    by_coordinator = post_event(staff, cid, "prrt_started", "2026-10-20", prrt, override=True,
                                override_reason="trial protocol")  # fmt: skip
    assert by_coordinator.status_code == 403
    assert by_coordinator.json()["code"] == "permission_denied"
    stale = post_event(doctor, cid, "prrt_started", "2026-10-20", prrt, override=True,
                       override_reason="trial protocol", expected_version=2)  # fmt: skip
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    overridden = post_event(doctor, cid, "prrt_started", "2026-10-20", prrt, override=True,
                            override_reason="trial protocol", expected_version=7)  # fmt: skip
    assert overridden.status_code == 201, overridden.json()
    assert overridden.json()["event"]["override"] is True

    for type_, on, data, state in [
        ("progression_detected", "2026-11-01", {"recist": "PD"}, "progression"),
        ("everolimus_started", "2026-11-05", {"dose_mg": 10}, "everolimus"),
        ("course_closed", "2026-11-20", {"reason": "transferred"}, "closed"),
    ]:
        response = post_event(staff, cid, type_, on, data)
        assert response.status_code == 201, (type_, response.json())
        assert response.json()["course"]["state"] == state

    after_close = post_event(doctor, cid, "symptoms_reported", "2026-11-21", {})
    assert after_close.status_code == 409

    log = staff.get(f"/api/v1/courses/{cid}/events/").json()["results"]
    assert log[0]["type"] == "recurrence_detected"
    assert machine.replay("surveillance", [(e["type"], e["data"]) for e in log]) == "closed"
    assert len(log) == CourseEvent.objects.filter(course_id=cid).count() == 10

    history = staff.get(f"/api/v1/courses/{cid}/history/").json()
    course_changes = [h for h in history if h["object"]["model"] == "treatments.course"]
    assert any("override: trial protocol" in (h["change_reason"] or "") for h in course_changes)
    assert {h["changed_by"] for h in course_changes} == {"coordinator", "clinician"}

    # The other team cannot see it, and cannot tell it exists.
    other = api(coordinator2)
    hidden = other.get(f"/api/v1/courses/{cid}/")
    missing = other.get("/api/v1/courses/999999/")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content

    reads = ReadAccess.objects.filter(patient_id=course["patient"]["id"])
    assert reads.filter(actor=coordinator, endpoint=f"/api/v1/courses/{cid}/history/").count() == 1
    assert not reads.filter(actor=coordinator2).exists()
