"""The beat sweep at scale against a raw-SQL floor (docs/operations.md#benchmarks, issue 8).

    .venv/bin/python bench/sweep.py                      # 1,000,000 courses, 1 % due
    .venv/bin/python bench/sweep.py --courses 1000000 --due-fraction 0.01
    .venv/bin/python bench/sweep.py --quick              # 20,000 courses, under 30 s

On the script's own PostgreSQL database (netcare_bench_sweep: dropped, created, migrated),
seeded by COPY (not timed) in two steps, first --courses/10 courses then the rest, so the
same run measures the sweep at both sizes:
- courses: 80 % surveillance, 10 % on SSA, 5 % recurrence, 5 % closed (a closed course's
  items are inactive, as surveillance.services leaves them); one patient, diagnosis and
  surgery each; consents mixed (70 % email, 60 % SMS, 5 % without an address of a kind);
- scheduled items: imaging, visit, CgA and symptom check for every course, an SSA injection
  for courses on SSA (~4.1 per course); every date outside the sweep's window (the rest of a
  year ahead, some long overdue), then one item of a --due-fraction share of the courses,
  picked by a hash of the course id, moved into the window [today - ALERTS_OVERDUE_DAYS,
  today + ALERTS_LOOKAHEAD_DAYS] (60 % ahead of today, 40 % overdue);
- VACUUM ANALYZE.

Timed, each on the same tables, in rounds that alternate which goes first (medians shown):
- app: alerts.services.sweep(today=..., now=...) called in this process (Django, autocommit),
  first run on an empty reminder table, then a second run that must insert 0;
- floor: one INSERT ... SELECT ... ON CONFLICT DO NOTHING written here independently of the
  app (psycopg, autocommit: the same READ COMMITTED statement isolation), first and second
  run on a truncated reminder table; the rows it writes are checked equal to the app's;
- select: the floor's SELECT alone (SELECT count(*) over it).
Then the EXPLAIN (ANALYZE, BUFFERS) of the app's exact statement (captured from Django) and
its find-due node, the RSS of a fresh process running the sweep at both sizes, and one line
per variant: due fraction 0.1 % / 1 % / 10 %, each with and without the partial index
scheduled_due_active.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import database, measure, servers
from bench.database import log
from bench.sweep_report import (
    find_due_node,
    mb,
    ms,
    node_summary,
    one_set,
    print_size,
    print_variants,
    uses_partial_index,
)
from bench.sweep_seed import DUE_INDEX, Seeder

TARGET_FIRST = 1.5
TARGET_SECOND = 2.0
GOLDEN = 2654435761  # Knuth's multiplicative hash: course id -> 32 bits, well spread


# The SQL twin of state_of's SSA rule decides which item of a picked course becomes due.
SLOT_KIND = """CASE WHEN mod(si.course_id, 20) IN (3, 17)
        THEN (ARRAY['imaging', 'visit', 'cga', 'symptom_check', 'ssa_injection'])[mod(si.course_id / 7, 5)::int + 1]
        ELSE (ARRAY['imaging', 'visit', 'cga', 'symptom_check'])[mod(si.course_id / 7, 4)::int + 1] END"""
PICKED = f"mod(si.course_id * {GOLDEN}, 4294967296) < %(cut)s"
# Move the picked courses' slot item into the window (60 % today..+lookahead, 40 % overdue)
# and every other item of the window out of it (a year ahead), keeping each item's window
# width. Run after seeding and to switch the variants' due fraction.
PLACE_SQL = f"""
UPDATE surveillance_scheduleditem AS si
SET due_on = m.new_due,
    window_start = m.new_due - (si.due_on - si.window_start),
    window_end = m.new_due + (si.window_end - si.due_on)
FROM (
    SELECT si.id,
           CASE WHEN {PICKED} AND si.kind = {SLOT_KIND} THEN
                CASE WHEN mod(si.course_id * 40503, 100) < 60
                     THEN %(today)s::date + mod(si.course_id, %(lookahead)s + 1)::int
                     ELSE %(today)s::date - 1 - mod(si.course_id, %(overdue)s)::int END
                ELSE %(hi)s::date + 1 + mod(si.id * 7919, 358)::int END AS new_due
    FROM surveillance_scheduleditem AS si
    WHERE (si.due_on BETWEEN %(lo)s AND %(hi)s AND NOT ({PICKED} AND si.kind = {SLOT_KIND}))
       OR (si.due_on NOT BETWEEN %(lo)s AND %(hi)s AND {PICKED} AND si.kind = {SLOT_KIND})
) AS m
WHERE si.id = m.id
"""

# The floor, written without looking at the app's statement: the same rows, the least work.
FLOOR_SELECT = """
SELECT i.course_id, i.kind || '_due', i.due_on,
       CASE WHEN i.due_on > %(today)s THEN 'advance'
            WHEN coalesce(i.window_end, i.due_on) >= %(today)s THEN 'due'
            ELSE 'overdue' END,
       ch.channel, %(now)s, 'pending', '', 0, '', '', %(now)s
