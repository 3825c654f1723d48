"""Test data built through the services: valid initial objects only.

Later states come from `record_event`, as they do in production
(docs/architecture.md#tests-build-state-through-services).
"""

import datetime as dt
import itertools
from typing import Any

from django.contrib.auth.models import Group, User

from treatments import services
from treatments.models import CareTeam, Course

_mrn = itertools.count(1000)
PASSWORD = "correct-horse-battery-staple"

SURGERY_ON = dt.date(2026, 2, 1)


def user(username: str, role: str | None, *teams: CareTeam, **fields: Any) -> User:
    person = User.objects.create_user(username=username, password=PASSWORD, **fields)
    if role:
        # get_or_create: a transactional test flushes the groups the data migration made.
        person.groups.add(Group.objects.get_or_create(name=role)[0])
    for team in teams:
        team.members.add(person)
    return person


def team(name: str = "Team A", clinic: str = "Clinic 1") -> CareTeam:
    return CareTeam.objects.create(name=name, clinic=clinic)


def patient_data(**changes: Any) -> dict[str, Any]:
    data = {
        "mrn": f"A{next(_mrn)}",
        "given_name": "Ana",
        "family_name": "Silva",
        "birth_date": dt.date(1961, 4, 2),
        "sex": "female",
        "email": "ana@example.org",
        "phone": "+447700900123",
        "timezone": "Europe/London",
        "language": "en",
        "sms_consent": True,
        "email_consent": True,
    }
    return data | changes


def diagnosis_data(**changes: Any) -> dict[str, Any]:
    """The seed patient: stage III ileocecal NET G2, receptor-positive, CgA raised."""
    data = {
        "primary_site": "ileocecal",
        "diagnosed_on": dt.date(2026, 1, 10),
        "differentiation": "well",
        "ki67_percent": 4.0,
        "mitoses_per_2mm2": 1,
        "t": "T3",
        "n": "N1",
        "m": "M0",
        "sstr_imaging": "positive",
        "cga_elevated_preop": True,
        "functional": False,
    }
    return data | changes


def surgery_data(**changes: Any) -> dict[str, Any]:
    data = {
        "performed_on": SURGERY_ON,
        "procedure": "right_hemicolectomy",
        "margin": "R0",
        "nodes_examined": 14,
        "nodes_positive": 3,
        "gallbladder_removed": False,
    }
    return data | changes


def register(
    actor: User,
    care_team: CareTeam,
    *,
    patient: dict | None = None,
    diagnosis: dict | None = None,
    surgery: dict | None = None,
    **patient_changes: Any,
) -> Course:
    """Register the seed patient's course (in surveillance) through the service."""
    return services.register_course(
        actor=actor,
        care_team=care_team,
        patient=patient or patient_data(**patient_changes),
        diagnosis=diagnosis or diagnosis_data(),
        surgery=surgery or surgery_data(),
    ).course


SSA = {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28}
PRRT = {"agent": "lu177_dotatate", "activity_gbq": 7.4, "cycles_planned": 4}


def advance(
    course: Course, actor: User, *steps: tuple[str, dict], on: dt.date | None = None
) -> Course:
    """Record events in order (each a (type, data) pair) and return the refreshed course."""
    day = on or dt.date(2026, 9, 1)
    for kind, data in steps:
        services.record_event(
            course=course, type=kind, occurred_on=day, data=data, actor=actor, reason="test"
        )
    course.refresh_from_db()
    return course
