"""The answers built as plain dicts (api/lean.py) equal the serializers' for the same rows.

The serializer classes are the published schema; the views build their JSON without them.
Each test renders both for the same rows, as the API renders them (JSONRenderer), so a field
added to, removed from or re-typed in a serializer without the lean builder fails here.
"""

import datetime as dt
import json

import pytest
from rest_framework.renderers import JSONRenderer

from api import lean, views
from api import serializers as s
from surveillance import selectors
from tests import factories
from treatments import machine, services
from treatments.models import Course, CourseEvent
from treatments.selectors import courses_visible_to

pytestmark = pytest.mark.django_db

PRRT = {"agent": "lu177_dotatate", "activity_gbq": 7.4, "cycles_planned": 4}
LIVER = {"site": "liver", "resectable": False}
STATUS = {"sstr_imaging": "positive", "study_on": "2026-06-03", "ki67_percent": 12.0}


def rendered(data) -> object:
    return json.loads(JSONRenderer().render(data))


def _record(course, actor, kind, on, data, **extra) -> None:
    services.record_event(
        course=course, type=kind, occurred_on=on, data=data, actor=actor, reason="test", **extra
    )


@pytest.fixture
def courses(clinician, team_a) -> list[Course]:
    """A course in surveillance, one closed, one on PRRT (a current line with a cycle, a status
    update), one with two primaries (T with (m)) and no email: the shapes the answers take."""
    plain = factories.register(clinician, team_a)
    closed = factories.register(clinician, team_a, family_name="Closed")
    _record(closed, clinician, "course_closed", dt.date(2026, 5, 1), {"reason": "deceased"})
    treated = factories.register(clinician, team_a, diagnosis=factories.diagnosis_data(
        ki67_percent=15.0), family_name="Treated")  # fmt: skip
    _record(treated, clinician, "recurrence_detected", dt.date(2026, 6, 1), LIVER)
    _record(treated, clinician, "status_updated", dt.date(2026, 6, 5), STATUS)
    _record(treated, clinician, "prrt_started", dt.date(2026, 6, 15), PRRT)
    multiple = factories.register(
        clinician, team_a, diagnosis=factories.diagnosis_data(tumour_count=3),
        family_name="Many", email="",
    )  # fmt: skip
    return [plain, closed, treated, multiple]


def test_the_lean_builders_cover_every_field_of_their_serializers():
    assert [name for name, _ in lean.LINE] == s.LineSerializer.Meta.fields
    assert [name for name, _ in lean.PATIENT_SUMMARY] == s.PatientSummarySerializer.Meta.fields
    assert set(lean.FACT_NAMES) <= set(services.SHOWN_FACTS)


def test_the_course_list_rows_give_the_serializers_json(courses, clinician):
    rows = {
        row["id"]: row
        for row in views.course_list_rows(clinician).values(*lean.COURSE_VALUES, "next_due_on")
    }
    instances = views.course_queryset(clinician).order_by("id")

    assert {c.state for c in instances} >= {"surveillance", "closed", "prrt"}
    assert any(c.current_line_id for c in instances)
    for course in instances:
        expected = rendered(s.CourseSerializer(course).data)
        assert rendered(lean.course_from_values(rows[course.pk])) == expected
        assert rendered(lean.course_summary(course)) == expected
    assert "(m)" in json.dumps([lean.course_from_values(r) for r in rows.values()])


def _old_detail(course: Course, warnings: list) -> dict:
    """The detail as the view built it through CourseDetailSerializer."""
    updates = course.status_updates
    table = services.answer_facts(course, updates)
    course.due = views.due_items_of(course, dt.date.today())
    course.allowed_events = list(machine.allowed_events(course.state, table))
    course.active_lines = [line for line in course.lines.all() if line.is_open]
    now = services.current_facts(course, updates=updates)
    course.facts = {name: now[name].as_dict() for name in services.SHOWN_FACTS}
    course.warnings = [
        {"code": w["guard"], "detail": w["reason"], "source": w.get("source", "")} for w in warnings
    ]
    return s.CourseDetailSerializer(course).data


def test_the_course_detail_gives_the_serializers_json(courses, clinician):
    warnings = [
        {"guard": "g1", "reason": "because", "source": "a rule"},
        {"guard": "g2", "reason": "also"},
        {"guard": "g3", "reason": "none", "source": None},
    ]
    for course in courses:
        lean_one = views.course_detail_queryset(clinician).get(pk=course.pk)
        old_one = views.course_detail_queryset(clinician).get(pk=course.pk)

        compiled_one = views.load_course_detail(clinician, course.pk)  # what the view reads

        lean_json = rendered(views.course_detail(lean_one, warnings))

        expected = rendered(_old_detail(old_one, warnings))
        assert lean_json == expected
        assert rendered(views.course_detail(compiled_one, warnings)) == expected
    assert [w["source"] for w in lean_json["warnings"]] == ["a rule", "", None]
    treated = rendered(views.course_detail(views.course_detail_queryset(clinician).get(
        pk=courses[2].pk)))  # fmt: skip
    assert treated["active_lines"][0]["cycles"][0]["activity_gbq"] == "7.40"
    assert treated["facts"]["sstr_imaging"]["source"] == "status_updated"


def test_the_events_rows_give_the_serializers_json(courses, clinician):
    events = CourseEvent.objects.filter(course__in=courses).select_related("actor")
    rows = {r["id"]: r for r in CourseEvent.objects.filter(course__in=courses).values(
        *lean.EVENT_VALUES)}  # fmt: skip

    assert len(rows) >= 4
    for event in events:
        expected = rendered(s.EventSerializer(event).data)
        assert rendered(lean.event_from_values(rows[event.pk])) == expected
        assert rendered(lean.event_from_instance(event)) == expected


def test_the_history_entries_give_the_serializers_json(courses):
    for course in courses:
        entries = [views._history_entry(e) for e in selectors.audit_trail(course)]
        assert entries
        assert rendered([lean.history_entry(e) for e in entries]) == rendered(
            s.HistoryEntrySerializer(entries, many=True).data
        )


def test_the_lists_scope_as_the_selectors_do(courses, coordinator2, clinician):
    assert views.course_list_rows(coordinator2).count() == 0
    assert views.course_list_rows(clinician).count() == courses_visible_to(clinician).count()
