"""Attacks on the exports, the worklist filters and the course charts.

Each test is one attempt an outsider, a careless partner system or a hostile patient could
make: formula cells in every text column and in every disguise, characters a spreadsheet or
an SVG cannot hold, another team's ids in the filters, malformed ids, and labels written to
break the chart's text. What each must answer is what docs/api.md and docs/architecture.md
promise: a file whose cells are text, a 4xx with a ``code``, or a 404, and never a 500.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import xml.etree.ElementTree as ET

import openpyxl
import pytest
from django.test import Client
from django.urls import reverse

from api.middleware import UNSTORABLE_MESSAGE
from api.models import ReadAccess
from coordinator import charts
from core import exports
from surveillance import schedule
from tests import factories
from tests.admin.conftest import logged_in
from treatments import admin as treatments_admin
from treatments import services as treatment_services
from treatments.models import Course, Patient

pytestmark = pytest.mark.django_db

COURSES = "admin:treatments_course_export"
PATIENTS = "admin:treatments_patient_export"
ALERTS = "admin:alerts_coordinatoralert_export"
EVENTS = "admin:treatments_courseevent_export"
WORKLIST = "admin:worklist_export"

# A formula in every disguise a spreadsheet program still runs (OWASP "CSV Injection"; ASVS
# 5.0 1.2.10 adds the NUL character): the plain triggers, the same after leading blanks or
# an opening quote, after a line break, and their full-width forms.
DISGUISED = (
    "=1+1",
    "+1",
    "-1+1",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "\x00=1+1",
    " =1+1",
    "\u00a0=1+1",
    "\u3000=1+1",
    '"=1+1',
    "'=1+1",
    ' "=1+1',
    "＝1+1",
    "＋1",
    "－1",
    "＠SUM(A1)",
)
# Characters an Excel file (XML 1.0) cannot hold, which a name typed or pasted may carry.
UNWRITABLE = ("Ana\x0bMaria", "Silva\x0c", "\x1bDo", "Do\x01e", "x\x7f\x08")


def csv_table(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def xlsx_table(content: bytes) -> list[list[openpyxl.cell.Cell]]:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    return [list(row) for row in sheet.iter_rows()]


def runs_as_formula(text: str) -> bool:
    """Whether a spreadsheet could read this cell text as a formula: its first character
    after blanks and an opening double quote is a trigger (plain or full width); a leading
    apostrophe makes the whole cell text."""
    if text.startswith("'"):
        return False
    stripped = text.lstrip(' \t\r\n\x00\u00a0\u3000\ufffd"')
    return text.startswith(tuple("=+-@\t\r\n\x00")) or stripped.startswith(tuple("=+-@＝＋－＠"))


def assert_refused_filter(response, params: dict[str, str]) -> None:
    """A refused export: the export's ``invalid_filter`` body, or for a NUL the site-wide
    plain 400 that answers before any view reads the query (api.middleware)."""
    if any("\x00" in value for value in params.values()):
        assert response.content.decode() == UNSTORABLE_MESSAGE
        return
    assert response.json()["code"] == "invalid_filter", response.content[:200]


# --- the writer itself --------------------------------------------------------------------


@pytest.mark.parametrize("text", DISGUISED)
def test_a_disguised_formula_is_written_as_text_in_csv_and_excel(text):
    data = exports.dataset(["name"], [[text]])

    csv_cell = csv_table(exports.render(data, "csv"))[1][0]
    xlsx_cell = xlsx_table(exports.render(data, "xlsx"))[1][0]

    assert csv_cell.startswith("'"), repr(csv_cell)
    assert xlsx_cell.value.startswith("'") and xlsx_cell.data_type == "s", repr(xlsx_cell.value)


@pytest.mark.parametrize("text", [*DISGUISED, *UNWRITABLE])
def test_a_cell_made_safe_stays_as_it_is_when_made_safe_again(text):
    once = exports.safe_cell(text)

    assert exports.safe_cell(once) == once


@pytest.mark.parametrize("text", ["Silva", "O'Brien", "Zoë 李", "5-HIAA", "a=b", "x"])
def test_text_that_starts_no_formula_is_left_as_it_is(text):
    data = exports.dataset(["name"], [[text]])

    assert csv_table(exports.render(data, "csv"))[1][0] == text
    assert xlsx_table(exports.render(data, "xlsx"))[1][0].value == text


def test_a_separator_of_another_locale_cannot_start_a_cell_in_the_middle_of_a_value():
    # A spreadsheet set to split on ";" (most of Europe) would otherwise read "x;=1+1" as
    # two cells, the second a formula: every CSV field is quoted, so no separator is bare.
    data = exports.dataset(["name", "mrn"], [["x;=1+1", "A1"]])

    text = exports.render(data, "csv").decode("utf-8-sig")

    assert text.splitlines()[1] == '"x;=1+1","A1"'
    read_with_semicolons = [c for row in csv.reader(io.StringIO(text), delimiter=";") for c in row]
    assert not any(runs_as_formula(cell) for cell in read_with_semicolons)


@pytest.mark.parametrize("text", UNWRITABLE)
def test_a_control_character_is_replaced_so_the_excel_file_can_be_written(text):
    data = exports.dataset(["name"], [[text]])

    xlsx_value = xlsx_table(exports.render(data, "xlsx"))[1][0].value
    csv_value = csv_table(exports.render(data, "csv"))[1][0]

    assert xlsx_value == csv_value  # both formats say the same
    assert "\ufffd" in xlsx_value
    assert xlsx_value.replace("\ufffd", "") == "".join(
        c for c in text if c.isprintable() or c in "\t\n\r"
    )


@pytest.mark.parametrize("text", ["x" * 40_000, "=" + "x" * 40_000, "x" * exports.MAX_CELL_CHARS])
def test_a_text_longer_than_an_excel_cell_is_cut_to_fit_in_both_formats(text):
    data = exports.dataset(["last error"], [[text]])

    xlsx_value = xlsx_table(exports.render(data, "xlsx"))[1][0].value
    csv_value = csv_table(exports.render(data, "csv"))[1][0]

    assert xlsx_value == csv_value
    assert len(xlsx_value) <= 32_767  # Excel's limit; past it Excel "repairs" the file
    if len(text) > 32_767:
        assert xlsx_value.endswith("…")
    else:
        assert xlsx_value == text
    assert not runs_as_formula(xlsx_value)


def test_a_lone_surrogate_is_replaced_not_a_crash():
    data = exports.dataset(["name"], [["Ana\ud800"]])

    assert csv_table(exports.render(data, "csv"))[1][0] == "Ana\ufffd"
    assert xlsx_table(exports.render(data, "xlsx"))[1][0].value == "Ana\ufffd"


# --- the admin's exports, end to end ------------------------------------------------------


@pytest.fixture
def hostile_team(clinician, team_a, coordinator2, team_b):
    """Team A renamed like a formula; one patient per disguise and per unwritable character,
    with formula MRNs, and team B's patient, whose name must never appear in A's exports."""
    team_a.name = '=HYPERLINK("http://x","team")'
    team_a.clinic = "@clinic"
    team_a.save()
    names = (*DISGUISED, *UNWRITABLE)
    courses = []
    for n, name in enumerate(names):
        stored = name.replace("\x00", "")  # PostgreSQL holds no NUL (the API refuses one)
        courses.append(
            factories.register(
                clinician, team_a, mrn=f"-{n}", family_name=stored, given_name=stored
            )
        )
    theirs = factories.register(coordinator2, team_b, mrn="B-SECRET", family_name="Theirs")
    return courses, theirs


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("name", [COURSES, PATIENTS, WORKLIST])
def test_no_exported_text_cell_can_run_as_a_formula(name, fmt, coordinator, hostile_team):
    response = logged_in(coordinator).get(reverse(name, args=[fmt]))

    assert response.status_code == 200, response.content[:300]
    if fmt == "csv":
        cells = [cell for row in csv_table(response.content) for cell in row]
    else:
        table = xlsx_table(response.content)
        assert all(cell.data_type != "f" for row in table for cell in row)
        cells = [cell.value for row in table for cell in row if isinstance(cell.value, str)]
    assert cells, "the export is empty"
    assert [c for c in cells if runs_as_formula(c)] == []
    assert "B-SECRET" not in str(cells) and "Theirs" not in str(cells)


@pytest.mark.parametrize(
    "params",
    [
        {"care_team__id__exact": "{b}"},
        {"care_team": "{b}"},
        {"patient__care_team__id__exact": "{b}"},
        {"id__exact": "{course_b}"},
        {"id": "{course_b}"},
        {"pk": "{course_b}"},
        {"q": "B-SECRET"},
        {"q": "Theirs"},
        {"patient__id__exact": "{patient_b}"},
    ],
)
def test_another_teams_ids_in_the_export_filters_export_none_of_its_rows(
    coordinator, hostile_team, team_b, params
):
    _ours, theirs = hostile_team
    values = {"b": team_b.pk, "course_b": theirs.pk, "patient_b": theirs.patient_id}
    query = {key: value.format(**values) for key, value in params.items()}

    for name in (COURSES, PATIENTS):
        response = logged_in(coordinator).get(reverse(name, args=["csv"]), query)

        assert response.status_code in (200, 400), (name, query, response.status_code)
        if response.status_code == 400:
            assert_refused_filter(response, query)
            continue
        text = response.content.decode("utf-8-sig")
        assert "B-SECRET" not in text and "Theirs" not in text, (name, query)
    assert not ReadAccess.objects.filter(patient=theirs.patient).exists()


@pytest.mark.parametrize(
    "params",
    [
        {"o": "99"},
        {"o": "-1.abc"},
        {"o": "1.1.1.1"},
        {"o": "²"},
        {"care_team__id__exact": "abc"},
        {"care_team__id__exact": "1.5"},
        {"care_team__id__exact": "²"},
        {"care_team__id__exact": "9" * 30},
        {"care_team__id__exact": "-1"},
        {"care_team__id__exact": "1\x00"},
        {"opened_on__gte": "not-a-date"},
        {"opened_on__year": "99999999999999999999"},
        {"opened_on__year": "9999"},
        {"opened_on__year": "0"},
        {"opened_on__year": "2026", "opened_on__month": "13"},
        {"q": "\x00"},
        {"q": "a" * 5000},
        {"p": "-1"},
        {"e": "1"},
        {"_to_field": "patient__password"},
    ],
)
def test_malformed_export_parameters_are_a_coded_400_or_a_file_never_a_500(
    coordinator, hostile_team, params
):
    response = logged_in(coordinator).get(reverse(COURSES, args=["csv"]), params)

    assert response.status_code in (200, 400), (params, response.status_code)
    if response.status_code == 400:
        assert_refused_filter(response, params)
    else:
        assert response["Content-Type"].startswith("text/csv")


@pytest.mark.parametrize("fmt", ["csv/", "CSV", "xlsx.", "xls", "..%2F", "%00"])
def test_an_unknown_format_is_a_coded_400_or_an_unknown_page(coordinator, hostile_team, fmt):
    for base in ("/admin/treatments/course/export/", "/admin/worklist/export/"):
        response = logged_in(coordinator).get(base + fmt + "/")

        assert response.status_code in (400, 404), (base, fmt, response.status_code)
        if response.status_code == 400:
            assert response.json()["code"] == "invalid_format"


def test_an_export_past_the_row_cap_is_refused_with_its_code(
    coordinator, hostile_team, monkeypatch
):
    monkeypatch.setattr(treatments_admin, "EXPORT_MAX_ROWS", 3)

    response = logged_in(coordinator).get(reverse(COURSES, args=["xlsx"]))

    assert response.status_code == 400
    assert response.json()["code"] == "export_too_large"
    assert not ReadAccess.objects.exists()


def test_an_anonymous_export_is_the_login_page_not_a_file(hostile_team):
    for url in (reverse(COURSES, args=["csv"]), reverse(WORKLIST, args=["xlsx"])):
        response = Client().get(url)

        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url
        assert "Content-Disposition" not in response


def test_staff_of_no_team_export_nothing(team_a, hostile_team):
    loner = factories.user("loner", "coordinator", is_staff=True)

    for name in (COURSES, PATIENTS, ALERTS, EVENTS):
        response = logged_in(loner).get(reverse(name, args=["csv"]))

        assert response.status_code in (200, 403), name
        if response.status_code == 200:
            assert csv_table(response.content)[1:] == [], name
    worklist = logged_in(loner).get(reverse(WORKLIST, args=["csv"]))
    assert csv_table(worklist.content)[1:] == []
    assert not ReadAccess.objects.exists()


def test_a_user_without_a_clinical_role_may_not_export(team_a, hostile_team):
    partner = factories.user("feed", "integration", team_a, is_staff=True)

    for name in (COURSES, PATIENTS, WORKLIST):
        response = logged_in(partner).get(reverse(name, args=["csv"]))

        assert response.status_code in (403, 302), (name, response.status_code)
        assert "Content-Disposition" not in response
    assert not ReadAccess.objects.exists()


def test_a_get_export_changes_nothing_but_the_read_log(coordinator, hostile_team):
    before = [(c.pk, c.state, c.version) for c in Course.objects.order_by("pk")]
    patients = list(Patient.objects.order_by("pk").values())

    for name in (COURSES, PATIENTS, WORKLIST):
        for fmt in exports.FORMATS:
            assert logged_in(coordinator).get(reverse(name, args=[fmt])).status_code == 200

    assert [(c.pk, c.state, c.version) for c in Course.objects.order_by("pk")] == before
    assert list(Patient.objects.order_by("pk").values()) == patients
    assert ReadAccess.objects.filter(actor=coordinator).exists()


# --- the worklist's filters ---------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "care_team={b}",
        "care_team=abc",
        "care_team=1.5",
        "care_team=%C2%B2",
        f"care_team={'9' * 30}",
        "care_team=-1",
        "care_team=%ED%A0%80",
        "kind=bogus",
        "kind=IMAGING",
        "severity=bogus",
        "severity=CRITICAL",
    ],
)
def test_an_unknown_worklist_filter_is_a_coded_400_with_no_rows(
    coordinator, hostile_team, team_b, query
):
    query = query.format(b=team_b.pk)
    page = logged_in(coordinator).get(f"/admin/?{query}")
    export = logged_in(coordinator).get(f"{reverse(WORKLIST, args=['csv'])}?{query}")

    assert page.status_code == 400, query
    assert page.context["worklist"] is None
    assert export.status_code == 400, query
    assert export.json()["code"] == "invalid_filter"
    assert not ReadAccess.objects.exists()


@pytest.mark.parametrize("query", ["care_team=%00", "kind=imaging%00", "severity=%00high"])
def test_a_nul_in_a_worklist_filter_is_a_400_before_any_row_is_read(coordinator, query):
    page = logged_in(coordinator).get(f"/admin/?{query}")
    export = logged_in(coordinator).get(f"{reverse(WORKLIST, args=['csv'])}?{query}")

    for response in (page, export):
        assert response.status_code == 400
        assert response.content.decode() == UNSTORABLE_MESSAGE
    assert not ReadAccess.objects.exists()


@pytest.mark.parametrize("kind", [str(k) for k in schedule.Kind])
def test_every_kind_is_a_known_worklist_filter(coordinator, hostile_team, kind):
    response = logged_in(coordinator).get(reverse(WORKLIST, args=["csv"]), {"kind": kind})

    assert response.status_code == 200
    kinds = {row[1] for row in csv_table(response.content)[1:]}
    assert kinds <= {kind}


def test_a_repeated_or_array_worklist_parameter_names_one_of_the_users_values(
    coordinator, hostile_team, team_a, team_b
):
    # The last value counts (Django's QueryDict); another team's id in any position is
    # refused rather than ignored, and ``care_team[]`` is a parameter the page does not know.
    ours_last = f"care_team={team_b.pk}&care_team={team_a.pk}"
    theirs_last = f"care_team={team_a.pk}&care_team={team_b.pk}"
    url = reverse(WORKLIST, args=["csv"])

    assert logged_in(coordinator).get(f"{url}?{ours_last}").status_code == 200
    assert logged_in(coordinator).get(f"{url}?{theirs_last}").status_code == 400
    array = logged_in(coordinator).get(f"{url}?care_team[]={team_b.pk}")
    assert array.status_code == 200
    assert "B-SECRET" not in array.content.decode("utf-8-sig")


# --- the course charts --------------------------------------------------------------------

# A planned operation is free text (resection_started.procedure): it is drawn on the timeline.
HOSTILE_LABELS = (
    r"Whipple $\frac{x$ </text><script>alert(1)</script>",
    "segmentectomy ]]> <![CDATA[ & &amp; <svg onload=alert(1)>",
    "cost $5 and $6 \x0b\x0c\x1b",
    "résection · 肝切除 \u202e",
)


@pytest.mark.parametrize("procedure", HOSTILE_LABELS)
def test_a_hostile_procedure_name_is_drawn_as_plain_text_in_the_charts(
    clinician, coordinator, team_a, procedure
):
    course = factories.register(clinician, team_a)
    for kind, data, on in (
        ("recurrence_detected", {"site": "liver", "resectable": True}, dt.date(2026, 8, 20)),
        ("resection_started", {"procedure": procedure}, dt.date(2026, 9, 1)),
    ):
        treatment_services.record_event(
            course=course, type=kind, occurred_on=on, data=data, actor=clinician, reason="test"
        )

    response = logged_in(coordinator).get(
        reverse("admin:treatments_course_change", args=[course.pk])
    )

    assert response.status_code == 200
    timeline = str(response.context["charts"].timeline)
    root = ET.fromstring(timeline)  # noqa: S314 (parses: no character XML cannot hold)
    assert not [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] in ("script", "foreignObject")]
    assert not [name for e in root.iter() for name in e.attrib if name.lower().startswith("on")]
    texts = "".join("".join(e.itertext()) for e in root.iter("{http://www.w3.org/2000/svg}text"))
    # Every printable character of the name is drawn as it is written (no mathtext).
    printable = "".join(c for c in procedure.strip() if c.isprintable())
    assert printable.replace(" ", "") in texts.replace(" ", "").replace("\ufffd", "")


CGA_CEILING = schedule.lab_unit("chromogranin_a", "ng/mL").ceiling


@pytest.mark.parametrize(
    "values", [[0], [CGA_CEILING], [0, CGA_CEILING], [0.001, CGA_CEILING / 2, 3]]
)
def test_extreme_marker_values_still_draw_one_mark_each(clinician, team_a, values):
    from surveillance import services as surveillance_services

    course = factories.register(clinician, team_a)
    for value in values:  # all on the day of the surgery: identical dates
        surveillance_services.lab_record(
            course=course, actor=clinician, analyte="chromogranin_a", value=value, unit="ng/mL",
            collected_on=factories.SURGERY_ON,
        )  # fmt: skip

    svg = charts.markers_svg(charts.chart_data(course, today=dt.date(2026, 11, 20)))

    root = ET.fromstring(svg)  # noqa: S314
    points = [e for e in root.iter() if "point-lab-" in e.get("id", "")]
    assert len(points) == len(values)


@pytest.mark.parametrize("count", [1, 1000])
@pytest.mark.parametrize("value", [0.0, 1e12, -5.0])
def test_a_thousand_points_on_one_day_with_today_the_day_of_surgery_still_draw(count, value):
    # Drawing alone, from plain data: values no service would store, all on one day, and a
    # course seen on the day of its surgery (a timeline of zero length).
    day = dt.date(2026, 3, 1)
    points = tuple(charts.Point(day, value, f"lab-{n}") for n in range(count))
    series = charts.MarkerSeries("chromogranin_a", "chromogranin A", "ng/mL", points, None, None)
    data = charts.CourseChartData(
        surgery_on=day,
        today=day,
        markers=[series],
        symptoms=[
            charts.SymptomSeries(name, label, unit, points)
            for unit, fields in charts.SYMPTOM_PANELS
            for name, label in fields
        ],
        flags=[
            charts.SymptomSeries(name, label, "", points) for name, label in charts.SYMPTOM_FLAGS
        ],
        timeline=charts.Timeline(
            states=[charts.Span("surveillance", day, day, running=True, kind="surveillance")],
            procedures=[charts.Mark(day, "surgery", "surgery-1")],
        ),
    )

    for svg in (charts.markers_svg(data), charts.symptoms_svg(data), charts.timeline_svg(data)):
        root = ET.fromstring(svg)  # noqa: S314
        assert root.get("role") == "img"
    marks = ET.fromstring(charts.markers_svg(data))  # noqa: S314
    assert len([e for e in marks.iter() if "point-lab-" in e.get("id", "")]) == count


@pytest.mark.parametrize("year", ["99999999999999999999", "9999", "0", "-1", "²"])
def test_a_list_page_with_a_year_out_of_range_is_the_lists_error_page_not_a_500(
    coordinator, hostile_team, year
):
    for url in ("/admin/treatments/course/", "/admin/treatments/patient/"):
        field = "opened_on" if "course" in url else "created_at"
        response = logged_in(coordinator).get(url, {f"{field}__year": year})

        # Django's own answer to a filter it cannot read: back to the list with ?e=1.
        assert response.status_code == 302, (url, year, response.status_code)
        assert response["Location"].endswith("?e=1")


def test_hostile_names_are_text_on_the_worklist_and_the_course_page(clinician, coordinator, team_a):
    team_a.name = "<script>alert('team')</script>"
    team_a.save()
    course = factories.register(
        clinician, team_a, family_name="<img src=x onerror=alert(1)>", given_name="</svg><b>"
    )
    for kind, data, on in (
        ("recurrence_detected", {"site": "liver", "resectable": True}, dt.date(2026, 8, 20)),
        ("resection_started", {"procedure": "<script>alert(2)</script>"}, dt.date(2026, 9, 1)),
    ):
        treatment_services.record_event(
            course=course, type=kind, occurred_on=on, data=data, actor=clinician, reason="<i>"
        )
    client = logged_in(coordinator)

    pages = [
        client.get("/admin/"),
        client.get("/admin/", {"care_team": team_a.pk}),
        client.get(reverse("admin:treatments_course_change", args=[course.pk])),
        client.get("/admin/treatments/course/"),
        # A search echoed into the page's export links and search box.
        client.get("/admin/treatments/course/", {"q": '"><script>alert(3)</script>'}),
    ]

    for page in pages:
        html = page.content.decode()
        assert page.status_code == 200
        for raw in ("<script>alert(", "<img src=x", "</svg><b>"):
            assert raw not in html, (page.request["PATH_INFO"], raw)


def test_an_export_whose_read_cannot_be_logged_answers_the_apis_code(
    coordinator, hostile_team, monkeypatch
):
    from django.db import DatabaseError

    def refuse(*args, **kwargs):
        raise DatabaseError("could not extend file: No space left on device")

    monkeypatch.setattr("api.readlog._insert_rows", refuse)

    for url in (reverse(COURSES, args=["xlsx"]), reverse(WORKLIST, args=["csv"])):
        response = logged_in(coordinator).get(url)

        assert response.status_code == 503, url
        assert response.json()["code"] == "read_log_unavailable"
        assert "Content-Disposition" not in response
