"""Demo data (docs/api.md#five-minute-walk-through): two care teams, the demo users, and patients
across every state.

Built through the services, so the demo's history, schedule and reminders are real.
Idempotent: a second run changes passwords only.
"""

import datetime as dt

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.utils import timezone

from treatments import services
from treatments.models import CareTeam, Patient
from treatments.roles import system_user

SSA = {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28}
PRRT = {"agent": "lu177_dotatate", "activity_gbq": 7.4, "cycles_planned": 4}

# (MRN, given name, family name, events after registration as (type, data, days before today))
DEMO_COURSES = [
    ("DEMO-001", "Ana", "Silva", []),
    ("DEMO-002", "Ben", "Okafor", [("recurrence_detected", {"site": "liver", "resectable": True}, 20)]),
    ("DEMO-003", "Chloé", "Martin", [
        ("recurrence_detected", {"site": "locoregional", "resectable": True}, 60),
        ("resection_started", {"procedure": "mesenteric lymphadenectomy"}, 10),
    ]),
    ("DEMO-004", "Dara", "Byrne", [
        ("recurrence_detected", {"site": "liver", "resectable": False}, 120),
        ("ssa_started", SSA, 100),
    ]),
    ("DEMO-005", "Emil", "Novak", [
        ("recurrence_detected", {"site": "liver", "resectable": False}, 300),
        ("ssa_started", SSA, 280),
        ("progression_detected", {"recist": "PD"}, 15),
    ]),
    ("DEMO-006", "Fatima", "Haddad", [
        ("recurrence_detected", {"site": "liver", "resectable": False}, 330),
        ("ssa_started", SSA, 320),
        ("progression_detected", {"recist": "PD"}, 90),
        ("prrt_started", PRRT, 60),
    ]),
    ("DEMO-007", "Goran", "Petrov", [
        ("recurrence_detected", {"site": "liver", "resectable": False}, 340),
        ("ssa_started", SSA, 330),
        ("progression_detected", {"recist": "PD"}, 50),
        ("everolimus_started", {"dose_mg": 10}, 40),
    ]),
    ("DEMO-008", "Hana", "Sato", [
        ("recurrence_detected", {"site": "peritoneal", "resectable": False}, 200),
        ("chemotherapy_started", {"regimen": "capecitabine_temozolomide"}, 180),
    ]),
    ("DEMO-009", "Ivo", "Costa", [
        ("recurrence_detected", {"site": "bone", "resectable": False}, 150),
        ("supportive_care_started", {}, 140),
    ]),
    ("DEMO-010", "Jude", "Ellis", [("course_closed", {"reason": "transferred"}, 30)]),
]  # fmt: skip


class Command(BaseCommand):
    help = "Create the demo care teams, users and patients across every state (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default="netcare-demo")

    def handle(self, *args, password: str, **options) -> None:
        with transaction.atomic():
            team_a, _ = CareTeam.objects.get_or_create(name="NET clinic A", clinic="Demo Hospital")
            team_b, _ = CareTeam.objects.get_or_create(name="NET clinic B", clinic="Demo Hospital")
            users = {
                "coordinator": self._user(
                    "coordinator", "coordinator", password, team_a, staff=True
                ),
                "clinician": self._user("clinician", "clinician", password, team_a, staff=True),
                "coordinator2": self._user(
                    "coordinator2", "coordinator", password, team_b, staff=True
                ),
                "patient": self._user("patient", "patient", password, None, staff=False),
            }
            created = 0
            for team, prefix in ((team_a, ""), (team_b, "B-")):
                for mrn, given, family, steps in DEMO_COURSES:
                    if not Patient.objects.filter(care_team=team, mrn=prefix + mrn).exists():
                        self._course(team, prefix + mrn, given, family, steps, users["clinician"])
                        created += 1
            demo_patient = Patient.objects.get(care_team=team_a, mrn="DEMO-001")
            if demo_patient.user_id != users["patient"].pk:
                demo_patient.user = users["patient"]
                demo_patient._history_user = system_user()
                demo_patient._change_reason = "Demo login linked"
                demo_patient.save()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready ({created} new courses). Logins: coordinator, clinician, "
                f"patient, coordinator2; password {password!r}."
            )
        )

    def _user(self, username: str, role: str, password: str, team, *, staff: bool):
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.is_staff = staff
        user.set_password(password)
        user.save()
        user.groups.add(Group.objects.get_or_create(name=role)[0])
        if team is not None:
            team.members.add(user)
        return user

    def _course(self, team, mrn, given, family, steps, actor) -> None:
        today = timezone.localdate()
        surgery_on = today - dt.timedelta(days=400)
        registration = services.register_course(
            actor=actor,
            care_team=team,
            patient={
                "mrn": mrn, "given_name": given, "family_name": family,
                "birth_date": dt.date(1960, 5, 17), "sex": "unknown",
                "email": f"{mrn.lower()}@example.org", "phone": "+447700900123",
                "timezone": "Europe/London", "language": "en",
                "sms_consent": True, "email_consent": True,
            },
            diagnosis={
                "primary_site": "ileum", "diagnosed_on": surgery_on - dt.timedelta(days=20),
                "differentiation": "well", "ki67_percent": 4, "mitoses_per_2mm2": 1,
                "t": "T3", "n": "N1", "m": "M0", "sstr_imaging": "positive",
                "cga_elevated_preop": True, "functional": False,
            },
            surgery={
                "performed_on": surgery_on, "procedure": "segmental ileal resection",
                "margin": "R0", "nodes_examined": 12, "nodes_positive": 2,
                "gallbladder_removed": False,
            },
            reason="Demo data",
        )  # fmt: skip
        for kind, data, days_ago in steps:
            services.record_event(
                course=registration.course,
                type=kind,
                occurred_on=today - dt.timedelta(days=days_ago),
                data=data,
                actor=actor,
                reason="Demo data",
            )
