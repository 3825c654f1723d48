"""REST API latency and throughput against its two floors (docs/operations.md#benchmarks, issue 8).

    .venv/bin/python bench/api.py            # defaults: 10,000 patients, 600 requests
    .venv/bin/python bench/api.py --requests 2000 --warmup 200   # the full size (5-8 min)
    .venv/bin/python bench/api.py --quick    # a smoke run in under 30 s

What it does, in order:
1. Creates its own PostgreSQL database (netcare_bench_api), migrates it, and seeds it (not
   timed): 20 care teams, a coordinator "bench" in all of them, 10,000 patients each with a
   course (one registered through the service, the rest bulk-cloned from it: plan, due items
   and history rows included; 1 in 20 closed, 1 in 20 in recurrence), plus one more course
   whose 50 events were recorded through record_event (the detail, events and history
   endpoints read that one).
2. Counts the queries of one request per endpoint in this process (django.test.Client with a
   JWT, CaptureQueriesContext), and checks that the course list runs no COUNT(*).
3. Starts gunicorn (2 sync workers, DJANGO_ENV=production, CONN_MAX_AGE=60, JWT auth, the
   throttles on with unreachable rates) with bench.settings_bench, whose URLconf adds the
   floors: /bench/static/ (a constant body the size of a course detail) and
   /bench/raw-course/<id>/, /bench/raw-courses/ (the same rows by hand-written SQL).
4. Sends a fixed number of requests per endpoint from threads (one keep-alive-capable
   http.client connection and one JWT each) at c=16, then at c=1, and prints req/s, p50,
   p90, p99, max, non-2xx and the ratios to both floors, then a summary.

Ratios are slowdowns: floor req/s ÷ endpoint req/s (so 2.0 means half the floor's rate), and
at c=1 also endpoint p50 ÷ floor p50. Reads write read-log rows and POSTs write history rows:
that cost is part of the product and is measured, not avoided. The client runs on the same
two cores as gunicorn and PostgreSQL; the static floor shows that ceiling.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import database, load, measure, seeding, servers
from bench.database import log
from bench.measure import fmt

COUNT_SQL = re.compile(r"\bcount\s*\(", re.IGNORECASE)
# The targets, each against a floor measured in the same run (docs/operations.md#benchmarks).
TARGET_DETAIL_CPU_RATIO = 2.0  # course detail CPU per request (app + db) ÷ raw-detail's
TARGET_DETAIL_P50_RATIO = 2.0  # course detail p50 at c=1 ÷ raw-detail's
TARGET_LIST_RATIO = 2.0  # raw-list req/s ÷ course list req/s at c=16
TARGET_READ_RATIO = 2.5  # raw-detail req/s ÷ events (history) req/s at c=16
TARGET_POST_RATE = 150.0  # POST event, events/s at c=4
TARGET_POST_QUERIES = 10
POST_CONCURRENCY = 4


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="netcare_bench_api", help="database to (re)create")
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--events", type=int, default=50, help="events on the timeline course")
    parser.add_argument(
        "--requests", type=int, default=600,
        help="timed requests per endpoint at c=16 (the full size is 2000 with --warmup 200: "
        "5-8 minutes on this 2-CPU machine)",
    )  # fmt: skip
    parser.add_argument("--warmup", type=int, default=60, help="untimed requests first (c=16)")
    parser.add_argument(
        "--requests-c1", type=int, default=200, help="timed requests per endpoint at c=1"
    )
    parser.add_argument("--warmup-c1", type=int, default=20)
    parser.add_argument(
        "--requests-post", type=int, default=300,
        help=f"timed POSTs (and raw-detail floor requests) at c={POST_CONCURRENCY}",
    )  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--rounds", type=int, default=4,
        help="split each endpoint's requests into this many rounds, interleaved with the others",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also profile N in-process calls of detail, list and POST (cProfile)",
    )
    parser.add_argument("--show-sql", action="store_true", help="print the captured SQL")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="500 patients, 60 requests (c=16) and 15 (c=1) per endpoint",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.patients, args.requests, args.warmup = 500, 60, 8
        args.requests_c1, args.warmup_c1, args.rounds = 15, 3, 2
        args.requests_post = 40
    return args


# --------------------------------------------------------------------------------------------
# Seed
# --------------------------------------------------------------------------------------------


def seed(args: argparse.Namespace) -> dict:
    from treatments.models import Course

    t0 = time.perf_counter()
    teams = seeding.create_teams(args.teams)
    user = seeding.create_bench_user(teams)
    today = dt.date.today()
    template = seeding.register_course(
        user, teams[0], "TPL-0000001", today - dt.timedelta(days=400)
    )
    clones = seeding.clone_courses(
        template, teams, args.patients - 1, user, prefix="P", mixed_states=True
    )
    timeline = seeding.build_event_course(user, teams[1], args.events)
    database.vacuum_analyze()
    open_ids = [cid for cid, state in clones if state != "closed"]
    states = dict.fromkeys(("surveillance", "recurrence", "closed"), 0)
    for _, state in clones:
        states[state] += 1
    log(
        f"seeded {Course.objects.count()} courses ({states}) in {args.teams} teams, timeline "
        f"course {timeline.pk} with {timeline.events.count()} events, "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    return {"user": user, "timeline": timeline.pk, "open_ids": open_ids}


# --------------------------------------------------------------------------------------------
# Endpoints
# --------------------------------------------------------------------------------------------


def event_body() -> dict:
    return {
        "type": "symptoms_reported",
        "occurred_on": dt.date.today().isoformat(),
        "data": {},
        "reason": "bench",
    }


def endpoints(timeline: int, open_ids: list[int]) -> dict[str, tuple]:
    """name -> (method, path or path factory, body factory, expected status, raw floor)."""
    post_targets = itertools.cycle(open_ids)  # distinct courses (cycles only past the pool)

    def post_path() -> str:
        return f"/api/v1/courses/{next(post_targets)}/events/"

    return {
        "static": ("GET", "/bench/static/", None, 200, None),
        "raw-detail": ("GET", f"/bench/raw-course/{timeline}/", None, 200, None),
        "raw-list": ("GET", "/bench/raw-courses/?page_size=50", None, 200, None),
        "detail": ("GET", f"/api/v1/courses/{timeline}/", None, 200, "raw-detail"),
        "list": ("GET", "/api/v1/courses/?page_size=50", None, 200, "raw-list"),
        "events": ("GET", f"/api/v1/courses/{timeline}/events/", None, 200, "raw-detail"),
        "history": ("GET", f"/api/v1/courses/{timeline}/history/", None, 200, "raw-detail"),
        "post-event": ("POST", post_path, event_body, 201, "raw-detail"),
    }


def _resolve(spec: tuple) -> tuple[str, str, dict | None]:
    method, path, body, _, _ = spec
    return method, path() if callable(path) else path, body() if body else None


# --------------------------------------------------------------------------------------------
# In-process pass: queries per request (and the static floor's body)
# --------------------------------------------------------------------------------------------


def in_process_client(user):
    """A test client with an access token as the token endpoint issues it (with its claims)."""
    from django.test import Client

    from api.auth import issue_tokens

    return Client(HTTP_AUTHORIZATION=f"Bearer {issue_tokens(user).access_token}")


def call_in_process(client, spec: tuple):
    method, path, body = _resolve(spec)
    if method == "GET":
        return client.get(path)
    return client.post(path, data=json.dumps(body), content_type="application/json")


def query_pass(seeded: dict, eps: dict, show_sql: bool) -> tuple[dict, Path]:
    """Queries and body size per endpoint, measured on the second call (the first warms the
    process); writes the course detail body to the file the static floor serves."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    os.environ["BENCH_USER_ID"] = str(seeded["user"].pk)
    client = in_process_client(seeded["user"])
    detail = call_in_process(client, eps["detail"])
    static_file = Path(tempfile.mkstemp(prefix="bench-static-", suffix=".json")[1])
    static_file.write_bytes(detail.content)
    os.environ["BENCH_STATIC_FILE"] = str(static_file)
    found = {}
    for name, spec in eps.items():
        call_in_process(client, spec)
        with CaptureQueriesContext(connection) as ctx:
            response = call_in_process(client, spec)
        if response.status_code != spec[3]:
            raise RuntimeError(
                f"{name}: in-process {response.status_code} {response.content[:300]!r}"
            )
        sqls = database.statements(ctx.captured_queries)
        found[name] = {
            "queries": len(sqls),
            "count_queries": sum(1 for sql in sqls if COUNT_SQL.search(sql)),
            "bytes": len(response.content),
            "sql": sqls,
        }
        if show_sql:
            print(f"--- {name}: {len(sqls)} queries")
            for sql in sqls:
                print("   ", sql[:400])
    return found, static_file


