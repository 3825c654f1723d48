"""List registered courses whose facts break the current staging and date rules.

Registrations made before a rule existed are not changed silently: a clinician corrects them
(the facts are clinical, and only the clinician knows which one is wrong). This command
changes nothing; it asks the same rules as the registration service
(``treatments.staging.assess`` and ``treatments.staging.clinical_date_issue``) and prints
one line per problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import F

from treatments import staging
from treatments.models import Course, CourseEvent


@dataclass(frozen=True)
class Problem:
    """One way a stored registration breaks a rule: where, which rule, and what to check."""

    course: int
    care_team: int
    mrn: str
    field: str
    code: str
    detail: str


def _decimal(value) -> float | None:
    return None if value is None else float(value)


def problems_of(course: Course) -> Iterator[Problem]:
    """The problems of one course's registration (diagnosis, surgery, stored stage)."""
    dx, op, person = course.diagnosis, course.surgery, course.patient

    def problem(field: str, code: str, detail: str) -> Problem:
        return Problem(course.pk, course.care_team_id, person.mrn, field, code, detail)

    result = staging.assess(
        primary_site=dx.primary_site,
        differentiation=dx.differentiation,
        t=dx.t_display,  # "T3(m)" with no count is how a multifocal T was given
        n=dx.n,
        m=dx.m,
        ki67_percent=_decimal(dx.ki67_percent),
        mitoses_per_2mm2=_decimal(dx.mitoses_per_2mm2),
        tumour_count=dx.tumour_count,
        tumour_size_mm=_decimal(dx.tumour_size_mm),
        mesenteric_mass_over_2cm=dx.mesenteric_mass_over_2cm,
        nodes_examined=op.nodes_examined,
        nodes_positive=op.nodes_positive,
    )
    for field, messages in result.errors.items():
        for message in messages:
            yield problem(field, "refused_by_current_rules", message)
    if not result.errors and (dx.stage, dx.stage_system) != (result.stage, result.stage_system):
        yield problem(
            "diagnosis.stage",
            "stage_differs",
            f"Stored stage {dx.stage or 'none'} ({dx.stage_system}); the current rules give "
            f"{result.stage or 'none'} ({result.stage_system}).",
        )
    for section, instance, names in (
        ("diagnosis", dx, ("diagnosed_on", "sstr_imaging_on")),
        ("surgery", op, ("performed_on",)),
    ):
        for name in names:
            issue = staging.clinical_date_issue(
                getattr(instance, name), birth_date=person.birth_date
            )
            if issue:
                yield problem(f"{section}.{name}", "date_before_birth", issue)


def event_problems(courses) -> Iterator[Problem]:
    """Events dated before their patient's birth date or 1900 (one query)."""
    early = (
        CourseEvent.objects.filter(course__in=courses)
        .filter(occurred_on__lt=F("course__patient__birth_date"))
        .select_related("course__patient")
        .order_by("course_id", "seq")
    )
    floor = CourseEvent.objects.filter(
        course__in=courses, occurred_on__lt=staging.EARLIEST_CLINICAL_DATE
    ).exclude(pk__in=early.values("pk"))
    for event in [*early, *floor.select_related("course__patient").order_by("course_id", "seq")]:
        issue = staging.clinical_date_issue(
            event.occurred_on, birth_date=event.course.patient.birth_date
        )
        yield Problem(
            event.course_id,
            event.course.care_team_id,
            event.course.patient.mrn,
            f"events.{event.seq}.occurred_on",
            "date_before_birth",
            issue or "",
        )


class Command(BaseCommand):
    help = (
        "List registrations that break the current staging, node and date rules, for a "
        "clinician to correct. Changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--care-team", type=int, help="Only this care team's courses.")
        parser.add_argument(
            "--json", action="store_true", dest="as_json", help="One JSON object per line."
        )

    def handle(self, *args, care_team: int | None = None, as_json: bool = False, **options) -> None:
        courses = Course.objects.select_related("diagnosis", "surgery", "patient").order_by("pk")
        if care_team is not None:
            courses = courses.filter(care_team_id=care_team)
        found: list[Problem] = []
        for course in courses.iterator(chunk_size=500):
            found.extend(problems_of(course))
        found.extend(event_problems(courses.values("pk")))
        found.sort(key=lambda p: (p.course, p.field))
        for item in found:
            if as_json:
                self.stdout.write(json.dumps(asdict(item), ensure_ascii=False))
            else:
                self.stdout.write(
                    f"course {item.course} (team {item.care_team}, MRN {item.mrn}) "
                    f"{item.field} [{item.code}]: {item.detail}"
                )
        count = len({item.course for item in found})
        summary = f"{count} registration{'' if count == 1 else 's'} to correct."
        # With --json, stdout holds only the JSON lines.
        (self.stderr if as_json else self.stdout).write(summary)
