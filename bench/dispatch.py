"""Reminder dispatch through real Celery workers against bare Celery (docs/operations.md#benchmarks,
issue 8).

    .venv/bin/python bench/dispatch.py                     # 20,000 reminders, 3 rounds
    .venv/bin/python bench/dispatch.py --reminders 20000
    .venv/bin/python bench/dispatch.py --quick             # 2,000 reminders, under 30 s

Set up by the script (none of it timed):
- its own PostgreSQL database (netcare_bench_dispatch: dropped, created, migrated) and its own
  `redis-server --port <free> --save "" --appendonly no --daemonize no` (db 0 the broker,
  db 1 the cache), both private to the run; the Redis process is killed at the end;
- --reminders/2 open courses by COPY, each patient consenting to email and SMS with both
  addresses, quiet hours 21:00-08:00 in a time zone where it is day now (so none is
  deferred), languages en/pt/es/fr; one active scheduled item per course (imaging, visit,
  CgA, symptom check or SSA injection; --due-dates daily: the three due dates of a day's
  sweep in steady state - entering the look-ahead 60 %, due today 25 %, past the window
  15 % - or spread: anywhere in the window, as a first sweep); two pending reminders per
  item (email and SMS) by bulk_create, what alerts.services.sweep would have inserted;
- one worker: `celery -A netcare worker --concurrency 2 --pool prefork --loglevel INFO`
  (the Procfile's flags) with `--include bench.dispatch` (for the no-op task below) - a main
  process that talks to Redis and two forked pool processes that run the tasks ("two worker
  processes") - with DJANGO_ENV=production, DATABASE_URL, CELERY_BROKER_URL,
  SMS_BACKEND=alerts.testing.RecordingSMSBackend and
  EMAIL_BACKEND=alerts.testing.RecordingEmailBackend (one alerts_recordedmessage row per
  accepted message, with its reminder id).

Timed, in rounds that alternate which goes first (medians shown):
- dispatch: from enqueueing one `alerts.dispatch` (as beat does; it enqueues one
  `alerts.dispatch_batch` per ALERTS_BATCH_SIZE of claimable work) until no reminder is
  pending or sending; reminders/s; enqueue->sent latency of every reminder (sent_at minus the
  enqueue instant: the whole backlog is enqueued at once, so p50 is about half the wall time);
  duplicates = COUNT(*) - COUNT(DISTINCT reminder_id) of the recorded messages;
- baseline: the same number of no-op tasks (`bench.noop`, defined here) through the same
  broker and worker: enqueued first onto their own queue, which the worker is then told to
  consume (add_consumer), timed from that moment until the queue and Redis' unacked set are
  empty - the worker's throughput, not this script's enqueueing;
- ratio reminders/s ÷ no-op tasks/s: above 1 is expected, since a task carries a batch of
  reminders while a no-op task carries one unit of work.
Then, in this process, dispatch_batch in a loop with the same backends: CPU per reminder of
Python and of PostgreSQL, which bounds what two processes on this machine can do; with
--profile (or when the target is missed), a cProfile of those batches.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from celery import shared_task

from bench import database, loaders, measure, servers
from bench.database import log
from bench.dispatch_report import report
from bench.ingest_report import run_header
from bench.loaders import Contact

NOOP_QUEUE = "bench_noop"
KINDS = ("imaging", "visit", "cga", "symptom_check", "ssa_injection")
LANGUAGES = ("en", "en", "en", "pt", "es", "fr")
# Zones across the offsets; the seed uses those where it is day now.
ZONES = (
    "Pacific/Auckland", "Australia/Sydney", "Asia/Tokyo", "Asia/Shanghai", "Asia/Kolkata",
    "Asia/Dubai", "Europe/Athens", "Europe/Paris", "Europe/London", "Europe/Lisbon",
    "Atlantic/Azores", "America/Sao_Paulo", "America/New_York", "America/Chicago",
    "America/Denver", "America/Los_Angeles", "Pacific/Honolulu",
)  # fmt: skip
# What a dispatch profile is worth showing (the app's steps, then the ORM and the driver).
DISPATCH_FOCUS = (
    r"\w+.py:\d+\((dispatch_batch|_claim|_decide|_send|_message_for|_record_outcomes"
    r"|_mark_sent|_finish_attempts|_update_from_values|_current_items|_recent_sms|quiet_hours_end)\)"
    r"|messages.py:\d+\((build|_text|render_sms|render_email|unsubscribe_token)\)"
    r"|channels.py:\d+\((send_many|send_messages|_email|_result|backend_for|__init__)\)"
    r"|query.py:\d+\((bulk_create|bulk_update|update|in_bulk|__iter__)\)"
    r"|compiler.py:\d+\((as_sql|execute_sql|results_iter)\)|psycopg/cursor.py:\d+\(execute\)"
    r"|signing.py:\d+\(dumps\)|loader.py:\d+\(render_to_string\)|message.py:\d+\(__init__\)"
)


@shared_task(name="bench.noop", ignore_result=True, acks_late=True)
def noop() -> None:
    """The baseline's unit of work: nothing (the worker imports it with --include)."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="netcare_bench_dispatch", help="database to (re)create")
    parser.add_argument("--reminders", type=int, default=20_000, help="pending reminders per round")
    parser.add_argument(
        "--noop-tasks", type=int, default=None, help="no-op tasks per round (default: --reminders)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds (medians reported)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=int(os.environ.get("ALERTS_BATCH_SIZE") or 500),
        help="ALERTS_BATCH_SIZE given to the workers (the app's default: 500)",
    )
    parser.add_argument("--concurrency", type=int, default=2, help="prefork pool processes")
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument(
        "--due-dates",
        choices=("daily", "spread"),
        default="daily",
        help="daily: the reminders a day's sweep inserts in steady state (3 due dates: "
        "advance, due, overdue); spread: a first sweep, due dates over the whole window "
        "(more distinct texts to render per batch)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile in-process batches even on a pass"
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds one round may take")
    parser.add_argument(
        "--keep-db",
        action="store_true",
        help="leave the database for inspection (default: drop it)",
    )
    parser.add_argument("--quick", action="store_true", help="2,000 reminders, one round")
    args = parser.parse_args(argv)
    if args.quick:
        args.reminders, args.rounds = 2_000, 1
    if args.noop_tasks is None:
        args.noop_tasks = args.reminders
    args.reminders += args.reminders % 2  # two per course
    return args


# --------------------------------------------------------------------------------------------
# Setup and seeding (not timed)
# --------------------------------------------------------------------------------------------


def django_setup(db: str, redis_server: servers.RedisServer) -> None:
    """This process: development settings, DEBUG off, the private broker and cache, and the
    recording backends (for the in-process pass)."""
    os.environ.update({
        "DATABASE_URL": database.database_url(db), "DJANGO_ENV": "development", "DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "netcare.settings", "CONN_MAX_AGE": "60",
        "CELERY_BROKER_URL": redis_server.url(0), "REDIS_URL": redis_server.url(1),
        "SMS_BACKEND": servers.WORKER_ENV["SMS_BACKEND"],
        "EMAIL_BACKEND": servers.WORKER_ENV["EMAIL_BACKEND"],
        "LOG_LEVEL": "WARNING",
    })  # fmt: skip
    import django

    django.setup()


def daytime_zones(now: dt.datetime) -> list[str]:
    """Zones where it is between 09:00 and 19:00 now: quiet hours 21:00-08:00 do not apply
    for the next two hours."""
    zones = [z for z in ZONES if 9 <= now.astimezone(ZoneInfo(z)).hour < 19]
    if not zones:  # cannot happen with ZONES spread over the day; keep the run honest anyway
        zones = [f"Etc/GMT{-h:+d}" for h in range(-12, 15) if 9 <= (now.hour + h) % 24 < 19]
    return zones


def seed(args: argparse.Namespace, now: dt.datetime) -> dict:
    from alerts import conf
    from alerts.models import Reminder

    t0 = time.perf_counter()
    today = now.date()
    courses = args.reminders // 2
    zones = daytime_zones(now)
    lookahead, overdue = conf.lookahead_days(), max(conf.overdue_days(), 1)

    def contact(i: int) -> Contact:
        return Contact(
            email=f"p{i}@example.org", phone=f"+4477009{i % 100000:05d}",
            timezone=zones[i % len(zones)], language=LANGUAGES[i % len(LANGUAGES)],
        )  # fmt: skip

    def kind_of(i: int) -> str:
        return KINDS[(i // 3) % len(KINDS)]

    def due_of(i: int) -> dt.date:
        k = (i * 40503) % 100
        if args.due_dates == "spread":  # a first sweep: anywhere in the window
            if k < 60:
                return today + dt.timedelta(days=i % (lookahead + 1))
            return today - dt.timedelta(days=1 + i % overdue)
        # A day's sweep in steady state: items entering the look-ahead today, due today, and
        # past their window (±14 days) since yesterday.
        if k < 60:
            return today + dt.timedelta(days=lookahead)
        return today if k < 85 else today - dt.timedelta(days=15)

    ids = range(1, courses + 1)
    stamp = now.isoformat()
    with loaders.seeding_connection(args.db) as conn:
        loaders.copy_teams(conn, args.teams)
        loaders.copy_courses(
            conn, ids, teams=args.teams, now=now,
            state_of=lambda i: "ssa" if kind_of(i) == "ssa_injection" else "surveillance",
            contact_of=contact, surgery_on=lambda i: today - dt.timedelta(days=200 + i % 1500),
            mrn_prefix="D",
        )  # fmt: skip
        loaders.copy_lines(
            conn, "surveillance_scheduleditem",
            ["id", "kind", "due_on", "window_start", "window_end", "why", "source", "active",
             "updated_at", "course_id"],
            (f"{i}\t{kind_of(i)}\t{due_of(i)}\t{due_of(i) - dt.timedelta(days=14)}\t"
             f"{due_of(i) + dt.timedelta(days=14)}\tbench: {kind_of(i)} per the plan\t"
             f"docs/clinical-rules.md#default-schedules\tt\t{stamp}\t{i}" for i in ids),
        )  # fmt: skip
        loaders.reset_sequences(
            conn,
            ["treatments_careteam", "treatments_patient", "treatments_diagnosis",
             "treatments_surgery", "treatments_course", "surveillance_scheduleditem"],
        )  # fmt: skip

    def stage(i: int) -> str:
        due_on = due_of(i)
        if due_on > today:
            return "advance"
        return "due" if due_on + dt.timedelta(days=14) >= today else "overdue"

    send_after = now - dt.timedelta(minutes=1)
    Reminder.objects.bulk_create(
        [
            Reminder(
                course_id=i, kind=f"{kind_of(i)}_due", due_on=due_of(i), stage=stage(i),
                channel=channel, send_after=send_after, created_at=send_after,
            )
            for i in ids
            for channel in ("email", "sms")
        ],
        batch_size=2000,
    )  # fmt: skip
    database.vacuum_analyze()
    log(f"seeded {courses:,} courses and {args.reminders:,} pending reminders in "
        f"{time.perf_counter() - t0:.1f} s; patients' zones: {', '.join(zones)}")  # fmt: skip
    return {"courses": courses, "zones": zones}


RESET_SQL = (
    "TRUNCATE alerts_deliveryattempt, alerts_recordedmessage, alerts_coordinatoralert, "
    "alerts_historicalcoordinatoralert",
    "UPDATE alerts_reminder SET status = 'pending', attempts = 0, next_attempt_at = NULL, "
    "leased_until = NULL, provider_message_id = '', last_error = '', sent_at = NULL, "
    "delivered_at = NULL, send_after = %s",
)


def reset(conn, send_after: dt.datetime) -> None:
    """Every reminder pending again, nothing recorded (before every dispatch round)."""
    conn.execute(RESET_SQL[0])
    conn.execute(RESET_SQL[1], [send_after])
    conn.execute("VACUUM ANALYZE alerts_reminder")


# --------------------------------------------------------------------------------------------
# Rounds
# --------------------------------------------------------------------------------------------

PENDING_SQL = (
    "SELECT EXISTS (SELECT 1 FROM alerts_reminder WHERE status = 'pending') "
    "OR EXISTS (SELECT 1 FROM alerts_reminder WHERE status = 'sending')"
)


def run_dispatch(args, app, conn, worker: servers.Worker) -> dict:
    reset(conn, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    log_mark = len(worker.log_text())
    meter = measure.CpuMeter(args.db, server_pgid=worker.proc.pid).start()
    t0_epoch = time.time()
    t0 = time.perf_counter()
    app.send_task("alerts.dispatch")
    deadline = t0 + args.timeout
    while conn.execute(PENDING_SQL).fetchone()[0]:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"reminders still pending after {args.timeout:.0f} s")
        time.sleep(0.01)
    wall = time.perf_counter() - t0
    meter.stop()
    statuses = dict(
        conn.execute("SELECT status, count(*) FROM alerts_reminder GROUP BY 1").fetchall()
    )
    recorded, distinct = conn.execute(
        "SELECT count(*), count(DISTINCT reminder_id) FROM alerts_recordedmessage"
    ).fetchone()
    # The provider's view: when the recording backend accepted each message. (sent_at is not
    # it: the dispatch_batch task passes its start time as `now`, and the service stamps
    # sent_at with that fixed clock.)
    latencies = sorted(
        row[0] - t0_epoch
        for row in conn.execute(
            "SELECT extract(epoch FROM min(created_at))::float8 FROM alerts_recordedmessage "
            "GROUP BY reminder_id"
        )
    )
    stamped = sorted(
        row[0] - t0_epoch
        for row in conn.execute(
            "SELECT extract(epoch FROM sent_at)::float8 FROM alerts_reminder WHERE sent_at IS NOT NULL"
        )
    )
    claims = conn.execute(
        "SELECT count(DISTINCT started_at) FROM alerts_deliveryattempt"
    ).fetchone()[0]
    new_log = worker.log_text()[log_mark:]
    fanned = re.findall(r"Task alerts\.dispatch\[[^\]]+\] succeeded in [\d.]+s: (\d+)", new_log)
    batch_tasks = len(re.findall(r"Task alerts\.dispatch_batch\[[^\]]+\] succeeded", new_log))
    sent = statuses.get("sent", 0)
    return {
        "wall": wall, "rps": sent / wall, "statuses": statuses, "recorded": recorded,
        "distinct": distinct, "duplicates": recorded - distinct, "latencies": latencies,
        "claims": claims, "enqueued_batches": int(fanned[-1]) if fanned else None,
        "batch_tasks": batch_tasks, "stamped": stamped,
        "app_cpu": meter.app, "db_cpu": meter.database, "sent": sent,
    }  # fmt: skip


def broker_idle(client) -> bool:
    return client.llen(NOOP_QUEUE) == 0 and client.hlen("unacked") == 0


def run_noop(args, app, worker: servers.Worker, redis_server: servers.RedisServer) -> dict:
    import redis

    client = redis.Redis(port=redis_server.port, db=0)
    t_enqueue = time.perf_counter()
    with app.producer_or_acquire() as producer:
        for _ in range(args.noop_tasks):
            app.send_task("bench.noop", queue=NOOP_QUEUE, producer=producer)
    enqueue = time.perf_counter() - t_enqueue
    queued = client.llen(NOOP_QUEUE)
    meter = measure.CpuMeter(args.db, server_pgid=worker.proc.pid).start()
    t0 = time.perf_counter()
    app.control.add_consumer(NOOP_QUEUE, destination=[worker.name], reply=True, timeout=5)
    deadline = t0 + args.timeout
    while not broker_idle(client):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"no-op tasks still queued after {args.timeout:.0f} s")
        time.sleep(0.005)
    wall = time.perf_counter() - t0
    meter.stop()
    app.control.cancel_consumer(NOOP_QUEUE, destination=[worker.name], reply=True, timeout=5)
    return {
        "wall": wall, "tps": args.noop_tasks / wall, "enqueue": enqueue, "queued": queued,
        "app_cpu": meter.app, "db_cpu": meter.database,
    }  # fmt: skip


# --------------------------------------------------------------------------------------------
# In-process: CPU per reminder, and a profile
# --------------------------------------------------------------------------------------------


def in_process(args, conn) -> dict:
    """dispatch_batch in a loop in this process (no Celery): CPU per reminder."""
    from alerts import services

    batches = max(1, min(20, args.reminders // args.batch_size // 2))
    reset(conn, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    services.dispatch_batch(batch_size=args.batch_size)  # warm-up: imports, templates
    meter = measure.CpuMeter(args.db, include_self=True).start()
    t0 = time.perf_counter()
    sent = 0
    for _ in range(batches):
        sent += services.dispatch_batch(batch_size=args.batch_size).sent
    wall = time.perf_counter() - t0
    meter.stop()
    return {"batches": batches, "sent": sent, "wall": wall, "app_cpu": meter.app,
            "db_cpu": meter.database}  # fmt: skip


def profile(args, conn) -> None:
    from alerts import services

    reset(conn, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    calls = max(1, min(5, args.reminders // args.batch_size // 2))
    measure.profile_calls(
        f"alerts.services.dispatch_batch (batch size {args.batch_size}, due dates "
        f"{args.due_dates})",
        lambda: services.dispatch_batch(batch_size=args.batch_size),
        calls,
        focus=DISPATCH_FOCUS,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(run_header("bench/dispatch.py"), flush=True)
    servers.install_signal_handlers()
    started = time.perf_counter()
    redis_server = servers.RedisServer()
    worker = None
    conn = None
    try:
        redis_server.start()
        t0 = time.perf_counter()
        database.recreate_database(args.db)
        database.migrate(args.db)
        django_setup(args.db, redis_server)
        log(f"database {args.db} created and migrated in {time.perf_counter() - t0:.1f} s")
        import psycopg

        from netcare.celery import app

        seeded = seed(args, dt.datetime.now(dt.UTC))
        conn = psycopg.connect(
            host=database.PG_HOST, port=database.PG_PORT, user=database.PG_USER, dbname=args.db,
            autocommit=True,
        )  # fmt: skip
        worker = servers.Worker(args.db, redis_server.url(0), redis_server.url(1), args).start(app)
        busy = measure.machine_busy(1.0)
        load_start = os.getloadavg()[0]
        log(f"machine before the rounds: {busy:.0%} of CPU busy, load average {load_start:.2f}")
        dispatches, noops = [], []
        for r in range(args.rounds):
            order = ("noop", "dispatch") if r % 2 == 0 else ("dispatch", "noop")
            for what in order:
                if what == "noop":
                    noops.append(run_noop(args, app, worker, redis_server))
                    n = noops[-1]
                    log(f"round {r + 1}: {args.noop_tasks:,} no-op tasks in {n['wall']:.2f} s = "
                        f"{n['tps']:.0f} tasks/s (enqueued beforehand in {n['enqueue']:.1f} s)")  # fmt: skip
                else:
                    dispatches.append(run_dispatch(args, app, conn, worker))
                    d = dispatches[-1]
                    log(f"round {r + 1}: {d['sent']:,} reminders sent in {d['wall']:.2f} s = "
                        f"{d['rps']:.0f} reminders/s, duplicates {d['duplicates']}")  # fmt: skip
        worker.stop()
        worker = None
        local = in_process(args, conn)
        met = report(args, seeded, dispatches, noops, local, (busy, load_start, started))
        if args.profile or not met:
            print("\nWhy: where a batch spends its CPU (in this process, same backends):")
            profile(args, conn)
    finally:
        if worker is not None:
            worker.stop()
        if conn is not None:
            conn.close()
        redis_server.stop()
        if not args.keep_db:
            with contextlib.suppress(Exception):  # Django may not be set up yet
                from django.db import connections

                connections.close_all()
            database.drop_database(args.db)
            log(f"database {args.db} dropped (--keep-db keeps it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