def profile_pass(seeded: dict, eps: dict, calls: int) -> None:
    client = in_process_client(seeded["user"])
    for name in ("detail", "list", "post-event"):
        spec = eps[name]
        for _ in range(10):
            call_in_process(client, spec)
        measure.profile_calls(name, lambda spec=spec: call_in_process(client, spec), calls)


# --------------------------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------------------------


def load_all(
    db: str,
    server_pgid: int,
    clients: list,
    eps: dict,
    concurrency: int,
    n: int,
    warmup: int,
    rounds: int,
) -> dict:
    """Every endpoint and floor, n requests each, in `rounds` interleaved rounds (so a change
    in other load on the machine hits endpoints and floors alike); warm-up in round one."""
    sizes = [n // rounds + (1 if r < n % rounds else 0) for r in range(rounds)]
    parts: dict[str, list] = {name: [] for name in eps}
    for r, size in enumerate(sizes):
        for name, spec in eps.items():

            def task(client, spec=spec):
                method, path, body = _resolve(spec)
                return client.call(method, path, body)[0]

            meter = measure.CpuMeter(db, server_pgid=server_pgid)
            parts[name].append(
                load.run_load(
                    name, clients[:concurrency], task, size, warmup if r == 0 else 0, meter=meter
                )
            )
    results = {}
    for name, spec in eps.items():
        result = results[name] = measure.merge_results(parts[name])
        expected = spec[3]
        log(
            f"c={concurrency:<2} {name:<11} {result.rps:7.0f} req/s  p50 {result.ms(50):6.2f} ms  "
            f"p99 {result.ms(99):7.2f} ms  statuses {result.status_text()}"
            + ("" if result.statuses.get(expected) == n else f"  (expected {expected})")
        )
    return results


def print_table(title: str, results: dict, eps: dict, queries: dict) -> None:
    print(f"\n{title}")
    head = (f"{'endpoint':<11} {'req/s':>6} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} "
            f"{'non-2xx':>7} {'÷static':>7} {'÷raw':>5} {'raw floor':<10} {'p50÷raw':>7} "
            f"{'queries':>7} {'app cpu':>7} {'db cpu':>6} {'cpu÷raw':>7}")  # fmt: skip
    print(head)
    print("-" * len(head))
    static = results.get("static")
    for name, r in results.items():
        raw_name = eps[name][4]
        raw = results.get(raw_name) if raw_name else None
        cpu_ratio = r.cpu_ms("all") / raw.cpu_ms("all") if raw else None
        print(
            f"{name:<11} {r.rps:6.0f} {fmt(r.ms(50), 2):>7} {fmt(r.ms(90), 2):>7} "
            f"{fmt(r.ms(99), 2):>7} {fmt(r.max_ms, 1):>7} {r.non_2xx:>7} "
            f"{fmt(static.rps / r.rps if static else None, 2):>7} {fmt(raw.rps / r.rps if raw else None, 2):>5} "
            f"{raw_name or '-':<10} {fmt(r.ms(50) / raw.ms(50) if raw else None, 2):>7} "
            f"{queries[name]['queries']:>7} {fmt(r.cpu_ms('app'), 2):>7} {fmt(r.cpu_ms('db'), 2):>6} "
            f"{fmt(cpu_ratio, 2):>7}"
        )
    print("(÷static, ÷raw: floor req/s ÷ endpoint req/s; p50÷raw: endpoint p50 ÷ raw floor p50; "
          "app cpu, db cpu: CPU ms per request spent by the gunicorn processes and by the "
          "PostgreSQL backends; cpu÷raw: their sum ÷ the raw floor's)")  # fmt: skip


def run_header() -> str:
    """When, where and on which commit this run was taken (the first line of its output)."""
    import subprocess

    def git(*cmd: str) -> str:
        done = subprocess.run(["git", *cmd], capture_output=True, text=True, check=False)
        return done.stdout.strip()

    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--", "api", "bench",
                                                 "treatments", "surveillance") else ""  # fmt: skip
    when = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    command = " ".join(["bench/api.py", *sys.argv[1:]])
    commit = git("rev-parse", "--short", "HEAD")
    return (f"{command} | {when} | {os.cpu_count()} CPUs (nproc), load average "
            f"{os.getloadavg()[0]:.2f} | commit {commit}{dirty}")  # fmt: skip


