"""The course page's charts: their data are the stored rows, their SVG one mark per row."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from api.models import ReadAccess
from coordinator import charts
from surveillance import services as surveillance
from surveillance.models import ImagingStudy, LabResult, SymptomCheck
from tests.admin.conftest import TODAY
from tests.admin.course_history import CALM, build_year
from treatments import services as treatment_services
from treatments.models import Course, CourseEvent, PrrtCycle, TreatmentLine

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]

SVG = "{http://www.w3.org/2000/svg}"


def page(course: Course) -> str:
    return reverse("admin:treatments_course_change", args=[course.pk])


@pytest.fixture
def year(clinician, team_a, django_capture_on_commit_callbacks) -> Course:
    with django_capture_on_commit_callbacks(execute=True):
        return build_year(clinician, team_a, today=TODAY, family_name="Moreau")


def ids(svg: str, pattern: str) -> list[str]:
    """The ids of the elements of ``svg`` (parsed as XML) matching ``pattern`` in full."""
    root = ET.fromstring(svg)  # noqa: S314 (the project's own SVG)
    return [
        match.group(1)
        for element in root.iter()
        if (match := re.fullmatch(pattern, element.get("id", ""))) is not None
    ]


def marker_rows(course: Course) -> list[LabResult]:
    return list(
        LabResult.objects.filter(course=course, analyte__in=["chromogranin_a", "u5hiaa"]).order_by(
            "collected_on", "pk"
        )
    )


def test_the_marker_points_are_the_stored_results_with_the_value_before_surgery(year):
    data = charts.chart_data(year, today=TODAY)
    stored = marker_rows(year)
    surgery_on = year.surgery.performed_on

    drawn = {
        (series.analyte, series.unit, point.on, point.value, point.ref)
        for series in data.markers
        for point in series.points
    }
    assert drawn == {
        (row.analyte, row.unit, row.collected_on, float(row.value), f"lab-{row.pk}")
        for row in stored
    }
    for series in data.markers:
        before = [r for r in stored if r.analyte == series.analyte and r.collected_on <= surgery_on]
        assert before, series.analyte
        assert (series.preop.on, series.preop.value) == (
            before[-1].collected_on,
            float(before[-1].value),
        )
        # NetCare knows no reference range for the tumour markers: none is drawn.
        assert series.upper_limit is None


def test_the_marker_svg_parses_and_has_one_point_per_result_and_the_preop_line(year):
    svg = charts.markers_svg(charts.chart_data(year, today=TODAY))
    stored = marker_rows(year)

    points = ids(svg, r"chart-markers-point-lab-(\d+)")
    assert sorted(map(int, points)) == sorted(row.pk for row in stored)
    assert len(points) == len(set(points))
    root = ET.fromstring(svg)  # noqa: S314 (the project's own SVG)
    assert root.find(f"{SVG}title").text == "Tumour markers over time"
    assert root.get("aria-labelledby") == "chart-markers-title chart-markers-desc"
    assert ids(svg, r"chart-markers-preop-(\S+)") == ["chromogranin_a-ngmL", "u5hiaa-mg24h"]
    preop = next(r for r in stored if r.analyte == "chromogranin_a")
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert f"before surgery: {float(preop.value):g} ng/mL" in texts
    assert charts.NO_UPPER_LIMIT in texts
    assert ids(svg, r"chart-markers-uln-(\S+)") == []


def test_an_upper_reference_limit_the_project_knows_is_drawn_as_a_line():
    limit = charts.upper_reference_limit("bilirubin", "µmol/L")
    assert limit is not None
    assert charts.upper_reference_limit("chromogranin_a", "ng/mL") is None
    on = dt.date(2026, 3, 1)
    data = charts.CourseChartData(
        surgery_on=on,
        today=TODAY,
        markers=[
            charts.MarkerSeries(
                "bilirubin", "bilirubin", "µmol/L", (charts.Point(on, 30.0, "lab-1"),), None, limit
            )
        ],
        symptoms=[],
        flags=[],
        timeline=charts.Timeline(),
    )

    svg = charts.markers_svg(data)

    assert ids(svg, r"chart-markers-uln-(\S+)") == ["bilirubin-umolL"]
    assert f"upper reference limit {limit:g} µmol/L" in svg
    assert charts.NO_UPPER_LIMIT not in svg


def test_the_symptom_points_are_the_stored_answers_including_weight(year):
    data = charts.chart_data(year, today=TODAY)
    checks = list(SymptomCheck.objects.filter(course=year).order_by("reported_on", "pk"))
    assert len(checks) == 6
    by_field = {series.field: series for series in data.symptoms}

    for name in ("flushing_per_day", "stools_per_day", "abdominal_pain", "weight_kg"):
        assert [(p.on, p.value) for p in by_field[name].points] == [
            (check.reported_on, float(getattr(check, name))) for check in checks
        ], name
    wheezing = next(series for series in data.flags if series.field == "wheezing")
    assert [p.on for p in wheezing.points] == [c.reported_on for c in checks if c.wheezing]

    svg = charts.symptoms_svg(data)
    drawn = ids(svg, r"chart-symptoms-point-check-(\d+-[a-z_]+)")
    expected = [
        f"{check.pk}-{name}"
        for check in checks
        for name in ("flushing_per_day", "stools_per_day", "abdominal_pain", "weight_kg")
    ] + [f"{check.pk}-wheezing" for check in checks if check.wheezing]
    assert sorted(drawn) == sorted(expected)


def test_the_timeline_follows_the_event_log_lines_cycles_and_imaging(year):
    data = charts.chart_data(year, today=TODAY)
    timeline = data.timeline
    events = list(CourseEvent.objects.filter(course=year).order_by("seq"))
    changes = [events[0].from_state] + [e.to_state for e in events if e.to_state != e.from_state]

    assert [band.kind for band in timeline.states] == changes
    assert timeline.states[0].start == year.opened_on
    assert timeline.states[-1].end == TODAY and timeline.states[-1].running
    lines = list(TreatmentLine.objects.filter(course=year).order_by("number"))
    assert [(line.start, line.end, line.running) for line in timeline.lines] == [
        (line.started_on, line.ended_on or TODAY, line.ended_on is None) for line in lines
    ]
    assert "lanreotide" in timeline.lines[0].label
    cycles = list(PrrtCycle.objects.filter(line__course=year).order_by("given_on"))
    assert len(cycles) == 2
    assert [(m.on, m.label) for m in timeline.cycles] == [
        (c.given_on, f"C{c.number}") for c in cycles
    ]
    studies = list(ImagingStudy.objects.filter(course=year).order_by("performed_on"))
    assert [(m.on, m.label) for m in timeline.imaging] == [
        (s.performed_on, charts.IMAGING_LABELS[s.result]) for s in studies
    ]
    assert [m.label for m in timeline.imaging] == ["recurrence", "PD", "PR"]
    procedure = next(e for e in events if e.type == "procedure_recorded")
    assert [(m.on, m.label) for m in timeline.procedures] == [
        (year.surgery.performed_on, "surgery"),
        (procedure.occurred_on, procedure.data["procedure"]),
    ]

    svg = charts.timeline_svg(data)
    assert sorted(map(int, ids(svg, r"chart-timeline-point-imaging-(\d+)"))) == [
        s.pk for s in studies
    ]
    assert sorted(map(int, ids(svg, r"chart-timeline-point-cycle-(\d+)"))) == [c.pk for c in cycles]
    assert len(ids(svg, r"chart-timeline-(line-\d+)")) == len(lines)


def test_the_same_data_gives_the_same_svg(year):
    first = charts.course_charts(year, today=TODAY)
    again = charts.course_charts(Course.objects.get(pk=year.pk), today=TODAY)

    assert (first.markers, first.symptoms, first.timeline) == (
        again.markers,
        again.symptoms,
        again.timeline,
    )
    assert "<metadata" not in first.markers and "dc:date" not in first.markers


def test_the_course_page_inlines_the_three_charts_with_their_tables_and_logs_the_read(
    as_coordinator, coordinator, year
):
    response = as_coordinator.get(page(year))
    html = response.content.decode()

    assert response.status_code == 200
    for chart_id in ("chart-markers", "chart-symptoms", "chart-timeline"):
        assert html.count(f'id="{chart_id}"') == 1, chart_id
        assert f'id="{chart_id}-title"' in html
    section = html[html.index('id="panel-charts"') :]
    for row in marker_rows(year):
        assert f'data-ref="lab-{row.pk}"' in section
    assert "<details>" in section
    # Every id on the page is unique, across the three charts and the state diagram.
    page_ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(page_ids) == len(set(page_ids))
    assert ReadAccess.objects.filter(actor=coordinator, patient=year.patient).exists()


def test_a_course_with_no_result_says_so_and_still_draws_its_timeline(as_coordinator, course):
    html = as_coordinator.get(page(course)).content.decode()

    assert "No chromogranin A or 5-HIAA result recorded." in html
    assert "No symptom check recorded." in html
    assert 'id="chart-timeline"' in html
    assert 'id="chart-markers"' not in html


def test_another_teams_course_charts_answer_404(as_coordinator, coordinator2, team_b):
    theirs = build_year(coordinator2, team_b, today=TODAY, family_name="Okafor", mrn="THEIRS-9")

    response = as_coordinator.get(page(theirs))

    assert response.status_code == 404
    assert "chart-markers" not in response.content.decode()
    assert "Okafor" not in response.content.decode()


def test_the_page_reads_the_same_number_of_queries_with_twice_the_history(
    as_coordinator, clinician, year, django_capture_on_commit_callbacks
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert as_coordinator.get(page(year)).status_code == 200
        return len(captured)

    short = queries()
    points = len(marker_rows(year)) + SymptomCheck.objects.filter(course=year).count()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(8):
            on = year.surgery.performed_on + dt.timedelta(days=20 + 45 * n)
            surveillance.lab_record(
                course=year, actor=clinician, analyte="chromogranin_a", value=100 + n,
                unit="ng/mL", collected_on=on, on_ppi=False, today=TODAY,
            )  # fmt: skip
            surveillance.lab_record(
                course=year, actor=clinician, analyte="u5hiaa", value=30 + n,
                unit="µmol/24h", collected_on=on, today=TODAY,
            )  # fmt: skip
        for n in range(6):
            surveillance.symptom_check_record(
                course=year, actor=clinician, reported_on=TODAY - dt.timedelta(days=n),
                today=TODAY, **CALM | {"weight_kg": 70 + n},
            )  # fmt: skip
        treatment_services.record_event(
            course=year, type="prrt_cycle_given", occurred_on=TODAY,
            data={"cycle": 3, "activity_gbq": 7.4}, actor=clinician, reason="cycle 3",
            override=True, override_reason="Tumour board: given early",
        )  # fmt: skip
    longer = len(marker_rows(year)) + SymptomCheck.objects.filter(course=year).count()
    assert longer >= 2 * points

    assert queries() == short
    # A second unit of 5-HIAA is a series of its own, not a conversion.
    units = [(s.analyte, s.unit) for s in charts.chart_data(year, today=TODAY).markers]
    assert units == [
        ("chromogranin_a", "ng/mL"),
        ("u5hiaa", "mg/24h"),
        ("u5hiaa", "µmol/24h"),
    ]


def test_the_chart_data_reads_six_queries_whatever_the_history(year, django_assert_num_queries):
    course = Course.objects.select_related("surgery").get(pk=year.pk)
    with django_assert_num_queries(6):
        data = charts.chart_data(course, today=TODAY)
    assert data.markers and data.symptoms and data.timeline.cycles
