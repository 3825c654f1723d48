"""Recording an event from the course page: record_event's guards, reasons and refusals."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from coordinator.event_forms import DATA_PREFIX, event_form_class
from tests import factories
from tests.treatments.support import Snapshot
from treatments import machine, payloads
from treatments.models import Course

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]

RECURRENCE = {"site": "liver", "resectable": True}


def record_url(course: Course, event_type: str) -> str:
    return reverse("admin:treatments_course_record_event", args=[course.pk, event_type])


def form_data(course: Course, occurred_on: str = "2026-11-02", **data: Any) -> dict[str, Any]:
    """A submitted form: data fields by their machine name, the common fields as given."""
    common = {"occurred_on", "reason", "override", "override_reason", "expected_version"}
    posted = {"occurred_on": occurred_on, "reason": "tumour board 2 Nov",
              "expected_version": course.version}  # fmt: skip
    for key, value in data.items():
        posted[key if key in common else DATA_PREFIX + key] = value
    return posted


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def receptor_negative(clinician, team_a) -> Course:
    """Recurrence on a tumour whose receptor imaging was negative: SSA is refused."""
    course = factories.register(
        clinician, team_a, diagnosis=factories.diagnosis_data(sstr_imaging="negative")
    )
    return factories.advance(course, clinician, ("recurrence_detected", RECURRENCE))


def test_the_form_asks_for_the_events_fields_and_a_coordinator_gets_no_override(
    as_coordinator, course
):
    response = as_coordinator.get(record_url(course, "recurrence_detected"))

    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.fields) == {"occurred_on", "reason", "expected_version",
                                "data_site", "data_resectable"}  # fmt: skip
    assert form.initial["expected_version"] == course.version
    assert 'name="override"' not in response.content.decode()


def test_a_clinician_gets_the_override_with_its_reason(as_clinician, receptor_negative):
    response = as_clinician.get(record_url(receptor_negative, "ssa_started"))

    assert {"override", "override_reason"} <= set(response.context["form"].fields)
    text = response.content.decode()
    assert 'name="override"' in text
    # The guards that will be checked are listed with their source before submitting.
    assert "Somatostatin-receptor imaging must be positive" in text


def test_a_coordinator_records_a_recurrence_from_the_course_page(
    as_coordinator, coordinator, course
):
    before = Snapshot.of(course)

    response = as_coordinator.post(
        record_url(course, "recurrence_detected"),
        form_data(course, site="liver", resectable="on", reason="MRI: two liver lesions"),
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:treatments_course_change", args=[course.pk])
    after = Snapshot.of(course)
    assert (before.state, after.state) == ("surveillance", "recurrence")
    assert after.events == before.events + 1
    event = course.events.get()
    assert (event.type, event.actor, event.reason, event.data) == (
        "recurrence_detected",
        coordinator,
        "MRI: two liver lesions",
        {"site": "liver", "resectable": True},
    )
    assert event.occurred_on == dt.date(2026, 11, 2)
    row = Course.history.filter(id=course.pk).order_by("-history_id").first()
    assert (row.history_user, row.history_change_reason) == (coordinator, "MRI: two liver lesions")
    assert "Recorded recurrence detected on 2026-11-02: surveillance → recurrence." in messages_of(
        response
    )


def test_an_unticked_box_records_false(as_coordinator, course):
    as_coordinator.post(record_url(course, "recurrence_detected"), form_data(course, site="bone"))

    assert course.events.get().data == {"site": "bone", "resectable": False}


def test_a_guard_failure_shows_its_reason_and_source_and_writes_nothing(
    as_coordinator, receptor_negative
):
    before = Snapshot.of(receptor_negative)

    response = as_coordinator.post(
        record_url(receptor_negative, "ssa_started"),
        form_data(receptor_negative, agent="lanreotide", dose_mg="120", interval_days="28"),
    )

    assert response.status_code == 422
    assert Snapshot.of(receptor_negative) == before
    text = response.content.decode()
    assert "Somatostatin-receptor imaging must be positive" in text
    assert "CLARINET" in text  # the source of the guard
    assert 'data-guard="ssa_requires_positive_sstr_imaging"' in text
    assert "Only a clinician may override this guard." in text
    assert any(m.startswith("Not recorded: Somatostatin-receptor") for m in messages_of(response))


def test_a_coordinator_cannot_override_by_posting_the_box_anyway(as_coordinator, receptor_negative):
    before = Snapshot.of(receptor_negative)

    response = as_coordinator.post(
        record_url(receptor_negative, "ssa_started"),
        form_data(receptor_negative, agent="lanreotide", dose_mg="120", interval_days="28",
                  override="on", override_reason="clinical judgement"),
    )  # fmt: skip

    assert response.status_code == 422
    assert Snapshot.of(receptor_negative) == before


def test_a_clinician_overrides_the_guard_with_a_written_reason(
    as_clinician, clinician, receptor_negative
):
    url = record_url(receptor_negative, "ssa_started")
    ssa = {"agent": "lanreotide", "dose_mg": "120", "interval_days": "28"}

    without_reason = as_clinician.post(url, form_data(receptor_negative, **ssa, override="on"))
    response = as_clinician.post(
        url,
        form_data(receptor_negative, **ssa, override="on",
                  override_reason="Ga-68 PET positive abroad"),
    )  # fmt: skip

    assert without_reason.status_code == 400
    assert "An override needs a written reason." in without_reason.content.decode()
    assert response.status_code == 302
    receptor_negative.refresh_from_db()
    assert receptor_negative.state == "ssa"
    event = receptor_negative.events.order_by("-seq").first()
    assert (event.actor, event.override, event.override_reason) == (
        clinician,
        True,
        "Ga-68 PET positive abroad",
    )
    assert [g["guard"] for g in event.overridden_guards] == ["ssa_requires_positive_sstr_imaging"]


def test_an_event_not_allowed_from_the_state_answers_409_with_the_reason(as_coordinator, course):
    before = Snapshot.of(course)

    page = as_coordinator.get(record_url(course, "resection_started"))
    response = as_coordinator.post(
        record_url(course, "resection_started"), form_data(course, procedure="hepatectomy")
    )

    assert 'id="not-allowed"' in page.content.decode()
    assert response.status_code == 409
    assert Snapshot.of(course) == before
    text = response.content.decode()
    assert machine.ADJUVANT_RULE.reason in text
    assert "recurrence_detected" in text  # what is allowed instead


def test_a_date_in_the_future_is_a_field_error(as_coordinator, course):
    before = Snapshot.of(course)

    response = as_coordinator.post(
        record_url(course, "recurrence_detected"),
        form_data(course, occurred_on="2026-12-24", site="liver"),
    )

    assert response.status_code == 400
    assert response.context["form"].errors["occurred_on"] == [
        "Events cannot be dated in the future."
    ]
    assert Snapshot.of(course) == before


def test_a_value_outside_the_events_choices_is_a_field_error(as_coordinator, course):
    response = as_coordinator.post(
        record_url(course, "recurrence_detected"), form_data(course, site="spleen")
    )

    assert response.status_code == 400
    assert "data_site" in response.context["form"].errors
    assert course.events.count() == 0


def test_a_form_opened_before_another_event_was_recorded_is_refused(
    as_coordinator, clinician, course
):
    stale = form_data(course, site="liver", resectable="on")
    factories.advance(course, clinician, ("symptoms_reported", {}), on=dt.date(2026, 11, 1))

    response = as_coordinator.post(record_url(course, "recurrence_detected"), stale)

    assert response.status_code == 409
    assert course.events.count() == 1
    assert any("Another event was recorded" in m for m in messages_of(response))
    # The form comes back with the current version, ready to submit after a look.
    assert response.context["form"]["expected_version"].value() == "2"


def test_an_unknown_event_type_answers_404(as_coordinator, course):
    assert as_coordinator.get(record_url(course, "teleported")).status_code == 404


def test_long_reasons_are_written_whole_to_the_history(as_clinician, receptor_negative):
    reason, override_reason = "tumour board " * 40, "patient declined alternatives " * 10
    response = as_clinician.post(
        record_url(receptor_negative, "ssa_started"),
        form_data(receptor_negative, agent="lanreotide", dose_mg="120", interval_days="28",
                  reason=reason, override="on", override_reason=override_reason),
    )  # fmt: skip

    assert response.status_code == 302
    row = Course.history.filter(id=receptor_negative.pk).order_by("-history_id").first()
    assert reason.strip() in row.history_change_reason
    assert override_reason.strip() in row.history_change_reason


@pytest.mark.parametrize("event_type", [str(e) for e in machine.EventType])
@pytest.mark.parametrize("may_override", [False, True])
def test_every_event_field_has_a_form_field(event_type, may_override):
    form = event_form_class(event_type, may_override=may_override)()

    expected = {DATA_PREFIX + f.name for f in payloads.event_fields(event_type)}
    data_fields = {name for name in form.fields if name.startswith(DATA_PREFIX)}
    assert data_fields == expected
    assert ("override" in form.fields) is may_override
