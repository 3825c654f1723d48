"""What bench/api.py and bench/ingest.py share: a private database, bulk seeding, gunicorn
on loopback, and a small threaded HTTP load client (http.client, one connection per thread).

Nothing here is timed by itself; each script decides what it measures.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import itertools
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_URL = "redis://127.0.0.1:6379/9"
BENCH_USERNAME = "bench"
BENCH_PASSWORD = "bench-password-only-for-loopback"
# The throttles stay on (their cache round trips are part of every request) but with rates a
# load test cannot reach; the defaults (2000/minute per user, 20/minute for tokens) would turn
# the run into 429s. Access tokens outlive the run.
SERVER_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "false",
    "CONN_MAX_AGE": "60",
    "REDIS_URL": REDIS_URL,
    "THROTTLE_USER": "10000000/minute",
    "THROTTLE_TOKEN": "100000/minute",
    "JWT_ACCESS_MINUTES": "120",
    "DJANGO_SETTINGS_MODULE": "bench.settings_bench",
    "PYTHONPATH": str(ROOT),
}


def database_url(name: str) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------------------------
# The script's own database
# --------------------------------------------------------------------------------------------


def recreate_database(name: str) -> None:
    """Drop (terminating leftover sessions) and create the bench database."""
    import psycopg

    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def in_process_env(db: str) -> dict[str, str]:
    """The environment of manage.py and of the in-process passes: development settings with
    DEBUG off (no query log in memory), the bench URLconf, and the same cache as the server."""
    return {
        "DATABASE_URL": database_url(db),
        "DJANGO_ENV": "development",
        "DEBUG": "false",
        "CONN_MAX_AGE": "60",
        "REDIS_URL": REDIS_URL,
        "THROTTLE_USER": SERVER_ENV["THROTTLE_USER"],
        "THROTTLE_TOKEN": SERVER_ENV["THROTTLE_TOKEN"],
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "bench.settings_bench",
    }


def migrate(db: str) -> None:
    env = os.environ | in_process_env(db) | {"PYTHONPATH": str(ROOT)}
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True
    )


def django_setup(db: str) -> None:
    os.environ.update(in_process_env(db))
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def prepare_database(db: str) -> None:
    """Drop, create, migrate (in a subprocess), then set Django up in this process on it."""
    t0 = time.perf_counter()
    recreate_database(db)
    migrate(db)
    django_setup(db)
    log(f"database {db} created and migrated in {time.perf_counter() - t0:.1f} s")


def table_counts(tables: Iterable[str]) -> dict[str, int]:
    from django.db import connection

    counts = {}
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            counts[table] = cursor.fetchone()[0]
    return counts


TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def statements(captured: Iterable[dict]) -> list[str]:
    """SQL statements of a CaptureQueriesContext, without transaction control (BEGIN, ...)."""
    return [
        q["sql"] for q in captured if not q["sql"].lstrip().upper().startswith(TRANSACTION_CONTROL)
    ]


def history_tables() -> list[str]:
    from django.db import connection

    return sorted(t for t in connection.introspection.table_names() if "_historical" in t)


def vacuum_analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


# --------------------------------------------------------------------------------------------
# Seeding (not timed): teams, the bench user, one course registered through the service, then
# bulk clones of it (bulk_create with history rows), so every course has a plan and due items
# exactly as the service would have written them.
# --------------------------------------------------------------------------------------------

SEED_PATIENT = {
    "given_name": "Ana", "family_name": "Silva", "birth_date": dt.date(1961, 4, 2),
    "sex": "female", "email": "ana@example.org", "phone": "+447700900123",
    "timezone": "Europe/London", "language": "en", "sms_consent": True, "email_consent": True,
}  # fmt: skip
SSA = {"agent": "lanreotide", "dose_mg": 120, "interval_days": 28}


def seed_diagnosis(surgery_on: dt.date) -> dict:
    return {
        "primary_site": "ileum", "diagnosed_on": surgery_on - dt.timedelta(days=20),
        "differentiation": "well", "ki67_percent": 4.0, "mitoses_per_2mm2": 1,
        "t": "T3", "n": "N1", "m": "M0", "sstr_imaging": "positive",
        "cga_elevated_preop": True, "functional": False,
    }  # fmt: skip


def seed_surgery(surgery_on: dt.date) -> dict:
    return {
        "performed_on": surgery_on, "procedure": "segmental ileal resection", "margin": "R0",
        "nodes_examined": 14, "nodes_positive": 3, "gallbladder_removed": False,
    }  # fmt: skip


def create_teams(count: int) -> list:
    from treatments.models import CareTeam

    return CareTeam.objects.bulk_create(
        [
            CareTeam(name=f"Bench team {i + 1:02d}", clinic=f"Bench clinic {i % 5 + 1}")
            for i in range(count)
        ]
    )


def create_bench_user(teams: Sequence):
    """The coordinator every load thread logs in as: a member of every team."""
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username=BENCH_USERNAME, password=BENCH_PASSWORD)
    user.groups.add(Group.objects.get(name="coordinator"))
    user.care_teams.add(*teams)
    return user


def register_course(actor, team, mrn: str, surgery_on: dt.date, family_name: str = "Silva"):
    from treatments import services

    return services.register_course(
        actor=actor,
        care_team=team,
        patient=SEED_PATIENT | {"mrn": mrn, "family_name": family_name},
        diagnosis=seed_diagnosis(surgery_on),
        surgery=seed_surgery(surgery_on),
        reason="bench seed",
    ).course


def _clone(obj, **changes):
    values = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
    values[obj._meta.pk.attname] = None
    values.update(changes)
    return type(obj)(**values)


def clone_courses(
    template, teams: Sequence, count: int, actor, *, prefix: str, mixed_states: bool
) -> list[tuple[int, str]]:
    """`count` courses (with patient, diagnosis, surgery, plan, due items and history rows)
    cloned from `template`, dates shifted back by 0-364 days, round-robin over `teams`.

    mixed_states: 1 in 20 closed (with its course_closed event), 1 in 20 in recurrence (with
    its recurrence_detected event), the rest in surveillance. Returns (course id, state).
    """
    from django.db import transaction
    from django.utils import timezone
    from simple_history.utils import bulk_create_with_history

    from surveillance.models import ScheduledItem, SurveillancePlan
    from treatments.models import Course, CourseEvent, Diagnosis, Patient, Surgery

    tpl = Course.objects.select_related("patient", "diagnosis", "surgery", "plan").get(
        pk=template.pk
    )
    items = list(ScheduledItem.objects.filter(course=tpl))
    batch = 2000
    reason = "bench seed (bulk)"
    now = timezone.now()
    shifts = [dt.timedelta(days=i % 365) for i in range(count)]
    states = []
    for i in range(count):
        if mixed_states and i % 20 == 7:
            states.append("closed")
        elif mixed_states and i % 20 == 13:
            states.append("recurrence")
        else:
            states.append("surveillance")

    def create(objs, model):
        return bulk_create_with_history(
            objs, model, batch_size=batch, default_user=actor, default_change_reason=reason
        )

    with transaction.atomic():
        patients = create(
            [
                _clone(tpl.patient, care_team_id=teams[i % len(teams)].pk,
                       clinic=teams[i % len(teams)].clinic, mrn=f"{prefix}{i:07d}",
                       family_name=f"Bench{i:05d}", user_id=None, created_at=now)
                for i in range(count)
            ],
            Patient,
        )  # fmt: skip
        diagnoses = create(
            [
                _clone(tpl.diagnosis, patient_id=p.pk, diagnosed_on=tpl.diagnosis.diagnosed_on - s)
                for p, s in zip(patients, shifts, strict=True)
            ],
            Diagnosis,
        )
        surgeries = create(
            [
                _clone(tpl.surgery, patient_id=p.pk, performed_on=tpl.surgery.performed_on - s)
                for p, s in zip(patients, shifts, strict=True)
            ],
            Surgery,
        )
        courses = []
        for i in range(count):
            closed = states[i] == "closed"
            event_on = surgeries[i].performed_on + dt.timedelta(days=200)
            courses.append(
                _clone(
                    tpl, patient_id=patients[i].pk, care_team_id=patients[i].care_team_id,
                    diagnosis_id=diagnoses[i].pk, surgery_id=surgeries[i].pk,
                    opened_on=surgeries[i].performed_on, state=states[i],
                    version=1 if states[i] == "surveillance" else 2, current_line_id=None,
                    closed_on=event_on if closed else None,
                    closed_reason="discharged" if closed else "", created_at=now,
                )
            )  # fmt: skip
        courses = create(courses, Course)
        create(
            [
                _clone(tpl.plan, course_id=c.pk, anchor_on=tpl.plan.anchor_on - s)
                for c, s in zip(courses, shifts, strict=True)
            ],
            SurveillancePlan,
        )
        ScheduledItem.objects.bulk_create(
            [
                _clone(
                    item, course_id=c.pk, due_on=item.due_on - s,
                    window_start=item.window_start - s,
                    window_end=None if item.window_end is None else item.window_end - s,
                    active=c.state != "closed", updated_at=now,
                )
                for c, s in zip(courses, shifts, strict=True)
                for item in items
            ],
            batch_size=batch,
        )  # fmt: skip
        events = []
        for c in courses:
            if c.state == "surveillance":
                continue
            kind, data = (
                ("course_closed", {"reason": "discharged"})
                if c.state == "closed"
                else ("recurrence_detected", {"site": "liver", "resectable": True})
            )
            events.append(
                CourseEvent(
                    course_id=c.pk, seq=1, type=kind, occurred_on=c.opened_on + dt.timedelta(days=200),
                    recorded_at=now, actor_id=actor.pk, data=data, reason=reason,
                    from_state="surveillance", to_state=c.state,
                )
            )  # fmt: skip
        CourseEvent.objects.bulk_create(events, batch_size=batch)
    return [(c.pk, c.state) for c in courses]


def build_event_course(actor, team, n_events: int, mrn: str = "EVENTS-0001"):
    """A course whose log is real: registered, then `n_events` record_event calls
    (recurrence, SSA started, then symptom reports), dates ascending and in the past."""
    from treatments import services

    today = dt.date.today()
    surgery_on = today - dt.timedelta(days=30 + 7 * n_events)
    course = register_course(actor, team, mrn, surgery_on, family_name="Timeline")
    steps = [
        ("recurrence_detected", {"site": "liver", "resectable": False}),
        ("ssa_started", SSA),
    ]
    for k in range(n_events):
        kind, data = steps[k] if k < len(steps) else ("symptoms_reported", {})
        services.record_event(
            course=course.pk, type=kind, occurred_on=surgery_on + dt.timedelta(days=20 + 7 * k),
            data=data, actor=actor, reason="bench seed",
        )  # fmt: skip
    course.refresh_from_db()
    return course


# --------------------------------------------------------------------------------------------
# gunicorn on loopback
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def install_signal_handlers() -> None:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so every `finally` (server shutdown) runs."""

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)


