"""Treatment lines: what each line-starting event records, and which events end the line."""

from __future__ import annotations

import pytest

from treatments.lines import line_end_reason, line_spec


@pytest.mark.parametrize(
    ("event", "data", "category", "agent", "route", "interval"),
    [
        ("ssa_started", {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28},
         "ssa", "lanreotide", "deep subcutaneous", 28),
        ("ssa_started", {"agent": "octreotide_lar", "dose_mg": 30, "interval_days": 28},
         "ssa", "octreotide_lar", "intramuscular", 28),
        ("prrt_started", {"agent": "lu177_dotatate", "activity_gbq": 7.4, "cycles_planned": 4},
         "prrt", "lu177_dotatate", "intravenous", 56),
        ("everolimus_started", {"dose_mg": 10}, "everolimus", "everolimus", "oral", 1),
        ("chemotherapy_started", {"regimen": "cisplatin_etoposide"},
         "chemotherapy", "cisplatin_etoposide", "intravenous", 21),
        ("supportive_care_started", {}, "supportive", "best_supportive_care", "", None),
    ],
)  # fmt: skip
def test_each_line_starting_event_describes_its_line(event, data, category, agent, route, interval):
    spec = line_spec(event, data)

    assert (spec["category"], spec["agent"], spec["route"], spec["interval_days"]) == (
        category, agent, route, interval,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("event", "data", "expected"),
    [
        ("progression_detected", {"recist": "PD"}, "progression"),
        ("course_closed", {"reason": "deceased"}, "deceased"),
        ("prrt_started", {"agent": "lu177_dotatate", "activity_gbq": 7.4, "cycles_planned": 4},
         "switched"),
        ("symptoms_reported", {}, None),
        ("recurrence_detected", {"site": "liver", "resectable": True}, None),
    ],
)  # fmt: skip
def test_progression_closing_and_a_new_line_end_the_running_line(event, data, expected):
    assert line_end_reason(event, data) == expected
    assert (line_spec(event, data) is None) == (
        event
        in {"progression_detected", "course_closed", "symptoms_reported", "recurrence_detected"}
    )
