"""A real Celery worker in a subprocess, on Redis, writing to the test PostgreSQL database."""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from django.db import connection

from netcare.celery import app
from tests.conftest import INTEGRATION_REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    s = connection.settings_dict
    user = s.get("USER") or "postgres"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{s['NAME']}"


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    name: str
    log: Path

    def kill(self) -> None:
        """SIGKILL the worker and its pool children (it runs in its own process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def redis_broker() -> str:
    """The integration Redis database, emptied, and the test process's Celery app on it."""
    if app.conf.broker_url != INTEGRATION_REDIS_URL:
        pytest.skip(f"the suite's Celery broker is not {INTEGRATION_REDIS_URL}: set REDIS_URL")
    redis.Redis.from_url(INTEGRATION_REDIS_URL).flushdb()
    return INTEGRATION_REDIS_URL


@pytest.fixture
def start_worker(redis_broker, tmp_path) -> Iterator:
    """Start `celery worker` subprocesses on the test database; each is stopped afterwards."""
    started: list[WorkerProcess] = []

    def start(concurrency: int = 2, extra_env: dict[str, str] | None = None) -> WorkerProcess:
        name = f"w{len(started)}-{uuid.uuid4().hex[:6]}@netcare-test"
        env = {
            **os.environ,
            "DJANGO_ENV": "test",
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": redis_broker,
            "REDIS_URL": redis_broker,
            **(extra_env or {}),
        }
        log = tmp_path / f"{name.split('@')[0]}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "netcare", "worker", "-n", name,
             "--concurrency", str(concurrency), "--pool", "prefork", "--loglevel", "INFO",
             "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        worker = WorkerProcess(process, name, log)
        started.append(worker)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"worker exited at start:\n{log.read_text()[-3000:]}")
            replies = app.control.ping(destination=[name], timeout=0.5)
            if replies:
                return worker
        pytest.fail(f"worker did not answer a ping in 60 s:\n{log.read_text()[-3000:]}")

    yield start
    for worker in started:
        worker.stop()


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    """Poll until predicate() is truthy; return its value or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout} s")
