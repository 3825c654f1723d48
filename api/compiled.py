"""Querysets whose SQL is compiled once per process and then run with new parameter values.

Django compiles a queryset's SQL on every evaluation, which on the API's hot reads costs more
CPU than PostgreSQL spends running the statement. The queries below have a fixed shape (one
or two ids change), so each is built with the ORM once, its SQL and parameters kept, and
later calls hand the same SQL to ``Model.objects.raw`` with the ids put in their places:
the rows become model instances with their fields' converters, as a queryset's would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.db.models.query import RawQuerySet

# Stand-ins for the parameters while compiling: no id is negative, and these fit even a
# 32-bit integer column (a value outside a column's range would compile to no SQL at all).
_SENTINEL_BASE = -2_147_480_000
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


class CompiledQuery:
    """``build(*ids)`` compiled once; ``run(*ids)`` its rows as model instances.

    ``build`` takes as many integer arguments as ``run`` is given and returns a queryset
    (no ``select_related``: ``raw`` cannot follow it; an annotation becomes an attribute of
    each instance). Raises ValueError at the first call when an argument does not reach the
    SQL as a parameter of its own.
    """

    def __init__(self, build: Callable[..., QuerySet], arity: int = 1) -> None:
        self._build = build
        self._arity = arity
        self._compiled: tuple[Any, str, list, list[tuple[int, int]]] | None = None
        self._lock = threading.Lock()

    def _compile(self) -> tuple[Any, str, list, list[tuple[int, int]]]:
        with self._lock:
            if self._compiled is None:
                stand_ins = [_SENTINEL_BASE - i for i in range(self._arity)]
                qs = self._build(*stand_ins)
                sql, params = qs.query.sql_with_params()
                slots = [
                    (pos, stand_ins.index(p)) for pos, p in enumerate(params) if p in stand_ins
                ]
                if {arg for _, arg in slots} != set(range(self._arity)):
                    raise ValueError("every argument must reach the SQL as a parameter")
                self._compiled = (qs.model, sql, list(params), slots)
        return self._compiled

    def run(self, *ids: int) -> RawQuerySet:
        """The rows for these ids (each an int within bigint: check before calling)."""
        model, sql, params, slots = self._compiled or self._compile()
        values = list(params)
        for position, arg in slots:
            values[position] = ids[arg]
        return model.objects.raw(sql, values)


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
