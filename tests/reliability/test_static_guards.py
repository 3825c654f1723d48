"""Static guards over the application's source (docs/operations.md#no-reminder-is-lost;
docs/architecture.md#the-audit-trail).

- No broker ETA trap: no call passes `eta=`, and no `countdown=` (apply_async, retry,
  signature options, task defaults) goes beyond a small bound, far below the Redis visibility
  timeout. Reminders wait in the database (`send_after`, `next_attempt_at`), not in Redis.
  (tests/alerts/test_tasks.py greps alerts/ for the words; this parses every app, bounds the
  retry policy and checks the settings.)
- No history bypass: no code calls QuerySet.update(), bulk_update() or bulk_create() on a
  model django-simple-history tracks (those write no history row), nor runs raw SQL that
  writes its table, outside an explicit allow-list. The database-level refusal of UPDATE and
  DELETE on the event log is tested by tests/treatments/test_events.py
  ::test_the_database_refuses_raw_sql_that_rewrites_the_log.

Both scan alerts/, surveillance/, treatments/ and netcare/ (migrations excluded: they run on
historical models, before any history exists) and run without a database or broker.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from django.apps import apps
from django.conf import settings

from netcare.celery import app as celery_app
from tests.reliability.support import figures

ROOT = Path(__file__).resolve().parents[2]
APPS = ("alerts", "surveillance", "treatments", "netcare")

#: Longest broker-side delay allowed, in seconds: far below the visibility timeout and the
#: reminder lease, so a delayed message is never handed out twice by Redis.
MAX_BROKER_DELAY = 60

#: (path relative to the repository, function) -> why it may write a tracked model in bulk.
#: Empty: no code path writes a history-tracked model without a history row.
HISTORY_BYPASS_ALLOWED: dict[tuple[str, str], str] = {}


def app_sources() -> Iterator[tuple[str, str]]:
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            yield str(path.relative_to(ROOT)), path.read_text()


# --- No ETA trap --------------------------------------------------------------------------


def broker_delays(source: str, filename: str = "<source>") -> list[str]:
    """Every `eta=` and every `countdown=` (or retry delay) above the bound, as file:line."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Call):
            pairs = [(k.arg, k.value) for k in node.keywords if k.arg]
        elif isinstance(node, ast.Dict):
            pairs = [
                (k.value, v)
                for k, v in zip(node.keys, node.values, strict=True)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)
            ]
        else:
            continue
        for name, value in pairs:
            if name == "eta":
                found.append(f"{filename}:{value.lineno} eta=")
            elif name in {"countdown", "default_retry_delay", "retry_backoff_max"}:
                bounded = (
                    isinstance(value, ast.Constant)
                    and isinstance(value.value, int | float)
                    and not isinstance(value.value, bool)
                    and value.value <= MAX_BROKER_DELAY
                )
                if not bounded:
                    found.append(f"{filename}:{value.lineno} {name}={ast.unparse(value)}")
    return found


def test_the_checker_finds_broker_delays_beyond_the_bound():
    source = """
task.apply_async(args=[1], countdown=3600)
task.apply_async(eta=when)
self.retry(countdown=delay)
task.apply_async(countdown=5)
OPTIONS = {"retry_backoff_max": 600, "acks_late": True}
"""
    assert [f.split(" ", 1)[1] for f in broker_delays(source)] == [
        "countdown=3600", "eta=", "countdown=delay", "retry_backoff_max=600",
    ]  # fmt: skip


def test_no_app_code_parks_work_in_the_broker_beyond_a_small_bound():
    offenders = [hit for name, text in app_sources() for hit in broker_delays(text, name)]
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout")
    # Celery's own default (600 s) where a task sets none.
    backoff_max = max(
        getattr(task, "retry_backoff_max", 600)
        for name, task in celery_app.tasks.items()
        if name.startswith("alerts.")
    )
    figures(
        "no ETA trap (static)",
        files=sum(1 for _ in app_sources()), offenders=len(offenders),
        bound_s=MAX_BROKER_DELAY, retry_backoff_max_s=backoff_max,
        visibility_timeout_s=visibility,
    )  # fmt: skip
    assert offenders == []
    assert backoff_max <= MAX_BROKER_DELAY
    if visibility is not None:  # the Redis transport (the filesystem one has no such timeout)
        assert visibility > 10 * MAX_BROKER_DELAY


# --- No history bypass --------------------------------------------------------------------

BULK_WRITES = {"update", "bulk_update", "bulk_create"}


def tracked_models() -> dict[str, tuple[str, str]]:
    """Class name -> (table, history table) of every model our apps track with history."""
    tracked = {}
    for model in apps.get_models():
        if model._meta.app_label in APPS and hasattr(
            model._meta, "simple_history_manager_attribute"
        ):
            manager = getattr(model, model._meta.simple_history_manager_attribute)
            tracked[model.__name__] = (model._meta.db_table, manager.model._meta.db_table)
    return tracked


