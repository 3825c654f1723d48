"""Processes a bench run starts: gunicorn on loopback in its own process group, and the
signal handlers that make SIGTERM/SIGHUP unwind so every server is stopped.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from bench.database import GUNICORN, ROOT, SERVER_ENV, database_url, log


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


def _only_tasks_late(body: bytes) -> bool:
    """True when /healthz answers 503 only because periodic tasks are late: a bench runs no
    beat, so its tasks never run, but the database and the broker answer."""
    try:
        report = json.loads(body)
    except ValueError:
        return False
    return isinstance(report, dict) and report.get("down") == [] and bool(report.get("late"))


class Gunicorn:
    """gunicorn with sync workers in its own process group; stop() kills the whole group."""

    def __init__(self, db: str, *, workers: int = 2, extra_env: dict[str, str] | None = None):
        self.db = db
        self.workers = workers
        self.extra_env = extra_env or {}
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.logpath = logfile("bench-gunicorn-")

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
                response = conn.getresponse()
                status, body = response.status, response.read()
                conn.close()
                if status == 200 or (status == 503 and _only_tasks_late(body)):
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
        stop_group(proc)
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
# bench/dispatch.py's processes: a private redis-server and a Celery worker
# --------------------------------------------------------------------------------------------


# The worker's environment: production settings and the recording backends (one row per
# accepted message), so a run sends nothing and counts everything.
WORKER_ENV = {
    "DJANGO_ENV": "production",
    "DJANGO_SETTINGS_MODULE": "netcare.settings",
    "SECRET_KEY": SERVER_ENV["SECRET_KEY"],
    "ALLOWED_HOSTS": "127.0.0.1",
    "CONN_MAX_AGE": "60",
    "SMS_BACKEND": "alerts.testing.RecordingSMSBackend",
    "EMAIL_BACKEND": "alerts.testing.RecordingEmailBackend",
    "LOG_LEVEL": "INFO",
    "PYTHONPATH": str(ROOT),
}
CELERY = str(ROOT / ".venv" / "bin" / "celery")


def logfile(prefix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".log")
    os.close(fd)
    return Path(name)


def stop_group(proc: subprocess.Popen | None, grace: float = 15) -> None:
    """SIGTERM the process group `proc` leads, SIGKILL whatever is left."""
    if proc is None:
        return
    with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait(timeout=5)


class RedisServer:
    def __init__(self):
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.logpath = logfile("bench-redis-")

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        import redis

        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--daemonize", "no"]  # fmt: skip
        with open(self.logpath, "ab") as logfile:
            self.proc = subprocess.Popen(
                cmd, stdout=logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited:\n{self.logpath.read_text()[-2000:]}")
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    log(f"redis-server up on 127.0.0.1:{self.port} (pid {self.proc.pid})")
                    return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer PING in 20 s")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_group(proc, grace=5)
            self.logpath.unlink(missing_ok=True)
            log(f"redis-server stopped (exit {proc.returncode})")


class Worker:
    """`celery -A netcare worker` in its own process group (main process + pool children)."""

    def __init__(self, db: str, broker: str, cache: str, args: argparse.Namespace):
        self.name = f"bench-{uuid.uuid4().hex[:6]}@dispatch"
        self.env = os.environ | WORKER_ENV | {
            "DATABASE_URL": database_url(db), "CELERY_BROKER_URL": broker,
            "REDIS_URL": cache, "ALERTS_BATCH_SIZE": str(args.batch_size),
        }  # fmt: skip
        self.env.pop("DEBUG", None)
        self.concurrency = args.concurrency
        self.proc: subprocess.Popen | None = None
        self.logpath = logfile("bench-worker-")

    def start(self, app) -> Worker:
        cmd = [CELERY, "-A", "netcare", "worker", "-n", self.name, "--concurrency",
               str(self.concurrency), "--pool", "prefork", "--loglevel", "INFO",
               "--include", "bench.dispatch"]  # fmt: skip
        with open(self.logpath, "ab") as logfile:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=logfile, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited at start:\n{self.log_tail()}")
            if app.control.ping(destination=[self.name], timeout=0.5):
                log(f"worker {self.name} up: pid {self.proc.pid}, prefork pool of "
                    f"{self.concurrency}")  # fmt: skip
                return self
        raise RuntimeError(f"worker did not answer a ping in 90 s:\n{self.log_tail()}")

    def log_text(self) -> str:
        return self.logpath.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        stop_group(proc)
        errors = [
            line for line in self.log_text().splitlines() if "ERROR" in line or "Traceback" in line
        ]
        if errors:
            log(f"worker log {self.logpath} has {len(errors)} error lines; kept for reading")
        else:
            self.logpath.unlink(missing_ok=True)
        log(f"worker stopped (exit {proc.returncode})")
