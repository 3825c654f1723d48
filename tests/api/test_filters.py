"""List filters: one FilterSet per list, one way of reading a value, one documented 400.

Each kind of filter is tried over every list that declares one, read from the FilterSets
themselves, so a filter added later is tried too.
"""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts import services as alert_services
from alerts.models import CoordinatorAlert, Reminder
from api import filters
from api.params import MAX_ID
from tests import factories
from tests.alerts.conftest import NOON, TODAY, plan_items

pytestmark = pytest.mark.django_db

LISTS = {
    "/api/v1/courses/": filters.CourseFilter,
    "/api/v1/imaging-studies/": filters.ResultFilter,
    "/api/v1/lab-results/": filters.ResultFilter,
    "/api/v1/symptom-checks/": filters.ResultFilter,
    "/api/v1/reminders/": filters.ReminderFilter,
    "/api/v1/alerts/": filters.AlertFilter,
}
PAGING = {"cursor", "page_size"}


def declared(kind: type) -> list[tuple[str, str, filters.QueryFilter]]:
    """(path, parameter, filter) for every filter of class `kind` over every list."""
    return [
        (path, name, spec)
        for path, filterset in LISTS.items()
        for name, spec in filterset.base_filters.items()
        if isinstance(spec, kind)
    ]


ID_FILTERS = [(path, name) for path, name, _ in declared(filters.IdFilter)]
CHOICE_FILTERS = [(path, name, spec.choices) for path, name, spec in declared(filters.ChoiceFilter)]
# Text that str.isdigit(), int() or float() reads as a number in some form, none an id.
NOT_IDS = ("²", "٣", "１", " 1", "1 ", "+1", "-1", "0", "1e3", "1.0", "0x1", "1_000", "",
           str(MAX_ID + 1), "9" * 40)  # fmt: skip


@pytest.fixture
def staff(api, coordinator):
    return api(coordinator)


def refused(response, name: str) -> list[str]:
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == "invalid_filter", body
    assert set(body["errors"]) == {name}, body
    return body["errors"][name]


def test_every_list_is_known_here_with_its_filters(staff):
    schema = staff.get("/api/schema/", {"format": "json"}).json()
    lists = {
        path: {p["name"] for p in ops["get"].get("parameters", []) if p["in"] == "query"}
        for path, ops in schema["paths"].items()
        if "get" in ops
        and "cursor" in {p["name"] for p in ops["get"].get("parameters", [])}
        and "{" not in path
        and path != "/api/v1/patients/"  # no filter: the list of one's patients
    }

    assert {path: names - PAGING for path, names in lists.items()} == {
        path: set(filterset.base_filters) for path, filterset in LISTS.items()
    }


def test_the_lists_declare_id_choice_and_course_filters_where_expected():
    assert ("/api/v1/alerts/", "course") in ID_FILTERS
    assert ("/api/v1/reminders/", "course") in ID_FILTERS
    assert ("/api/v1/courses/", "care_team") in ID_FILTERS
    assert {(path, name) for path, name, _ in CHOICE_FILTERS} >= {
        ("/api/v1/courses/", "state"), ("/api/v1/reminders/", "status"),
        ("/api/v1/reminders/", "kind"), ("/api/v1/alerts/", "status"),
        ("/api/v1/alerts/", "severity"),
    }  # fmt: skip


@pytest.mark.parametrize(("path", "name"), ID_FILTERS)
def test_every_id_filter_refuses_what_is_not_an_ascii_id_by_name(staff, course, path, name):
    for value in NOT_IDS:
        messages = refused(staff.get(path, {name: value}), name)

        assert messages == ["Enter an id: a whole number from 1, digits 0-9 only."], value


@pytest.mark.parametrize(("path", "name"), ID_FILTERS)
def test_every_id_filter_reads_ids_from_one_to_the_largest_bigint(staff, course, path, name):
    for value in ("1", "007", str(course.pk), str(MAX_ID)):
        assert staff.get(path, {name: value}).status_code == 200, value


@pytest.mark.parametrize(("path", "name", "choices"), CHOICE_FILTERS)
def test_every_choice_filter_refuses_an_unknown_value_and_accepts_each_choice(
    staff, course, path, name, choices
):
    for value in ("bogus", "", choices[0].upper(), f" {choices[0]}", choices[0] + "x"):
        messages = refused(staff.get(path, {name: value}), name)

        assert messages == [f"Must be one of: {', '.join(choices)}."], value
    for value in choices:
        assert staff.get(path, {name: value}).status_code == 200, value


