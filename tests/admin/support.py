"""A coordinator's morning, built through the services with dates relative to ``today``.

Shared by the test-client tests (clock pinned) and the browser test (real clock): each course
is registered, moved by events and results, and then the reminder and escalation services run
with an explicit ``today`` / ``now``, as beat would run them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from dateutil.relativedelta import relativedelta
from django.contrib.auth.models import User

from alerts import services as alert_services
from surveillance import services as surveillance_services
from surveillance.models import ScheduledItem
from tests import factories
from treatments import services as treatment_services
from treatments.models import CareTeam, Course


def months_ago(today: dt.date, months: int, days: int = 0) -> dt.date:
    return today - relativedelta(months=months) - dt.timedelta(days=days)


def register_operated_on(
    actor: User, team: CareTeam, surgery_on: dt.date, **patient: object
) -> Course:
    """The seed patient (standard risk: imaging 6 months after surgery, CgA raised)."""
    return factories.register(
        actor,
        team,
        patient=factories.patient_data(**patient),
        diagnosis=factories.diagnosis_data(diagnosed_on=surgery_on - dt.timedelta(days=20)),
        surgery=factories.surgery_data(performed_on=surgery_on),
    )


def imaging(course: Course, actor: User, on: dt.date, result: str, **extra: object) -> None:
    surveillance_services.imaging_record(
        course=course, actor=actor, performed_on=on, modality="ct", purpose="surveillance",
        result=result, **extra,
    )  # fmt: skip


@dataclass
class Morning:
    """Team A's courses by what the worklist should say about them, and team B's."""

    gap: Course  # no imaging for more than 12 months: overdue, critical
    late: Course  # imaging overdue by about six weeks, within the 12-month cap
    soon: Course  # imaging, visit and CgA due in three days; its email reminders fail
    recurrence: Course  # recurrence found: decision pending
    progression: Course  # progressed on SSA: decision pending
    theirs: list[Course] = field(default_factory=list)  # team B: the same situations


def build_morning(
    *,
    today: dt.date,
    clinician: User,
    team_a: CareTeam,
    coordinator2: User,
    team_b: CareTeam,
) -> Morning:
    """Register and move the courses; reminders and escalation are run by `run_beat`."""

    def situations(actor: User, team: CareTeam, tag: str) -> dict[str, Course]:
        courses = {
            "gap": register_operated_on(
                actor, team, months_ago(today, 14), mrn=f"{tag}-GAP", family_name=f"Gap{tag}"
            ),
            "late": register_operated_on(
                actor, team, months_ago(today, 7, 15), mrn=f"{tag}-LATE", family_name=f"Late{tag}"
            ),
            "soon": register_operated_on(
                actor,
                team,
                months_ago(today, 6) + dt.timedelta(days=3),
                mrn=f"{tag}-SOON",
                family_name=f"Soon{tag}",
                email=f"soon-{tag.lower()}@example.org",
                sms_consent=False,
            ),
            "recurrence": register_operated_on(
                actor, team, months_ago(today, 9), mrn=f"{tag}-REC", family_name=f"Rec{tag}"
            ),
            "progression": register_operated_on(
                actor, team, months_ago(today, 9), mrn=f"{tag}-PROG", family_name=f"Prog{tag}"
            ),
        }
        imaging(courses["recurrence"], actor, today - dt.timedelta(days=80), "recurrence",
                site="liver", resectable=True)  # fmt: skip
        imaging(courses["progression"], actor, today - dt.timedelta(days=130), "recurrence",
                site="liver", resectable=False)  # fmt: skip
        treatment_services.record_event(
            course=courses["progression"], type="ssa_started",
            occurred_on=today - dt.timedelta(days=125), data=factories.SSA, actor=actor,
            reason="receptor-positive liver disease",
        )  # fmt: skip
        imaging(courses["progression"], actor, today - dt.timedelta(days=20), "progression")
        return courses

    ours = situations(clinician, team_a, "A")
    theirs = situations(coordinator2, team_b, "B")
    return Morning(**ours, theirs=list(theirs.values()))


def run_beat(morning: Morning, *, today: dt.date, now: dt.datetime) -> None:
    """The periodic tasks of one morning: sweep, dispatch (the `soon` emails fail), escalate."""
    alert_services.sweep(today=today, now=now)
    alert_services.dispatch_batch(now=now)
    alert_services.escalate(today=today, now=now)


def overdue_items(course: Course, due: dict[str, dt.date]) -> None:
    """Make these the course's only active scheduled items (kind -> due date, in the past).

    The surveillance app writes these rows from the plan; a worklist test of one kind needs
    exactly that kind overdue, whatever the plan would schedule, so it replaces them.
    """
    ScheduledItem.objects.filter(course=course).delete()
    for kind, due_on in due.items():
        ScheduledItem.objects.create(
            course=course,
            kind=kind,
            due_on=due_on,
            window_start=due_on - dt.timedelta(days=30),
            window_end=None,
            why=f"{kind} due {due_on.isoformat()}",
        )
