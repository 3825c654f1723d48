"""ORM seeding (bench/api.py, bench/ingest.py; not timed): teams, the bench user, one course
registered through the service, then bulk clones of it (bulk_create with history rows), so
every course has a plan and due items exactly as the service would have written them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from bench.database import BENCH_PASSWORD, BENCH_USERNAME

SEED_PATIENT = {
    "given_name": "Ana", "family_name": "Silva", "birth_date": dt.date(1961, 4, 2),
    "sex": "female", "email": "ana@example.org", "phone": "+447700900123",
    "timezone": "Europe/London", "language": "en", "sms_consent": True, "email_consent": True,
}  # fmt: skip
SSA = {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28}


def seed_diagnosis(surgery_on: dt.date) -> dict:
    return {
        "primary_site": "ileum", "diagnosed_on": surgery_on - dt.timedelta(days=20),
        "differentiation": "well", "ki67_percent": 4.0, "mitoses_per_2mm2": 1,
        "t": "T3", "n": "N1", "m": "M0", "sstr_imaging": "positive",
        "cga_elevated_preop": True, "functional": False,
    }  # fmt: skip


def seed_surgery(surgery_on: dt.date) -> dict:
    return {
        "performed_on": surgery_on, "procedure": "segmental_ileal_resection", "margin": "R0",
        "nodes_examined": 14, "nodes_positive": 3, "gallbladder_removed": False,
    }  # fmt: skip


def create_teams(count: int) -> list:
    from treatments.models import CareTeam

    return CareTeam.objects.bulk_create(
        [
            CareTeam(name=f"Bench team {i + 1:02d}", clinic=f"Bench clinic {i % 5 + 1}")
            for i in range(count)
        ]
    )


def create_bench_user(teams: Sequence):
    """The coordinator every load thread logs in as: a member of every team."""
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username=BENCH_USERNAME, password=BENCH_PASSWORD)
    user.groups.add(Group.objects.get(name="coordinator"))
    user.care_teams.add(*teams)
    return user


def register_course(actor, team, mrn: str, surgery_on: dt.date, family_name: str = "Silva"):
    from treatments import services

    return services.register_course(
        actor=actor,
        care_team=team,
        patient=SEED_PATIENT | {"mrn": mrn, "family_name": family_name},
        diagnosis=seed_diagnosis(surgery_on),
        surgery=seed_surgery(surgery_on),
        reason="bench seed",
    ).course


def _clone(obj, **changes):
    values = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
    values[obj._meta.pk.attname] = None
    values.update(changes)
    return type(obj)(**values)


def clone_courses(
    template, teams: Sequence, count: int, actor, *, prefix: str, mixed_states: bool
) -> list[tuple[int, str]]:
    """`count` courses (with patient, diagnosis, surgery, plan, due items and history rows)
    cloned from `template`, dates shifted back by 0-364 days, round-robin over `teams`.

    mixed_states: 1 in 20 closed (with its course_closed event), 1 in 20 in recurrence (with
    its recurrence_detected event), the rest in surveillance. Returns (course id, state).
    """
    from django.db import transaction
    from django.utils import timezone
    from simple_history.utils import bulk_create_with_history

    from surveillance.models import ScheduledItem, SurveillancePlan
    from treatments.models import Course, CourseEvent, Diagnosis, Patient, Surgery

    tpl = Course.objects.select_related("patient", "diagnosis", "surgery", "plan").get(
        pk=template.pk
    )
    items = list(ScheduledItem.objects.filter(course=tpl))
    batch = 2000
    reason = "bench seed (bulk)"
    now = timezone.now()
    shifts = [dt.timedelta(days=i % 365) for i in range(count)]
    states = []
    for i in range(count):
        if mixed_states and i % 20 == 7:
            states.append("closed")
        elif mixed_states and i % 20 == 13:
            states.append("recurrence")
        else:
            states.append("surveillance")

    def create(objs, model):
        return bulk_create_with_history(
            objs, model, batch_size=batch, default_user=actor, default_change_reason=reason
        )

    with transaction.atomic():
        patients = create(
            [
                _clone(tpl.patient, care_team_id=teams[i % len(teams)].pk,
                       clinic=teams[i % len(teams)].clinic, mrn=f"{prefix}{i:07d}",
                       family_name=f"Bench{i:05d}", user_id=None, created_at=now)
                for i in range(count)
            ],
            Patient,
        )  # fmt: skip
        diagnoses = create(
            [
                _clone(tpl.diagnosis, patient_id=p.pk, diagnosed_on=tpl.diagnosis.diagnosed_on - s)
                for p, s in zip(patients, shifts, strict=True)
            ],
            Diagnosis,
        )
        surgeries = create(
            [
                _clone(tpl.surgery, patient_id=p.pk, performed_on=tpl.surgery.performed_on - s)
                for p, s in zip(patients, shifts, strict=True)
            ],
            Surgery,
        )
        courses = []
        for i in range(count):
            closed = states[i] == "closed"
            event_on = surgeries[i].performed_on + dt.timedelta(days=200)
            courses.append(
                _clone(
                    tpl, patient_id=patients[i].pk, care_team_id=patients[i].care_team_id,
                    diagnosis_id=diagnoses[i].pk, surgery_id=surgeries[i].pk,
                    opened_on=surgeries[i].performed_on, state=states[i],
                    version=1 if states[i] == "surveillance" else 2, current_line_id=None,
                    closed_on=event_on if closed else None,
                    closed_reason="discharged" if closed else "", created_at=now,
                )
            )  # fmt: skip
        courses = create(courses, Course)
        create(
            [
                _clone(tpl.plan, course_id=c.pk, anchor_on=tpl.plan.anchor_on - s)
                for c, s in zip(courses, shifts, strict=True)
            ],
            SurveillancePlan,
        )
        ScheduledItem.objects.bulk_create(
            [
                _clone(
                    item, course_id=c.pk, due_on=item.due_on - s,
                    window_start=item.window_start - s,
                    window_end=None if item.window_end is None else item.window_end - s,
                    active=c.state != "closed", updated_at=now,
                )
                for c, s in zip(courses, shifts, strict=True)
                for item in items
            ],
            batch_size=batch,
        )  # fmt: skip
        events = []
        for c in courses:
            if c.state == "surveillance":
                continue
            kind, data = (
                ("course_closed", {"reason": "discharged"})
                if c.state == "closed"
                else ("recurrence_detected", {"site": "liver", "resectable": True})
            )
            events.append(
                CourseEvent(
                    course_id=c.pk, seq=1, type=kind, occurred_on=c.opened_on + dt.timedelta(days=200),
                    recorded_at=now, actor_id=actor.pk, data=data, reason=reason,
                    from_state="surveillance", to_state=c.state,
                )
            )  # fmt: skip
        CourseEvent.objects.bulk_create(events, batch_size=batch)
    return [(c.pk, c.state) for c in courses]


def build_event_course(actor, team, n_events: int, mrn: str = "EVENTS-0001"):
    """A course whose log is real: registered, then `n_events` record_event calls
    (recurrence, SSA started, then symptom reports), dates ascending and in the past."""
    from treatments import services

    today = dt.date.today()
    surgery_on = today - dt.timedelta(days=30 + 7 * n_events)
    course = register_course(actor, team, mrn, surgery_on, family_name="Timeline")
    steps = [
        ("recurrence_detected", {"site": "liver", "resectable": False}),
        ("ssa_started", SSA),
    ]
    for k in range(n_events):
        kind, data = steps[k] if k < len(steps) else ("symptoms_reported", {})
        services.record_event(
            course=course.pk, type=kind, occurred_on=surgery_on + dt.timedelta(days=20 + 7 * k),
            data=data, actor=actor, reason="bench seed",
        )  # fmt: skip
    course.refresh_from_db()
    return course