class Gunicorn:
    """gunicorn with sync workers in its own process group; stop() kills the whole group."""

    def __init__(self, db: str, *, workers: int = 2, extra_env: dict[str, str] | None = None):
        self.db = db
        self.workers = workers
        self.extra_env = extra_env or {}
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        fd, name = tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")
        os.close(fd)
        self.logpath = Path(name)

    def start(self) -> Gunicorn:
        env = os.environ | SERVER_ENV | {"DATABASE_URL": database_url(self.db)} | self.extra_env
        env.pop("DEBUG", None)
        cmd = [
            GUNICORN, "netcare.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers), "--worker-class", "sync", "--timeout", "120",
            "--chdir", str(ROOT), "--log-level", "warning",
        ]  # fmt: skip
        with open(self.logpath, "ab") as logfile:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=logfile, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                status = conn.getresponse().status
                conn.close()
                if status == 200:
                    log(
                        f"gunicorn up on 127.0.0.1:{self.port} ({self.workers} sync workers, pid {self.proc.pid})"
                    )
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /healthz in 60 s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        text = self.logpath.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the process group (master and workers), SIGKILL to whatever is left."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.wait(timeout=5)
        errors = [
            line
            for line in self.log_tail(200).splitlines()
            if "Traceback" in line or "ERROR" in line
        ]
        if errors:
            log(f"gunicorn log {self.logpath} has {len(errors)} error lines; kept for reading")
        else:
            self.logpath.unlink(missing_ok=True)
        log(f"gunicorn stopped (exit {proc.returncode})")

    def __enter__(self) -> Gunicorn:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# CPU accounting: the machine is shared, so besides wall-clock rates each run reports the CPU
