"""Fixtures of the fault tests: a private redis-server, Celery workers on it, role groups.

Every broker here is a `redis-server` this session starts on a free loopback port and kills by
its own PID at teardown, so a test may stop it, restart it empty or FLUSHALL it without
touching anyone else's Redis. While a test uses it, the test process's Celery app publishes
there too (`tasks.dispatch.delay()` is what beat would send). Workers are `celery worker`
subprocesses in their own process group on the test PostgreSQL database, killed by that group.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis

from netcare.celery import app
from tests.conftest import CI
from tests.integration.conftest import WorkerProcess
from tests.integration.conftest import test_database_url as database_url

ROOT = Path(__file__).resolve().parents[2]

RECORDING = {
    "SMS_BACKEND": "alerts.testing.RecordingSMSBackend",
    "EMAIL_BACKEND": "alerts.testing.RecordingEmailBackend",
    "ALERTS_SMS_DAILY_CAP": "100",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RedisServer:
    """A redis-server of our own: no persistence, so a restart comes back empty."""

    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "yes"],
            stdout=self.log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.exceptions.ConnectionError):
                if self.client().ping():
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # our own PID; --save "" so nothing survives
            self.process.wait(timeout=10)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@contextlib.contextmanager
def app_broker(url: str) -> Iterator[None]:
    """Point the test process's Celery app at `url` for a while (its pools are rebuilt)."""

    def reset() -> None:
        if app._pool is not None:
            with contextlib.suppress(Exception):
                app._pool.force_close_all()
        app._pool = None
        with contextlib.suppress(AttributeError, KeyError):
            app.__dict__["amqp"]._producer_pool = None

    previous = app.conf.broker_url
    # Celery reads these before its configuration: point them at `url` too while we run.
    saved_env = {k: os.environ.get(k) for k in ("CELERY_BROKER_URL", "CELERY_BROKER_WRITE_URL")}
    reset()
    app.conf.broker_url = url
    for key, value in saved_env.items():
        if value is not None:
            os.environ[key] = url
    try:
        assert urlparse(url).netloc in app.connection_for_write().as_uri()
        yield
    finally:
        reset()
        for key, value in saved_env.items():
            if value is not None:
                os.environ[key] = value
        app.conf.broker_url = previous


@pytest.fixture
def private_redis(tmp_path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        if CI:
            pytest.fail("CI=true needs the redis-server binary for the fault tests")
        pytest.skip("needs the redis-server binary to start a private Redis")
    server = RedisServer(port=free_port(), log=tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def broker(private_redis) -> Iterator[RedisServer]:
    """The private Redis, with this process's Celery app publishing to it."""
    with app_broker(private_redis.url):
        yield private_redis


RECEIVED = re.compile(r"Task ([\w.]+)\[([0-9a-f-]+)\] received")


@dataclass
class Worker(WorkerProcess):
    """A worker subprocess (kill/stop from the integration tests') that reads its own log."""

    app_name: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def received(self, task: str | None = None) -> Counter[str]:
        """Task ids this worker received (from its log), with how many times each."""
        return Counter(
            task_id for name, task_id in RECEIVED.findall(self.text()) if task in (None, name)
        )

    def children(self) -> list[int]:
        """PIDs of the prefork pool processes (ForkPoolWorker-n) of this worker."""
        out = subprocess.run(
            ["ps", "--ppid", str(self.process.pid), "-o", "pid=,args="],
            capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip
        return [int(line.split()[0]) for line in out.splitlines() if line.strip()]


@pytest.fixture
def workers(broker, transactional_db, tmp_path) -> Iterator:
    """Start `celery worker` subprocesses on the private Redis and the test database.

    Needs `transactional_db`: the worker's connection sees only committed rows, and the
    workers are stopped before the database is flushed.
    """
    started: list[Worker] = []

    def start(
        concurrency: int = 2,
        env: dict[str, str] | None = None,
        *,
        args: tuple[str, ...] = (),
        settings_module: str = "netcare.settings",
    ) -> Worker:
        tag = f"rel{len(started)}-{uuid.uuid4().hex[:6]}"
        name = f"{tag}@netcare-reliability"
        full_env = {
            **os.environ,
            "DJANGO_ENV": "test",
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker.url,
            "REDIS_URL": broker.url,
            "PGAPPNAME": tag,  # libpq: how pg_stat_activity names this worker's connections
            "PYTHONUNBUFFERED": "1",
            **RECORDING,
            **(env or {}),
        }
        log = tmp_path / f"{tag}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "netcare", "worker", "-n", name,
             "--concurrency", str(concurrency), "--pool", "prefork", "--loglevel", "INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat", *args],
            cwd=ROOT, env=full_env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        worker = Worker(process, name, log, tag, env or {})
        started.append(worker)
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"worker exited at start:\n{worker.text()[-3000:]}")
            if f"{name} ready" in worker.text() and len(worker.children()) >= concurrency:
                return worker
            time.sleep(0.1)
        pytest.fail(f"worker not ready in 45 s:\n{worker.text()[-3000:]}")

    yield start
    for worker in started:
        worker.stop()
