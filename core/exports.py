"""Spreadsheet exports: a tablib dataset written as CSV or Excel bytes, safe to open.

Pure: rows in, bytes out, no ORM and no request. The admin's export views (the changelists'
and the worklist's) build a :class:`tablib.Dataset` and call :func:`render`; this module
decides only how a cell is written.

Formula injection: a spreadsheet program runs a cell that starts with ``=``, ``+``, ``-`` or
``@`` (and some also one starting with a tab, a carriage return or a NUL) as a formula, so a
patient named ``=HYPERLINK(...)`` could run one on the coordinator's machine. Every such text
cell is written with a leading apostrophe, which makes it text; numbers stay numbers. Sources:
OWASP, "CSV Injection" (https://owasp.org/www-community/attacks/CSV_Injection), and OWASP
ASVS 5.0, requirement 1.2.10. The check is made after what a program may skip or an
attacker may put first: blanks of any kind, line breaks and opening double quotes; the full-width
forms of the four signs count as the signs. Every CSV field is quoted, so a separator inside
a value (a ``;`` read as one by a spreadsheet set to another locale) cannot start a cell.

Control characters other than tab, line feed and carriage return, and lone surrogates, are
written as U+FFFD: an Excel file (XML 1.0) cannot hold them, and a name pasted with one would
otherwise make the export fail. Both formats write the same text.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import tablib

# The first characters that make a spreadsheet read a cell as a formula (OWASP; ASVS 5.0
# 1.2.10 adds NUL), with the full-width forms of the four signs.
FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r", "\n", "\x00", "＝", "＋", "－", "＠")
# What may come before the trigger and still leave a formula: blanks, line breaks, double
# quotes, and what an unwritable character became. (A leading apostrophe already makes text.)
_SKIPPED: Final = re.compile('[\\s"\ufffd]*')
# Control characters an Excel file cannot hold (all but tab, LF, CR) and lone surrogates.
_UNWRITABLE: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
REPLACEMENT: Final = "\ufffd"
# The most characters an Excel cell holds (Microsoft, "Excel specifications and limits"): a
# longer text (a provider's error page kept as a reminder's last error) is cut, marked "…".
MAX_CELL_CHARS: Final = 32_767
# Formats offered, with the media type each is served as.
CONTENT_TYPES: Final[dict[str, str]] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMATS: Final = tuple(CONTENT_TYPES)

Cell = str | int | float | Decimal | bool | dt.date | dt.datetime | None


class UnknownFormat(ValueError):
    """The format asked for is not one of :data:`FORMATS`."""


def safe_cell(value: Any) -> Cell:
    """One cell as it is written: text that could start a formula gets a leading apostrophe.

    ``None`` -> ``""``; booleans, integers, floats and decimals stay numbers (``-2`` is the
    number minus two, not a formula); dates stay dates; a datetime with a time zone becomes its
    ISO 8601 text (Excel has no time zones); anything else becomes ``str(value)``, its control
    characters (but tab, LF, CR) and lone surrogates replaced with U+FFFD, and a text starting
    with one of :data:`FORMULA_TRIGGERS`, also after blanks, line breaks or double quotes, is
    prefixed with ``'``; a text longer than :data:`MAX_CELL_CHARS` is cut to it, ending with
    ``…``. Idempotent: a safe cell stays as it is.
    """
    if value is None:
        return ""
    if isinstance(value, (bool, int, float, Decimal)):
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat() if value.tzinfo is not None else value
    if isinstance(value, dt.date):
        return value
    text = str(value)
    if text.startswith(FORMULA_TRIGGERS):
        text = "'" + _UNWRITABLE.sub(REPLACEMENT, text)
    else:
        text = _UNWRITABLE.sub(REPLACEMENT, text)
        if text[_SKIPPED.match(text).end() :].startswith(FORMULA_TRIGGERS):
            text = "'" + text
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + "…"
    return text


def dataset(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str = ""
) -> tablib.Dataset:
    """A tablib dataset of ``rows`` under ``headers``, every cell passed through :func:`safe_cell`.

    Raises ``tablib.InvalidDimensions`` when a row has not ``len(headers)`` cells.
    """
    data = tablib.Dataset(headers=[str(safe_cell(h)) for h in headers], title=title[:31] or None)
    for row in rows:
        data.append([safe_cell(value) for value in row])
    return data


def render(data: tablib.Dataset, fmt: str) -> bytes:
    """``data`` written as ``fmt`` (``"csv"`` or ``"xlsx"``), cells made safe again on the way.

    CSV is UTF-8 with a byte-order mark, so spreadsheet programs read accents and symbols
    right, every field quoted. Raises :class:`UnknownFormat` for any other ``fmt``.
    """
    if fmt not in CONTENT_TYPES:
        raise UnknownFormat(f"Unknown export format {fmt!r}; use one of {', '.join(FORMATS)}.")
    headers = [str(safe_cell(h)) for h in data.headers] if data.headers else None
    safe = tablib.Dataset(headers=headers, title=data.title)
    for row in data:
        safe.append([safe_cell(value) for value in row])
    if fmt == "csv":
        return ("\ufeff" + safe.export("csv", quoting=csv.QUOTE_ALL)).encode("utf-8")
    return safe.export("xlsx")


def filename(stem: str, fmt: str, *, on: dt.date) -> str:
    """``"<stem>-<YYYY-MM-DD>.<fmt>"``, the name an export is saved under (spaces -> ``-``)."""
    return f"{stem.replace(' ', '-')}-{on.isoformat()}.{fmt}"


@dataclass(frozen=True)
class Download:
    """An export ready to serve: its bytes, media type and ``Content-Disposition`` value."""

    content: bytes
    content_type: str
    disposition: str


def download(data: tablib.Dataset, fmt: str, stem: str, *, on: dt.date) -> Download:
    """``data`` rendered as ``fmt``, to be saved as ``<stem>-<on>.<fmt>`` (an attachment, never
    shown inline). Raises :class:`UnknownFormat` as :func:`render` does."""
    content = render(data, fmt)
    name = filename(stem, fmt, on=on)
    return Download(content, CONTENT_TYPES[fmt], f'attachment; filename="{name}"')
