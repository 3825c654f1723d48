"""Exports of the worklist and the lists: what the user sees, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.urls import reverse

from alerts.models import CoordinatorAlert
from api.models import ReadAccess
from core import exports
from tests import factories
from tests.admin.conftest import NOW, TODAY
from tests.admin.support import Morning, months_ago, register_operated_on, run_beat

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today", "recording")]

# Names a spreadsheet would run as formulas if written as they are (OWASP, "CSV Injection").
HOSTILE = ('=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1:A2)")
COURSES = "admin:treatments_course_export"
ALERTS = "admin:alerts_coordinatoralert_export"
WORKLIST = "admin:worklist_export"


@pytest.fixture
def hostile(clinician, team_a, django_capture_on_commit_callbacks) -> list:
    """Team A's patients named like formulas, each with imaging overdue (and an alert)."""
    courses = []
    with django_capture_on_commit_callbacks(execute=True):
        for n, name in enumerate(HOSTILE):
            courses.append(
                register_operated_on(
                    clinician,
                    team_a,
                    months_ago(TODAY, 8),
                    mrn=f"EVIL-{n}",
                    family_name=name,
                    given_name=name,
                )
            )
        run_beat(Morning(*courses[:4], courses[0]), today=TODAY, now=NOW)
    return courses


def csv_rows(response) -> list[dict[str, str]]:
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def xlsx_cells(response) -> list[list[openpyxl.cell.Cell]]:
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    return [list(row) for row in sheet.iter_rows()]


# --- The pure writer ---------------------------------------------------------------------


@pytest.mark.parametrize("text", (*HOSTILE, "\tx", "\rx"))
def test_the_writer_turns_a_formula_into_text_with_a_leading_apostrophe(text):
    assert exports.safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", [-2, 3.5, 0, True])
def test_the_writer_leaves_numbers_as_numbers(value):
    data = exports.dataset(["n"], [[value]])

    sheet = openpyxl.load_workbook(io.BytesIO(exports.render(data, "xlsx"))).active

    assert sheet["A2"].value == value and sheet["A2"].data_type in ("n", "b")


def test_the_writer_refuses_a_format_it_does_not_write():
    with pytest.raises(exports.UnknownFormat):
        exports.render(exports.dataset(["a"], [["b"]]), "pdf")


# --- The course list ---------------------------------------------------------------------