# time the server processes and the PostgreSQL backends spent on it (from /proc), which other
# load on the machine does not inflate much.
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Load client
# --------------------------------------------------------------------------------------------


class Client:
    """One thread's HTTP connection. gunicorn's sync workers answer `Connection: close`, so
    http.client reconnects before the next request (the TCP connect is part of the latency)."""

    def __init__(self, port: int, token: str | None = None):
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(
        self, method: str, path: str, body=None, headers: dict | None = None
    ) -> tuple[int, bytes]:
        head = {"Accept": "application/json"}
        if self.token:
            head["Authorization"] = f"Bearer {self.token}"
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            head["Content-Type"] = "application/json"
        if headers:
            head.update(headers)
        try:
            self.conn.request(method, path, body=payload, headers=head)
            response = self.conn.getresponse()
            data = response.read()
            return response.status, data
        except (OSError, http.client.HTTPException):
            self.conn.close()
            return 0, b""

    def close(self) -> None:
        self.conn.close()


def fetch_token(port: int) -> str:
    client = Client(port)
    status, body = client.call(
        "POST", "/api/v1/auth/token/", {"username": BENCH_USERNAME, "password": BENCH_PASSWORD}
    )
    client.close()
    if status != 200:
        raise RuntimeError(f"token endpoint answered {status}: {body[:300]!r}")
    return json.loads(body)["access"]


