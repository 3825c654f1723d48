"""The course page shows the course at a glance; another team's course answers 404."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from alerts import services as alert_services
from surveillance import services as surveillance_services
from surveillance.models import ScheduledItem, SurveillancePlan
from tests import factories
from tests.admin.conftest import NOW, TODAY, logged_in
from tests.admin.support import imaging
from tests.surveillance.test_monitoring import CALM
from treatments import diagram, machine
from treatments import services as treatment_services
from treatments.models import Course
from treatments.rules_version import RULE_VERSION

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("today")]


def page(course: Course) -> str:
    return reverse("admin:treatments_course_change", args=[course.pk])


@pytest.fixture
def on_ssa(clinician, team_a, django_capture_on_commit_callbacks) -> Course:
    """Recurrence seen on CT, then lanreotide started by the clinician."""
    course = factories.register(
        clinician, team_a, patient=factories.patient_data(mrn="GLANCE-1", family_name="Moreau")
    )
    with django_capture_on_commit_callbacks(execute=True):
        imaging(course, clinician, dt.date(2026, 8, 1), "recurrence", site="liver",
                resectable=False)  # fmt: skip
        treatment_services.record_event(
            course=course, type="ssa_started", occurred_on=dt.date(2026, 8, 20),
            data=factories.SSA, actor=clinician, reason="receptor-positive liver disease",
        )  # fmt: skip
        alert_services.escalate(today=TODAY, now=NOW)
    return Course.objects.get(pk=course.pk)


@pytest.fixture
def theirs(coordinator2, team_b) -> Course:
    return factories.register(
        coordinator2, team_b, patient=factories.patient_data(mrn="THEIRS-7", family_name="Okafor")
    )


def current_state_box(html: str) -> list[str]:
    """The data-state of every box the SVG marks as current."""
    return re.findall(r'<g class="state current" data-state="([a-z_]+)"', html)


def test_the_course_page_shows_patient_diagnosis_state_lines_due_items_and_log(
    as_coordinator, on_ssa
):
    response = as_coordinator.get(page(on_ssa))

    assert response.status_code == 200
    text = response.content.decode()
    assert "Moreau" in text and "GLANCE-1" in text
    assert '<dd id="stage"><strong>III</strong>' in text
    assert '<dd id="grade"><strong>G2</strong>' in text
    assert '<span id="current-state">ssa</span>' in text
    overview = response.context["overview"]
    assert [(line.number, line.agent, line.ended_on) for line in overview.lines] == [
        (1, "lanreotide", None)
    ]
    assert {item["kind"] for item in overview.due} >= {"imaging", "ssa_injection"}
    assert [(e.seq, e.type, e.to_state) for e in overview.events] == [
        (2, "ssa_started", "ssa"),
        (1, "recurrence_detected", "recurrence"),
    ]
    assert "receptor-positive liver disease" in text
    assert {a.kind for a in overview.alerts} >= {"decision_pending", "ssa_injection_overdue"}


def test_the_course_page_names_the_rule_set_of_the_plan_and_of_each_due_item(
    as_coordinator, on_ssa
):
    ScheduledItem.objects.filter(course=on_ssa, kind="imaging").update(rule_version="2019.9")
    SurveillancePlan.objects.filter(course=on_ssa).update(rule_version=None)

    text = as_coordinator.get(page(on_ssa)).content.decode()

    rows = dict(re.findall(r'<tr data-kind="(\w+)">.*?<td>([^<]*)</td></tr>', text))
    assert rows["imaging"] == "2019.9"
    assert rows["ssa_injection"] == RULE_VERSION
    assert 'data-rule-version="">(rule set before versioning)' in text


def test_the_svg_marks_the_current_state_and_only_it(as_coordinator, on_ssa, course):
    assert current_state_box(as_coordinator.get(page(on_ssa)).content.decode()) == ["ssa"]
    assert current_state_box(as_coordinator.get(page(course)).content.decode()) == ["surveillance"]


def test_the_audit_trail_says_who_changed_what_when_and_why(as_coordinator, on_ssa):
    response = as_coordinator.get(page(on_ssa))

    audit = response.context["overview"].audit
    state_change = next(
        entry for entry in audit if entry.record.startswith("course") and entry.action == "changed"
        and "state: recurrence → ssa" in [str(change) for change in entry.changes]
    )  # fmt: skip
    assert state_change.who == "clinician"
    assert state_change.reason == "receptor-positive liver disease"
    line = next(entry for entry in audit if entry.record.startswith("treatment line"))
    assert (line.who, line.action) == ("clinician", "created")
    registered = [entry for entry in audit if entry.reason == "Course registered after surgery"]
    assert {entry.record.split()[0] for entry in registered} >= {
        "course",
        "patient",
        "diagnosis",
        "surgery",
    }
    assert audit == sorted(audit, key=lambda entry: entry.when, reverse=True)


def test_the_course_page_offers_only_the_events_allowed_from_its_state(as_coordinator, on_ssa):
    # Version 2 (docs/api.md#event-types): on an SSA line with no resection open.
    overview = as_coordinator.get(page(on_ssa)).context["overview"]

    assert [event for event, _, _ in overview.allowed_events] == [
        "resection_started",
        "progression_detected",
        "supportive_care_started",
        "line_changed",
        "line_stopped",
        "procedure_recorded",
        "status_updated",
        "symptoms_reported",
        "course_closed",
    ]


def content_main(html: str) -> str:
    """The page's own part (the admin's header holds the log-out form)."""
    return html[html.index('id="content-main"') : html.index('id="footer"')]


def test_the_course_page_renders_no_form_of_the_course_and_no_save_button(as_coordinator, on_ssa):
    response = as_coordinator.get(page(on_ssa))

    main = content_main(response.content.decode())
    for tag in ("<form", "<input", "<select", "<textarea", 'type="submit"'):
        assert tag not in main, tag
    assert "Save" not in main
    assert 'id="course_form"' not in main
    # The events stay the way to change the course; a POST to the page is still refused.
    assert 'data-event="line_changed"' in main
    assert (
        as_coordinator.post(page(on_ssa), {"state": "closed", "_save": "Save"}).status_code == 403
    )


def test_the_header_names_the_open_line_with_the_drugs_label(
    as_coordinator, on_ssa, clinician, django_capture_on_commit_callbacks
):
    assert "Line 1 · lanreotide (SSA)" in as_coordinator.get(page(on_ssa)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        factories.advance(
            on_ssa, clinician, ("progression_detected", {"recist": "PD"}),
            ("prrt_started", factories.PRRT), on=dt.date(2026, 10, 1),
        )  # fmt: skip

    text = as_coordinator.get(page(on_ssa)).content.decode()

    header = text[text.index('id="panel-state"') : text.index('class="nc-machine"')]
    assert '<span id="current-line">Line 2 · ¹⁷⁷Lu-DOTATATE (PRRT)</span>' in header
    assert "line Line" not in header and "lu177_dotatate" not in header
    lines = text[text.index('id="panel-lines"') : text.index('id="panel-due"')]
    assert "<td>¹⁷⁷Lu-DOTATATE</td>" in lines and "<td>PRRT</td>" in lines


def test_a_symptom_check_that_raised_no_alert_is_listed_with_its_answers(
    as_coordinator, on_ssa, clinician
):
    alerts_before = on_ssa.alerts.count()
    surveillance_services.symptom_check_record(
        course=on_ssa, actor=clinician, reported_on=dt.date(2026, 11, 2),
        **(CALM | {"flushing_per_day": 1, "abdominal_pain": 2}),
    )  # fmt: skip
    assert on_ssa.alerts.count() == alerts_before  # a calm check opens nothing

    response = as_coordinator.get(page(on_ssa))

    [row] = response.context["overview"].symptom_checks
    assert (row.severity, row.findings) == (None, [])
    text = response.content.decode()
    panel = text[text.index('id="panel-symptom-checks"') : text.index('id="panel-reminders"')]
    assert "2026-11-02" in panel
    assert "flushing per day: 1" in panel and "abdominal pain (0–10): 2" in panel
    assert "no finding" in panel


def test_a_positive_symptom_check_is_listed_with_its_findings(as_coordinator, on_ssa, clinician):
    with_findings = surveillance_services.symptom_check_record(
        course=on_ssa, actor=clinician, reported_on=dt.date(2026, 11, 3),
        **(CALM | {"abdominal_pain": 9, "vomiting": True, "no_stool_or_gas": True}),
    )  # fmt: skip
    findings = with_findings.check.assessment["findings"]

    text = as_coordinator.get(page(on_ssa)).content.decode()

    panel = text[text.index('id="panel-symptom-checks"') : text.index('id="panel-reminders"')]
    assert findings
    for finding in findings:
        assert f"{finding['kind']} ({finding['severity']})" in panel
    severity = with_findings.check.assessment["highest_severity"]
    assert f'<span class="nc-badge nc-{severity}">{severity}</span>' in panel


def test_the_state_picture_labels_every_arrow_with_its_events(as_coordinator, on_ssa):
    text = as_coordinator.get(page(on_ssa)).content.decode()

    arrows = re.findall(
        r'<g class="transition" data-from="(\w+)" data-to="(\w+)">.*?<text [^>]*>([^<]+)</text></g>',
        text,
    )
    drawn = {(src, dst): events for (src, dst), events in diagram.drawn_edges().items()}
    assert {(src, dst) for src, dst, _ in arrows} == {(str(s), str(d)) for s, d in drawn}
    for src, dst, label in arrows:
        events = drawn[(machine.State(src), machine.State(dst))]
        assert label.split(", ") == events


def test_the_event_log_and_the_audit_trail_wrap_instead_of_scrolling(as_coordinator, on_ssa):
    text = as_coordinator.get(page(on_ssa)).content.decode()

    assert '<table class="nc-fit" id="event-log">' in text
    assert '<table class="nc-fit" id="audit-trail">' in text
    style = text[text.index("table.nc-fit {") :]
    assert style.startswith("table.nc-fit { table-layout: fixed; width: 100%; }")
    assert "overflow-wrap: anywhere" in style


def test_another_teams_course_page_answers_404(as_coordinator, theirs):
    for url in (
        page(theirs),
        reverse("admin:treatments_course_history", args=[theirs.pk]),
        reverse("admin:treatments_course_record_event", args=[theirs.pk, "course_closed"]),
    ):
        response = as_coordinator.get(url)

        assert response.status_code == 404, url
        assert "Okafor" not in response.content.decode()
        assert "THEIRS-7" not in response.content.decode()


def test_a_course_id_that_does_not_exist_answers_404(as_coordinator):
    assert (
        as_coordinator.get(reverse("admin:treatments_course_change", args=[999999])).status_code
        == 404
    )
    assert as_coordinator.get("/admin/treatments/course/not-a-number/change/").status_code == 404


def test_the_coordinator_of_team_b_opens_team_bs_course(coordinator2, theirs):
    assert logged_in(coordinator2).get(page(theirs)).status_code == 200


def test_the_course_page_reads_the_same_number_of_queries_with_a_longer_history(
    as_coordinator, clinician, team_a, django_capture_on_commit_callbacks
):
    course = factories.register(clinician, team_a)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert as_coordinator.get(page(course)).status_code == 200
        return len(captured)

    # The short history already has a line: reading the lines' facts (version 2) costs a
    # fixed number of queries once there is one, whatever follows.
    with django_capture_on_commit_callbacks(execute=True):
        factories.advance(
            course, clinician,
            ("recurrence_detected", {"site": "liver", "resectable": False}),
            ("ssa_started", factories.SSA),
            on=dt.date(2026, 8, 1),
        )  # fmt: skip
    short = queries()
    with django_capture_on_commit_callbacks(execute=True):
        factories.advance(
            course, clinician,
            ("progression_detected", {"recist": "PD"}),
            ("everolimus_started", {"dose_mg": 10}),
            on=dt.date(2026, 9, 1),
        )  # fmt: skip
        alert_services.escalate(today=TODAY, now=NOW)
    long = queries()

    assert long == short


def test_the_course_list_filters_by_overdue_imaging_and_searches_by_mrn(
    as_coordinator, clinician, team_a, on_ssa
):
    overdue = factories.register(
        clinician, team_a, patient=factories.patient_data(mrn="LATE-3", family_name="Lindqvist"),
        surgery=factories.surgery_data(performed_on=dt.date(2026, 2, 1)),
    )  # fmt: skip
    changelist = reverse("admin:treatments_course_changelist")

    filtered = as_coordinator.get(changelist, {"overdue": "imaging"})
    searched = as_coordinator.get(changelist, {"q": "GLANCE-1"})
    by_state = as_coordinator.get(changelist, {"state__exact": "ssa"})
    by_grade = as_coordinator.get(changelist, {"diagnosis__grade": "G2"})

    # Surgery on 1 February: first imaging was due on 1 August, not done.
    assert list(filtered.context["cl"].result_list) == [overdue]
    assert list(searched.context["cl"].result_list) == [on_ssa]
    assert list(by_state.context["cl"].result_list) == [on_ssa]
    assert set(by_grade.context["cl"].result_list) == {on_ssa, overdue}
    assert "Next due" in filtered.content.decode()
