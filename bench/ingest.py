"""Event ingestion with history, against a raw-SQL floor (docs/operations.md#benchmarks, issue 8).

    .venv/bin/python bench/ingest.py            # defaults: 500 events per run
    .venv/bin/python bench/ingest.py --quick    # a smoke run in under 30 s

Three layers, on the script's own PostgreSQL database (netcare_bench_ingest), each given
courses no other run touched (seeded in bulk, not timed):
1. floor: psycopg directly, one transaction per event: lock the course row FOR UPDATE, insert
   the event row, version-checked UPDATE of the course, insert one history row; at c=1/4/8
   (one connection per thread).
2. service: treatments.services.record_event in a loop in this process (history on, the
   surveillance re-plan subscriber on), c=1.
3. api: POST /api/v1/courses/{id}/events/ through gunicorn (2 sync workers, production
   settings, JWT) at c=1/4/8.
Workload "spread": N events over N distinct courses (symptoms_reported, which every open
state allows, or --event-type recurrence_detected). Workload "one course": N attempts at c=8
on a single course, each sending the expected_version it read just before (GET course
detail), so stale writes answer 409 stale_version; the floor does the same in SQL.

Printed per run: events/s, p50/p99 per call, slowdown vs the floor at the same concurrency
(floor events/s ÷ layer events/s), history rows written per event by table (expected: exactly
one treatments_historicalcourse row per event, nothing else), read-log rows per event.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import database, load, measure, seeding, servers
from bench.database import log
from bench.ingest_report import Ledger, history_ok, print_runs, run_header
from bench.measure import LoadResult

TARGET_API_C4 = 150.0  # POST events/s at c=4
TARGET_SERVICE_CPU_MS = 4.0  # record_event in process: this process's CPU per event
TARGET_POST_QUERIES = 10  # SQL statements of one POST
# One event of each family, for the query counts: (type, data), on a course in surveillance.
FAMILIES = {
    "symptom report": ("symptoms_reported", {}),
    "status update": ("status_updated", {"carcinoid_syndrome": True}),
    "change of state": ("recurrence_detected", {"site": "liver", "resectable": True}),
}

EVENT_DATA = {
    "symptoms_reported": {},
    "recurrence_detected": {"site": "liver", "resectable": True},
}
EVENT_TARGET = {"symptoms_reported": None, "recurrence_detected": "recurrence"}

LOCK_SQL = "SELECT state, version FROM treatments_course WHERE id = %s FOR UPDATE"
READ_VERSION_SQL = "SELECT version FROM treatments_course WHERE id = %s"
INSERT_EVENT_SQL = """
INSERT INTO treatments_courseevent
    (course_id, seq, type, occurred_on, recorded_at, actor_id, data, reason, from_state,
     to_state, override, override_reason, overridden_guards, warnings, source_model)
VALUES (%s, %s, %s, %s, now(), %s, %s, 'bench', %s, %s, false, '', '[]', '[]', '')
"""
UPDATE_SQL = """
UPDATE treatments_course SET version = version + 1, state = %s WHERE id = %s AND version = %s
"""
HISTORY_SQL = """
INSERT INTO treatments_historicalcourse
    (id, state, version, opened_on, closed_on, closed_reason, created_at, history_date,
     history_change_reason, history_type, care_team_id, diagnosis_id, history_user_id,
     patient_id, surgery_id, current_line_id)
SELECT id, state, version, opened_on, closed_on, closed_reason, created_at, now(), 'bench',
       '~', care_team_id, diagnosis_id, %s, patient_id, surgery_id, current_line_id
FROM treatments_course WHERE id = %s
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="netcare_bench_ingest", help="database to (re)create")
    parser.add_argument("--events", type=int, default=500, help="N: timed events per run")
    parser.add_argument("--warmup", type=int, default=40, help="untimed events before each run")
    parser.add_argument(
        "--one-course",
        type=int,
        default=200,
        help="attempts on one course at c=8 (expected_version)",
    )
    parser.add_argument("--levels", default="1,4,8", help="concurrency levels (floor and API)")
    parser.add_argument("--event-type", choices=sorted(EVENT_DATA), default="symptoms_reported")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also profile N in-process record_event calls and N POSTs (cProfile)",
    )
    parser.add_argument("--quick", action="store_true", help="50 events per run, 32 on one course")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.warmup, args.one_course = 50, 5, 32
    args.levels = [int(x) for x in args.levels.split(",")]
    return args


# --------------------------------------------------------------------------------------------
# Courses: one private slice per run
# --------------------------------------------------------------------------------------------


