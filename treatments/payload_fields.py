"""The kinds of field an event payload is made of, as strict pydantic types.

Each kind refuses what a lax parser would coerce (a boolean where a number is expected, "30"
for 30, a date and time for a day) and says so in the project's own short sentences. Calendar
days have one reader, ``parse_calendar_date``, which tells a malformed value from a
well-formed day that does not exist; the API's date fields use it too.
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    Strict,
    StringConstraints,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

# --------------------------------------------------------------------------------------------
# Calendar dates: the one reader of a day sent as text
# --------------------------------------------------------------------------------------------

ISO_DAY: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
DATE_FORM: Final = "Must be a date in the form YYYY-MM-DD."
DATE_NOT_DATETIME: Final = "Must be a date (YYYY-MM-DD), not a date and time."


def _why_not_a_day(year: int, month: int, day: int) -> str:
    if year < 1:
        return "This date does not exist: years start at 0001."
    if not 1 <= month <= 12:
        return f"This date does not exist: there is no month {month:02d}."
    days = calendar.monthrange(year, month)[1]
    return f"This date does not exist: {calendar.month_name[month]} {year} has {days} days."


def parse_calendar_date(value: Any) -> date:
    """A calendar day from ``"YYYY-MM-DD"`` text or a ``date``; ValueError saying what is wrong.

    The message tells a malformed value ("Must be a date in the form YYYY-MM-DD.") from a
    well-formed day that does not exist ("This date does not exist: February 2026 has 28
    days.") and from a date and time, which is refused rather than cut to its day.
    """
    # datetime is a date subclass; a timestamp where a calendar day is meant is refused.
    if isinstance(value, datetime):
        raise ValueError(DATE_NOT_DATETIME)
    if isinstance(value, date):
        return value
    match = ISO_DAY.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(DATE_FORM)
    year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(_why_not_a_day(year, month, day)) from None


# --------------------------------------------------------------------------------------------
# Field kinds
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefersTo:
    """Marks a field holding the id of another record ("app_label.Model") of the same course.

    The service checks the record exists on the event's course (``references``).
    """

    model: str


def _calendar_day(value: Any) -> date:
    try:
        return parse_calendar_date(value)
    except ValueError as invalid:
        raise PydanticCustomError("calendar_date", str(invalid)) from None


def _numeric(value: Any) -> Any:
    # bool is an int subclass and "30" is what a form would send: both are wrong types here.
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise PydanticCustomError("number_type", "Must be a number.")
    if isinstance(value, Decimal):
        value = float(value)  # cleaned data is stored as JSON
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("finite_number", "Must be a finite number.")
    return value


def _keep_whole(value: Any, handler: Callable[[Any], Any]) -> Any:
    # 120 stays 120 in the stored data (and in the event log the API returns), not 120.0.
    cleaned = handler(value)
    return value if type(value) is int else cleaned


Flag = Annotated[bool, Strict()]
CalendarDay = Annotated[
    date,
    BeforeValidator(_calendar_day),
    PlainSerializer(date.isoformat, return_type=str),
]


def number(*, above: float, up_to: float) -> Any:
    """A JSON number in (``above``, ``up_to``]; a whole number sent stays an int."""
    return Annotated[
        float,
        Field(gt=above, le=up_to),
        BeforeValidator(_numeric),
        WrapValidator(_keep_whole),
    ]


def whole(*, low: int, high: int | None = None) -> Any:
    """A whole JSON number in [``low``, ``high``]; 28.0 is cleaned to 28, 28.5 is refused."""
    return Annotated[int, Field(ge=low, le=high), BeforeValidator(_numeric)]


def text(*, max_length: int) -> Any:
    """Non-blank text, trimmed, of at most ``max_length`` characters once trimmed."""
    return Annotated[
        str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)
    ]


def record_id(model: str) -> Any:
    """The id of a record of ``model`` on the same course."""
    return Annotated[int, Field(ge=1), BeforeValidator(_numeric), RefersTo(model)]


def percent() -> Any:
    """A JSON number from 0 to 100 (a percentage such as Ki-67)."""
    return Annotated[
        float,
        Field(ge=0, le=100),
        BeforeValidator(_numeric),
        WrapValidator(_keep_whole),
    ]