def test_every_refused_parameter_is_named_at_once(staff):
    response = staff.get("/api/v1/alerts/", {"course": "²", "status": "gone", "kind": "k"})

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"course", "status"}


@pytest.mark.parametrize(
    ("params", "name"),
    [({"overdue": "maybe"}, "overdue"), ({"overdue": ""}, "overdue"),
     ({"due_before": "2026-02-30"}, "due_before"), ({"due_before": "20260101"}, "due_before"),
     ({"due_before": "2026-W01-1"}, "due_before"), ({"due_before": ""}, "due_before")],
)  # fmt: skip
def test_course_boolean_and_date_filters_refuse_other_forms(staff, params, name):
    refused(staff.get("/api/v1/courses/", params), name)


def test_an_alert_kind_longer_than_any_kind_is_refused(staff):
    refused(staff.get("/api/v1/alerts/", {"kind": "k" * 41}), "kind")
    assert staff.get("/api/v1/alerts/", {"kind": "k" * 40}).status_code == 200


@pytest.fixture
def two_courses(course, neighbour_course, clinician, django_capture_on_commit_callbacks):
    """Two courses of team A, each with a decision pending and this summer's reminders."""
    with django_capture_on_commit_callbacks(execute=True):
        for each in (course, neighbour_course):
            factories.advance(each, clinician,
                              ("recurrence_detected", {"site": "liver", "resectable": True}),
                              on=dt.date(2026, 8, 1))  # fmt: skip
            plan_items(each, imaging=TODAY, visit=TODAY)
    alert_services.sweep(today=TODAY, now=NOON)
    return course, neighbour_course


@pytest.mark.parametrize(("path", "model"), [("/api/v1/alerts/", CoordinatorAlert),
                                             ("/api/v1/reminders/", Reminder)])  # fmt: skip
def test_course_narrows_alerts_and_reminders_to_that_course(staff, two_courses, path, model):
    for each in two_courses:
        rows = staff.get(path, {"course": each.pk, "page_size": 200}).json()["results"]

        assert rows, path
        assert {row["course"] for row in rows} == {each.pk}
        assert len(rows) == model.objects.filter(course=each).count()


def test_another_teams_course_in_a_filter_finds_nothing(staff, course_b):
    for path, name in ID_FILTERS:
        value = course_b.care_team_id if name == "care_team" else course_b.pk
        response = staff.get(path, {name: value})

        assert (response.status_code, response.json()["results"]) == (200, []), path


def test_the_alert_status_filter_follows_acknowledgement(staff, two_courses):
    first = CoordinatorAlert.objects.filter(course=two_courses[0]).get()
    staff.post(f"/api/v1/alerts/{first.pk}/acknowledge/")

    def ids(status: str) -> set[int]:
        return {a["id"] for a in staff.get("/api/v1/alerts/", {"status": status}).json()["results"]}

    assert first.pk in ids("acknowledged")
    assert first.pk not in ids("open")
    assert ids("open") == set(
        CoordinatorAlert.objects.filter(acknowledged_at=None, resolved_at=None).values_list(
            "id", flat=True
        )
    )


@pytest.mark.parametrize(
    ("path", "params"),
    [("/api/v1/courses/", {"state": "recurrence", "care_team": "1", "overdue": "true",
                           "due_before": "2027-01-01"}),
     ("/api/v1/alerts/", {"course": "1", "status": "open", "severity": "high", "kind": "k"}),
     ("/api/v1/reminders/", {"course": "1", "status": "pending", "kind": "imaging_due"}),
     ("/api/v1/lab-results/", {"course": "1"})],
)  # fmt: skip
def test_filters_add_no_query(staff, two_courses, django_assert_max_num_queries, path, params):
    with CaptureQueriesContext(connection) as plain:
        assert staff.get(path).status_code == 200
    with django_assert_max_num_queries(len(plain)):
        assert staff.get(path, params).status_code == 200


def test_the_schema_documents_each_choice_and_the_refusal(staff):
    schema = staff.get("/api/schema/", {"format": "json"}).json()

    for path, name, choices in CHOICE_FILTERS:
        (param,) = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name]
        assert sorted(param["schema"]["enum"]) == sorted(choices), (path, name)
        assert "invalid_filter" in param["description"], (path, name)