class Pool:
    def __init__(self, ids: list[int]):
        self.ids = ids
        self.taken = 0

    def take(self, count: int) -> list[int]:
        part = self.ids[self.taken : self.taken + count]
        if len(part) < count:
            raise RuntimeError("course pool exhausted: seed more courses")
        self.taken += count
        return part


def seed(args: argparse.Namespace, runs: int) -> dict:
    t0 = time.perf_counter()
    teams = seeding.create_teams(4)
    user = seeding.create_bench_user(teams)
    today = dt.date.today()
    template = seeding.register_course(
        user, teams[0], "TPL-0000001", today - dt.timedelta(days=400)
    )
    per_run = args.events + args.warmup
    count = runs * per_run + 4 * args.profile + 10 + len(FAMILIES) + 1
    clones = seeding.clone_courses(template, teams, count, user, prefix="I", mixed_states=False)
    database.vacuum_analyze()
    log(f"seeded {count} open courses in {time.perf_counter() - t0:.1f} s")
    return {"user": user, "pool": Pool([cid for cid, _ in clones])}


# --------------------------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------------------------


def pg_connections(db: str, count: int) -> list:
    import psycopg

    return [
        psycopg.connect(
            host=database.PG_HOST, port=database.PG_PORT, user=database.PG_USER, dbname=db,
            autocommit=True,
        )
        for _ in range(count)
    ]  # fmt: skip


def floor_event(conn, course_id: int, user_id: int, kind: str, expected: int | None = None) -> int:
    """One event the raw way; 201, or 409 when `expected` (read before) is stale."""
    today = dt.date.today()
    data = json.dumps(EVENT_DATA[kind])
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(LOCK_SQL, (course_id,))
        state, version = cur.fetchone()
        if expected is not None and expected != version:
            return 409
        to_state = EVENT_TARGET[kind] or state
        cur.execute(
            INSERT_EVENT_SQL, (course_id, version, kind, today, user_id, data, state, to_state)
        )
        cur.execute(UPDATE_SQL, (to_state, course_id, version))
        if cur.rowcount != 1:
            raise RuntimeError(f"course {course_id}: version moved under the lock")
        cur.execute(HISTORY_SQL, (user_id, course_id))
    return 201


def run_floor(args, seeded, ledger, concurrency: int) -> tuple[LoadResult, dict]:
    user_id = seeded["user"].pk
    conns = pg_connections(args.db, concurrency)
    try:
        warm = iter(seeded["pool"].take(args.warmup))
        load.run_load(
            "warm",
            conns,
            lambda c: floor_event(c, next(warm), user_id, args.event_type),
            args.warmup,
        )
        ids = iter(seeded["pool"].take(args.events))
        before = ledger.snapshot()
        result = load.run_load(
            f"floor c={concurrency}", conns,
            lambda c: floor_event(c, next(ids), user_id, args.event_type), args.events,
            meter=measure.CpuMeter(args.db, include_self=True),
        )  # fmt: skip
        return result, ledger.delta(before, ledger.snapshot())
    finally:
        for conn in conns:
            conn.close()


def run_service(args, seeded, ledger) -> tuple[LoadResult, dict]:
    from treatments import services

    user = seeded["user"]
    today = dt.date.today()

    def record(course_id: int) -> None:
        services.record_event(
            course=course_id, type=args.event_type, occurred_on=today,
            data=dict(EVENT_DATA[args.event_type]), actor=user, reason="bench",
        )  # fmt: skip

    for course_id in seeded["pool"].take(args.warmup):
        record(course_id)
    ids = seeded["pool"].take(args.events)
    before = ledger.snapshot()
    latencies = []
    meter = measure.CpuMeter(args.db, include_self=True).start()
    t0 = time.perf_counter()
    for course_id in ids:
        t1 = time.perf_counter()
        record(course_id)
        latencies.append(time.perf_counter() - t1)
    wall = time.perf_counter() - t0
    meter.stop()
    result = LoadResult(
        "service c=1", 1, len(ids), wall, latencies, Counter({201: len(ids)}),
        app_cpu=meter.app, db_cpu=meter.database,
    )  # fmt: skip
    return result, ledger.delta(before, ledger.snapshot())


def event_body(kind: str, expected: int | None = None) -> dict:
    body = {
        "type": kind,
        "occurred_on": dt.date.today().isoformat(),
        "data": EVENT_DATA[kind],
        "reason": "bench",
    }
    if expected is not None:
        body["expected_version"] = expected
    return body


