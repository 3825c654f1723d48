"""Export courses as FHIR R4 / mCODE Bundles (docs/api.md#fhir-export).

``manage.py export_fhir --user NAME --course ID [--out FILE]`` writes one Bundle as JSON (to
standard output without ``--out``); ``manage.py export_fhir --user NAME --team TEAM --out
FILE.ndjson`` writes one Bundle a line for every course of a care team (named by id or by name),
with a progress bar on standard error when it is a terminal (``--quiet`` hides it). Both build
the Bundle with ``api.fhir.course_bundle``, the same builder as
``GET /api/v1/courses/{id}/fhir/``.

The export runs on behalf of a staff user (``--user``, a coordinator or clinician): it sees what
that user sees in the API (another team's course or team is "not found"), and every patient it
writes gets a row in the read-access log in that user's name, written before the patient's
Bundle; if the log cannot be written the export stops.
"""

from __future__ import annotations

import sys
from typing import IO, Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q, QuerySet
from tqdm import tqdm

from api.fhir import bundle_json, course_bundle, fhir_courses
from api.readlog import ReadLogUnavailable, log_reads_by
from treatments.models import CareTeam, Course
from treatments.roles import STAFF_ROLES, role_of
from treatments.selectors import courses_visible_to

# Courses read per query batch in a team export (each batch costs one query per related table).
BATCH = 200
MAX_ID = 2**63 - 1  # the largest id the database holds
# What the read-access log names as the reader's endpoint and method for this door.
READ_LOG_ENDPOINT = "manage.py export_fhir"
READ_LOG_METHOD = "EXPORT"


class Command(BaseCommand):
    help = "Export one course, or every course of a care team, as FHIR R4 / mCODE Bundles."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--course", help="The id of one course: writes one Bundle (JSON).")
        which.add_argument(
            "--team", help="A care team's id or name: writes one Bundle a line (NDJSON)."
        )
        parser.add_argument(
            "--user",
            required=True,
            help="The coordinator or clinician (username) the export is read as and logged for.",
        )
        parser.add_argument("--out", help="The file to write (default: standard output).")
        parser.add_argument("--quiet", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, course: str | None, team: str | None, out: str | None,
               quiet: bool, user: str, **options: Any) -> None:  # fmt: skip
        reader = _find_staff(user)
        self.reader = reader
        visible = courses_visible_to(reader)
        if course is not None:
            self._one(visible, course, out)
        else:
            self._team(visible, team or "", out, quiet)

    def _log(self, courses: list[Course]) -> None:
        try:
            log_reads_by(self.reader.pk, [c.patient_id for c in courses],
                         endpoint=READ_LOG_ENDPOINT, method=READ_LOG_METHOD)  # fmt: skip
        except ReadLogUnavailable:
            raise CommandError(
                "The read-access log cannot be written; the export stopped before writing "
                "the next patient's data."
            ) from None

    def _one(self, visible: QuerySet[Course], course_id: str, out: str | None) -> None:
        if not course_id.isascii() or not course_id.isdigit():
            raise CommandError(f"--course must be a course id (digits), not {course_id!r}.")
        course = None
        if int(course_id) <= MAX_ID:
            course = fhir_courses(visible).filter(pk=int(course_id)).first()
        if course is None:
            raise CommandError(f"No course with id {course_id}.")
        text = bundle_json(course_bundle(course))
        self._log([course])
        self._write(out, [text])

    def _team(self, visible: QuerySet[Course], name: str, out: str | None, quiet: bool) -> None:
        if out is None:
            raise CommandError("--team writes one Bundle a line: give the file with --out.")
        team = _find_team(name, visible)
        courses = fhir_courses(visible).filter(care_team=team).order_by("pk")
        ids = list(courses.values_list("pk", flat=True))
        show = not quiet and sys.stderr.isatty()
        with (
            _open(out) as stream,
            tqdm(total=len(ids), unit="course", file=sys.stderr, disable=not show) as bar,
        ):
            for start in range(0, len(ids), BATCH):
                batch = list(courses.filter(pk__in=ids[start : start + BATCH]))
                self._log(batch)
                for course in batch:
                    stream.write(bundle_json(course_bundle(course)) + "\n")
                    bar.update(1)
        self.stdout.write(self.style.SUCCESS(f"{len(ids)} course(s) of {team} written to {out}."))

    def _write(self, out: str | None, lines: list[str]) -> None:
        if out is None:
            for line in lines:
                self.stdout.write(line)
            return
        stream: IO[str]
        with _open(out) as stream:
            for line in lines:
                stream.write(line + "\n")


def _open(out: str) -> IO[str]:
    """``out`` opened for writing (UTF-8); CommandError, not a traceback, if it cannot be."""
    try:
        return open(out, "w", encoding="utf-8")
    except OSError as refused:
        raise CommandError(f"Cannot write {out}: {refused.strerror}.") from None


def _find_staff(username: str) -> AbstractBaseUser:
    """The active coordinator or clinician with this username; CommandError otherwise (the same
    answer for a missing user and one who may not export, as the API gives)."""
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None or role_of(user) not in STAFF_ROLES:
        raise CommandError(f"No active coordinator or clinician named {username!r}.")
    return user


def _find_team(name: str, visible: QuerySet[Course]) -> CareTeam:
    """The care team with this id (digits) or this exact name among the teams of the courses
    the reader sees; CommandError if none or several."""
    match = Q(name=name)
    if name.isascii() and name.isdigit() and int(name) <= MAX_ID:
        match |= Q(pk=int(name))
    teams = list(
        CareTeam.objects.filter(match, pk__in=visible.values("care_team_id")).distinct()[:2]
    )
    if not teams:
        raise CommandError(f"No care team with id or name {name!r}.")
    if len(teams) > 1:
        raise CommandError(f"Several care teams are named {name!r}: give the id.")
    return teams[0]
