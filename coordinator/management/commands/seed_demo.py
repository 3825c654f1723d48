"""Demo data (docs/api.md#five-minute-walk-through): two care teams, the demo users, and patients
across every state, stage, grade, language and time zone, with a year of results.

Built through the services, so the demo's history, schedule and reminders are real. Dates are
counted from today, so a fresh run always has items due today and this week (the sweep at beat
start turns them into reminders), one overdue imaging (escalated to a coordinator alert) and one
urgent symptom check. Idempotent: a second run changes nothing but a demo password that
differs from --password. The superuser `admin` is a demo convenience and is never created
when DJANGO_ENV=production.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from alerts import services as alerts
from alerts.models import CoordinatorAlert
from core.errors import DomainError
from surveillance import schedule
from surveillance import services as surveillance
from treatments import machine, services
from treatments.models import CareTeam, Course, Patient
from treatments.roles import system_user

SSA = {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28}
PRRT = {"agent": "lu177_dotatate", "activity_gbq": 7.4, "cycles_planned": 4}
REASON = "Demo data"
PROCEDURES = ("segmental_ileal_resection", "ileocecal_resection", "right_hemicolectomy")

# Pathology per stage and grade (AJCC 8th jejunum/ileum table; WHO 2019 grade from Ki-67 and
# mitoses, treatments/staging/): the registration service derives stage and grade from these.
PATHOLOGY: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "I-G1": ({"t": "T1", "n": "N0", "ki67_percent": 1.5, "mitoses_per_2mm2": 1}, {"nodes_positive": 0}),
    "II-G1": ({"t": "T2", "n": "N0", "ki67_percent": 2, "mitoses_per_2mm2": 1}, {"nodes_positive": 0}),
    "II-G2": ({"t": "T3", "n": "N0", "ki67_percent": 6, "mitoses_per_2mm2": 3}, {"nodes_positive": 0}),
    "III-G1": ({"t": "T4", "n": "N1", "ki67_percent": 1, "mitoses_per_2mm2": 1}, {"nodes_positive": 3}),
    "III-G2": ({"t": "T3", "n": "N1", "ki67_percent": 4, "mitoses_per_2mm2": 2}, {"nodes_positive": 2}),
    "III-G2-N2": ({"t": "T3", "n": "N2", "ki67_percent": 9, "mitoses_per_2mm2": 4, "mesenteric_mass_over_2cm": True}, {"nodes_positive": 5}),
    "III-G3": ({"t": "T3", "n": "N1", "ki67_percent": 24, "mitoses_per_2mm2": 21}, {"nodes_positive": 4}),
    "IV-G2": ({"t": "T3", "n": "N1", "m": "M1a", "ki67_percent": 5, "mitoses_per_2mm2": 2,
               "notes": "Two liver metastases resected with the primary (R0)."}, {"nodes_positive": 3}),
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Demo:
    """One demo patient: who they are, their pathology, and what happened since surgery."""

    mrn: str
    given: str
    family: str
    sex: str
    born: dt.date
    language: str
    zone: str
    pathology: str
    surgery_days_ago: int
    # Events after registration as (type, data, days before today).
    steps: tuple[tuple[str, dict[str, Any], int], ...] = ()
    # Days from today to the next imaging (and its visit and CgA): 0 today, < 0 overdue.
    imaging_due_in: int | None = None
    symptom_check_due_in: int | None = None
    ssa_injection_due_in: int | None = None
    urgent_symptoms: bool = False
    consents: bool = True


D = dt.date
DEMO_PATIENTS: tuple[Demo, ...] = (
    Demo("DEMO-001", "Ana", "Silva", "female", D(1961, 3, 9), "pt", "Europe/Lisbon", "III-G2", 420,
         imaging_due_in=0, symptom_check_due_in=2),
    Demo("DEMO-002", "Ben", "Okafor", "male", D(1974, 11, 2), "en", "Europe/London", "II-G2", 300,
         steps=(("recurrence_detected", {"site": "liver", "resectable": True}, 20),)),
    Demo("DEMO-003", "Chloé", "Martin", "female", D(1958, 6, 21), "fr", "Europe/Paris", "III-G2-N2", 700,
         steps=(("recurrence_detected", {"site": "locoregional", "resectable": True}, 60),
                ("resection_started", {"procedure": "mesenteric lymphadenectomy"}, 10))),
    Demo("DEMO-004", "Dara", "Byrne", "female", D(1966, 1, 30), "en", "America/Toronto", "III-G2", 900,
         steps=(("recurrence_detected", {"site": "liver", "resectable": False}, 120),
                ("ssa_started", SSA, 100)),
         ssa_injection_due_in=1),
    Demo("DEMO-005", "Emil", "Novak", "male", D(1952, 8, 14), "en", "Australia/Sydney", "III-G1", 1300,
         steps=(("recurrence_detected", {"site": "liver", "resectable": False}, 300),
                ("ssa_started", SSA, 280),
                ("progression_detected", {"recist": "PD"}, 15))),
    Demo("DEMO-006", "Fatima", "Haddad", "female", D(1970, 4, 3), "fr", "Africa/Casablanca", "IV-G2", 1100,
         steps=(("recurrence_detected", {"site": "liver", "resectable": False}, 330),
                ("ssa_started", SSA, 320),
                ("progression_detected", {"recist": "PD"}, 90),
                ("prrt_started", PRRT, 60),
                ("procedure_recorded", {"procedure": "tace", "target": "liver"}, 30),
                ("prrt_cycle_given", {"cycle": 2, "activity_gbq": 7.4}, 4))),
    Demo("DEMO-007", "Goran", "Petrov", "male", D(1949, 12, 25), "en", "Asia/Tokyo", "III-G3", 1000,
         steps=(("recurrence_detected", {"site": "liver", "resectable": False}, 340),
                ("ssa_started", SSA, 330),
                ("progression_detected", {"recist": "PD"}, 50),
                ("everolimus_started", {"dose_mg": 10}, 40))),
    Demo("DEMO-008", "Hana", "Sato", "female", D(1979, 9, 7), "es", "America/Mexico_City", "III-G3", 800,
         steps=(("recurrence_detected", {"site": "peritoneal", "resectable": False}, 200),
                ("chemotherapy_started", {"regimen": "capecitabine_temozolomide"}, 180))),
    Demo("DEMO-009", "Ivo", "Costa", "male", D(1944, 2, 11), "pt", "America/Sao_Paulo", "IV-G2", 1500,
         steps=(("recurrence_detected", {"site": "bone", "resectable": False}, 150),
                ("supportive_care_started", {}, 140))),
    Demo("DEMO-010", "Jude", "Ellis", "other", D(1988, 5, 28), "en", "America/Los_Angeles", "I-G1", 600,
         steps=(("course_closed", {"reason": "transferred"}, 30),)),
    Demo("DEMO-011", "Lucía", "Fernández", "female", D(1967, 10, 19), "es", "Europe/Madrid", "II-G1", 500,
         imaging_due_in=3, symptom_check_due_in=5),
    Demo("DEMO-012", "Mateo", "Rojas", "male", D(1959, 7, 4), "es", "America/Bogota", "III-G2", 380,
         imaging_due_in=-12),
    Demo("DEMO-013", "Noémie", "Lefebvre", "female", D(1976, 2, 26), "fr", "America/Toronto", "II-G2", 250,
         symptom_check_due_in=0, urgent_symptoms=True),
    Demo("DEMO-014", "Olivia", "Brown", "female", D(1963, 12, 1), "en", "Pacific/Auckland", "III-G1", 640,
         imaging_due_in=1),
    Demo("DEMO-015", "Priya", "Nair", "female", D(1971, 8, 8), "en", "Asia/Kolkata", "II-G2", 450,
         imaging_due_in=4, symptom_check_due_in=0),
    Demo("DEMO-016", "Rui", "Almeida", "male", D(1955, 4, 17), "pt", "Africa/Maputo", "III-G2", 1500,
         imaging_due_in=6, consents=False),
    Demo("DEMO-017", "Sofía", "Gómez", "female", D(1983, 1, 13), "es", "America/Argentina/Buenos_Aires", "I-G1", 700,
         symptom_check_due_in=1),
    Demo("DEMO-018", "Tom", "Walker", "male", D(1947, 9, 30), "en", "America/Los_Angeles", "III-G2", 330,
         imaging_due_in=2),
)  # fmt: skip

# The second team shows scoping (coordinator2 sees only these); a few courses are enough.
TEAM_B_PATIENTS = DEMO_PATIENTS[:6]

CALM = {
    "flushing_per_day": 0, "stools_per_day": 2, "wheezing": False, "abdominal_pain": 1,
    "vomiting": False, "no_stool_or_gas": False, "palpitations_or_swelling": False,
    "weight_loss_kg": 0,
}  # fmt: skip
# Breathlessness at rest with flushing: a possible carcinoid crisis, scored URGENT
# (docs/clinical-rules.md#scoring-thresholds).
URGENT = CALM | {
    "flushing_per_day": 6,
    "stools_per_day": 5,
    "wheezing": True,
    "breathless_at_rest": True,
}


class Command(BaseCommand):
    help = "Create the demo care teams, users and patients across every state (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--password", default="netcare-demo")

    def handle(self, *args, password: str, **options) -> None:
        with transaction.atomic():
            team_a, _ = CareTeam.objects.get_or_create(name="NET clinic A", clinic="Demo Hospital")
            team_b, _ = CareTeam.objects.get_or_create(name="NET clinic B", clinic="Demo Hospital")
            users = {
                "coordinator": self._user("coordinator", "coordinator", password, team_a),
                "clinician": self._user("clinician", "clinician", password, team_a),
                "coordinator2": self._user("coordinator2", "coordinator", password, team_b),
                "clinician2": self._user("clinician2", "clinician", password, team_b),
                "patient": self._user("patient", "patient", password, None, staff=False),
            }
            if settings.DJANGO_ENV != "production":
                admin = self._user("admin", None, password, None)
                if not admin.is_superuser:
                    admin.is_superuser = True
                    admin.save(update_fields=["is_superuser"])
            created = 0
            for team, prefix, clinician, demos in (
                (team_a, "", users["clinician"], DEMO_PATIENTS),
                (team_b, "B-", users["clinician2"], TEAM_B_PATIENTS),
            ):
                for demo in demos:
                    mrn = prefix + demo.mrn
                    if not Patient.objects.filter(care_team=team, mrn=mrn).exists():
                        try:
                            _Course(team, mrn, demo, clinician).build()
                        except DomainError as exc:
                            # A rule changed under the demo: say which patient and why.
                            raise CommandError(f"{mrn}: {exc.as_body()}") from exc
                        created += 1
            demo_patient = Patient.objects.get(care_team=team_a, mrn="DEMO-001")
            if demo_patient.user_id != users["patient"].pk:
                demo_patient.user = users["patient"]
                demo_patient._history_user = system_user()
                demo_patient._change_reason = "Demo login linked"
                demo_patient.save()
        # Alerts are raised when the transaction commits. A course already past its decision
        # had that decision_pending alert resolved by its coordinator, as a clinic would.
        for team, coordinator in ((team_a, users["coordinator"]), (team_b, users["coordinator2"])):
            decided = CoordinatorAlert.objects.filter(
                course__patient__care_team=team,
                kind=alerts.ALERT_DECISION_PENDING,
                resolved_at__isnull=True,
            ).exclude(course__state__in=(machine.State.RECURRENCE, machine.State.PROGRESSION))
            for alert in decided:
                alerts.alert_resolve(
                    alert=alert, actor=coordinator, note="Decided at the tumour board."
                )
        admin_note = "" if settings.DJANGO_ENV == "production" else ", admin (superuser)"
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready ({created} new courses). Logins: coordinator, clinician, "
                f"patient, coordinator2{admin_note}; password {password!r}."
            )
        )

    def _user(self, username: str, role: str | None, password: str, team, *, staff: bool = True):
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.is_staff = staff
        # Setting the same password again would revoke the user's API tokens on every start.
        if not user.check_password(password):
            user.set_password(password)
        user.save()
        if role is not None:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        if team is not None:
            team.members.add(user)
        return user


class _Course:
    """Registers one demo course and records its year of history through the services.

    The dates of the latest results are chosen so that the schedule (surveillance.schedule, the
    one source of intervals) puts each item due when the demo wants it; earlier results are
    spaced back from them, so nothing else falls due or overdue by accident.
    """

    def __init__(self, team: CareTeam, mrn: str, demo: Demo, actor) -> None:
        self.team, self.mrn, self.demo, self.actor = team, mrn, demo, actor
        self.index = DEMO_PATIENTS.index(demo)
        self.today = timezone.localdate()
        self.course: Course | None = None

    def ago(self, days: int) -> dt.date:
        return self.today - dt.timedelta(days=days)

    def build(self) -> None:
        self._register()
        closing = [step for step in self.demo.steps if step[0] == "course_closed"]
        for step in [step for step in self.demo.steps if step not in closing]:
            self._event(*step)
        # Upcoming (outside the sweep's week) unless the demo wants the item due or overdue.
        imaging_due_in = self.demo.imaging_due_in
        if imaging_due_in is None:
            imaging_due_in = 30 + self.index * 13 % 90
        check_due_in = self.demo.symptom_check_due_in
        if check_due_in is None:
            check_due_in = 15 + self.index * 7 % 40
        imaged_on = self._last_done_for(schedule.Kind.IMAGING, "last_imaging_on", imaging_due_in)
        checked_on = self._last_done_for(
            schedule.Kind.SYMPTOM_CHECK, "last_symptom_check_on", check_due_in
        )
        self._history(imaged_on, checked_on)
        self._latest(imaged_on, checked_on)
        for step in closing:
            self._event(*step)

    def _event(self, kind: str, data: dict[str, Any], days_ago: int) -> None:
        services.record_event(
            course=self.course, type=kind, occurred_on=self.ago(days_ago), data=data,
            actor=self.actor, reason=REASON,
        )  # fmt: skip

    def _register(self) -> None:
        demo = self.demo
        surgery_on = self.ago(demo.surgery_days_ago)
        dx, op = PATHOLOGY[demo.pathology]
        registration = services.register_course(
            actor=self.actor,
            care_team=self.team,
            patient={
                "mrn": self.mrn, "given_name": demo.given, "family_name": demo.family,
                "birth_date": demo.born, "sex": demo.sex,
                "email": f"{self.mrn.lower()}@example.org",
                "phone": f"+4477009001{self.index:02d}",
                "timezone": demo.zone, "language": demo.language,
                "sms_consent": demo.consents, "email_consent": demo.consents,
            },
            diagnosis={
                "primary_site": "ileum", "diagnosed_on": surgery_on - dt.timedelta(days=25),
                "differentiation": "well", "m": "M0", "sstr_imaging": "positive",
                "cga_elevated_preop": demo.pathology != "I-G1", "functional": False, **dx,
            },
            surgery={
                "performed_on": surgery_on, "procedure": PROCEDURES[self.index % len(PROCEDURES)],
                "margin": "R0", "nodes_examined": 14, "gallbladder_removed": False, **op,
            },
            reason=REASON,
        )  # fmt: skip
        self.course = registration.course
        if self.course.diagnosis.cga_elevated_preop:
            # Drawn on the morning of the operation: the value the course page's marker chart
            # compares every later result with.
            surveillance.lab_record(
                course=self.course, actor=self.actor, analyte="chromogranin_a",
                value=(52 + 4 * self.index) * 3, unit="ng/mL", collected_on=surgery_on,
                on_ppi=False,
            )  # fmt: skip

    def _history(self, imaged_on: dt.date, checked_on: dt.date) -> None:
        """The year before the latest results: imaging with CgA every six months, a yearly
        5-HIAA, quarterly symptom checks (only after the surgery that opened the course)."""
        surgery_on = self.course.surgery.performed_on
        treated_from = self.ago(self.demo.steps[0][2]) if self.demo.steps else None
        for n, back in enumerate((364, 182)):
            performed_on = imaged_on - dt.timedelta(days=back)
            if performed_on < surgery_on + dt.timedelta(days=30):
                continue
            on_treatment = treated_from is not None and performed_on >= treated_from
            surveillance.imaging_record(
                course=self.course, actor=self.actor, performed_on=performed_on,
                modality="mri" if (n + self.index) % 3 == 0 else "ct",
                purpose="response_assessment" if on_treatment else "surveillance",
                result="stable" if on_treatment else "ned",
            )  # fmt: skip
            # CgA drifts up on the courses with disease, stays flat in surveillance.
            drift = 1 + (0.4 * n if self.demo.steps else 0.05 * n)
            surveillance.lab_record(
                course=self.course, actor=self.actor, analyte="chromogranin_a",
                value=round((52 + 4 * self.index) * drift, 1), unit="ng/mL",
                collected_on=performed_on - dt.timedelta(days=3), on_ppi=self.index % 5 == 0,
            )  # fmt: skip
            if n == 0:
                surveillance.lab_record(
                    course=self.course, actor=self.actor, analyte="u5hiaa",
                    value=round(4.1 + self.index * 0.3, 1), unit="mg/24h",
                    collected_on=performed_on - dt.timedelta(days=5),
                )  # fmt: skip
        for back in (273, 182, 91):
            reported_on = checked_on - dt.timedelta(days=back)
            if reported_on >= surgery_on + dt.timedelta(days=20):
                surveillance.symptom_check_record(
                    course=self.course, actor=self.actor, reported_on=reported_on,
                    **CALM | {"abdominal_pain": back % 3, "weight_kg": self._weight(back)},
                )  # fmt: skip

    def _latest(self, imaged_on: dt.date, checked_on: dt.date) -> None:
        """The results the next due dates count from, and the demo's urgent check."""
        demo = self.demo
        surveillance.imaging_record(
            course=self.course, actor=self.actor, performed_on=imaged_on,
            modality="ct", purpose="surveillance" if not demo.steps else "response_assessment",
            result="ned" if not demo.steps else "stable",
        )  # fmt: skip
        surveillance.lab_record(
            course=self.course, actor=self.actor, analyte="chromogranin_a",
            value=55 + 3 * self.index, unit="ng/mL", collected_on=imaged_on, on_ppi=False,
        )  # fmt: skip
        # Yearly after an ileal resection (docs/clinical-rules.md, monitoring): done with the CT.
        surveillance.lab_record(
            course=self.course, actor=self.actor, analyte="vitamin_b12",
            value=310 + 9 * self.index, unit="pg/mL", collected_on=imaged_on,
        )  # fmt: skip
        surveillance.visit_record(
            course=self.course, actor=self.actor, visited_on=imaged_on,
            notes="Well; no flushing or diarrhoea.",
        )  # fmt: skip
        surveillance.symptom_check_record(
            course=self.course, actor=self.actor, reported_on=checked_on,
            **CALM | {"weight_kg": self._weight(0)},
        )  # fmt: skip
        if demo.urgent_symptoms:
            surveillance.symptom_check_record(
                course=self.course, actor=self.actor, reported_on=self.today, **URGENT
            )
        if demo.ssa_injection_due_in is not None:
            for n in (2, 1):
                given_on = self.today + dt.timedelta(
                    days=demo.ssa_injection_due_in - n * SSA["interval_days"]
                )
                surveillance.injection_record(
                    course=self.course, actor=self.actor, given_on=given_on
                )

    def _weight(self, days_before_latest: int) -> float:
        """The weight (kg) a check reports: steady, gaining a little towards the latest check
        (no weight loss to score)."""
        return round(58 + 1.5 * self.index - days_before_latest / 180, 1)

    def _last_done_for(self, kind: str, fact: str, due_in: int) -> dt.date:
        """The date of a result after which the schedule puts `kind` due in `due_in` days
        (clamped to the surgery and today when no such date exists)."""
        course = Course.objects.select_related("plan", "surgery", "diagnosis", "current_line").get(
            pk=self.course.pk
        )
        params, facts = course.plan.params(), surveillance.facts_for(course)
        target = self.today + dt.timedelta(days=due_in)

        def due_after(done: dt.date) -> dt.date | None:
            replaced = dataclasses.replace(facts, **{fact: done})
            items = schedule.due_items(params, replaced, self.today)
            return next((item.due_on for item in items if item.kind == kind), None)

        done = target - relativedelta(months=3)
        for _ in range(4):
            due_on = due_after(done)
            if due_on is None or due_on == target:
                break
            done += target - due_on
        return max(min(done, self.today), facts.surgery_on)