def clients_with_tokens(port: int, count: int) -> list[Client]:
    """`count` clients, each with its own JWT from POST /api/v1/auth/token/ (fetched once,
    in parallel: each costs a password hash)."""
    tokens: list[str | None] = [None] * count
    errors: list[BaseException] = []

    def get(k: int) -> None:
        try:
            tokens[k] = fetch_token(port)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=get, args=(k,)) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [Client(port, token) for token in tokens]


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


Task = Callable[[Client], "int | tuple[int, float | None]"]


def run_load(
    name: str,
    clients: Sequence,
    task: Task,
    n: int,
    warmup: int = 0,
    meter: CpuMeter | None = None,
) -> LoadResult:
    """Run `task` n times spread over one thread per client, after `warmup` untimed runs.

    A task returns the HTTP status, or (status, latency) to time only part of what it does.
    The clock runs from the moment every thread has finished its warm-up to the last answer.
    """
    count = len(clients)
    timed = itertools.count()
    warm = itertools.count()
    latencies: list[list[float]] = [[] for _ in range(count)]
    statuses: list[Counter] = [Counter() for _ in range(count)]
    warmed = threading.Barrier(count + 1)
    go = threading.Barrier(count + 1)
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        client = client_list[k]
        try:
            while next(warm) < warmup:
                task(client)
        except BaseException as exc:
            errors.append(exc)
        finally:
            warmed.wait()
            go.wait()
        if errors:
            return
        try:
            while next(timed) < n:
                t0 = time.perf_counter()
                outcome = task(client)
                elapsed = time.perf_counter() - t0
                status, part = outcome if isinstance(outcome, tuple) else (outcome, None)
                latencies[k].append(elapsed if part is None else part)
                statuses[k][status] += 1
        except BaseException as exc:
            errors.append(exc)

    client_list = list(clients)
    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(count)]
    for t in threads:
        t.start()
    warmed.wait()
    if meter is not None and not errors:
        meter.start()
    go.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    if meter is not None:
        meter.stop()
    return LoadResult(
        name=name, concurrency=count, n=n, wall=wall,
        latencies=[x for part in latencies for x in part],
        statuses=sum(statuses, Counter()),
        app_cpu=meter.app if meter else None, db_cpu=meter.database if meter else None,
    )  # fmt: skip


