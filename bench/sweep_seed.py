"""bench/sweep.py's data (not timed): the course mix, the due items' kinds and windows, and
the seeder that writes courses and their items by COPY in steps.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time

from bench import loaders
from bench.loaders import Contact

# The partial index the sweep's find-due step must read.
DUE_INDEX = "scheduled_due_active"

KINDS = ("imaging", "visit", "cga", "symptom_check", "ssa_injection")
# The version 2 monitoring kinds: a functional tumour or carcinoid syndrome (every third course
# here) brings urine 5-HIAA, NT-proBNP and the heart scan; an SSA line brings vitamin B12 and D.
SYNDROME_KINDS = ("u5hiaa", "nt_probnp", "echocardiography")
SSA_KINDS = ("vitamin_b12", "vitamin_d")
# Item ids are course id * ID_STRIDE + the kind's place, so no two items share an id.
ID_STRIDE = 16
# (days before due_on the window opens, days after it closes or None) per kind.
WINDOWS = {
    "imaging": (28, 28),
    "visit": (14, 14),
    "cga": (14, 14),
    "symptom_check": (7, None),
    "ssa_injection": (3, 3),
    "u5hiaa": (14, 14),
    "nt_probnp": (14, 14),
    "echocardiography": (28, 28),
    "vitamin_b12": (14, 14),
    "vitamin_d": (14, 14),
}
TIMEZONES = ("Europe/London", "Europe/Lisbon", "Europe/Madrid", "Europe/Paris", "America/New_York")
LANGUAGES = ("en", "en", "pt", "es", "fr")
ITEM_COLUMNS = ["id", "kind", "due_on", "window_start", "window_end", "why", "source", "active",
                "updated_at", "course_id"]  # fmt: skip


def state_of(i: int) -> str:
    """Course i's state: 5 % closed, 10 % SSA, 5 % recurrence, the rest surveillance."""
    r = i % 20
    if r == 7:
        return "closed"
    if r in (3, 17):
        return "ssa"
    if r == 13:
        return "recurrence"
    return "surveillance"


class Seeder:
    def __init__(self, args: argparse.Namespace, today: dt.date, now: dt.datetime):
        self.args = args
        self.today = today
        self.now = now
        self.rng = random.Random(args.seed)
        self.seeded = 0
        self.items = 0
        # Dates outside the sweep's window: 30 days of long-overdue items, then a year ahead.
        self.outside = [today - dt.timedelta(days=d) for d in range(31, 61)]
        self.outside += [today + dt.timedelta(days=d) for d in range(8, 368)]

    def contact(self, i: int) -> Contact:
        r = self.rng.random()
        return Contact(
            email="" if i % 20 == 11 else f"p{i}@example.org",
            phone="" if i % 20 == 5 else f"+4477009{i % 100000:05d}",
            timezone=TIMEZONES[i % len(TIMEZONES)],
            language=LANGUAGES[(i // 3) % len(LANGUAGES)],
            email_consent=r < 0.7,
            sms_consent=(r * 7.31) % 1 < 0.6,
        )

    def surgery_on(self, i: int) -> dt.date:
        return self.today - dt.timedelta(days=60 + (i * 37) % 2900)

    def item_lines(self, ids: range):
        stamp = self.now.isoformat()
        outside, pick = self.outside, self.rng.choice
        for i in ids:
            active = "f" if state_of(i) == "closed" else "t"
            on_ssa = state_of(i) == "ssa"
            kinds = (KINDS if on_ssa else KINDS[:4]) + (SSA_KINDS if on_ssa else ())
            if i % 3 == 0:
                kinds += SYNDROME_KINDS
            for k, kind in enumerate(kinds):
                due = pick(outside)
                before, after = WINDOWS[kind]
                end = r"\N" if after is None else str(due + dt.timedelta(days=after))
                yield (
                    f"{i * ID_STRIDE + k}\t{kind}\t{due}\t{due - dt.timedelta(days=before)}\t{end}\t"
                    f"bench: {kind} per the plan\tdocs/clinical-rules.md#default-schedules\t"
                    f"{active}\t{stamp}\t{i}"
                )

    def seed_to(self, db: str, total: int) -> float:
        """Add courses seeded+1..total (and their items); returns seconds spent."""
        t0 = time.perf_counter()
        ids = range(self.seeded + 1, total + 1)
        tables = ["treatments_patient", "treatments_diagnosis", "treatments_surgery",
                  "treatments_course", "surveillance_scheduleditem"]  # fmt: skip
        with (
            loaders.seeding_connection(db) as conn,
            loaders.secondary_indexes_dropped(conn, tables),
        ):
            if self.seeded == 0:
                loaders.copy_teams(conn, self.args.teams)
            loaders.copy_courses(
                conn, ids, teams=self.args.teams, now=self.now, state_of=state_of,
                contact_of=self.contact, surgery_on=self.surgery_on, mrn_prefix="S",
            )  # fmt: skip
            self.items += loaders.copy_lines(
                conn, "surveillance_scheduleditem", ITEM_COLUMNS, self.item_lines(ids)
            )
            loaders.reset_sequences(conn, ["treatments_careteam", *tables])
        self.seeded = total
        return time.perf_counter() - t0
