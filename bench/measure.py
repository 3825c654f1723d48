"""Measuring and printing: CPU seconds from /proc (the machine is shared, so besides
wall-clock rates each run reports the CPU the server processes and the PostgreSQL backends
spent, which other load inflates much less), memory, percentiles, load results, a profile of
in-process calls, and number formatting.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.database import ROOT

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _scan(pgid: int | None, db: str) -> tuple[dict[int, float], dict[int, float]]:
    """CPU seconds (user + system) of the processes in group `pgid` and of the PostgreSQL
    backends of database `db` (found by their process title), from /proc."""
    app: dict[int, float] = {}
    database: dict[int, float] = {}
    title = f" {db} ".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                text = fh.read()
            comm = text[text.find("(") + 1 : text.rfind(")")]
            fields = text[text.rfind(")") + 2 :].split()
            cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            if pgid is not None and int(fields[2]) == pgid:
                app[int(entry)] = cpu
            elif comm == "postgres":
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    if title in fh.read():
                        database[int(entry)] = cpu
        except (OSError, ValueError, IndexError):
            continue
    return app, database


def machine_busy(interval: float = 1.0) -> float:
    """Share of all CPUs busy over `interval` seconds (everything on the machine)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            values = [int(x) for x in fh.readline().split()[1:]]
        idle = values[3] + values[4]
        return sum(values), idle

    total0, idle0 = sample()
    time.sleep(interval)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(1, total1 - total0)


class CpuMeter:
    """CPU seconds spent by the server's process group and by the database's backends
    between start() and stop(). A sampler thread reads /proc every `interval` seconds, so a
    backend that exits during the run (CONN_MAX_AGE recycles connections) still counts up to
    its last sample, and one that starts during the run counts from zero.
    include_self: add this process's own CPU (in-process runs)."""

    def __init__(
        self,
        db: str,
        server_pgid: int | None = None,
        include_self: bool = False,
        interval: float = 0.5,
    ):
        self.db = db
        self.server_pgid = server_pgid
        self.include_self = include_self
        self.interval = interval
        self.app = self.database = 0.0
        self._stop = threading.Event()

    def _sample(self) -> None:
        app, database = _scan(self.server_pgid, self.db)
        self._last[0].update(app)
        self._last[1].update(database)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> CpuMeter:
        self._base = _scan(self.server_pgid, self.db)
        self._last = ({}, {})
        self._own = time.process_time()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> CpuMeter:
        self._stop.set()
        self._thread.join()
        self._sample()
        own = time.process_time() - self._own if self.include_self else 0.0
        app = sum(cpu - self._base[0].get(pid, 0.0) for pid, cpu in self._last[0].items())
        self.app = app + own
        self.database = sum(cpu - self._base[1].get(pid, 0.0) for pid, cpu in self._last[1].items())
        return self


def rss_kb() -> tuple[int, int]:
    """(current RSS, peak RSS) of this process in kB, from /proc/self/status."""
    values = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line.split(":")[0]] = int(line.split()[1])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class LoadResult:
    name: str
    concurrency: int
    n: int
    wall: float
    latencies: list[float]
    statuses: Counter = field(default_factory=Counter)
    app_cpu: float | None = None  # seconds, server processes (or this process)
    db_cpu: float | None = None  # seconds, PostgreSQL backends of the bench database

    def __post_init__(self) -> None:
        self.latencies = sorted(self.latencies)

    @property
    def rps(self) -> float:
        return self.n / self.wall if self.wall else float("nan")

    def ms(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000

    @property
    def max_ms(self) -> float:
        return self.latencies[-1] * 1000 if self.latencies else float("nan")

    @property
    def non_2xx(self) -> int:
        return sum(v for k, v in self.statuses.items() if not 200 <= k < 300)

    def cpu_ms(self, which: str) -> float | None:
        """CPU ms per request: "app", "db" or "all" (both)."""
        if which == "all":
            if self.app_cpu is None or self.db_cpu is None:
                return None
            return (self.app_cpu + self.db_cpu) / self.n * 1000
        value = self.app_cpu if which == "app" else self.db_cpu
        return None if value is None else value / self.n * 1000

    def status_text(self) -> str:
        return " ".join(f"{k}:{v}" for k, v in sorted(self.statuses.items()))


# Functions worth a line in a profile of a request (what the app does, not the plumbing).
PROFILE_FOCUS = (
    r"views.py:\d+\((dispatch|initial|get|post|perform_authentication|check_permissions"
    r"|check_throttles|course_detail|_history_entry)\)"
    r"|selectors.py:\d+\((audit_trail|_changes)\)|diff_against|filtered"
    r"|get_object_or_404|log_reads|paginate_queryset|serializers.py:\d+\((data|get_fields)\)"
    r"|compiler.py:\d+\((as_sql|execute_sql)\)|psycopg/cursor.py:\d+\(execute\)|role_of"
    r"|simplejwt/authentication.py:\d+\(authenticate\)|throttling.py:\d+\(allow_request\)"
    r"|backends/redis.py:\d+\((get|set)\)|redis/client.py:\d+\(__init__\)"
    # The services are packages of several modules, so any module name matches.
    r"|\w+.py:\d+\((record_event|_apply|course_facts|replan|facts_for|_store|_check_event_input)\)"
    r"|events.py:\d+\(publish\)|base.py:\d+\(save_base\)|create_historical_record"
    r"|idempotency.py:\d+\(wrapper\)|full_clean"
)


def profile_calls(
    label: str, job: Callable[[], object], calls: int, focus: str = PROFILE_FOCUS
) -> None:
    """Time `calls` runs of `job` (wall and CPU of this process), then profile `calls` more
    with cProfile on the process's CPU clock, so waits on PostgreSQL and a busy machine do not
    show, and print the app's functions by cumulative CPU, then the top ones by own CPU."""
    import cProfile
    import io
    import pstats
    import re

    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(calls):
        job()
    wall = (time.perf_counter() - t0) / calls * 1000
    cpu = (time.process_time() - c0) / calls * 1000
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(calls):
        job()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(focus)
    stats.sort_stats("tottime").print_stats(12)
    site = re.compile(re.escape(str(ROOT)) + r"/(\.venv/lib/python[\d.]+/site-packages/)?")
    print(f"\n=== cProfile (CPU clock) of {label}: {calls} in-process calls; without the profiler "
          f"{wall:.2f} ms wall and {cpu:.2f} ms CPU per call")  # fmt: skip
    for line in out.getvalue().splitlines():
        if line.strip() and "List reduced" not in line:
            print(site.sub("", line))


def merge_results(parts: Sequence[LoadResult]) -> LoadResult:
    """One result from several runs of the same thing (rounds interleaved with other runs)."""

    def total(values):
        values = list(values)
        return None if any(v is None for v in values) else sum(values)

    return LoadResult(
        name=parts[0].name,
        concurrency=parts[0].concurrency,
        n=sum(p.n for p in parts),
        wall=sum(p.wall for p in parts),
        latencies=[x for p in parts for x in p.latencies],
        statuses=sum((p.statuses for p in parts), Counter()),
        app_cpu=total(p.app_cpu for p in parts),
        db_cpu=total(p.db_cpu for p in parts),
    )


def fmt(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"
