"""The admin as a coordinator of team A uses it: scoped lists, read-only state, history.

The coordinator's access comes from the group permissions of migration 0003, not from a
superuser flag, so these tests also check that the staff groups can use the admin at all.
"""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from django.urls import reverse

from tests import factories
from tests.treatments.support import PATHS, walk
from treatments.models import Course, Patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


@pytest.fixture
def ours(clinician, team_a) -> Course:
    """Team A's course, moved to ssa by the clinician with a reason."""
    course = factories.register(
        clinician, team_a, patient=factories.patient_data(mrn="OURS-1", family_name="Alvesson")
    )
    return walk(course, clinician, PATHS["ssa"])


@pytest.fixture
def theirs(coordinator2, team_b) -> Course:
    """Team B's course: team A must not learn that it exists."""
    return factories.register(
        coordinator2,
        team_b,
        patient=factories.patient_data(mrn="THEIRS-9", family_name="Okonkwo", given_name="Ife"),
    )


@pytest.fixture
def admin_client_a(client, coordinator):
    client.force_login(coordinator, backend=MODEL_BACKEND)
    return client


def url(name: str, *args) -> str:
    return reverse(f"admin:treatments_{name}", args=args)


def assert_hidden(response, course: Course) -> None:
    """The page is not a page about `course`, and names none of its patient's details."""
    text = response.content.decode()
    assert course.patient.family_name not in text
    assert course.patient.mrn not in text


