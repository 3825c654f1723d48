"""The audit trail of a course: one reader of every record the course is made of, with the
fields each change touched (old → new), who made it and why."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from surveillance import selectors, services
from surveillance.selectors import AuditEntry, FieldChange
from tests import factories
from tests.surveillance.support import record
from tests.surveillance.test_symptom_checks import CALM
from treatments import services as treatment_services

pytestmark = pytest.mark.django_db


def on_ssa(course, clinician):
    return factories.advance(
        course,
        clinician,
        ("recurrence_detected", {"site": "liver", "resectable": False}),
        ("ssa_started", factories.SSA),
        on=dt.date(2026, 9, 1),
    )


def fill(course, clinician, patient_user):
    """Every kind of record a course can gain after registration, one of each."""
    services.imaging_record(course=course, actor=clinician, performed_on=dt.date(2026, 8, 1),
                            modality="ct", purpose="surveillance", result="ned")  # fmt: skip
    services.lab_record(course=course, actor=clinician, analyte="chromogranin_a", value=80, unit="ng/mL",
                        collected_on=dt.date(2026, 8, 2))  # fmt: skip
    services.symptom_check_record(
        course=course, actor=patient_user, reported_on=dt.date(2026, 8, 3), **CALM
    )
    services.visit_record(course=course, actor=clinician, visited_on=dt.date(2026, 8, 4))
    services.plan_update(course=course, actor=clinician, reason="tumour board: rising CgA",
                         early_interval_months=3)  # fmt: skip
    on_ssa(course, clinician)
    services.injection_record(course=course, actor=clinician, given_on=dt.date(2026, 9, 2))


def test_the_trail_holds_every_record_the_course_is_made_of(course, clinician, patient_user):
    fill(course, clinician, patient_user)

    trail = selectors.audit_trail(course)

    assert {entry.model for entry in trail} == {
        "treatments.course", "treatments.patient", "treatments.diagnosis", "treatments.surgery",
        "treatments.treatmentline", "surveillance.surveillanceplan", "surveillance.imagingstudy",
        "surveillance.labresult", "surveillance.symptomcheck", "surveillance.clinicvisit",
        "surveillance.injection",
    }  # fmt: skip


def test_the_trail_is_oldest_first(course, clinician, patient_user):
    fill(course, clinician, patient_user)

    trail = selectors.audit_trail(course)

    assert [entry.when for entry in trail] == sorted(entry.when for entry in trail)


def test_a_prrt_cycle_given_on_a_line_appears_in_the_trail(course, clinician):
    on_ssa(course, clinician)
    factories.advance(course, clinician, ("progression_detected", {"recist": "PD"}),
                      on=dt.date(2026, 9, 20))  # fmt: skip
    factories.advance(course, clinician, ("prrt_started", factories.PRRT), on=dt.date(2026, 10, 1))

    (cycle,) = [e for e in selectors.audit_trail(course) if e.model == "treatments.prrtcycle"]

    assert (cycle.action, cycle.who) == ("created", "clinician")
    given = {c.field: c.new for c in cycle.changes}
    assert (given["number"], given["given_on"]) == (1, dt.date(2026, 10, 1))


def test_a_state_change_lists_the_fields_it_changed_old_to_new_with_who_and_why(course, clinician):
    record(course, clinician, "recurrence_detected", {"site": "liver", "resectable": False},
           dt.date(2026, 9, 1))  # fmt: skip

    trail = selectors.audit_trail(course)

    change = [e for e in trail if e.model == "treatments.course" and e.action == "changed"][-1]
    by_field = {c.field: (c.old, c.new) for c in change.changes}
    # state and version are not editable in forms: simple-history's diff skips them alone.
    assert by_field["state"] == ("surveillance", "recurrence")
    assert by_field["version"] == (1, 2)
    assert "opened_on" not in by_field  # unchanged fields are left out
    assert (change.who, change.reason) == ("clinician", "test")
    assert "state: surveillance → recurrence" in [str(c) for c in change.changes]


def test_a_plan_change_appears_with_its_reason_and_the_interval_it_changed(course, clinician):
    before = course.plan.early_interval_months

    services.plan_update(course=course, actor=clinician, reason="tumour board: rising CgA",
                         early_interval_months=3)  # fmt: skip

    change = selectors.audit_trail(course)[-1]
    assert (change.model, change.action) == ("surveillance.surveillanceplan", "changed")
    assert change.reason == "tumour board: rising CgA"
    assert [(c.field, c.old, c.new) for c in change.changes] == [
        ("early_interval_months", before, 3)
    ]


def test_a_creation_lists_every_field_from_nothing(course, clinician):
    visit = services.visit_record(course=course, actor=clinician, visited_on=dt.date(2026, 8, 4))

    created = selectors.audit_trail(course)[-1]

    assert (created.model, created.object_id, created.action) == (
        "surveillance.clinicvisit", visit.pk, "created"
    )  # fmt: skip
    assert {c.attname: (c.old, c.new) for c in created.changes} == {
        "id": (None, visit.pk),
        "course_id": (None, course.pk),
        "visited_on": (None, dt.date(2026, 8, 4)),
        "notes": (None, ""),
        "recorded_by_id": (None, clinician.pk),
    }
    assert created.record == f"clinic visit {visit.pk}"


def test_another_courses_records_stay_out_of_the_trail(course, clinician, team_a):
    other = factories.register(clinician, team_a)
    services.visit_record(course=other, actor=clinician, visited_on=dt.date(2026, 8, 4))
    on_ssa(other, clinician)

    trail = selectors.audit_trail(course)

    course_ids = {e.object_id for e in trail if e.model == "treatments.course"}
    assert course_ids == {course.pk}
    assert not [
        e for e in trail if e.model in ("surveillance.clinicvisit", "treatments.treatmentline")
    ]
    assert {e.object_id for e in trail if e.model == "treatments.patient"} == {course.patient_id}


def test_each_row_is_compared_with_the_previous_row_of_the_same_record(course, clinician):
    for day in (2, 3, 4):
        services.lab_record(course=course, actor=clinician, analyte="chromogranin_a", value=80 + day,
                            unit="ng/mL", collected_on=dt.date(2026, 8, day))  # fmt: skip
    on_ssa(course, clinician)

    trail = selectors.audit_trail(course)

    labs = [e for e in trail if e.model == "surveillance.labresult"]
    assert [e.action for e in labs] == ["created"] * 3
    for entry in labs:  # three records, not one record changed twice
        assert all(c.old is None for c in entry.changes)
    states = [
        (c.old, c.new)
        for e in trail
        if e.model == "treatments.course"
        for c in e.changes
        if c.field == "state" and e.action == "changed"
    ]
    assert states == [("surveillance", "recurrence"), ("recurrence", "ssa")]


def test_the_trail_costs_one_query_whatever_its_length(
    course, clinician, patient_user, django_assert_num_queries
):
    with django_assert_num_queries(1):
        short = selectors.audit_trail(course)
    fill(course, clinician, patient_user)
    for day in range(5, 25):
        services.visit_record(course=course, actor=clinician, visited_on=dt.date(2026, 9, day))

    with django_assert_num_queries(1):
        long = selectors.audit_trail(course)

    assert len(long) > len(short) + 20


def test_the_api_history_and_the_admin_panel_show_the_same_trail(
    course, clinician, coordinator, patient_user
):
    fill(course, clinician, patient_user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(coordinator).access_token}")
    admin = Client()
    admin.force_login(coordinator, backend="django.contrib.auth.backends.ModelBackend")

    history = api.get(f"/api/v1/courses/{course.pk}/history/").json()
    page = admin.get(reverse("admin:treatments_course_change", args=[course.pk]))
    panel = page.context["overview"].audit

    from_api = [
        (h["object"]["model"], h["object"]["id"], h["change_type"], h["change_reason"],
         sorted(h["changes"]))
        for h in history
    ]  # fmt: skip
    from_admin = [
        (e.model, e.object_id, e.action, e.reason, sorted(c.attname for c in e.changes))
        for e in reversed(panel)
    ]
    assert from_api == from_admin
    plan_changes = [h for h in history if h["object"]["model"] == "surveillance.surveillanceplan"
                    and h["change_type"] == "changed"]  # fmt: skip
    assert plan_changes[0]["changes"]["early_interval_months"][1] == 3
    assert plan_changes[0]["change_reason"] == "tumour board: rising CgA"


# The trail as it was first read, one ORM query per tracked model and simple-history's diff:
# the reference the one-statement reader must match entry for entry.
def _reference_sources(course):
    from surveillance.models import (
        ClinicVisit,
        ImagingStudy,
        Injection,
        LabResult,
        SurveillancePlan,
        SymptomCheck,
    )
    from treatments.models import Course, Diagnosis, Patient, PrrtCycle, Surgery, TreatmentLine

    by_course = {"course_id": course.pk}
    return [
        (Course, {"id": course.pk}), (Patient, {"id": course.patient_id}),
        (Diagnosis, {"id": course.diagnosis_id}), (Surgery, {"id": course.surgery_id}),
        (TreatmentLine, by_course), (PrrtCycle, {"line__course_id": course.pk}),
        (SurveillancePlan, by_course), (ImagingStudy, by_course), (LabResult, by_course),
        (SymptomCheck, by_course), (ClinicVisit, by_course), (Injection, by_course),
    ]  # fmt: skip


def _reference_changes(row, before):
    fields = {f.name: f for f in row.tracked_fields}
    if before is None:
        return tuple(
            FieldChange(f.name, f.attname, None, getattr(row, f.attname)) for f in fields.values()
        )
    found = {c.field: FieldChange(c.field, fields[c.field].attname, c.old, c.new)
             for c in row.diff_against(before).changes}  # fmt: skip
    for f in fields.values():
        if not f.editable and f.name not in found:
            old, new = getattr(before, f.attname), getattr(row, f.attname)
            if old != new:
                found[f.name] = FieldChange(f.name, f.attname, old, new)
    return tuple(found[name] for name in fields if name in found)


def reference_audit_trail(course):
    entries = []
    for rank, (model, lookup) in enumerate(_reference_sources(course)):
        rows = (
            model.history.filter(**lookup)
            .select_related("history_user")
            .order_by("history_date", "history_id")
        )
        previous = {}
        for row in rows:
            user = row.history_user
            entry = AuditEntry(
                when=row.history_date,
                who=user.get_username() if user is not None else None,
                model=model._meta.label_lower,
                label=str(model._meta.verbose_name),
                object_id=row.id,
                action={"+": "created", "~": "changed", "-": "deleted"}[row.history_type],
                changes=_reference_changes(row, previous.get(row.id)),
                reason=row.history_change_reason,
                history_id=row.history_id,
            )
            previous[row.id] = row
            entries.append(((row.history_date, rank, row.history_id), entry))
    entries.sort(key=lambda pair: pair[0])
    return [entry for _, entry in entries]


def test_the_one_statement_trail_matches_the_per_model_reading_entry_for_entry(
    course, clinician, coordinator, patient_user
):
    services.imaging_record(course=course, actor=clinician, performed_on=dt.date(2026, 8, 1),
                            modality="ct", purpose="surveillance", result="ned")  # fmt: skip
    for day in (2, 5, 6):
        services.lab_record(course=course, actor=clinician, analyte="chromogranin_a",
                            value=80 + day, unit="ng/mL", collected_on=dt.date(2026, 8, day))  # fmt: skip
    services.symptom_check_record(
        course=course, actor=patient_user, reported_on=dt.date(2026, 8, 3), **CALM
    )
    services.visit_record(course=course, actor=clinician, visited_on=dt.date(2026, 8, 4))
    for months, reason in ((3, "tumour board: rising CgA"), (6, "back to the usual interval")):
        services.plan_update(course=course, actor=clinician, reason=reason,
                             early_interval_months=months)  # fmt: skip
    on_ssa(course, clinician)
    factories.advance(course, clinician, ("progression_detected", {"recist": "PD"}),
                      on=dt.date(2026, 9, 20))  # fmt: skip
    factories.advance(course, clinician, ("prrt_started", factories.PRRT), on=dt.date(2026, 10, 1))
    services.injection_record(course=course, actor=clinician, given_on=dt.date(2026, 10, 2))
    treatment_services.patient_update(patient=course.patient, actor=coordinator,
                                      phone="+4520304050", email_consent=True)  # fmt: skip
    course.refresh_from_db()

    new, old = selectors.audit_trail(course), reference_audit_trail(course)

    assert len(new) > 20
    assert len({e.model for e in new}) == 12  # every tracked model of the course
    assert [e.action for e in new].count("changed") >= 5
    for fresh, reference in zip(new, old, strict=True):
        assert fresh == reference
        assert [type(c.new) for c in fresh.changes] == [type(c.new) for c in reference.changes]