def print_targets(high: dict, low: dict, posts: dict, queries: dict, c: int) -> None:
    """The targets table: each figure, its floor from the same run, the ratio, the target and
    PASS or MISS (ratios are slowdowns: above the target is a MISS)."""
    detail, raw = high["detail"], high["raw-detail"]
    post, post_floor = posts["post-event"], posts["raw-detail"]
    rows = [
        ("course detail CPU/request (app+db)", f"c={c}", detail.cpu_ms("all"),
         raw.cpu_ms("all"), "ms", detail.cpu_ms("all") / raw.cpu_ms("all"),
         TARGET_DETAIL_CPU_RATIO, "x raw-detail"),
        ("course detail p50", "c=1", low["detail"].ms(50), low["raw-detail"].ms(50), "ms",
         low["detail"].ms(50) / low["raw-detail"].ms(50), TARGET_DETAIL_P50_RATIO,
         "x raw-detail"),
        ("course list (page of 50)", f"c={c}", high["list"].rps, high["raw-list"].rps, "req/s",
         high["raw-list"].rps / high["list"].rps, TARGET_LIST_RATIO, "x raw-list"),
        ("events", f"c={c}", high["events"].rps, raw.rps, "req/s",
         raw.rps / high["events"].rps, TARGET_READ_RATIO, "x raw-detail"),
        ("history", f"c={c}", high["history"].rps, raw.rps, "req/s",
         raw.rps / high["history"].rps, TARGET_READ_RATIO, "x raw-detail"),
    ]  # fmt: skip
    print("targets (floors from this run; ratio = slowdown against the floor, PASS when at or "
          "below the target):")  # fmt: skip
    head = (f"{'figure':<36} {'at':<5} {'value':>9} {'floor':>9} {'unit':<6} {'ratio':>6} "
            f"{'target':>18}  verdict")  # fmt: skip
    print(head)
    print("-" * len(head))
    for figure, at, value, floor, unit, ratio, target, of in rows:
        ok = ratio <= target
        print(f"{figure:<36} {at:<5} {value:9.2f} {floor:9.2f} {unit:<6} {ratio:6.3f} "
              f"{'≤ ' + format(target, 'g') + of:>18}  {'PASS' if ok else 'MISS'}")  # fmt: skip
    post_queries = queries["post-event"]["queries"]
    print(f"{'POST event rate':<36} {'c=' + str(POST_CONCURRENCY):<5} {post.rps:9.2f} "
          f"{post_floor.rps:9.2f} {'ev/s':<6} {post_floor.rps / post.rps:6.2f} "
          f"{'≥ ' + format(TARGET_POST_RATE, 'g') + ' ev/s':>18}  "
          f"{'PASS' if post.rps >= TARGET_POST_RATE else 'MISS'}")  # fmt: skip
    print(f"{'POST event queries':<36} {'-':<5} {post_queries:9d} {'-':>9} {'SQL':<6} "
          f"{'-':>6} {'≤ ' + str(TARGET_POST_QUERIES):>18}  "
          f"{'PASS' if post_queries <= TARGET_POST_QUERIES else 'MISS'}")  # fmt: skip
    print(f"(POST event: floor = raw-detail at c={POST_CONCURRENCY} in the same rounds; "
          f"CPU per event app {fmt(post.cpu_ms('app'), 2)} ms + db {fmt(post.cpu_ms('db'), 2)} "
          f"ms)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    servers.install_signal_handlers()
    started = time.perf_counter()
    database.prepare_database(args.db)
    seeded = seed(args)
    # The in-process pass and the profiles take their POST targets from the end of the pool,
    # the load from the start: every POST hits a course no other POST touched.
    reserve = min(40 + 2 * args.profile, len(seeded["open_ids"]) // 4)
    pool = seeded["open_ids"]
    eps_local = endpoints(seeded["timeline"], pool[-reserve:])
    queries, static_file = query_pass(seeded, eps_local, args.show_sql)
    server = servers.Gunicorn(
        args.db,
        workers=args.workers,
        extra_env={
            "BENCH_USER_ID": str(seeded["user"].pk),
            "BENCH_STATIC_FILE": str(static_file),
        },
    )
    try:
        if args.profile:
            profile_pass(seeded, eps_local, args.profile)
        eps = endpoints(seeded["timeline"], pool[:-reserve])
        needed = args.warmup + args.requests + 2 * args.warmup_c1 + args.requests_c1
        needed += args.requests_post
        if needed > len(pool) - reserve:
            log(f"note: {needed} POSTs over {len(pool) - reserve} open courses: some get two")
        busy = measure.machine_busy(1.0)
        load_start = os.getloadavg()[0]
        log(f"machine before the load: {busy:.0%} of CPU busy, load average {load_start:.2f}")
        server.start()
        t0 = time.perf_counter()
        clients = load.clients_with_tokens(server.port, args.concurrency)
        log(f"{len(clients)} JWTs from /api/v1/auth/token/ in {time.perf_counter() - t0:.1f} s")
        pgid = server.proc.pid
        high = load_all(
            args.db, pgid, clients, eps, args.concurrency, args.requests, args.warmup, args.rounds
        )
        low = load_all(
            args.db, pgid, clients, eps, 1, args.requests_c1, args.warmup_c1, args.rounds
        )
        post_eps = {name: eps[name] for name in ("raw-detail", "post-event")}
        posts = load_all(
            args.db, pgid, clients, post_eps, POST_CONCURRENCY, args.requests_post,
            args.warmup_c1, args.rounds,
        )  # fmt: skip
    finally:
        server.stop()
        static_file.unlink(missing_ok=True)

    print(run_header())
    print_table(
        f"c={args.concurrency}: {args.requests} timed requests per endpoint after {args.warmup} "
        f"warm-up; gunicorn {args.workers} sync workers; ratios = slowdown vs the floor",
        high, eps, queries,
    )  # fmt: skip
    print_table(
        f"c=1: {args.requests_c1} timed requests per endpoint after {args.warmup_c1} warm-up",
        low, eps, queries,
    )  # fmt: skip
    print_table(
        f"c={POST_CONCURRENCY}: {args.requests_post} timed POST events after {args.warmup_c1} "
        "warm-up, each on a course no other POST touched, with the raw-detail floor",
        posts, post_eps, queries,
    )  # fmt: skip
    print("\nresponse bytes:", ", ".join(f"{k} {v['bytes']}" for k, v in queries.items()))

    detail_hi = high["detail"]
    non_2xx = sum(r.non_2xx for r in [*high.values(), *low.values(), *posts.values()])
    count_queries = queries["list"]["count_queries"]

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    print("\n==== SUMMARY bench/api.py " + "=" * 52)
    print(f"data: {args.patients} patients/courses in {args.teams} teams; timeline course with "
          f"{args.events} events; gunicorn {args.workers} sync workers on 127.0.0.1; "
          f"{os.cpu_count()} CPUs shared with the client and PostgreSQL")  # fmt: skip
    print(f"floors c={args.concurrency}: static {high['static'].rps:.0f} req/s, raw-detail "
          f"{high['raw-detail'].rps:.0f} req/s, raw-list {high['raw-list'].rps:.0f} req/s")  # fmt: skip
    print(f"floors c=1: static p50 {low['static'].ms(50):.2f} ms, raw-detail p50 "
          f"{low['raw-detail'].ms(50):.2f} ms, raw-list p50 {low['raw-list'].ms(50):.2f} ms")  # fmt: skip
    print_targets(high, low, posts, queries, args.concurrency)
    print(f"[{verdict(count_queries == 0)}] course list COUNT queries: {count_queries} "
          f"(cursor pagination)")  # fmt: skip
    print(f"[{verdict(non_2xx == 0)}] non-2xx responses over all runs: {non_2xx}")
    print("queries per request: " + ", ".join(f"{k} {v['queries']}" for k, v in queries.items()))
    app, db = detail_hi.cpu_ms("app"), detail_hi.cpu_ms("db")
    print(f"course detail CPU per request at c={args.concurrency}: gunicorn {app:.2f} ms + "
          f"PostgreSQL {db:.2f} ms; {os.cpu_count()} CPUs alone could serve at most "
          f"{os.cpu_count() * 1000 / (app + db):.0f} req/s (client CPU not counted)")  # fmt: skip
    print(f"machine: {busy:.0%} of CPU busy in the second before the load (other work); load "
          f"average {load_start:.2f} at start, {os.getloadavg()[0]:.2f} at the end")  # fmt: skip
    print(f"wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