class FormFields(HTMLParser):
    """The submittable fields of one <form id=...>, as a browser would post them."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: dict[str, str] = {}
        self.names: set[str] = set()
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs) -> None:
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        name = a.get("name")
        if tag == "input" and name:
            self.names.add(name)
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields[name] = a.get("value") or "on"
            elif kind not in ("submit", "button", "file"):
                self.fields[name] = a.get("value") or ""
        elif tag == "select" and name:
            self.names.add(name)
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value") or ""
        elif tag == "textarea" and name:
            self.names.add(name)
            self._textarea = name
            self.fields[name] = ""

    def handle_endtag(self, tag) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def form_of(response, form_id: str) -> FormFields:
    parser = FormFields(form_id)
    parser.feed(response.content.decode())
    assert parser.names, f"no form #{form_id} on the page"
    return parser


# --- Lists and pages are scoped to the coordinator's teams -----------------------------------


def test_the_course_list_shows_only_the_teams_courses(admin_client_a, ours, theirs):
    response = admin_client_a.get(url("course_changelist"))

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [ours]
    text = response.content.decode()
    assert ours.patient.mrn in text
    assert_hidden(response, theirs)
    # The team filter offers only the teams the coordinator belongs to.
    assert "Team B" not in text


def test_another_teams_course_page_does_not_show_it(admin_client_a, ours, theirs):
    response = admin_client_a.get(url("course_change", theirs.pk), follow=True)

    assert response.redirect_chain or response.status_code == 404
    assert response.status_code in (200, 404)
    assert_hidden(response, theirs)
    assert "course_form" not in response.content.decode()


@pytest.mark.parametrize("page", ["history", "history-version"])
def test_another_teams_course_history_answers_404(admin_client_a, theirs, page):
    if page == "history":
        target = url("course_history", theirs.pk)
    else:
        version = theirs.history.get().history_id
        target = url("course_simple_history", theirs.pk, version)

    response = admin_client_a.get(target)

    assert response.status_code == 404
    assert_hidden(response, theirs)


def test_a_history_page_for_an_id_that_is_not_one_answers_404(admin_client_a, ours):
    assert admin_client_a.get(url("course_history", ours.pk)).status_code == 200

    response = admin_client_a.get(url("course_history", "not-a-number"))

    assert response.status_code == 404


def test_the_coordinator_of_team_b_sees_team_bs_course_and_not_ours(
    client, coordinator2, ours, theirs
):
    client.force_login(coordinator2, backend=MODEL_BACKEND)

    response = client.get(url("course_changelist"))

    assert list(response.context["cl"].result_list) == [theirs]
    assert_hidden(response, ours)


@pytest.mark.parametrize(
    "page", ["course_change", "patient_change", "diagnosis_change", "surgery_change"]
)
def test_our_change_forms_name_no_patient_of_another_team(admin_client_a, ours, theirs, page):
    target = {
        "course_change": ours.pk,
        "patient_change": ours.patient_id,
        "diagnosis_change": ours.diagnosis_id,
        "surgery_change": ours.surgery_id,
    }[page]

    response = admin_client_a.get(url(page, target))

    assert response.status_code == 200
    assert ours.patient.family_name in response.content.decode()
    assert_hidden(response, theirs)


# --- The course's state moves only through record_event --------------------------------------


def test_the_course_page_renders_no_form_of_the_course_and_shows_the_state_read_only(
    admin_client_a, ours
):
    response = admin_client_a.get(url("course_change", ours.pk))

    assert response.status_code == 200
    parser = FormFields("course_form")
    parser.feed(response.content.decode())
    assert parser.names == set()  # no form to submit: events change a course
    assert 'id="course_form"' not in response.content.decode()
    assert '<span id="current-state">ssa</span>' in response.content.decode()  # shown, read-only


def test_posting_a_state_to_the_course_page_changes_nothing(admin_client_a, ours):
    before = Course.objects.values("state", "version", "current_line_id").get(pk=ours.pk)

    response = admin_client_a.post(
        url("course_change", ours.pk),
        {
            "state": "closed",
            "version": "99",
            "patient": ours.patient_id,
            "care_team": ours.care_team_id,
            "opened_on": ours.opened_on.isoformat(),
            "_save": "Save",
        },
    )

    assert response.status_code == 403  # a course changes only through its events
    after = Course.objects.values("state", "version", "current_line_id").get(pk=ours.pk)
    assert after == before


def test_an_old_version_of_the_course_cannot_be_restored_from_its_history(admin_client_a, ours):
    first = ours.history.order_by("history_id").first()
    assert first.state == "surveillance"
    target = url("course_simple_history", ours.pk, first.history_id)
    assert admin_client_a.get(target).status_code == 200

    response = admin_client_a.post(target, {"opened_on": ours.opened_on.isoformat()})

    ours.refresh_from_db()
    assert (ours.state, ours.version) == ("ssa", 3)
    assert response.status_code == 403


# --- History ---------------------------------------------------------------------------------


def test_the_course_history_page_shows_who_changed_it_and_why(admin_client_a, ours):
    response = admin_client_a.get(url("course_history", ours.pk))

    assert response.status_code == 200
    text = response.content.decode()
    # The clinician registered the course and recorded both events (support.walk reasons).
    assert "clinician" in text
    assert "path step 1" in text
    assert "path step 2" in text


def test_a_change_in_the_admin_writes_a_history_row_with_the_actor_and_a_reason(
    admin_client_a, coordinator, ours
):
    target = url("patient_change", ours.patient_id)
    form = form_of(admin_client_a.get(target), "patient_form")
    before = ours.patient.history.count()

    response = admin_client_a.post(
        target, {**form.fields, "phone": "+447700900999", "_save": "Save"}
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    patient = Patient.objects.get(pk=ours.patient_id)
    assert patient.phone == "+447700900999"
    assert patient.care_team_id == ours.care_team_id
    assert patient.history.count() == before + 1
    row = patient.history.order_by("-history_id").first()
    assert row.history_user == coordinator
    assert "phone" in row.history_change_reason


@pytest.mark.parametrize(
    ("model", "changes"),
    [
        ("diagnosis", {"sstr_imaging": "negative", "t": "T1", "ki67_percent": "30"}),
        ("surgery", {"margin": "R1", "nodes_examined": "2", "performed_on": "2026-01-01"}),
    ],
)
def test_a_diagnosis_or_a_surgery_is_read_only_in_the_admin(admin_client_a, ours, model, changes):
    # Stage, grade and the risk group (hence the plan) are computed from these by the
    # registration service: an edit here would change the facts without re-staging.
    obj = getattr(ours, model)
    target = url(f"{model}_change", obj.pk)
    page = admin_client_a.get(target)
    before = type(obj).objects.filter(pk=obj.pk).values().get()
    rows = obj.history.count()

    response = admin_client_a.post(target, {**changes, "_save": "Save"})

    assert page.status_code == 200
    assert not set(changes) & form_of(page, f"{model}_form").names
    assert response.status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).values().get() == before
    assert obj.history.count() == rows


def test_the_admin_refuses_a_phone_number_not_in_e164(admin_client_a, ours):
    target = url("patient_change", ours.patient_id)
    form = form_of(admin_client_a.get(target), "patient_form")
    before = ours.patient.history.count()

    response = admin_client_a.post(target, {**form.fields, "phone": "07700 900999"})

    assert response.status_code == 200  # the form again, with its error
    assert "E.164" in response.content.decode()
    assert Patient.objects.get(pk=ours.patient_id).phone == ours.patient.phone
    assert ours.patient.history.count() == before


def test_the_event_log_is_read_only_in_the_admin(admin_client_a, ours):
    event = ours.events.get(seq=1)

    page = admin_client_a.get(reverse("admin:treatments_courseevent_change", args=[event.pk]))
    response = admin_client_a.post(
        reverse("admin:treatments_courseevent_change", args=[event.pk]), {"reason": "rewritten"}
    )

    assert page.status_code == 200
    assert "path step 1" in page.content.decode()
    assert response.status_code == 403
    event.refresh_from_db()
    assert event.reason == "path step 1"