FROM surveillance_scheduleditem i
JOIN treatments_course c ON c.id = i.course_id
JOIN treatments_patient p ON p.id = c.patient_id
CROSS JOIN LATERAL (VALUES ('email', p.email_consent AND p.email <> ''),
                           ('sms', p.sms_consent AND p.phone <> '')) AS ch(channel, allowed)
WHERE i.active AND i.due_on BETWEEN %(lo)s AND %(hi)s AND c.state <> 'closed' AND ch.allowed
"""
FLOOR_SQL = f"""
INSERT INTO alerts_reminder (course_id, kind, due_on, stage, channel, send_after, status,
    skip_reason, attempts, provider_message_id, last_error, created_at)
{FLOOR_SELECT}
ON CONFLICT DO NOTHING
"""
COUNT_SQL = f"SELECT count(*) FROM ({FLOOR_SELECT}) AS s"
DUE_SQL = """
SELECT count(DISTINCT si.course_id), count(*)
FROM surveillance_scheduleditem si JOIN treatments_course c ON c.id = si.course_id
WHERE si.active AND si.due_on BETWEEN %(lo)s AND %(hi)s AND c.state <> 'closed'
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="netcare_bench_sweep", help="database to (re)create")
    parser.add_argument("--courses", type=int, default=1_000_000, help="courses to seed")
    parser.add_argument(
        "--small",
        type=int,
        default=None,
        help="courses of the first measured size (default: --courses/10; 0: skip it)",
    )
    parser.add_argument(
        "--due-fraction", type=float, default=0.01, help="share of courses with an item due"
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (medians reported)")
    parser.add_argument(
        "--variants",
        default="0.001,0.01,0.1",
        help="due fractions of the variant lines, each with and without the partial index "
        "('' for none)",
    )
    parser.add_argument("--variant-rounds", type=int, default=3)
    parser.add_argument("--teams", type=int, default=50)
    parser.add_argument("--seed", type=int, default=8, help="random seed of the data")
    parser.add_argument(
        "--keep-db",
        action="store_true",
        help="leave the database for inspection (default: drop it)",
    )
    parser.add_argument("--quick", action="store_true", help="20,000 courses (2,000 first)")
    parser.add_argument(
        "--rss-probe", nargs=3, metavar=("DB", "TODAY", "NOW"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.courses, args.rounds, args.variant_rounds = 20_000, 3, 3
    if args.small is None:
        args.small = args.courses // 10
    args.variants = [float(x) for x in args.variants.split(",") if x.strip()]
    return args


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace):
        from django.utils import timezone

        from alerts import conf

        self.args = args
        self.now = timezone.now()
        self.today = self.now.date()
        self.lookahead = conf.lookahead_days()
        self.overdue = conf.overdue_days()
        if self.overdue < 1:
            raise SystemExit("ALERTS_OVERDUE_DAYS must be at least 1 for this seed")
        self.lo = self.today - dt.timedelta(days=self.overdue)
        self.hi = self.today + dt.timedelta(days=self.lookahead)
        self.params = {"today": self.today, "now": self.now, "lo": self.lo, "hi": self.hi}
        import psycopg

        self.conn = psycopg.connect(
            host=database.PG_HOST, port=database.PG_PORT, user=database.PG_USER, dbname=args.db,
            autocommit=True,
        )  # fmt: skip
        self.fraction = None

    # ---- data shape ----

    def place(self, fraction: float) -> float:
        t0 = time.perf_counter()
        params = self.params | {
            "cut": int(fraction * 2**32), "lookahead": self.lookahead, "overdue": self.overdue,
        }  # fmt: skip
        self.conn.execute(PLACE_SQL, params)
        self.conn.execute("VACUUM ANALYZE surveillance_scheduleditem")
        self.fraction = fraction
        return time.perf_counter() - t0

    def due(self) -> tuple[int, int]:
        return self.conn.execute(DUE_SQL, self.params).fetchone()

    def truncate(self) -> None:
        self.conn.execute("TRUNCATE alerts_reminder CASCADE")

    def index_def(self) -> str | None:
        row = self.conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s", [DUE_INDEX]
        ).fetchone()
        return row[0] if row else None

    # ---- timed calls ----

    def app(self) -> tuple[float, int]:
        from alerts import services

        t0 = time.perf_counter()
        inserted = services.sweep(today=self.today, now=self.now)
        return time.perf_counter() - t0, inserted

    def floor(self) -> tuple[float, int]:
        t0 = time.perf_counter()
        cursor = self.conn.execute(FLOOR_SQL, self.params)
        return time.perf_counter() - t0, cursor.rowcount

    def select(self) -> tuple[float, int]:
        t0 = time.perf_counter()
        count = self.conn.execute(COUNT_SQL, self.params).fetchone()[0]
        return time.perf_counter() - t0, count

    def rounds(self, count: int) -> dict:
        """`count` rounds of app 1+2, floor 1+2 (each on a truncated table) and the SELECT,
        alternating which of app and floor goes first; medians and the raw seconds."""
        self.select()  # untimed warm-up: the same pages for whichever goes first
        runs: dict[str, list[float]] = {
            k: [] for k in ("app1", "app2", "floor1", "floor2", "select")
        }
        inserted: dict[str, set[int]] = {k: set() for k in runs}
        for r in range(count):
            order = ("app", "floor") if r % 2 == 0 else ("floor", "app")
            for who in order:
                self.truncate()
                call = self.app if who == "app" else self.floor
                for run in (1, 2):
                    seconds, n = call()
                    runs[f"{who}{run}"].append(seconds)
                    inserted[f"{who}{run}"].add(n)
            seconds, n = self.select()
            runs["select"].append(seconds)
            inserted["select"].add(n)
        med = {k: statistics.median(v) for k, v in runs.items()}
        return {"median": med, "runs": runs, "inserted": inserted}

    def same_rows(self) -> tuple[int, int, int]:
        """Rows only the app writes, only the floor writes, and the app's total (untimed)."""
        key = "course_id, kind, due_on, stage, channel, send_after, status"
        self.truncate()
        self.app()
        self.conn.execute("DROP TABLE IF EXISTS bench_app_rows")
        self.conn.execute(f"CREATE TABLE bench_app_rows AS SELECT {key} FROM alerts_reminder")
        self.truncate()
        self.floor()
        only_app = self.conn.execute(
            f"SELECT count(*) FROM (SELECT {key} FROM bench_app_rows EXCEPT ALL "
            f"SELECT {key} FROM alerts_reminder) s"
        ).fetchone()[0]
        only_floor = self.conn.execute(
            f"SELECT count(*) FROM (SELECT {key} FROM alerts_reminder EXCEPT ALL "
            f"SELECT {key} FROM bench_app_rows) s"
        ).fetchone()[0]
        total = self.conn.execute("SELECT count(*) FROM bench_app_rows").fetchone()[0]
        self.conn.execute("DROP TABLE bench_app_rows")
        return only_app, only_floor, total

    def breakdown(self) -> str:
        rows = self.conn.execute(
            "SELECT channel, stage, count(*) FROM alerts_reminder GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        by_channel: dict[str, int] = {}
        by_stage: dict[str, int] = {}
        for channel, stage, n in rows:
            by_channel[channel] = by_channel.get(channel, 0) + n
            by_stage[stage] = by_stage.get(stage, 0) + n
        return (", ".join(f"{k} {v:,}" for k, v in sorted(by_channel.items())) + "; "
                + ", ".join(f"{k} {v:,}" for k, v in sorted(by_stage.items())))  # fmt: skip

    # ---- plans ----

    def app_statement(self) -> str:
        """The app's exact INSERT with its parameters inlined, captured from Django."""
        from django.db import connection, transaction
        from django.test.utils import CaptureQueriesContext

        from alerts import services

        with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
            services.sweep(today=self.today, now=self.now)
            transaction.set_rollback(True)
        return next(q["sql"] for q in ctx.captured_queries if "INSERT INTO" in q["sql"])

    def explain(self, sql: str) -> list[str]:
        """EXPLAIN (ANALYZE, BUFFERS) of an INSERT, rolled back, on an empty reminder table."""
        self.truncate()
        with self.conn.transaction(force_rollback=True):
            rows = self.conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql).fetchall()
        return [r[0] for r in rows]

    def explain_floor(self) -> list[str]:
        import psycopg

        with psycopg.ClientCursor(self.conn) as cursor:
            sql = cursor.mogrify(FLOOR_SQL, self.params)
        return self.explain(sql)


# --------------------------------------------------------------------------------------------
# RSS of a fresh process running the sweep
# --------------------------------------------------------------------------------------------


def rss_probe(db: str, today: str, now: str) -> None:
    """Child mode: set Django up, then run the sweep (rolled back); print RSS as JSON."""
    database.django_setup(db)
    from django.db import connection, transaction

    from alerts import services

    connection.ensure_connection()
    before, _ = measure.rss_kb()
    with transaction.atomic():
        t0 = time.perf_counter()
        inserted = services.sweep(
            today=dt.date.fromisoformat(today), now=dt.datetime.fromisoformat(now)
        )
        seconds = time.perf_counter() - t0
        transaction.set_rollback(True)
    after, peak = measure.rss_kb()
    print(json.dumps({
        "inserted": inserted, "seconds": seconds, "rss_before_kb": before, "rss_after_kb": after,
        "vm_hwm_kb": peak, "ru_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))  # fmt: skip


def run_probe(bench: Bench) -> dict:
    bench.truncate()
    out = subprocess.run(
        [database.PYTHON, __file__, "--rss-probe", bench.args.db, bench.today.isoformat(),
         bench.now.isoformat()],
        cwd=database.ROOT, env=os.environ | {"PYTHONPATH": str(database.ROOT)}, check=True,
        capture_output=True, text=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_size(bench: Bench, courses: int, rounds: int) -> dict:
    due_courses, due_items = bench.due()
    only_app, only_floor, rows = bench.same_rows()
    breakdown = bench.breakdown()
    probe = run_probe(bench)
    result = bench.rounds(rounds)
    sql = bench.app_statement()
    plan = bench.explain(sql)
    floor_plan = bench.explain_floor()
    return {
        "courses": courses, "due_courses": due_courses, "due_items": due_items,
        "only_app": only_app, "only_floor": only_floor, "rows": rows, "breakdown": breakdown,
        "probe": probe, "result": result, "plan": plan, "floor_plan": floor_plan,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }  # fmt: skip


def run_variants(bench: Bench, main_fraction: float) -> list[dict]:
    lines = []
    index_sql = bench.index_def()
    for fraction in bench.args.variants:
        spent = bench.place(fraction)
        log(f"variant: due fraction {fraction:g} placed and vacuumed in {spent:.1f} s")
        sql = bench.app_statement()
        for with_index in (True, False):
            if not with_index:
                bench.conn.execute(f"DROP INDEX {DUE_INDEX}")
            try:
                due_courses, _ = bench.due()
                result = bench.rounds(bench.args.variant_rounds)
                plan = bench.explain(sql)
            finally:
                if not with_index:
                    bench.conn.execute(index_sql)
                    bench.conn.execute("ANALYZE surveillance_scheduleditem")
            lines.append({
                "fraction": fraction, "index": with_index, "due_courses": due_courses,
                "result": result, "node": node_summary(plan),
            })  # fmt: skip
            log(f"variant {fraction:g} {'with' if with_index else 'without'} index: app1 "
                f"{ms(result['median']['app1'])} ms, floor1 {ms(result['median']['floor1'])} ms")  # fmt: skip
    if bench.fraction != main_fraction:
        bench.place(main_fraction)
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.rss_probe:
        rss_probe(*args.rss_probe)
        return 0
    servers.install_signal_handlers()
    try:
        return run(args)
    finally:
        if not args.keep_db:
            with contextlib.suppress(Exception):  # Django may not be set up yet
                from django.db import connections

                connections.close_all()
            database.drop_database(args.db)
            log(f"database {args.db} dropped (--keep-db keeps it)")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    database.prepare_database(args.db)
    bench = Bench(args)
    seeder = Seeder(args, bench.today, bench.now)
    sizes = [n for n in (args.small, args.courses) if n > 0]
    measured = []
    for size in sizes:
        spent = seeder.seed_to(args.db, size)
        log(f"seeded {size:,} courses ({seeder.items:,} scheduled items) by COPY, "
            f"+{spent:.1f} s")  # fmt: skip
        spent = bench.place(args.due_fraction)
        t0 = time.perf_counter()
        database.vacuum_analyze()
        log(f"due fraction {args.due_fraction:g} placed in {spent:.1f} s; VACUUM ANALYZE "
            f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
        measured.append(measure_size(bench, size, args.rounds))
        med = measured[-1]["result"]["median"]
        log(f"{size:,} courses: app1 {ms(med['app1'])} ms, floor1 {ms(med['floor1'])} ms, "
            f"app2 {ms(med['app2'])} ms, floor2 {ms(med['floor2'])} ms")  # fmt: skip
    variants = run_variants(bench, args.due_fraction) if args.variants else []

    print(f"\nsweep window: due_on in [{bench.lo}, {bench.hi}] (today {bench.today}, "
          f"ALERTS_OVERDUE_DAYS {bench.overdue}, ALERTS_LOOKAHEAD_DAYS {bench.lookahead}); "
          f"due fraction {args.due_fraction:g}; {args.rounds} rounds, medians; app = "
          f"alerts.services.sweep in this process, floor = raw INSERT ... SELECT ... ON "
          f"CONFLICT DO NOTHING (psycopg); both autocommit")  # fmt: skip
    for m in measured:
        print_size(m)
    big = measured[-1]
    print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the app's statement at {big['courses']:,} courses "
          f"(first run, rolled back):")  # fmt: skip
    for line in big["plan"]:
        print(f"    {line}")
    print("find-due node of the floor's statement:")
    for line in find_due_node(big["floor_plan"]):
        print(f"    {line}")
    if variants:
        print(f"\nvariants at {big['courses']:,} courses ({args.variant_rounds} rounds each, "
              f"medians; ÷ = app ÷ floor; the index is dropped for the 'no' line, floor "
              f"included, and rebuilt after):")  # fmt: skip
        print_variants(variants)

    med, ins = big["result"]["median"], big["result"]["inserted"]
    r1, r2 = med["app1"] / med["floor1"], med["app2"] / med["floor2"]

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    print("\n==== SUMMARY bench/sweep.py " + "=" * 50)
    print(f"{big['courses']:,} courses, {big['due_courses']:,} due courses, reminders inserted "
          f"run 1 {one_set(ins['app1'])}, run 2 {one_set(ins['app2'])}")  # fmt: skip
    print(f"t_app run 1 {ms(med['app1'])} ms, t_floor run 1 {ms(med['floor1'])} ms, ratio "
          f"{r1:.2f}; t_app run 2 {ms(med['app2'])} ms, t_floor run 2 {ms(med['floor2'])} ms, "
          f"ratio {r2:.2f}; SELECT alone {ms(med['select'])} ms")  # fmt: skip
    if len(measured) > 1:
        small = measured[0]
        sm = small["result"]["median"]
        print(f"at {small['courses']:,} courses: t_app run 1 {ms(sm['app1'])} ms (floor "
              f"{ms(sm['floor1'])} ms), run 2 {ms(sm['app2'])} ms (floor {ms(sm['floor2'])} ms)")  # fmt: skip
    rss = "; ".join(f"{m['courses']:,} courses {mb(m['probe']['ru_maxrss_kb'])}" for m in measured)
    print(f"peak RSS (ru_maxrss) of a process running the sweep: {rss}; of this whole script "
          f"(seeding included) {mb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)}")  # fmt: skip
    print(f"find-due node: {node_summary(big['plan'])}")
    first_ok = r1 <= TARGET_FIRST
    second_ok = r2 <= TARGET_SECOND
    zero_ok = ins["app2"] == {0} and ins["floor2"] == {0}
    same_ok = big["only_app"] == 0 and big["only_floor"] == 0 and ins["app1"] == ins["floor1"]
    rss_values = [m["probe"]["ru_maxrss_kb"] for m in measured]
    flat = max(rss_values) <= min(rss_values) * 1.1 + 5 * 1024
    print(f"[{verdict(first_ok)}] first sweep ≤ {TARGET_FIRST}x the floor: {r1:.2f}x")
    print(f"[{verdict(second_ok)}] second sweep ≤ {TARGET_SECOND}x its floor: {r2:.2f}x")
    print(f"[{verdict(zero_ok)}] second runs insert 0 (app {one_set(ins['app2'])}, floor "
          f"{one_set(ins['floor2'])})")  # fmt: skip
    print(f"[{verdict(same_ok)}] app and floor write the same rows ({big['rows']:,})")
    print(f"[{verdict(uses_partial_index(big['plan']))}] find-due step reads the partial index "
          f"{DUE_INDEX}")  # fmt: skip
    print(f"[{verdict(flat)}] sweep RSS flat from {measured[0]['courses']:,} to "
          f"{measured[-1]['courses']:,} courses ({' -> '.join(mb(v) for v in rss_values)})")  # fmt: skip
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end; "
          f"wall time {time.perf_counter() - started:.0f} s")  # fmt: skip
    bench.conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
