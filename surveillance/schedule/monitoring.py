"""Monitoring beside imaging: markers, heart screening, vitamins, line labs and SSA injections.

Pure: plan facts in, planned dates (with reason and source) out; ``due`` turns them into items.
Every figure is a named constant citing docs/clinical-rules.md and the source behind it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final

from dateutil.relativedelta import relativedelta

from .facts import Facts, Kind, SsaLine, _months, _Planned
from .plans import SSA_INJECTION_DAYS, SSA_WINDOW_DAYS
from .sources import (
    SOURCE_CARCINOID_HEART,
    SOURCE_CGA,
    SOURCE_LINE_MONITORING,
    SOURCE_PRRT_LABS,
    SOURCE_SSA_INTERVAL,
    SOURCE_SYMPTOMS_BRING_FORWARD,
    SOURCE_U5HIAA,
    SOURCE_VITAMINS,
)

# Carcinoid heart disease screening (expert statement on carcinoid heart disease, JACC 2017;
# docs/clinical-rules.md#version-2-surveillance-and-monitoring).
NT_PROBNP_INTERVAL_MONTHS: Final = 12
NT_PROBNP_ECHO_ABOVE_PG_ML: Final = 260.0
U5HIAA_ECHO_ABOVE_UMOL_24H: Final = 300.0
# Established carcinoid heart disease: echo every 3–6 months; the longer bound is the default
# (product choice within the expert statement's range).
ECHO_HEART_DISEASE_MONTHS: Final = 6
# Vitamins (octreotide label: monitor B12; deficiency series in GEP-NET): yearly.
VITAMIN_INTERVAL_MONTHS: Final = 12
# PRRT (Lutathera label; NETTER-1): cycles every 8 weeks, 4 planned; labs within 2–4 weeks
# before each cycle; blood counts yearly after PRRT (myelodysplasia risk).
PRRT_CYCLE_DAYS: Final = 56
PRRT_DEFAULT_CYCLES: Final = 4
PRRT_LABS_EARLIEST_DAYS: Final = 28
PRRT_LABS_LATEST_DAYS: Final = 14
POST_PRRT_BLOOD_COUNTS_MONTHS: Final = 12
# No long-acting SSA in the 4 weeks before a PRRT cycle (Lutathera label).
PRRT_SSA_WASHOUT_DAYS: Final = 28
# Everolimus: glucose, lipids and blood counts before and every 3 months (RADIANT-4; label).
EVEROLIMUS_LABS_MONTHS: Final = 3
# Chemotherapy: blood counts each cycle; CAPTEM cycles are 28 days when no interval is recorded.
CHEMOTHERAPY_DEFAULT_CYCLE_DAYS: Final = 28
# SSA injection window: ±25 % of the prescribed interval, at most 7 days (CLARINET FORTE's 14
# days gets ±3); beside PRRT the injection is given 4–24 h after each cycle (Lutathera label).
SSA_WINDOW_FRACTION: Final = 0.25
SSA_AFTER_PRRT_WINDOW_DAYS: Final = 1


def _later(*days: date | None) -> date | None:
    known = [day for day in days if day is not None]
    return max(known) if known else None


def _done_since(facts: Facts, kind: Kind, since: date | None) -> bool:
    done = facts.last_done.get(str(kind))
    return done is not None and since is not None and done >= since


def symptom_marker_trigger(facts: Facts, kind: Kind) -> date | None:
    """The positive check that makes a marker due now, while no result answers it."""
    alert = facts.symptom_alert_on
    if alert is None or alert < facts.anchor_on or _done_since(facts, kind, alert):
        return None
    return alert


def with_imaging_or_now(
    facts: Facts,
    kind: Kind,
    imaging: _Planned | None,
    why: str,
    source: str,
    known_since: date | None = None,
) -> _Planned | None:
    """A marker due with each imaging study, or at once after a positive symptom check.

    ``known_since`` is the day the reason for the marker became known (a syndrome recorded
    after the check makes the marker due from that day, not before it).
    """
    alert = symptom_marker_trigger(facts, kind)
    if alert is not None and known_since is not None:
        alert = max(alert, known_since)
    if alert is not None and (imaging is None or alert < imaging.due_on):
        return _Planned(
            alert,
            f"Due now: the symptom check of {alert.isoformat()} was positive. {why}",
            f"{SOURCE_SYMPTOMS_BRING_FORWARD}; {source}",
        )
    if imaging is None:
        return None
    return _Planned(imaging.due_on, why, source)


def cga(facts: Facts, imaging: _Planned | None) -> _Planned | None:
    """Chromogranin A with each imaging when elevated before surgery (SOURCE_CGA)."""
    if not facts.cga_elevated_preop:
        return None
    return with_imaging_or_now(
        facts,
        Kind.CGA,
        imaging,
        "Chromogranin A with each imaging study, because it was elevated before surgery; "
        "proton-pump inhibitors (also renal failure, atrophic gastritis, heart failure) raise CgA "
        "falsely, and the same assay must be used over time (guideline summary 2025)",
        SOURCE_CGA,
    )


def u5hiaa(facts: Facts, imaging: _Planned | None) -> _Planned | None:
    """24-hour urinary 5-HIAA with each imaging when functional or syndrome (SOURCE_U5HIAA)."""
    if not facts.syndrome:
        return None
    return with_imaging_or_now(
        facts,
        Kind.U5HIAA,
        imaging,
        "24-hour urinary 5-HIAA with each imaging study (functional tumour or carcinoid "
        "syndrome; NCCN, ENETS); the collection needs a diet free of serotonin-rich foods on "
        "the preceding days",
        SOURCE_U5HIAA,
        known_since=_syndrome_since(facts),
    )


def _syndrome_since(facts: Facts) -> date:
    return _later(facts.syndrome_since, facts.anchor_on) or facts.anchor_on


def nt_probnp(facts: Facts) -> _Planned | None:
    """NT-proBNP yearly with a syndrome, and at once on new heart symptoms (SOURCE_CARCINOID_HEART)."""
    heart = facts.heart_symptoms_on
    if (
        heart is not None
        and heart >= facts.anchor_on
        and not _done_since(facts, Kind.NT_PROBNP, heart)
    ):
        return _Planned(
            heart,
            f"NT-proBNP now: palpitations, swelling or breathlessness reported on "
            f"{heart.isoformat()} (possible carcinoid heart disease)",
            SOURCE_CARCINOID_HEART,
        )
    if not facts.syndrome:
        return None
    last = facts.last_done.get(Kind.NT_PROBNP.value)
    if last is None:
        return _Planned(
            _syndrome_since(facts),
            "Baseline NT-proBNP: carcinoid syndrome or a functional tumour is recorded "
            "(screening for carcinoid heart disease)",
            SOURCE_CARCINOID_HEART,
        )
    # A syndrome recorded after an earlier NT-proBNP starts the yearly rhythm no earlier than
    # the day it became known.
    return _Planned(
        max(last + _months(NT_PROBNP_INTERVAL_MONTHS), _syndrome_since(facts)),
        f"NT-proBNP every {NT_PROBNP_INTERVAL_MONTHS} months with carcinoid syndrome or a "
        "functional tumour (screening for carcinoid heart disease)",
        SOURCE_CARCINOID_HEART,
    )


def echocardiography(facts: Facts) -> _Planned | None:
    """Baseline echo with a syndrome, then on triggers; every 6 months with heart disease."""
    last = facts.last_done.get(Kind.ECHOCARDIOGRAPHY.value)
    triggers: list[tuple[date, str]] = []
    if facts.heart_symptoms_on is not None and facts.heart_symptoms_on >= facts.anchor_on:
        triggers.append((facts.heart_symptoms_on, "palpitations, swelling or breathlessness"))
    since = _syndrome_since(facts)
    if facts.syndrome and facts.latest_nt_probnp is not None:
        on, value = facts.latest_nt_probnp
        if value > NT_PROBNP_ECHO_ABOVE_PG_ML:
            triggers.append(
                (max(on, since), f"NT-proBNP {value:g} pg/mL (> {NT_PROBNP_ECHO_ABOVE_PG_ML:g})")
            )
    if facts.syndrome and facts.latest_u5hiaa is not None:
        on, value = facts.latest_u5hiaa
        if value > U5HIAA_ECHO_ABOVE_UMOL_24H:
            triggers.append(
                (max(on, since), f"5-HIAA {value:g} µmol/24 h (> {U5HIAA_ECHO_ABOVE_UMOL_24H:g})")
            )
    pending = sorted(t for t in triggers if last is None or t[0] > last)
    if pending:
        on, what = pending[0]
        return _Planned(
            on,
            f"Echocardiography now: {what} on {on.isoformat()} (possible carcinoid heart "
            "disease; NT-proBNP alone misses about half)",
            SOURCE_CARCINOID_HEART,
        )
    if facts.carcinoid_heart_disease and last is not None:
        return _Planned(
            last + _months(ECHO_HEART_DISEASE_MONTHS),
            f"Echocardiography every {ECHO_HEART_DISEASE_MONTHS} months with established "
            "carcinoid heart disease (expert statement: every 3–6 months)",
            SOURCE_CARCINOID_HEART,
        )
    if (facts.syndrome or facts.carcinoid_heart_disease) and last is None:
        return _Planned(
            _syndrome_since(facts),
            "Baseline echocardiography: carcinoid syndrome or a functional tumour is recorded "
            "(NT-proBNP alone misses about half of carcinoid heart disease)",
            SOURCE_CARCINOID_HEART,
        )
    return None


def _yearly(facts: Facts, kind: Kind, since: date, why: str) -> _Planned:
    last = facts.last_done.get(kind.value)
    base = last if last is not None and last >= since else since
    return _Planned(base + _months(VITAMIN_INTERVAL_MONTHS), why, SOURCE_VITAMINS)


def vitamin_b12(facts: Facts, ssa: tuple[SsaLine, ...]) -> _Planned | None:
    """Vitamin B12 yearly after ileal resection or on SSA (SOURCE_VITAMINS)."""
    reasons, starts = [], []
    if facts.ileal_resection:
        reasons.append("after ileal or ileocecal resection or right hemicolectomy")
        starts.append(facts.anchor_on)
    if ssa:
        reasons.append("on a somatostatin analogue")
        starts.append(min(line.started_on for line in ssa))
    if not reasons:
        return None
    return _yearly(
        facts,
        Kind.VITAMIN_B12,
        max(min(starts), facts.anchor_on),
        f"Vitamin B12 every {VITAMIN_INTERVAL_MONTHS} months " + " and ".join(reasons),
    )


def vitamin_d(facts: Facts, ssa: tuple[SsaLine, ...]) -> _Planned | None:
    """Vitamin D yearly on SSA (SOURCE_VITAMINS)."""
    if not ssa:
        return None
    return _yearly(
        facts,
        Kind.VITAMIN_D,
        max(min(line.started_on for line in ssa), facts.anchor_on),
        f"Vitamin D every {VITAMIN_INTERVAL_MONTHS} months on a somatostatin analogue "
        "(fat-soluble vitamin deficiency)",
    )


def next_prrt_cycle(facts: Facts) -> date | None:
    """The predicted day of the next PRRT cycle (8 weeks after the last), or None."""
    prrt = facts.prrt
    if prrt is None or not prrt.cycle_dates:
        return None
    planned = prrt.planned_cycles or PRRT_DEFAULT_CYCLES
    if len(prrt.cycle_dates) >= planned:
        return None
    return max(prrt.cycle_dates) + timedelta(days=PRRT_CYCLE_DAYS)


def prrt_labs(facts: Facts) -> _Planned | None:
    """Blood counts, renal and liver function 2–4 weeks before the next cycle
    (SOURCE_PRRT_LABS)."""
    cycle = next_prrt_cycle(facts)
    if cycle is None:
        return None
    earliest = cycle - timedelta(days=PRRT_LABS_EARLIEST_DAYS)
    if _done_since(facts, Kind.PRRT_LABS, earliest):
        return None
    return _Planned(
        cycle - timedelta(days=PRRT_LABS_LATEST_DAYS),
        f"Blood counts, creatinine and clearance, ALT, AST, albumin and bilirubin 2–4 weeks "
        f"before the next PRRT cycle (expected {cycle.isoformat()}, {PRRT_CYCLE_DAYS // 7} weeks "
        "after the last)",
        SOURCE_PRRT_LABS,
        window_start=earliest,
        window_end=cycle,
    )


def _every(facts: Facts, kind: Kind, started: date, interval: relativedelta | timedelta) -> date:
    last = facts.last_done.get(kind.value)
    if last is None or last < started:
        return started  # "before" the line: due on its start
    return last + interval


def blood_counts(facts: Facts) -> _Planned | None:
    """Blood counts on everolimus, each chemotherapy cycle, and yearly after PRRT."""
    options: list[_Planned] = []
    if facts.everolimus_started_on is not None:
        options.append(
            _Planned(
                _every(
                    facts,
                    Kind.BLOOD_COUNTS,
                    facts.everolimus_started_on,
                    _months(EVEROLIMUS_LABS_MONTHS),
                ),
                f"Blood counts before everolimus and every {EVEROLIMUS_LABS_MONTHS} months on it",
                SOURCE_LINE_MONITORING,
            )
        )
    if facts.chemotherapy_started_on is not None:
        days = facts.chemotherapy_interval_days or CHEMOTHERAPY_DEFAULT_CYCLE_DAYS
        options.append(
            _Planned(
                _every(
                    facts, Kind.BLOOD_COUNTS, facts.chemotherapy_started_on, timedelta(days=days)
                ),
                f"Blood counts before each chemotherapy cycle (every {days} days)",
                SOURCE_LINE_MONITORING,
            )
        )
    if facts.prrt is None and facts.last_prrt_cycle_on is not None:
        options.append(
            _Planned(
                _every(
                    facts,
                    Kind.BLOOD_COUNTS,
                    facts.last_prrt_cycle_on + _months(POST_PRRT_BLOOD_COUNTS_MONTHS),
                    _months(POST_PRRT_BLOOD_COUNTS_MONTHS),
                ),
                f"Blood counts every {POST_PRRT_BLOOD_COUNTS_MONTHS} months after PRRT "
                "(myelodysplasia and leukaemia risk)",
                SOURCE_PRRT_LABS,
            )
        )
    return min(options, key=lambda planned: planned.due_on, default=None)


def metabolic_panel(facts: Facts) -> _Planned | None:
    """Glucose and lipids before everolimus and every 3 months (SOURCE_LINE_MONITORING)."""
    if facts.everolimus_started_on is None:
        return None
    return _Planned(
        _every(
            facts,
            Kind.METABOLIC_PANEL,
            facts.everolimus_started_on,
            _months(EVEROLIMUS_LABS_MONTHS),
        ),
        f"Glucose and lipids before everolimus and every {EVEROLIMUS_LABS_MONTHS} months on it",
        SOURCE_LINE_MONITORING,
    )


def ssa_window_days(interval_days: int) -> int:
    """±25 % of the interval, at most 7 days (SOURCE_SSA_INTERVAL)."""
    return min(SSA_WINDOW_DAYS, int(interval_days * SSA_WINDOW_FRACTION))


def _line_injection(facts: Facts, line: SsaLine) -> _Planned:
    interval = line.interval_days or SSA_INJECTION_DAYS
    last = line.last_injection_on if line.last_injection_on else None
    prrt = facts.prrt
    if prrt is not None and prrt.cycle_dates:
        # Beside PRRT the long-acting SSA follows the cycles: 4–24 h after each, and none in the
        # 4 weeks before the next (Lutathera label).
        cycle = max(prrt.cycle_dates)
        upcoming = next_prrt_cycle(facts)
        if last is None or last < cycle:
            target: date | None = cycle
        else:
            target = upcoming
        if target is not None:
            return _Planned(
                target,
                f"Somatostatin analogue injection 4–24 hours after the PRRT cycle of "
                f"{target.isoformat()} (not every {interval} days while PRRT cycles run)",
                SOURCE_SSA_INTERVAL,
                window_start=target,
                window_end=target + timedelta(days=SSA_AFTER_PRRT_WINDOW_DAYS),
            )
    base = last or line.started_on
    window = ssa_window_days(interval)
    due = base + timedelta(days=interval)
    if line.resumed_on is not None and due < line.resumed_on:
        # Resumed after a hold longer than the interval: the next injection is due on resuming.
        due = line.resumed_on
    return _Planned(
        due,
        f"Somatostatin analogue injection every {interval} days, within ±{window} days "
        "(octreotide LAR or lanreotide; PROMID, CLARINET)",
        SOURCE_SSA_INTERVAL,
        window_start=due - timedelta(days=window),
        window_end=due + timedelta(days=window),
    )


def ssa_injection(facts: Facts, ssa: tuple[SsaLine, ...]) -> _Planned | None:
    """The next injection over the open, not held, SSA lines (SOURCE_SSA_INTERVAL)."""
    planned = [_line_injection(facts, line) for line in ssa if not line.held]
    return min(planned, key=lambda p: p.due_on, default=None)


def injection_in_prrt_washout(facts: Facts, given_on: date) -> date | None:
    """The expected next PRRT cycle when an injection on ``given_on`` falls in the 4 weeks
    before it (a long-acting SSA is paused before each cycle: Lutathera label), else None."""
    cycle = next_prrt_cycle(facts)
    if cycle is None or not 0 < (cycle - given_on).days <= PRRT_SSA_WASHOUT_DAYS:
        return None
    return cycle
