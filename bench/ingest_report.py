"""bench/ingest.py's accounting and printing: the history rows each run wrote, and the table
of runs."""

from __future__ import annotations

import datetime as dt
import os
import subprocess

from bench import database
from bench.measure import LoadResult, fmt


def run_header(script: str) -> str:
    """The first line of a run's output: when, on how many CPUs, at which commit, how loaded.

    The machine may be shared: a load average near or above the CPU count means other work
    ran beside the benchmark, and wall-clock figures are then noisy (CPU per event less so).
    """
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "bench", "alerts",
             "surveillance", "treatments"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        commit += " (with uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    load = os.getloadavg()
    cpus = os.cpu_count() or 1
    shared = "; the machine is shared, figures are noisy" if load[0] >= cpus / 2 else ""
    return (
        f"{script}: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, nproc {cpus}, commit {commit}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}{shared}"
    )


class Ledger:
    """Row counts of the event log, the history tables and the read log, before and after."""

    def __init__(self):
        self.tables = ["treatments_courseevent", "netcare_readaccess", *database.history_tables()]

    def snapshot(self) -> dict[str, int]:
        return database.table_counts(self.tables)

    @staticmethod
    def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
        return {t: after[t] - before[t] for t in before if after[t] != before[t]}


def history_text(delta: dict[str, int], written: int) -> str:
    parts = [
        f"{t.split('_', 1)[1]} {n / written:.2f}"
        for t, n in sorted(delta.items())
        if "_historical" in t
    ]
    return ", ".join(parts) or "none"


def history_ok(delta: dict[str, int], written: int) -> bool:
    historical = {t: n for t, n in delta.items() if "_historical" in t}
    return historical == {"treatments_historicalcourse": written} and (
        delta.get("treatments_courseevent", 0) == written
    )


def print_runs(rows: list[tuple[LoadResult, dict, LoadResult | None]]) -> None:
    head = (f"{'run':<21} {'events':>6} {'ev/s':>6} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
            f"{'non-2xx':>7} {'÷floor':>6} {'app cpu':>7} {'db cpu':>6} {'cpu÷floor':>9}  "
            f"history rows per event; read-log rows per event")  # fmt: skip
    print(head)
    print("-" * len(head))
    for result, delta, floor in rows:
        written = result.statuses.get(201, 0)
        eps = written / result.wall
        ratio = (floor.statuses.get(201, 0) / floor.wall) / eps if floor else None
        cpu_ratio = result.cpu_ms("all") / floor.cpu_ms("all") if floor else None
        reads = delta.get("netcare_readaccess", 0)
        print(
            f"{result.name:<21} {written:>6} {eps:6.0f} {fmt(result.ms(50), 2):>7} "
            f"{fmt(result.ms(99), 2):>7} {fmt(result.max_ms, 1):>7} {result.non_2xx:>7} "
            f"{fmt(ratio, 2):>6} {fmt(result.cpu_ms('app'), 2):>7} {fmt(result.cpu_ms('db'), 2):>6} "
            f"{fmt(cpu_ratio, 1):>9}  {history_text(delta, max(written, 1))}; "
            f"{reads / max(written, 1):.2f}"
        )
    print("(÷floor: floor events/s ÷ run events/s at the same concurrency; app cpu, db cpu: CPU "
          "ms per attempt of the gunicorn processes (floor and service: of this process) and of "
          "the PostgreSQL backends; cpu÷floor: their sum ÷ the floor's)")  # fmt: skip