def reverse_accessors(tracked: set[str]) -> set[str]:
    """Related-manager names that yield tracked rows (course.lines, plan.items, ...)."""
    names = set()
    for model in apps.get_models():
        if model.__name__ not in tracked or model._meta.app_label not in APPS:
            continue
        for field in model._meta.get_fields():
            if field.is_relation and field.concrete and field.remote_field is not None:
                accessor = field.remote_field.get_accessor_name()
                if accessor and not accessor.endswith("+"):
                    names.add(accessor)
    return names


def _chain(node: ast.AST) -> tuple[str | None, list[str]]:
    """The root name and the attribute names of `a.b(...).c.d(...)`."""
    attrs: list[str] = []
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Name):
            return node.id, attrs[::-1]
        else:
            return None, attrs[::-1]


class _HistoryBypass(ast.NodeVisitor):
    def __init__(self, filename: str, models: set[str], accessors: set[str], tables: set[str]):
        self.filename, self.models, self.accessors = filename, models, accessors
        self.table_sql = re.compile(
            r"\b(UPDATE|DELETE\s+FROM|INSERT\s+INTO)\s+\"?(" + "|".join(map(re.escape, tables))
            + r")\b", re.IGNORECASE,
        )  # fmt: skip
        self.function = "<module>"
        self.querysets: set[str] = set()  # names bound to a tracked queryset in this function
        self.found: list[tuple[str, str, int, str]] = []

    def _tracked(self, node: ast.AST) -> bool:
        root, attrs = _chain(node)
        if root in self.models and attrs and attrs[0] != "_meta":
            return True
        return root in self.querysets or any(a in self.accessors for a in attrs)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer = (self.function, self.querysets)
        self.function, self.querysets = node.name, set(self.querysets)
        self.generic_visit(node)
        self.function, self.querysets = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Assign(self, node: ast.Assign) -> None:
        if self._tracked(node.value):
            self.querysets |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in BULK_WRITES
            and self._tracked(func.value)
        ):
            self.found.append((self.filename, self.function, node.lineno, ast.unparse(func)))
        for keyword in node.keywords:  # _update_from_values(table=Course._meta.db_table, ...)
            root, attrs = _chain(keyword.value)
            if keyword.arg == "table" and root in self.models and attrs[:1] == ["_meta"]:
                self.found.append(
                    (self.filename, self.function, node.lineno, f"table={root}._meta.db_table")
                )
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and self.table_sql.search(node.value):
            self.found.append((self.filename, self.function, node.lineno, "raw SQL write"))


def history_bypasses(source: str, filename: str = "<source>") -> list[tuple[str, str, int, str]]:
    models = tracked_models()
    tables = {table for pair in models.values() for table in pair}
    visitor = _HistoryBypass(filename, set(models), reverse_accessors(set(models)), tables)
    visitor.visit(ast.parse(source, filename))
    return visitor.found


def test_the_checker_finds_bulk_writes_to_tracked_models():
    source = """
def a():
    Course.objects.filter(pk=1).update(state="x")
def b(course):
    course.lines.all().update(ended_on=None)
def c():
    rows = Patient.objects.filter(mrn="1")
    rows.update(phone="")
def d():
    CoordinatorAlert.objects.bulk_create([])
def e(cursor):
    cursor.execute("UPDATE treatments_course SET state = 'x'")
def f():
    _update_from_values(table=Course._meta.db_table, rows=[])
def fine(out):
    Reminder.objects.filter(pk=1).update(status="sent")
    out.update({"a": 1})
    cursor.execute("SELECT 1 FROM treatments_course")
"""
    assert [(fn, what) for _, fn, _, what in history_bypasses(source)] == [
        ("a", "Course.objects.filter(pk=1).update"),
        ("b", "course.lines.all().update"),
        ("c", "rows.update"),
        ("d", "CoordinatorAlert.objects.bulk_create"),
        ("e", "raw SQL write"),
        ("f", "table=Course._meta.db_table"),
    ]


def test_no_code_writes_a_history_tracked_model_in_bulk_outside_the_allow_list():
    models = tracked_models()
    found = [hit for name, text in app_sources() for hit in history_bypasses(text, name)]
    offenders = [hit for hit in found if (hit[0], hit[1]) not in HISTORY_BYPASS_ALLOWED]
    figures(
        "history bypass (static)",
        tracked_models=len(models), files=sum(1 for _ in app_sources()),
        bulk_writes_found=len(found), offenders=len(offenders),
        allow_list=sorted(HISTORY_BYPASS_ALLOWED) or "empty",
    )  # fmt: skip
    assert {"Course", "Patient", "CoordinatorAlert", "SymptomCheck"} <= set(models)
    assert offenders == [], offenders
