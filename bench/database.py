"""What every bench script shares first: the run's settings (loopback PostgreSQL and Redis,
the server environment), a log line, and the script's own database (create, migrate, set
Django up on it, count and vacuum, drop).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
GUNICORN = str(ROOT / ".venv" / "bin" / "gunicorn")
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
# The cache (and throttles) of the server under load; BENCH_REDIS_URL picks another db so
# runs side by side do not share counters.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
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


def drop_database(name: str) -> None:
    """Drop a bench database at the end of a run (terminating leftover sessions)."""
    import psycopg

    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
