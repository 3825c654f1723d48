"""The two baselines of bench/api.py, served by the same gunicorn and middleware as the API.

- ``static_json``: a constant JSON body the size of a course detail; no database, no auth.
- ``raw_course`` / ``raw_courses``: the same rows as course detail and course list, read with
  hand-written SQL on Django's connection, scoped to the bench user's care teams, and the
  same read-log rows written (one INSERT); no JWT, no throttle, no ORM, no serializers.

The bench user's id comes from BENCH_USER_ID (the floors do not authenticate), the static
body from the file named by BENCH_STATIC_FILE (written by bench/api.py before the server
starts).
"""

import json
import os
from functools import cache

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from surveillance import schedule
from treatments import machine


@cache
def _static_body() -> bytes:
    name = os.environ.get("BENCH_STATIC_FILE", "")
    if name:
        with open(name, "rb") as fh:
            return fh.read()
    return json.dumps({"status": "ok", "pad": "x" * 1500}).encode()


def _user_id() -> int:
    return int(os.environ["BENCH_USER_ID"])


def static_json(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_static_body(), content_type="application/json")


COURSE_SQL = """
SELECT c.id, c.care_team_id, c.state, c.version, c.opened_on, c.closed_on, c.closed_reason,
       p.id, p.mrn, p.given_name, p.family_name, p.birth_date, p.sex,
       d.stage, d.grade,
       l.id, l.number, l.category, l.agent, l.dose, l.dose_unit, l.route, l.interval_days,
       l.planned_cycles, l.started_on, l.ended_on, l.end_reason,
       (SELECT min(i.due_on) FROM surveillance_scheduleditem i
         WHERE i.course_id = c.id AND i.active) AS next_due_on
FROM treatments_course c
JOIN treatments_patient p ON p.id = c.patient_id
JOIN treatments_diagnosis d ON d.id = c.diagnosis_id
LEFT JOIN treatments_treatmentline l ON l.id = c.current_line_id
WHERE c.care_team_id IN (SELECT m.careteam_id FROM treatments_careteam_members m
                         WHERE m.user_id = %s)
"""
ITEMS_SQL = """
SELECT kind, due_on, window_start, window_end, why FROM surveillance_scheduleditem
WHERE course_id = %s AND active ORDER BY due_on, kind
"""
LINES_SQL = """
SELECT number, category, agent, dose, dose_unit, route, interval_days, planned_cycles,
       started_on, ended_on, end_reason
FROM treatments_treatmentline WHERE course_id = %s ORDER BY number
"""
READ_LOG_SQL = """
INSERT INTO netcare_readaccess (actor_id, patient_id, endpoint, method, at)
SELECT %s, pid, %s, 'GET', now() FROM unnest(%s::bigint[]) AS pid
"""
LINE_KEYS = ("number", "category", "agent", "dose", "dose_unit", "route", "interval_days",
             "planned_cycles", "started_on", "ended_on", "end_reason")  # fmt: skip


def _iso(value):
    return None if value is None else value.isoformat()


def _line(values) -> dict:
    line = dict(zip(LINE_KEYS, values, strict=True))
    for key in ("started_on", "ended_on"):
        line[key] = _iso(line[key])
    if line["dose"] is not None:
        line["dose"] = str(line["dose"])
    return line


def _course(row) -> dict:
    return {
        "id": row[0],
        "patient": {
            "id": row[7], "mrn": row[8], "given_name": row[9], "family_name": row[10],
            "birth_date": _iso(row[11]), "sex": row[12],
        },
        "care_team": row[1], "state": row[2], "version": row[3], "stage": row[13],
        "grade": row[14], "opened_on": _iso(row[4]), "closed_on": _iso(row[5]),
        "closed_reason": row[6],
        "current_line": None if row[15] is None else _line(row[16:27]),
        "next_due_on": _iso(row[27]),
    }  # fmt: skip


def raw_course(request: HttpRequest, pk: int) -> HttpResponse:
    user_id = _user_id()
    today = timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute(COURSE_SQL + " AND c.id = %s", [user_id, pk])
        row = cursor.fetchone()
        if row is None:
            return JsonResponse(
                {"code": "not_found", "detail": "Not found.", "errors": {}}, status=404
            )
        cursor.execute(ITEMS_SQL, [pk])
        items = cursor.fetchall()
        cursor.execute(LINES_SQL, [pk])
        lines = cursor.fetchall()
        cursor.execute(READ_LOG_SQL, [user_id, request.path[:200], [row[7]]])
    body = _course(row)
    body["due"] = [
        {
            "kind": kind, "due_on": _iso(due_on), "window_start": _iso(start),
            "window_end": _iso(end), "status": schedule.status_of(kind, due_on, start, end, today),
            "why": why,
        }
        for kind, due_on, start, end, why in items
    ]  # fmt: skip
    body["allowed_events"] = list(machine.allowed_events(row[2]))
    body["lines"] = [_line(values) for values in lines]
    body["warnings"] = []
    return HttpResponse(json.dumps(body), content_type="application/json")


def raw_courses(request: HttpRequest) -> HttpResponse:
    user_id = _user_id()
    size = min(int(request.GET.get("page_size", "50")), 200)
    with connection.cursor() as cursor:
        cursor.execute(COURSE_SQL + " ORDER BY c.id DESC LIMIT %s", [user_id, size + 1])
        rows = cursor.fetchall()
        page = rows[:size]
        cursor.execute(
            READ_LOG_SQL, [user_id, request.path[:200], sorted({row[7] for row in page})]
        )
    body = {
        "next": f"?before={page[-1][0]}" if len(rows) > size else None,
        "previous": None,
        "results": [_course(row) for row in page],
    }
    return HttpResponse(json.dumps(body), content_type="application/json")