# Functions worth a line in a profile of a request (what the app does, not the plumbing).
PROFILE_FOCUS = (
    r"views.py:\d+\((dispatch|initial|get|post|perform_authentication|check_permissions"
    r"|check_throttles|course_detail|_history_rows)\)"
    r"|get_object_or_404|log_reads|paginate_queryset|serializers.py:\d+\((data|get_fields)\)"
    r"|compiler.py:\d+\((as_sql|execute_sql)\)|psycopg/cursor.py:\d+\(execute\)|role_of"
    r"|simplejwt/authentication.py:\d+\(authenticate\)|throttling.py:\d+\(allow_request\)"
    r"|backends/redis.py:\d+\((get|set)\)|redis/client.py:\d+\(__init__\)"
    r"|services.py:\d+\((record_event|_apply|course_facts|replan|facts_for|_store|_check_event_input)\)"
    r"|domain_events.py:\d+\(publish\)|base.py:\d+\(save_base\)|create_historical_record"
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


# --------------------------------------------------------------------------------------------
# COPY seeding (bench/sweep.py, bench/dispatch.py): care teams, patients, diagnoses, surgeries
# and courses written with psycopg's COPY. The script picks the ids: course i has patient i,
# diagnosis i and surgery i, so the rows of one course need no lookups and a second call can
# append ids where the first stopped. Nothing here is timed.
# --------------------------------------------------------------------------------------------


def seeding_connection(db: str):
    """A psycopg connection (one transaction, commit when done) that skips triggers.

    session_replication_role=replica turns off the deferred foreign-key triggers, which would
    otherwise check every COPY'd row at commit; the seeder writes consistent ids instead.
    Needs a superuser (the loopback `postgres` role is one).
    """
    import psycopg

    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=db,
        options="-c session_replication_role=replica -c synchronous_commit=off",
    )  # fmt: skip


def copy_value(value: object) -> str:
    """One field of COPY's text format (the values the seeders write need no escaping)."""
    if value is None:
        return r"\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    return str(value)


def copy_lines(
    conn, table: str, columns: Sequence[str], lines: Iterable[str], chunk_bytes: int = 1 << 20
) -> int:
    """COPY tab-separated text lines (no trailing newline) into `table`, ~1 MB at a time, so
    memory stays flat however many rows the iterable yields. Returns the number of lines."""
    count = 0
    buffer: list[str] = []
    size = 0
    names = ", ".join(f'"{c}"' for c in columns)
    with conn.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        for line in lines:
            buffer.append(line)
            size += len(line) + 1
            count += 1
            if size >= chunk_bytes:
                copy.write("\n".join(buffer) + "\n")
                buffer, size = [], 0
        if buffer:
            copy.write("\n".join(buffer) + "\n")
    return count


@contextlib.contextmanager
def secondary_indexes_dropped(conn, tables: Sequence[str]):
    """Drop the indexes of `tables` that back no constraint, and build them again on exit:
    one sorted build is much faster than keeping them up to date row by row during a COPY.
    Primary keys and unique constraints stay (they check the seeder's ids). Use it inside the
    seeding transaction: if the body fails, the rollback brings the indexes back."""
    rows = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' "
        "AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "WHERE c.conname = i.indexname)",
        [list(tables)],
    ).fetchall()
    for name, _ in rows:
        conn.execute(f'DROP INDEX "{name}"')
    yield [name for name, _ in rows]
    conn.execute("SET maintenance_work_mem = '256MB'")
    for _, definition in rows:
        conn.execute(definition)


def reset_sequences(conn, tables: Iterable[str]) -> None:
    """Move each table's id sequence past the ids the seeder chose."""
    with conn.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                f'GREATEST((SELECT max(id) FROM "{table}"), 1))'
            )


@dataclass(frozen=True)
class Contact:
    """What the reminder pipeline reads from a patient."""

    email: str = "patient@example.org"
    phone: str = "+447700900123"
    timezone: str = "Europe/London"
    language: str = "en"
    email_consent: bool = True
    sms_consent: bool = True
    quiet_hours_start: str = "21:00"
    quiet_hours_end: str = "08:00"


def team_clinic(team_id: int) -> str:
    return f"Bench clinic {(team_id - 1) % 10 + 1}"


