"""``manage.py export_fhir``: one Bundle for a course, one Bundle a line for a care team, read as
a staff user (their scope, a read-log row per patient in their name), and a clear refusal for a
team or course that does not exist or that the user may not see."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from fhir.resources.R4B.bundle import Bundle

from api.fhir import resource_id
from api.models import ReadAccess
from tests import factories

pytestmark = pytest.mark.django_db


def _patient_mrn(bundle: Bundle) -> str:
    (patient,) = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "Patient"]
    return patient.identifier[0].value


def test_a_team_export_writes_one_valid_bundle_a_line_for_each_of_its_courses(
    tmp_path, capsys, clinician, coordinator2, team_a, team_b
):
    ours = [factories.register(clinician, team_a) for _ in range(3)]
    factories.register(coordinator2, team_b)  # another team's course: not exported
    out = tmp_path / "team.ndjson"
    said, err = io.StringIO(), io.StringIO()
    call_command(
        "export_fhir", user="clinician", team=team_a.name, out=str(out), stdout=said, stderr=err
    )
    lines = out.read_text(encoding="utf-8").splitlines()
    bundles = [Bundle.model_validate_json(line) for line in lines]
    assert sorted(b.id for b in bundles) == sorted(resource_id("bundle", c.pk) for c in ours)
    assert sorted(_patient_mrn(b) for b in bundles) == sorted(c.patient.mrn for c in ours)
    assert "3 course(s)" in said.getvalue()
    # Not a terminal: no progress bar on standard error.
    assert err.getvalue() == ""
    assert "course/s" not in capsys.readouterr().err

    by_id = tmp_path / "by-id.ndjson"
    call_command(
        "export_fhir", user="clinician", team=str(team_a.pk), out=str(by_id), stdout=io.StringIO()
    )
    assert len(by_id.read_text(encoding="utf-8").splitlines()) == 3


def test_one_course_is_written_as_one_bundle(tmp_path, clinician, team_a):
    course = factories.register(clinician, team_a)
    out = tmp_path / "course.json"
    call_command("export_fhir", user="clinician", course=str(course.pk), out=str(out))
    bundle = Bundle.model_validate_json(out.read_text(encoding="utf-8"))
    assert bundle.id == resource_id("bundle", course.pk)
    assert _patient_mrn(bundle) == course.patient.mrn

    stdout = io.StringIO()
    call_command("export_fhir", user="clinician", course=str(course.pk), stdout=stdout)
    assert json.loads(stdout.getvalue())["id"] == bundle.id


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"team": "No such team", "out": "x.ndjson"}, "No care team with id or name"),
        ({"team": "999999", "out": "x.ndjson"}, "No care team with id or name"),
        ({"course": "999999"}, "No course with id 999999"),
        ({"course": "99999999999999999999999"}, "No course with id"),
        ({"course": "abc"}, "must be a course id"),
    ],
)
def test_an_unknown_team_or_course_is_a_clear_error(tmp_path, clinician, options, message):
    if "out" in options:
        options = options | {"out": str(tmp_path / options["out"])}
    with pytest.raises(CommandError, match=message):
        call_command("export_fhir", user="clinician", **options)
    assert not (tmp_path / "x.ndjson").exists()


def test_a_team_export_needs_a_file(clinician, team_a):
    with pytest.raises(CommandError, match="--out"):
        call_command("export_fhir", user="clinician", team=team_a.name)


def test_every_exported_patient_is_in_the_read_log_in_the_readers_name(
    tmp_path, clinician, coordinator, team_a
):
    ours = [factories.register(clinician, team_a) for _ in range(3)]
    call_command(
        "export_fhir", user="coordinator", team=team_a.name, out=str(tmp_path / "t.ndjson"),
        stdout=io.StringIO(),
    )  # fmt: skip
    rows = list(ReadAccess.objects.values_list("actor_id", "patient_id", "endpoint", "method"))
    assert sorted(rows) == sorted(
        (coordinator.pk, c.patient_id, "manage.py export_fhir", "EXPORT") for c in ours
    )

    call_command("export_fhir", user="clinician", course=str(ours[0].pk), stdout=io.StringIO())
    assert ReadAccess.objects.filter(actor=clinician, patient=ours[0].patient).count() == 1


def test_the_export_sees_only_what_its_reader_sees(tmp_path, clinician, coordinator2, team_a):
    course = factories.register(clinician, team_a)
    with pytest.raises(CommandError, match=f"No course with id {course.pk}"):
        call_command("export_fhir", user="coordinator2", course=str(course.pk))
    with pytest.raises(CommandError, match="No care team with id or name"):
        call_command(
            "export_fhir", user="coordinator2", team=team_a.name, out=str(tmp_path / "x.ndjson")
        )
    assert not (tmp_path / "x.ndjson").exists()
    assert not ReadAccess.objects.exists()


@pytest.mark.parametrize("who", ["ehr-feed", "patient", "nobody"])
def test_only_a_coordinator_or_clinician_may_export(who, integration, patient_user, course):
    with pytest.raises(CommandError, match="No active coordinator or clinician"):
        call_command("export_fhir", user=who, course=str(course.pk))
    assert not ReadAccess.objects.exists()


def test_an_export_whose_read_log_cannot_be_written_stops_before_the_data(
    tmp_path, monkeypatch, clinician, team_a
):
    course = factories.register(clinician, team_a)

    def refuse(*args, **kwargs):
        raise DatabaseError("could not extend file: No space left on device")

    monkeypatch.setattr("api.readlog._insert_rows", refuse)
    out = tmp_path / "team.ndjson"
    with pytest.raises(CommandError, match="read-access log cannot be written"):
        call_command("export_fhir", user="clinician", team=team_a.name, out=str(out))
    assert out.read_text(encoding="utf-8") == ""
    stdout = io.StringIO()
    with pytest.raises(CommandError, match="read-access log cannot be written"):
        call_command("export_fhir", user="clinician", course=str(course.pk), stdout=stdout)
    assert stdout.getvalue() == ""