def run_api(
    args, seeded, ledger, clients, server_pgid: int, concurrency: int
) -> tuple[LoadResult, dict]:
    def poster(ids):
        def task(client):
            return client.call(
                "POST", f"/api/v1/courses/{next(ids)}/events/", event_body(args.event_type)
            )[0]

        return task

    warm = load.run_load(
        "warm", clients[:concurrency], poster(iter(seeded["pool"].take(args.warmup))), args.warmup
    )
    if warm.non_2xx:
        raise RuntimeError(f"warm-up POSTs answered {warm.status_text()}")
    ids = iter(seeded["pool"].take(args.events))
    before = ledger.snapshot()
    result = load.run_load(
        f"api c={concurrency}", clients[:concurrency], poster(ids), args.events,
        meter=measure.CpuMeter(args.db, server_pgid=server_pgid),
    )  # fmt: skip
    return result, ledger.delta(before, ledger.snapshot())


def run_one_course_api(
    args, seeded, ledger, clients, server_pgid: int, course_id: int
) -> tuple[LoadResult, dict, Counter]:
    codes: Counter = Counter()
    lock = threading.Lock()

    def task(client):
        status, body = client.call("GET", f"/api/v1/courses/{course_id}/")
        if status != 200:
            return status, None
        version = json.loads(body)["version"]
        t0 = time.perf_counter()
        status, body = client.call(
            "POST", f"/api/v1/courses/{course_id}/events/", event_body("symptoms_reported", version)
        )
        elapsed = time.perf_counter() - t0
        if status == 409:
            code = json.loads(body).get("code", "?")
            with lock:
                codes[code] += 1
        return status, elapsed

    before = ledger.snapshot()
    result = load.run_load(
        "api one course c=8", clients[:8], task, args.one_course,
        meter=measure.CpuMeter(args.db, server_pgid=server_pgid),
    )  # fmt: skip
    return result, ledger.delta(before, ledger.snapshot()), codes


def run_one_course_floor(args, seeded, ledger, course_id: int) -> tuple[LoadResult, dict]:
    user_id = seeded["user"].pk
    conns = pg_connections(args.db, 8)

    def task(conn):
        expected = conn.execute(READ_VERSION_SQL, (course_id,)).fetchone()[0]
        t0 = time.perf_counter()
        status = floor_event(conn, course_id, user_id, "symptoms_reported", expected)
        return status, time.perf_counter() - t0

    try:
        before = ledger.snapshot()
        result = load.run_load(
            "floor one course c=8",
            conns,
            task,
            args.one_course,
            meter=measure.CpuMeter(args.db, include_self=True),
        )
        return result, ledger.delta(before, ledger.snapshot())
    finally:
        for conn in conns:
            conn.close()


def profile_pass(args, seeded) -> None:
    from django.test import Client

    from api.auth import issue_tokens
    from treatments import services

    user = seeded["user"]
    today = dt.date.today()
    ids = seeded["pool"].take(4 * args.profile)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_tokens(user).access_token}")
    body = json.dumps(event_body(args.event_type))
    jobs = {
        "record_event": lambda cid: services.record_event(
            course=cid, type=args.event_type, occurred_on=today,
            data=dict(EVENT_DATA[args.event_type]), actor=user, reason="bench",
        ),
        "POST /events/ (django.test.Client)": lambda cid: client.post(
            f"/api/v1/courses/{cid}/events/", data=body, content_type="application/json"
        ),
    }  # fmt: skip
    for k, (name, job) in enumerate(jobs.items()):
        part = iter(ids[k * 2 * args.profile : (k + 1) * 2 * args.profile])
        measure.profile_calls(name, lambda job=job, part=part: job(next(part)), args.profile)