def copy_teams(conn, count: int) -> None:
    """Care teams 1..count (ids chosen here; clinics as team_clinic says)."""
    copy_lines(
        conn, "treatments_careteam", ["id", "name", "clinic"],
        (f"{t}\tBench team {t:03d}\t{team_clinic(t)}" for t in range(1, count + 1)),
    )  # fmt: skip


def copy_courses(
    conn,
    ids: range,
    *,
    teams: int,
    now: dt.datetime,
    state_of: Callable[[int], str],
    contact_of: Callable[[int], Contact],
    surgery_on: Callable[[int], dt.date],
    mrn_prefix: str = "B",
) -> int:
    """Patients, diagnoses (ileum T3 N1 M0, G2), surgeries and courses for course ids `ids`,
    round-robin over care teams 1..teams. A closed course gets closed_on and closed_reason."""
    stamp = now.isoformat()

    def patients() -> Iterable[str]:
        for i in ids:
            c = contact_of(i)
            t = (i - 1) % teams + 1
            yield "\t".join((
                str(i), team_clinic(t), f"{mrn_prefix}{i:08d}", "Ana", f"Bench{i}",
                f"{1940 + i % 45}-{i % 12 + 1:02d}-{i % 28 + 1:02d}",
                ("female", "male")[i % 2], c.email, c.phone, c.timezone, c.language,
                copy_value(c.email_consent), stamp if c.email_consent else r"\N",
                copy_value(c.sms_consent), stamp if c.sms_consent else r"\N",
                c.quiet_hours_start, c.quiet_hours_end, stamp, str(t), r"\N",
            ))  # fmt: skip

    copy_lines(
        conn, "treatments_patient",
        ["id", "clinic", "mrn", "given_name", "family_name", "birth_date", "sex", "email",
         "phone", "timezone", "language", "email_consent", "email_consent_at", "sms_consent",
         "sms_consent_at", "quiet_hours_start", "quiet_hours_end", "created_at", "care_team_id",
         "user_id"],
        patients(),
    )  # fmt: skip
    copy_lines(
        conn, "treatments_diagnosis",
        ["id", "primary_site", "diagnosed_on", "differentiation", "ki67_percent",
         "mitoses_per_2mm2", "t", "n", "m", "stage", "grade", "sstr_imaging", "sstr_imaging_on",
         "cga_elevated_preop", "functional", "notes", "patient_id"],
        (f"{i}\tileum\t{surgery_on(i) - dt.timedelta(days=20)}\twell\t4.00\t1.0\tT3\tN1\tM0\t"
         f"III\tG2\tpositive\t\\N\tt\tf\t\t{i}" for i in ids),
    )  # fmt: skip
    copy_lines(
        conn, "treatments_surgery",
        ["id", "performed_on", "procedure", "margin", "nodes_examined", "nodes_positive",
         "gallbladder_removed", "patient_id"],
        (f"{i}\t{surgery_on(i)}\tsegmental ileal resection\tR0\t14\t3\tf\t{i}" for i in ids),
    )  # fmt: skip

    def courses() -> Iterable[str]:
        for i in ids:
            state = state_of(i)
            opened = surgery_on(i)
            closed = state == "closed"
            yield "\t".join((
                str(i), state, "1" if state == "surveillance" else "2", str(opened),
                str(opened + dt.timedelta(days=200)) if closed else r"\N",
                "discharged" if closed else "", stamp, str((i - 1) % teams + 1),
                str(i), str(i), str(i), r"\N",
            ))  # fmt: skip

    return copy_lines(
        conn, "treatments_course",
        ["id", "state", "version", "opened_on", "closed_on", "closed_reason", "created_at",
         "care_team_id", "diagnosis_id", "patient_id", "surgery_id", "current_line_id"],
        courses(),
    )  # fmt: skip


def rss_kb() -> tuple[int, int]:
    """(current RSS, peak RSS) of this process in kB, from /proc/self/status."""
    values = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                values[line.split(":")[0]] = int(line.split()[1])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def drop_database(name: str) -> None:
    """Drop a bench database at the end of a run (terminating leftover sessions)."""
    import psycopg

    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
