"""Imaging studies, lab results, clinic visits and SSA injections: validated, stored with their
history, turned into events where they are events, and re-planned
(docs/clinical-rules.md#surveillance-after-resection)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.errors import InvalidInput
from surveillance import services
from surveillance.models import ImagingStudy, Injection, LabResult
from tests import factories
from tests.surveillance.conftest import TODAY
from tests.surveillance.support import due, due_dates, record, writes
from treatments.models import CourseEvent

pytestmark = pytest.mark.django_db

FIRST_IMAGING = dt.date(2026, 8, 1)


def imaging(course, actor, **changes):
    values = {
        "performed_on": FIRST_IMAGING,
        "modality": "ct",
        "purpose": "surveillance",
        "result": "ned",
    }
    return services.imaging_record(course=course, actor=actor, **(values | changes))


def on_ssa(course, actor):
    return factories.advance(
        course,
        actor,
        ("recurrence_detected", {"site": "liver", "resectable": False}),
        ("ssa_started", factories.SSA),
        on=dt.date(2026, 9, 1),
    )


def refused(course, service, **arguments) -> InvalidInput:
    """Assert the service refuses the input with a 400 and writes nothing."""
    before = writes(course)
    with pytest.raises(InvalidInput) as refusal:
        service(course=course, **arguments)
    assert refusal.value.status == 400
    assert writes(course) == before
    return refusal.value


# --- Imaging ------------------------------------------------------------------------------------


def test_a_surveillance_ct_closes_the_imaging_item_and_moves_the_visit_and_cga_with_it(
    course, integration
):
    recorded = imaging(course, integration)

    assert recorded.event is None
    assert recorded.warnings == []
    assert due_dates(course) | {"symptom_check": None} == {
        "imaging": dt.date(2027, 2, 1),
        "visit": dt.date(2027, 2, 1),
        "cga": dt.date(2027, 2, 1),
        "symptom_check": None,
        "vitamin_b12": dt.date(2027, 2, 1),  # yearly after the right hemicolectomy
    }


def test_the_study_is_stored_with_the_actor_and_a_reason_in_its_history(course, integration):
    study = imaging(course, integration).study

    created = study.history.get()
    assert study.recorded_by == integration
    assert (created.history_user, created.history_change_reason) == (
        integration,
        "Imaging recorded: ct ned",
    )


def test_a_recurrence_on_imaging_records_recurrence_detected_and_moves_the_course(
    course, integration
):
    recorded = imaging(course, integration, result="recurrence", site="liver")

    course.refresh_from_db()
    assert course.state == "recurrence"
    event = recorded.event
    assert (event.type, event.occurred_on) == ("recurrence_detected", FIRST_IMAGING)
    assert event.data == {"site": "liver", "resectable": False}
    assert (event.source_model, event.source_id) == ("surveillance.ImagingStudy", recorded.study.pk)
    assert ImagingStudy.objects.get(pk=recorded.study.pk).event == event
    # Known disease: restaging 3 months after the recurrence (ESMO 2020: every 3–6 months).
    assert due_dates(course)["imaging"] == dt.date(2026, 11, 1)


def test_a_recurrence_without_a_site_is_recorded_as_other_and_not_resectable(course, coordinator):
    recorded = imaging(course, coordinator, result="recurrence")

    assert recorded.event.data == {"site": "other", "resectable": False}


def test_progression_on_imaging_while_on_ssa_records_progression_detected(course, clinician):
    on_ssa(course, clinician)

    recorded = imaging(
        course,
        clinician,
        performed_on=dt.date(2026, 10, 1),
        purpose="response_assessment",
        result="progression",
    )

    course.refresh_from_db()
    assert course.state == "progression"
    assert recorded.event.type == "progression_detected"
    assert recorded.event.data == {"recist": "PD", "imaging_study": recorded.study.pk}
    # The SSA runs on until the next-line decision, and restaging follows 3 months on.
    assert "ssa_injection" in due(course)
    assert due(course)["imaging"].due_on == dt.date(2027, 1, 1)


def test_an_event_the_state_machine_refuses_still_saves_the_study_with_the_refusal_as_warning(
    course, clinician
):
    record(course, clinician, "recurrence_detected", {"site": "liver", "resectable": False},
           dt.date(2026, 7, 1))  # fmt: skip
    events = CourseEvent.objects.count()

    recorded = imaging(course, clinician, result="recurrence")

    assert recorded.event is None
    assert CourseEvent.objects.count() == events
    assert ImagingStudy.objects.filter(pk=recorded.study.pk).exists()
    (warning,) = recorded.warnings
    assert warning["code"] == "event_not_recorded"
    assert warning["refusal"]["code"] == "transition_not_allowed"
    assert "recurrence_detected" in warning["detail"]
    assert ImagingStudy.objects.get(pk=recorded.study.pk).warnings == recorded.warnings


def test_progression_found_in_surveillance_is_saved_with_the_machines_reason(course, clinician):
    recorded = imaging(course, clinician, result="progression")

    course.refresh_from_db()
    assert course.state == "surveillance"
    assert recorded.event is None
    assert recorded.warnings[0]["refusal"]["allowed_events"]


@pytest.mark.parametrize("modality", ["sstr_pet", "octreoscan", "fdg_pet"])
def test_functional_imaging_for_surveillance_is_accepted_with_a_warning(
    course, clinician, modality
):
    recorded = imaging(course, clinician, modality=modality)

    assert [w["code"] for w in recorded.warnings] == ["functional_imaging_not_for_surveillance"]
    assert "not for routine surveillance" in recorded.warnings[0]["detail"]
    # It is not the CT or MRI the schedule asks for: the imaging item stays where it was.
    assert due_dates(course)["imaging"] == FIRST_IMAGING


def test_functional_imaging_for_suspected_recurrence_raises_no_warning(course, clinician):
    recorded = imaging(course, clinician, modality="sstr_pet", purpose="suspected_recurrence")

    assert recorded.warnings == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"performed_on": TODAY + dt.timedelta(days=1)}, "performed_on"),
        ({"performed_on": factories.SURGERY_ON - dt.timedelta(days=1)}, "performed_on"),
        ({"performed_on": "2026-08-01"}, "performed_on"),
        ({"modality": "pet_ct"}, "modality"),
        ({"purpose": "screening"}, "purpose"),
        ({"result": "pd"}, "result"),
        ({"notes": "x" * 5001}, "notes"),
        ({"result": "recurrence", "site": "brain"}, "site"),
        ({"result": "recurrence", "resectable": "yes"}, "resectable"),
    ],
)
def test_it_refuses_bad_imaging_input_and_writes_nothing(course, clinician, changes, field):
    values = {"performed_on": FIRST_IMAGING, "modality": "ct", "purpose": "surveillance",
              "result": "ned"}  # fmt: skip

    refusal = refused(course, services.imaging_record, actor=clinician, **(values | changes))

    assert list(refusal.errors) == [field]


def test_nothing_is_recorded_on_a_closed_course(course, clinician):
    record(course, clinician, "course_closed", {"reason": "discharged"}, dt.date(2026, 9, 1))
    before = writes(course)

    with pytest.raises(services.CourseClosed) as refusal:
        imaging(course, clinician)

    assert (refusal.value.status, refusal.value.code) == (409, "course_closed")
    assert writes(course) == before


# --- Lab results ----------------------------------------------------------------------------------


def test_a_chromogranin_a_result_is_stored_with_its_unit(course, coordinator):
    recorded = services.lab_record(
        course=course,
        actor=coordinator,
        analyte="chromogranin_a",
        value=85.5,
        unit="ng/mL",
        collected_on=dt.date(2026, 8, 1),
        on_ppi=False,
    )

    result = LabResult.objects.get(pk=recorded.result.pk)
    assert (result.value, result.unit, result.on_ppi) == (Decimal("85.5"), "ng/mL", False)
    assert recorded.warnings == []
    assert result.history.get().history_user == coordinator


def test_other_spellings_of_an_allowed_unit_are_stored_in_one_spelling(course, coordinator):
    recorded = services.lab_record(
        course=course, actor=coordinator, analyte="chromogranin_a", value=Decimal("120"),
        unit="ug/l", collected_on=dt.date(2026, 8, 1),
    )  # fmt: skip

    assert recorded.result.unit == "µg/L"


def test_chromogranin_a_on_a_proton_pump_inhibitor_is_accepted_with_a_warning(course, coordinator):
    recorded = services.lab_record(
        course=course, actor=coordinator, analyte="chromogranin_a", value=300, unit="ng/mL",
        collected_on=dt.date(2026, 8, 1), on_ppi=True,
    )  # fmt: skip

    assert [w["code"] for w in recorded.warnings] == ["cga_on_ppi"]
    assert recorded.result.warnings == recorded.warnings


@pytest.mark.parametrize(
    ("analyte", "unit"),
    [
        ("u5hiaa", "mg/24h"),
        ("u5hiaa", "µmol/24h"),
        ("nt_probnp", "pg/mL"),
        ("vitamin_b12", "pmol/L"),
        ("glucose", "mmol/L"),
    ],
)
def test_it_accepts_each_analyte_in_its_allowed_units(course, coordinator, analyte, unit):
    recorded = services.lab_record(
        course=course, actor=coordinator, analyte=analyte, value=8, unit=unit,
        collected_on=dt.date(2026, 8, 1),
    )  # fmt: skip

    assert recorded.result.pk is not None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"unit": "mg/dL"}, "unit"),
        ({"analyte": "u5hiaa", "unit": "ng/mL"}, "unit"),
        ({"value": -1}, "value"),
        ({"value": 5_000_000}, "value"),
        ({"value": "85"}, "value"),
        ({"value": True}, "value"),
        ({"value": 1.0001}, "value"),
        ({"analyte": "serotonin"}, "analyte"),
        ({"collected_on": TODAY + dt.timedelta(days=1)}, "collected_on"),
        ({"collected_on": dt.date(2025, 12, 31)}, "collected_on"),
        ({"on_ppi": "yes"}, "on_ppi"),
    ],
)
def test_it_refuses_bad_lab_input_and_writes_nothing(course, coordinator, changes, field):
    values = {"analyte": "chromogranin_a", "value": 85, "unit": "ng/mL",
              "collected_on": dt.date(2026, 8, 1)}  # fmt: skip

    refusal = refused(course, services.lab_record, actor=coordinator, **(values | changes))

    assert field in refusal.errors


def test_the_unit_refusal_names_the_allowed_units(course, coordinator):
    refusal = refused(
        course, services.lab_record, actor=coordinator, analyte="chromogranin_a", value=85,
        unit="mmol/L", collected_on=dt.date(2026, 8, 1),
    )  # fmt: skip

    assert "ng/mL, µg/L, nmol/L, U/L" in refusal.errors["unit"][0]


def test_no_lab_result_is_recorded_on_a_closed_course(course, coordinator):
    record(course, coordinator, "course_closed", {"reason": "lost_to_follow_up"},
           dt.date(2026, 9, 1))  # fmt: skip

    with pytest.raises(services.CourseClosed):
        services.lab_record(
            course=course, actor=coordinator, analyte="chromogranin_a", value=85, unit="ng/mL",
            collected_on=dt.date(2026, 8, 1),
        )  # fmt: skip

    assert LabResult.objects.count() == 0


# --- Clinic visits ----------------------------------------------------------------------------


def test_a_clinic_visit_is_stored_with_its_history(course, clinician):
    visit = services.visit_record(
        course=course, actor=clinician, visited_on=dt.date(2026, 8, 2), notes="well, no flushing"
    )

    assert visit.history.get().history_user == clinician
    assert services.facts_for(
        course.__class__.objects.select_related("plan", "surgery", "diagnosis",
                                                "current_line").get(pk=course.pk)
    ).last_visit_on == dt.date(2026, 8, 2)  # fmt: skip


def test_it_refuses_a_visit_dated_in_the_future(course, clinician):
    refusal = refused(
        course, services.visit_record, actor=clinician, visited_on=TODAY + dt.timedelta(days=3)
    )

    assert "visited_on" in refusal.errors


# --- SSA injections ----------------------------------------------------------------------------


def test_an_injection_on_ssa_moves_the_next_one_28_days_on(course, clinician):
    on_ssa(course, clinician)

    recorded = services.injection_record(
        course=course, actor=clinician, given_on=dt.date(2026, 10, 1)
    )

    injection = recorded.injection
    assert (injection.agent, injection.dose_mg) == ("lanreotide", Decimal("120"))
    assert due_dates(course)["ssa_injection"] == dt.date(2026, 10, 29)


def test_a_dose_other_than_the_lines_is_accepted_with_a_warning(course, clinician):
    on_ssa(course, clinician)

    recorded = services.injection_record(
        course=course, actor=clinician, given_on=dt.date(2026, 10, 1), dose_mg=90
    )

    assert [w["code"] for w in recorded.warnings] == ["dose_differs_from_line"]


def test_an_injection_is_refused_when_the_course_is_not_on_ssa(course, clinician):
    before = writes(course)

    with pytest.raises(services.NotOnSsa) as refusal:
        services.injection_record(course=course, actor=clinician, given_on=dt.date(2026, 9, 1))

    assert (refusal.value.status, refusal.value.code) == (409, "not_on_ssa")
    assert "record ssa_started first" in refusal.value.detail
    assert writes(course) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"given_on": dt.date(2026, 8, 31)}, "given_on"),  # before the line started
        ({"agent": "octreotide_lar"}, "agent"),  # a switch is an event
        ({"agent": "pasireotide"}, "agent"),
        ({"dose_mg": 0}, "dose_mg"),
    ],
)
def test_it_refuses_an_injection_that_does_not_fit_the_line(course, clinician, changes, field):
    on_ssa(course, clinician)

    refusal = refused(
        course,
        services.injection_record,
        actor=clinician,
        **({"given_on": dt.date(2026, 10, 1)} | changes),
    )

    assert list(refusal.errors) == [field]
    assert Injection.objects.count() == 0
