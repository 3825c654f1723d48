"""Querysets whose SQL is compiled once per process and then run with new parameter values.

Django compiles a queryset's SQL on every evaluation, which on the API's hot reads costs more
CPU than PostgreSQL spends running the statement. The queries below have a fixed shape (one
or two ids change), so each is built with the ORM once and compiled once; later calls run
the same SQL with the ids put in their places, and the rows become model instances (related
ones included) through the converters and populators Django derived from that compilation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connections
from django.db.models import QuerySet
from django.db.models.query import get_related_populators

# Stand-ins for the parameters while compiling: no id is negative, and these fit even a
# 32-bit integer column (a value outside a column's range would compile to no SQL at all).
_SENTINEL_BASE = -2_147_480_000
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


class CompiledQuery:
    """``build(*ids)`` compiled once; ``run(*ids)`` its rows as model instances.

    ``build`` takes as many integer arguments as ``run`` is given and returns a queryset;
    ``select_related`` and annotations work as on the queryset (the related instances are
    populated, each annotation becomes an attribute). What is kept is what Django's own
    model iterable derives from a compiled query (its SQL, select list, converters and
    related populators); each run executes the SQL with the ids in their places on the
    calling thread's connection. Raises ValueError at the first call when an argument does
    not reach the SQL as a parameter of its own.
    """

    def __init__(self, build: Callable[..., QuerySet], arity: int = 1) -> None:
        self._build = build
        self._arity = arity
        self._compiled: _Compiled | None = None
        self._lock = threading.Lock()

    def _compile(self) -> _Compiled:
        with self._lock:
            if self._compiled is None:
                self._compiled = _Compiled(self._build, self._arity)
        return self._compiled

    def run(self, *ids: int) -> list:
        """The rows for these ids (each an int within bigint: check before calling)."""
        return (self._compiled or self._compile()).run(ids)


class _Compiled:
    def __init__(self, build: Callable[..., QuerySet], arity: int) -> None:
        stand_ins = [_SENTINEL_BASE - i for i in range(arity)]
        qs = build(*stand_ins)
        self.db = qs.db
        compiler = qs.query.get_compiler(using=self.db)
        self.sql, params = compiler.as_sql()
        self.params = list(params)
        self.slots = [(pos, stand_ins.index(p)) for pos, p in enumerate(params) if p in stand_ins]
        if {arg for _, arg in self.slots} != set(range(arity)):
            raise ValueError("every argument must reach the SQL as a parameter")
        select, klass_info = compiler.select, compiler.klass_info
        self.model = klass_info["model"]
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [f[0].target.attname for f in select[self.start : self.end]]
        self.related = get_related_populators(klass_info, select, self.db)
        self.annotations = list(compiler.annotation_col_map.items())
        self.converters = list(compiler.get_converters([s[0] for s in select]).items())

    def run(self, ids: tuple[int, ...]) -> list:
        values = list(self.params)
        for position, arg in self.slots:
            values[position] = ids[arg]
        connection = connections[self.db]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, values)
            rows = cursor.fetchall()
        found = []
        for fetched in rows:
            row = list(fetched)
            for pos, (convs, expression) in self.converters:
                value = row[pos]
                for convert in convs:
                    value = convert(value, expression, connection)
                row[pos] = value
            obj = self.model.from_db(self.db, self.init_list, row[self.start : self.end])
            for populator in self.related:
                populator.populate(row, obj)
            for name, position in self.annotations:
                setattr(obj, name, row[position])
            found.append(obj)
        return found


def attach_prefetched(instance: Any, name: str, rows: list) -> None:
    """Make ``instance.<name>.all()`` answer ``rows`` without a query, as prefetch_related
    leaves it (the related manager's queryset with its result cache filled)."""
    qs = getattr(instance, name).get_queryset()
    qs._result_cache = rows
    qs._prefetch_done = True
    if not hasattr(instance, "_prefetched_objects_cache"):
        instance._prefetched_objects_cache = {}
    instance._prefetched_objects_cache[name] = qs


def as_bigint(value: Any) -> int | None:
    """``value`` as an id PostgreSQL's bigint can hold, or None (a str of digits counts)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if BIGINT_MIN <= number <= BIGINT_MAX else None