def test_the_course_export_escapes_formula_names_in_csv(as_coordinator, hostile):
    response = as_coordinator.get(reverse(COURSES, args=["csv"]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="courses-')
    names = {row["family name"] for row in csv_rows(response)}
    assert names == {"'" + name for name in HOSTILE}


def test_the_course_export_escapes_formula_names_in_excel(as_coordinator, hostile):
    response = as_coordinator.get(reverse(COURSES, args=["xlsx"]))

    assert response["Content-Disposition"].endswith('.xlsx"')
    header, *rows = xlsx_cells(response)
    column = [cell.value for cell in header].index("family name")
    cells = [row[column] for row in rows]
    assert {cell.value for cell in cells} == {"'" + name for name in HOSTILE}
    assert all(cell.data_type == "s" for cell in cells)  # text, never a formula ("f")
    ids = [row[0] for row in rows]
    assert all(cell.data_type == "n" for cell in ids)  # numbers stay numbers


def test_the_course_export_holds_only_the_users_teams_and_logs_one_read_per_patient(
    as_coordinator, coordinator, morning
):
    response = as_coordinator.get(reverse(COURSES, args=["csv"]))

    mrns = {row["MRN"] for row in csv_rows(response)}
    ours = {morning.gap, morning.late, morning.soon, morning.recurrence, morning.progression}
    assert mrns == {course.patient.mrn for course in ours}
    logged = set(
        ReadAccess.objects.filter(
            actor=coordinator, endpoint=response.request["PATH_INFO"]
        ).values_list("patient_id", flat=True)
    )
    assert logged == {course.patient_id for course in ours}
    assert ReadAccess.objects.filter(actor=coordinator).count() == len(ours)


def test_the_course_export_keeps_the_lists_filters_and_search(as_coordinator, morning):
    by_state = as_coordinator.get(reverse(COURSES, args=["csv"]), {"state__exact": "recurrence"})
    searched = as_coordinator.get(reverse(COURSES, args=["csv"]), {"q": "A-LATE"})

    assert [row["MRN"] for row in csv_rows(by_state)] == [morning.recurrence.patient.mrn]
    assert [row["MRN"] for row in csv_rows(searched)] == [morning.late.patient.mrn]


def test_the_course_list_links_to_its_export_with_its_filters(as_coordinator, morning):
    text = as_coordinator.get(
        reverse("admin:treatments_course_changelist"), {"state__exact": "recurrence"}
    ).content.decode()

    assert f'href="{reverse(COURSES, args=["csv"])}?state__exact=recurrence"' in text
    assert f'href="{reverse(COURSES, args=["xlsx"])}?state__exact=recurrence"' in text


@pytest.mark.parametrize(
    ("fmt", "params", "code"),
    [("pdf", {}, "invalid_format"), ("csv", {"state__exact": "nonsense", "bogus": "1"}, None)],
)
def test_a_bad_export_request_is_a_clear_400(as_coordinator, morning, fmt, params, code):
    response = as_coordinator.get(reverse(COURSES, args=[fmt]), params)

    assert response.status_code == 400
    assert response.json()["code"] == (code or "invalid_filter")
    assert not ReadAccess.objects.exists()


def test_an_export_whose_read_cannot_be_logged_is_refused(as_coordinator, morning, monkeypatch):
    from django.db import DatabaseError

    def refuse(*args, **kwargs):
        raise DatabaseError("could not extend file: No space left on device")

    monkeypatch.setattr("api.readlog._insert_rows", refuse)

    for url in (
        reverse(COURSES, args=["csv"]),
        reverse(ALERTS, args=["xlsx"]),
        reverse(WORKLIST, args=["csv"]),
    ):
        response = as_coordinator.get(url)

        assert response.status_code == 503, url
        assert morning.gap.patient.mrn not in response.content.decode(errors="replace"), url


def test_an_export_is_a_read_a_post_is_refused(as_coordinator, morning):
    assert as_coordinator.post(reverse(COURSES, args=["csv"])).status_code == 405
    assert as_coordinator.post(reverse(WORKLIST, args=["csv"])).status_code == 405


# --- The alert list ----------------------------------------------------------------------


def test_the_alert_export_keeps_the_severity_filter_and_the_team(as_coordinator, morning):
    response = as_coordinator.get(reverse(ALERTS, args=["csv"]), {"severity__exact": "critical"})

    rows = csv_rows(response)
    expected = CoordinatorAlert.objects.filter(
        severity="critical", course__care_team=morning.gap.care_team
    )
    assert sorted(int(row["ID"]) for row in rows) == sorted(a.pk for a in expected)
    assert {row["MRN"] for row in rows} == {morning.gap.patient.mrn}


def test_the_alert_export_escapes_formula_names(as_coordinator, hostile):
    response = as_coordinator.get(reverse(ALERTS, args=["xlsx"]))

    header, *rows = xlsx_cells(response)
    column = [cell.value for cell in header].index("family name")
    assert rows
    assert {row[column].value for row in rows} <= {"'" + name for name in HOSTILE}
    assert all(row[column].data_type == "s" for row in rows)


# --- The worklist ------------------------------------------------------------------------


def test_the_worklist_export_keeps_its_filters_and_its_team(as_coordinator, coordinator, morning):
    response = as_coordinator.get(reverse(WORKLIST, args=["csv"]), {"kind": "imaging"})

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="worklist-')
    rows = csv_rows(response)
    items = [row for row in rows if row["section"] in ("overdue", "due this week")]
    assert {row["kind"] for row in items} == {"imaging"}
    assert {
        (row["patient MRN"], row["severity"]) for row in items if row["section"] == "overdue"
    } == {
        (morning.gap.patient.mrn, "critical"),
        (morning.late.patient.mrn, "high"),
    }
    theirs = {course.patient.mrn for course in morning.theirs}
    assert not theirs & {row["patient MRN"] for row in rows}
    logged = set(ReadAccess.objects.filter(actor=coordinator).values_list("patient_id", flat=True))
    assert logged == {
        course.patient_id
        for course in (
            morning.gap,
            morning.late,
            morning.soon,
            morning.recurrence,
            morning.progression,
        )
        if course.patient.mrn in {row["patient MRN"] for row in rows}
    }


def test_the_worklist_export_escapes_formula_names(as_coordinator, hostile):
    response = as_coordinator.get(reverse(WORKLIST, args=["xlsx"]))

    header, *rows = xlsx_cells(response)
    column = [cell.value for cell in header].index("family name")
    assert {row[column].value for row in rows} == {"'" + name for name in HOSTILE}
    assert all(row[column].data_type == "s" for row in rows)


def test_the_worklist_links_to_its_export_with_its_filters(as_coordinator, morning):
    text = as_coordinator.get(reverse("admin:index"), {"severity": "critical"}).content.decode()

    assert f'href="{reverse(WORKLIST, args=["csv"])}?severity=critical"' in text


def test_the_worklist_export_refuses_an_unknown_filter_value(as_coordinator, morning):
    response = as_coordinator.get(reverse(WORKLIST, args=["csv"]), {"kind": "x-ray"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_filter"
    assert "kind" in response.json()["errors"]


def test_a_user_without_a_clinical_role_gets_no_worklist_export(team_a, morning):
    from tests.admin.conftest import logged_in

    staff = factories.user("it-support", None, team_a, is_staff=True)

    response = logged_in(staff).get(reverse(WORKLIST, args=["csv"]))

    assert response.status_code == 403


def _team_courses_with_alerts(clinician, coordinator, team_a, count: int) -> None:
    from alerts.services import alert_raise

    for _ in range(count):
        course = factories.register(clinician, team_a)
        alert = alert_raise(course=course, kind="decision_pending", severity="high", now=NOW)
        alert.acknowledged_by = coordinator  # a related user the alert export names
        alert.save()


@pytest.mark.parametrize("export", [COURSES, ALERTS])
def test_an_export_reads_a_constant_number_of_queries_whatever_its_rows(
    as_coordinator, clinician, coordinator, team_a, export
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from treatments.models import Course

    counts = []
    for more in (2, 10):
        _team_courses_with_alerts(clinician, coordinator, team_a, more)
        with CaptureQueriesContext(connection) as queries:
            response = as_coordinator.get(reverse(export, args=["csv"]))
        assert response.status_code == 200
        model = Course if export == COURSES else CoordinatorAlert
        assert len(csv_rows(response)) == model.objects.count()  # one team: all rows are its
        counts.append(len(queries))

    assert counts[0] == counts[1], counts