def count_queries(seeded, course_id: int, kind: str) -> tuple[int, int]:
    """SQL statements of one record_event and of one POST (in-process; BEGIN/COMMIT not
    counted), for the report."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from api.auth import issue_tokens
    from treatments import services

    user = seeded["user"]
    with CaptureQueriesContext(connection) as service_ctx:
        services.record_event(
            course=course_id, type="symptoms_reported", occurred_on=dt.date.today(), data={},
            actor=user, reason="bench",
        )  # fmt: skip
    client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_tokens(user).access_token}")
    client.post(f"/api/v1/courses/{course_id}/events/", data=json.dumps(event_body("symptoms_reported")),
                content_type="application/json")  # fmt: skip
    with CaptureQueriesContext(connection) as api_ctx:
        response = client.post(
            f"/api/v1/courses/{course_id}/events/",
            data=json.dumps(event_body("symptoms_reported")), content_type="application/json",
        )  # fmt: skip
    if response.status_code != 201:
        raise RuntimeError(
            f"in-process POST answered {response.status_code}: {response.content[:300]!r}"
        )
    return len(database.statements(service_ctx.captured_queries)), len(
        database.statements(api_ctx.captured_queries)
    )


def family_queries(seeded) -> dict[str, int]:
    """SQL statements of one record_event per event family (each on a fresh course)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from treatments import services

    counts = {}
    for family, (kind, data) in FAMILIES.items():
        course_id = seeded["pool"].take(1)[0]
        with CaptureQueriesContext(connection) as ctx:
            services.record_event(
                course=course_id, type=kind, occurred_on=dt.date.today(), data=dict(data),
                actor=seeded["user"], reason="bench",
            )  # fmt: skip
        counts[family] = len(database.statements(ctx.captured_queries))
    return counts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(run_header("bench/ingest.py"), flush=True)
    servers.install_signal_handlers()
    started = time.perf_counter()
    runs = 2 * len(args.levels) + 1
    database.prepare_database(args.db)
    seeded = seed(args, runs)
    ledger = Ledger()
    pool = seeded["pool"]
    one_course_api, one_course_floor = pool.take(2)
    n_service_q, n_api_q = count_queries(seeded, pool.take(1)[0], args.event_type)
    # The first alert raised creates the system user once: not part of an event's cost.
    services_warm = pool.take(1)[0]
    from treatments import services as _services

    _services.record_event(
        course=services_warm, type="recurrence_detected", occurred_on=dt.date.today(),
        data=dict(FAMILIES["change of state"][1]), actor=seeded["user"], reason="bench warm-up",
    )  # fmt: skip
    by_family = family_queries(seeded)
    log(f"queries: record_event {n_service_q}, POST /events/ {n_api_q} (in-process, one call each)")
    if args.profile:
        profile_pass(args, seeded)

    load_start = os.getloadavg()[0]
    floors: dict[int, tuple] = {}
    for level in args.levels:
        floors[level] = run_floor(args, seeded, ledger, level)
        log(f"floor c={level}: {floors[level][0].rps:.0f} events/s")
    service = run_service(args, seeded, ledger)
    log(f"service c=1: {service[0].rps:.0f} events/s")
    floor_one = run_one_course_floor(args, seeded, ledger, one_course_floor)
    log(f"floor one course c=8: {floor_one[0].statuses}")

    api: dict[int, tuple] = {}
    server = servers.Gunicorn(args.db, workers=args.workers)
    busy = measure.machine_busy(1.0)
    log(
        f"machine before the API runs: {busy:.0%} of CPU busy, load average {os.getloadavg()[0]:.2f}"
    )
    try:
        server.start()
        clients = load.clients_with_tokens(server.port, max([*args.levels, 8]))
        for level in args.levels:
            api[level] = run_api(args, seeded, ledger, clients, server.proc.pid, level)
            log(f"api c={level}: {api[level][0].rps:.0f} events/s {api[level][0].status_text()}")
        api_one = run_one_course_api(args, seeded, ledger, clients, server.proc.pid, one_course_api)
        log(f"api one course c=8: {api_one[0].status_text()} 409 codes {dict(api_one[2])}")
    finally:
        server.stop()

    from treatments.models import Course, CourseEvent

    print(f"\nspread workload: {args.events} {args.event_type} events over {args.events} distinct "
          f"courses per run, after {args.warmup} warm-up events; ÷floor = floor events/s at the "
          f"same concurrency ÷ run events/s (service: floor c=1)")  # fmt: skip
    rows = [(*floors[level], None) for level in args.levels]
    rows.append((*service, floors[args.levels[0]][0]))
    rows += [(*api[level], floors[level][0]) for level in args.levels]
    print_runs(rows)

    one_result, one_delta, one_codes = api_one
    floor_result, floor_delta = floor_one
    print(f"\none-course workload: {args.one_course} attempts at c=8 on one course, each sending "
          f"the expected_version read just before (p50/p99: the write call only)")  # fmt: skip
    print_runs([(floor_result, floor_delta, None), (one_result, one_delta, None)])
    api_course_events = CourseEvent.objects.filter(course_id=one_course_api).count()
    api_course_version = Course.objects.get(pk=one_course_api).version
    created = one_result.statuses.get(201, 0)
    stale = one_codes.get("stale_version", 0)
    five_xx = sum(v for k, v in one_result.statuses.items() if k >= 500 or k == 0)
    other = one_result.n - created - stale - five_xx
    print(f"api one course: 201 {created}, 409 stale_version {stale}, 5xx/failed {five_xx}, other {other}; "
          f"events on the course {api_course_events}, version {api_course_version} "
          f"(1 + events: {api_course_version == 1 + api_course_events})")  # fmt: skip

    api_c4 = api.get(4)
    api_c4_eps = api_c4[0].statuses.get(201, 0) / api_c4[0].wall if api_c4 else None
    all_rows = [*floors.values(), service, *api.values()]
    history_all_ok = all(history_ok(delta, r.statuses.get(201, 0)) for r, delta in all_rows)
    history_one_ok = history_ok(one_delta, created) and history_ok(
        floor_delta, floor_result.statuses.get(201, 0)
    )
    non_2xx = sum(r.non_2xx for r, _ in all_rows)

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    print("\n==== SUMMARY bench/ingest.py " + "=" * 49)
    print(f"{args.events} {args.event_type} events per run on distinct courses; gunicorn {args.workers} "
          f"sync workers; {os.cpu_count()} CPUs shared by client, server and PostgreSQL; "
          f"queries: record_event {n_service_q}, POST {n_api_q}")  # fmt: skip
    for level in args.levels:
        f_eps = floors[level][0].statuses[201] / floors[level][0].wall
        a_eps = api[level][0].statuses.get(201, 0) / api[level][0].wall
        f_cpu, a_cpu = floors[level][0].cpu_ms("all"), api[level][0].cpu_ms("all")
        print(f"c={level}: floor {f_eps:.0f} events/s, api {a_eps:.0f} events/s "
              f"({f_eps / a_eps:.1f}x slower than the floor), api p50 {api[level][0].ms(50):.1f} ms "
              f"p99 {api[level][0].ms(99):.1f} ms; CPU per event floor {f_cpu:.2f} ms, api "
              f"{a_cpu:.2f} ms ({a_cpu / f_cpu:.0f}x)")  # fmt: skip
    s_eps = service[0].statuses[201] / service[0].wall
    f1 = floors[args.levels[0]][0]
    print(f"service c=1: {s_eps:.0f} events/s, p50 {service[0].ms(50):.1f} ms "
          f"({f1.statuses[201] / f1.wall / s_eps:.1f}x slower than the floor at c=1); CPU per "
          f"event {service[0].cpu_ms('all'):.2f} ms")  # fmt: skip
    print("record_event queries per event family (one call each, alerts after the commit "
          "included): " + ", ".join(f"{k} ({FAMILIES[k][0]}) {n}" for k, n in by_family.items()))  # fmt: skip
    s_cpu = service[0].cpu_ms("app")
    print(f"[{verdict(s_cpu <= TARGET_SERVICE_CPU_MS)}] record_event in process: {s_cpu:.2f} ms "
          f"of this process's CPU per event (target ≤ {TARGET_SERVICE_CPU_MS:g} ms), plus "
          f"PostgreSQL {service[0].cpu_ms('db'):.2f} ms; the floor spends "
          f"{f1.cpu_ms('all'):.2f} ms in all")  # fmt: skip
    if api_c4_eps is not None:
        print(f"[{verdict(api_c4_eps >= TARGET_API_C4)}] api at c=4: {api_c4_eps:.0f} events/s "
              f"(target ≥ {TARGET_API_C4:g}; floor {floors[4][0].statuses[201] / floors[4][0].wall:.0f})")  # fmt: skip
    print(f"[{verdict(n_api_q <= TARGET_POST_QUERIES)}] POST queries: {n_api_q} (target ≤ "
          f"{TARGET_POST_QUERIES}; of which record_event {n_service_q})")  # fmt: skip
    print(f"[{verdict(history_all_ok)}] history rows: exactly 1 treatments_historicalcourse row per "
          f"event and no other history table written, in every spread run")  # fmt: skip
    print(f"[{verdict(history_one_ok)}] one course: events = history rows = 201s (api "
          f"{created}, floor {floor_result.statuses.get(201, 0)})")  # fmt: skip
    print(f"[{verdict(five_xx == 0 and other == 0)}] one course at c=8: 201 {created}, "
          f"409 stale_version {stale}, 5xx {five_xx}")  # fmt: skip
    print(f"[{verdict(non_2xx == 0)}] non-2xx in the spread runs: {non_2xx}")
    if api_c4 is not None:
        app, db = api_c4[0].cpu_ms("app"), api_c4[0].cpu_ms("db")
        print(f"api c=4 CPU per event: gunicorn {app:.2f} ms + PostgreSQL {db:.2f} ms; "
              f"{os.cpu_count()} CPUs alone could take at most "
              f"{os.cpu_count() * 1000 / (app + db):.0f} events/s (client CPU not counted)")  # fmt: skip
    print(f"machine: {busy:.0%} of CPU busy in the second before the API runs (other work); "
          f"load average {load_start:.2f} at start, {os.getloadavg()[0]:.2f} at the end")  # fmt: skip
    print(f"wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
