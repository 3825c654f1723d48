"""Courses recorded under the first model keep their meaning after the version 2 migrations.

The treatments tables are taken back to the last migration before version 2, rows are written
there through that schema, then everything is migrated forward and read through the models.
"""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from treatments.models import Course, Surgery, TreatmentLine

BEFORE_V2 = [("treatments", "0007_database_defaults_for_bulk_loads")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state(targets).apps


@pytest.fixture
def before_v2():
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        yield _migrate(BEFORE_V2)
    finally:
        _migrate(leaves)


def _course(old, team, actor, *, mrn, procedure, state, events=(), lines=()):
    """A first-release course written row by row (its services are those of today)."""
    patient = old.get_model("treatments", "Patient").objects.create(
        care_team=team, clinic="M", mrn=mrn, given_name="Ada", family_name="Old",
        birth_date=dt.date(1960, 1, 2), sex="female",
    )  # fmt: skip
    dx = old.get_model("treatments", "Diagnosis").objects.create(
        patient=patient, primary_site="ileum", diagnosed_on=dt.date(2025, 1, 5),
        differentiation="well", t="T3", n="N1", m="M0", grade="G2", stage="III",
        cga_elevated_preop=True, functional=False,
    )  # fmt: skip
    op = old.get_model("treatments", "Surgery").objects.create(
        patient=patient, performed_on=dt.date(2025, 1, 20), procedure=procedure, margin="R0",
        nodes_examined=14, nodes_positive=3,
    )  # fmt: skip
    course = old.get_model("treatments", "Course").objects.create(
        patient=patient, care_team=team, diagnosis=dx, surgery=op, state=state,
        opened_on=op.performed_on, version=len(events) + 1,
    )  # fmt: skip
    Line = old.get_model("treatments", "TreatmentLine")
    for number, (category, end_reason) in enumerate(lines, start=1):
        Line.objects.create(
            course=course, number=number, category=category, agent="lanreotide",
            started_on=dt.date(2025, 6, 1), end_reason=end_reason,
            ended_on=dt.date(2025, 9, 1) if end_reason else None,
        )  # fmt: skip
    Event = old.get_model("treatments", "CourseEvent")
    state_before = "surveillance"
    for seq, (kind, to_state) in enumerate(events, start=1):
        Event.objects.create(
            course=course, seq=seq, type=kind, occurred_on=dt.date(2025, 6, 1),
            recorded_at=dt.datetime(2025, 6, 1, tzinfo=dt.UTC), actor_id=actor.pk,
            from_state=state_before, to_state=to_state,
        )  # fmt: skip
        state_before = to_state
    return course.pk


@pytest.mark.django_db(transaction=True)
def test_first_release_courses_keep_state_lines_and_learn_their_open_resection(before_v2):
    old = before_v2
    actor = old.get_model("auth", "User").objects.create(username="migrating-clinician")
    team = old.get_model("treatments", "CareTeam").objects.create(name="Team M", clinic="M")
    # The dead end of the first release: a line started while the resection was pending.
    pending = _course(
        old, team, actor, mrn="M-1", procedure="Right hemicolectomy", state="ssa",
        events=[("recurrence_detected", "recurrence"), ("resection_started", "resection"),
                ("ssa_started", "ssa")],
        lines=[("ssa", "")],
    )  # fmt: skip
    done = _course(
        old, team, actor, mrn="M-2", procedure="segmental_ileal_resection",
        state="surveillance",
        events=[("recurrence_detected", "recurrence"), ("resection_started", "resection"),
                ("resection_completed", "surveillance")],
    )  # fmt: skip
    ended = _course(
        old, team, actor, mrn="M-3", procedure="laparoscopic ileocaecal resection",
        state="progression",
        events=[("recurrence_detected", "recurrence"), ("ssa_started", "ssa"),
                ("progression_detected", "progression")],
        lines=[("ssa", "progression")],
    )  # fmt: skip
    odd = _course(old, team, actor, mrn="M-4", procedure="Whipple", state="surveillance")

    _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    courses = {c.pk: c for c in Course.objects.select_related("surgery")}
    assert [courses[pk].state for pk in (pending, done, ended, odd)] == [
        "ssa", "surveillance", "progression", "surveillance",
    ]  # fmt: skip
    assert [courses[pk].resection_open for pk in (pending, done, ended, odd)] == [
        True, False, False, False,
    ]  # fmt: skip
    assert [
        (courses[pk].surgery.procedure, courses[pk].surgery.procedure_detail)
        for pk in (pending, done, ended, odd)
    ] == [
        ("right_hemicolectomy", "Right hemicolectomy"),
        ("segmental_ileal_resection", ""),
        ("ileocecal_resection", "laparoscopic ileocaecal resection"),
        ("other", "Whipple"),
    ]
    assert {s.disease_after_surgery for s in Surgery.objects.all()} == {""}
    lines = TreatmentLine.objects.filter(course_id__in=(pending, ended)).order_by("course_id")
    assert [(ln.intent, ln.held_since, ln.end_reason) for ln in lines] == [
        ("antiproliferative", None, ""),
        ("antiproliferative", None, "progression"),
    ]
    assert not courses[pending].diagnosis.carcinoid_syndrome
