"""Helpers more than one alerts service uses: the clock, batching of long id lists, and one
UPDATE for many rows each with its own values."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from django.db import connection
from django.utils import timezone

T = TypeVar("T")

Clock = Callable[[], datetime]


def clock(now: datetime | None) -> Clock:
    """A fixed clock when the caller passed `now` (tests, replays), the real one otherwise."""
    return (lambda: now) if now is not None else timezone.now


def chunks(items: Sequence[T], size: int = 500) -> Iterable[Sequence[T]]:
    """`items` in consecutive slices of at most `size` (bounds SQL parameter lists)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def update_from_values(
    *,
    table: str,
    assignments: str,
    rows: Sequence[Sequence[Any]],
    where: str = "",
    params: Sequence[Any] = (),
    where_params: Sequence[Any] = (),
    types: Sequence[str] = (),
) -> int:
    """UPDATE table ... FROM (VALUES ...) v: one statement for many rows, each its own values.

    Django's bulk_update builds a CASE per field and row, which costs more Python time than
    sending the batch. `UPDATE ... FROM (VALUES ...)` runs on PostgreSQL and SQLite >= 3.33;
    VALUES columns are column1, column2, ... in both. On PostgreSQL, given the SQL ``types``
    of the row's columns (e.g. ("bigint", "text")), the rows travel as one array per column
    (``unnest``): a few parameters instead of one per value, which the driver would otherwise
    parse one by one. Identifiers are our own table names. Returns the rows changed.
    """
    table = connection.ops.quote_name(table)
    width = len(rows[0]) if rows else 0
    changed = 0
    if not rows:
        return 0
    if types and connection.vendor == "postgresql":
        if len(types) != width:
            raise ValueError(f"{len(types)} types for rows of {width} values")
        names = ", ".join(f"column{i + 1}" for i in range(width))
        arrays = ", ".join(f"%s::{t}[]" for t in types)
        sql = (
            f"UPDATE {table} SET {assignments} FROM unnest({arrays}) AS v({names}) "  # noqa: S608
            f"WHERE {table}.id = v.column1{where}"
        )
        columns = [list(column) for column in zip(*rows, strict=True)]
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, *columns, *where_params])
            return max(cursor.rowcount, 0)
    for chunk in chunks(rows):
        values = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(chunk))
        sql = (
            f"UPDATE {table} SET {assignments} FROM (VALUES {values}) AS v "  # noqa: S608
            f"WHERE {table}.id = CAST(v.column1 AS BIGINT){where}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, *(x for row in chunk for x in row), *where_params])
            changed += max(cursor.rowcount, 0)
    return changed
