"""COPY seeding (bench/sweep.py, bench/dispatch.py; not timed): care teams, patients,
diagnoses, surgeries and courses written with psycopg's COPY. The script picks the ids: course
i has patient i, diagnosis i and surgery i, so the rows of one course need no lookups and a
second call can append ids where the first stopped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from bench.database import PG_HOST, PG_PORT, PG_USER


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
        (f"{i}\t{surgery_on(i)}\tsegmental_ileal_resection\tR0\t14\t3\tf\t{i}" for i in ids),
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
