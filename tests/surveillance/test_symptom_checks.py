"""The carcinoid-syndrome symptom check: scored by docs/clinical-rules.md#scoring-thresholds, a
positive one recorded as `symptoms_reported` and announced to the alerts app after the commit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.errors import InvalidInput
from surveillance import services
from surveillance.models import SymptomCheck
from tests.surveillance.conftest import TODAY
from tests.surveillance.support import due_dates, record, writes
from treatments.models import CourseEvent

pytestmark = pytest.mark.django_db

REPORTED_ON = dt.date(2026, 10, 10)
CALM = {
    "flushing_per_day": 0,
    "stools_per_day": 2,
    "wheezing": False,
    "abdominal_pain": 1,
    "vomiting": False,
    "no_stool_or_gas": False,
    "palpitations_or_swelling": False,
    "weight_loss_kg": 0,
}
FLUSHING_WITH_DIARRHOEA = CALM | {"flushing_per_day": 2, "stools_per_day": 5}


def check(course, actor, **answers):
    return services.symptom_check_record(
        course=course, actor=actor, reported_on=REPORTED_ON, **(CALM | answers)
    )


def test_a_calm_check_is_stored_scored_negative_and_records_no_event(course, patient_user):
    events = CourseEvent.objects.count()

    recorded = check(course, patient_user)

    assert recorded.event is None
    assert CourseEvent.objects.count() == events
    assert recorded.assessment["escalated"] is False
    assert recorded.assessment["carcinoid_syndrome_suspected"] is False
    assert recorded.assessment["obstruction_suspected"] is False
    assert SymptomCheck.objects.get(pk=recorded.check.pk).assessment == recorded.assessment
    assert recorded.check.history.get().history_user == patient_user


def test_a_check_moves_the_next_one_three_months_on(course, patient_user):
    check(course, patient_user)

    assert due_dates(course)["symptom_check"] == dt.date(2027, 1, 10)


def test_flushing_with_diarrhoea_records_symptoms_reported_for_the_check(course, patient_user):
    recorded = check(course, patient_user, **FLUSHING_WITH_DIARRHOEA)

    assert recorded.assessment["carcinoid_syndrome_suspected"] is True
    assert recorded.assessment["escalated"] is True
    event = recorded.event
    assert (event.type, event.occurred_on) == ("symptoms_reported", REPORTED_ON)
    assert event.data == {"symptom_check": recorded.check.pk}
    assert (event.source_model, event.source_id) == ("surveillance.SymptomCheck", recorded.check.pk)
    course.refresh_from_db()
    assert course.state == "surveillance"  # symptoms change no state


def test_vomiting_with_no_stool_or_gas_is_suspected_obstruction(course, patient_user):
    recorded = check(course, patient_user, vomiting=True, no_stool_or_gas=True)

    assert recorded.assessment["obstruction_suspected"] is True
    assert recorded.assessment["highest_severity"] == "urgent"
    (finding,) = recorded.assessment["findings"]
    assert finding["kind"] == "obstruction"
    assert "seek medical care today" in finding["patient_advice"]


def test_a_positive_check_is_announced_to_the_alerts_app_only_after_the_commit(
    course, patient_user, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        recorded = check(course, patient_user, **FLUSHING_WITH_DIARRHOEA)
        assert published == []  # nothing leaves before the commit

    assert len(callbacks) >= 1
    (notice,) = published
    assert (notice.course_id, notice.symptom_check_id) == (course.pk, recorded.check.pk)
    assert notice.positive is True
    assert notice.event_id == recorded.event.pk
    assert notice.findings[0]["kind"] == "carcinoid_syndrome"
    assert notice.findings[0]["severity"] == "high"


def test_a_negative_check_is_announced_as_negative(
    course, patient_user, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        check(course, patient_user)

    (notice,) = published
    assert (notice.positive, notice.findings, notice.event_id) == (False, (), None)


def test_a_refused_input_announces_nothing(
    course, patient_user, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(InvalidInput):
        check(course, patient_user, stools_per_day=31)

    assert published == []


def test_a_positive_check_the_event_log_refuses_is_kept_and_still_announced(
    course, patient_user, published, django_capture_on_commit_callbacks
):
    # A later symptoms_reported is already logged: an earlier-dated one needs a correction.
    record(course, patient_user, "symptoms_reported", {}, dt.date(2026, 10, 12))

    with django_capture_on_commit_callbacks(execute=True):
        recorded = check(course, patient_user, **FLUSHING_WITH_DIARRHOEA)

    assert recorded.event is None
    assert recorded.warnings[0]["code"] == "event_not_recorded"
    assert SymptomCheck.objects.filter(pk=recorded.check.pk).exists()
    assert published[0].positive is True


def test_answers_may_come_as_decimals_from_a_serializer(course, patient_user):
    recorded = check(course, patient_user, flushing_per_day=Decimal("3.5"))

    assert recorded.assessment["carcinoid_syndrome_suspected"] is True
    assert recorded.check.flushing_per_day == Decimal("3.5")


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({"stools_per_day": 31}, "stools_per_day"),
        ({"flushing_per_day": -1}, "flushing_per_day"),
        ({"abdominal_pain": 11}, "abdominal_pain"),
        ({"abdominal_pain": 6.5}, "abdominal_pain"),
        ({"weight_loss_kg": 51}, "weight_loss_kg"),
        ({"wheezing": "no"}, "wheezing"),
        ({"flushing_per_day": 2.25}, "flushing_per_day"),
        ({"mood": 3}, "mood"),
    ],
)
def test_it_refuses_answers_out_of_range_and_writes_nothing(course, patient_user, answers, field):
    before = writes(course)

    with pytest.raises(InvalidInput) as refusal:
        check(course, patient_user, **answers)

    assert list(refusal.value.errors) == [field]
    assert writes(course) == before


def test_it_refuses_a_check_with_a_missing_answer(course, patient_user):
    answers = dict(CALM)
    del answers["vomiting"]

    with pytest.raises(InvalidInput) as refusal:
        services.symptom_check_record(
            course=course, actor=patient_user, reported_on=REPORTED_ON, **answers
        )

    assert refusal.value.errors == {"vomiting": ["This field is required."]}


def test_it_refuses_a_check_reported_in_the_future(course, patient_user):
    with pytest.raises(InvalidInput) as refusal:
        services.symptom_check_record(
            course=course, actor=patient_user, reported_on=TODAY + dt.timedelta(days=1), **CALM
        )

    assert list(refusal.value.errors) == ["reported_on"]


def test_no_check_is_recorded_on_a_closed_course(course, clinician, patient_user):
    record(course, clinician, "course_closed", {"reason": "deceased"}, dt.date(2026, 9, 1))
    before = writes(course)

    with pytest.raises(services.CourseClosed):
        check(course, patient_user, **FLUSHING_WITH_DIARRHOEA)

    assert writes(course) == before
