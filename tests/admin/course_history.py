"""A year of a patient's course after surgery, built through the services (charts tests).

Shared by the test-client tests (clock pinned) and the browser test (real clock): dates are
counted from ``today``. The story: CgA and 5-HIAA raised before surgery, a liver recurrence
at six months, lanreotide, progression, PRRT (two cycles) with a TACE beside it, a partial
response; a symptom check with weight every two months.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import User

from surveillance import services as surveillance
from tests import factories
from treatments import services
from treatments.models import CareTeam, Course

CALM = {
    "flushing_per_day": 0, "stools_per_day": 2, "wheezing": False, "abdominal_pain": 1,
    "vomiting": False, "no_stool_or_gas": False, "palpitations_or_swelling": False,
    "weight_loss_kg": 0,
}  # fmt: skip


def build_year(
    actor: User, team: CareTeam, *, today: dt.date, checks: int = 6, **patient: object
) -> Course:
    """Register a course operated on 390 days before ``today`` and record its year.

    ``checks`` symptom checks (at most 6) are recorded, one every two months from the second
    month; the rest of the history is fixed.
    """
    surgery_on = today - dt.timedelta(days=390)

    def day(n: int) -> dt.date:
        return surgery_on + dt.timedelta(days=n)

    course = factories.register(
        actor,
        team,
        patient=factories.patient_data(**patient),
        diagnosis=factories.diagnosis_data(
            diagnosed_on=surgery_on - dt.timedelta(days=20), functional=True
        ),
        surgery=factories.surgery_data(performed_on=surgery_on),
    )

    def lab(analyte: str, value: float, unit: str, n: int) -> None:
        surveillance.lab_record(
            course=course, actor=actor, analyte=analyte, value=value, unit=unit,
            collected_on=day(n), on_ppi=False if analyte == "chromogranin_a" else None,
            today=today,
        )  # fmt: skip

    def imaging(n: int, result: str, purpose: str, **extra: object) -> None:
        surveillance.imaging_record(
            course=course, actor=actor, performed_on=day(n), modality="ct", purpose=purpose,
            result=result, today=today, **extra,
        )  # fmt: skip

    def check(n: int, answers: dict) -> None:
        surveillance.symptom_check_record(
            course=course, actor=actor, reported_on=day(60 * (n + 1)), today=today, **answers
        )

    def event(kind: str, data: dict, n: int) -> None:
        services.record_event(
            course=course, type=kind, occurred_on=day(n), data=data, actor=actor,
            reason="Tumour board",
        )  # fmt: skip

    steps = [
        # Drawn on the morning of the operation: the pre-operative values.
        (0, lambda: lab("chromogranin_a", 180, "ng/mL", 0)),
        (0, lambda: lab("u5hiaa", 9.5, "mg/24h", 0)),
        (90, lambda: lab("chromogranin_a", 64, "ng/mL", 90)),
        (178, lambda: lab("chromogranin_a", 150, "ng/mL", 178)),
        (178, lambda: lab("u5hiaa", 8.1, "mg/24h", 178)),
        (180, lambda: imaging(180, "recurrence", "surveillance", site="liver", resectable=False)),
        (195, lambda: event("ssa_started", factories.SSA, 195)),
        (268, lambda: lab("chromogranin_a", 240, "ng/mL", 268)),
        (270, lambda: imaging(270, "progression", "response_assessment")),
        (290, lambda: event("prrt_started", factories.PRRT, 290)),
        (310, lambda: event("procedure_recorded", {"procedure": "tace", "target": "liver"}, 310)),
        (346, lambda: event("prrt_cycle_given", {"cycle": 2, "activity_gbq": 7.4}, 346)),
        (370, lambda: lab("chromogranin_a", 120, "ng/mL", 370)),
        (370, lambda: lab("u5hiaa", 6.2, "mg/24h", 370)),
        (372, lambda: imaging(372, "partial_response", "response_assessment")),
    ]
    for n in range(min(checks, 6)):
        answers = CALM | {
            "flushing_per_day": (0, 1, 3, 4, 2, 1)[n],
            "stools_per_day": (2, 2, 4, 5, 3, 3)[n],
            "abdominal_pain": (1, 1, 3, 4, 2, 2)[n],
            "weight_kg": (72.0, 71.5, 70.2, 69.0, 69.4, 70.1)[n],
            "wheezing": n == 3,
        }
        steps.append((60 * (n + 1) + 1, lambda n=n, answers=answers: check(n, answers)))
    for _, step in sorted(steps, key=lambda pair: pair[0]):
        step()
    course.refresh_from_db()
    return course
