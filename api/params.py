"""Query-string values of the API, read one way everywhere.

Every list filter (api/filters.py) and the paginator (page size, cursor) go through these
functions, so an id filter on one endpoint refuses exactly what it refuses on another.
Numbers are ASCII digits only: `str.isdigit()` is true for "²" or "٣", which `int()` then
rejects or reads as another number, and a value beyond a bigint overflows the database
driver. A refused filter is a 400 with code `invalid_filter` naming the parameter.
"""

import datetime as dt
import re
from collections.abc import Iterable

from rest_framework.exceptions import ValidationError

# Primary keys are bigints (DEFAULT_AUTO_FIELD); a larger id cannot exist.
MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
_COUNT = re.compile(r"[0-9]{1,100}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
TRUE_VALUES = frozenset({"true", "1", "yes"})
FALSE_VALUES = frozenset({"false", "0", "no"})

ID_MESSAGE = "Enter an id: a whole number from 1, digits 0-9 only."
BOOL_MESSAGE = "Enter true or false."
DATE_MESSAGE = "Enter a date as YYYY-MM-DD."


class InvalidFilter(ValidationError):
    """Query parameters that cannot be read: 400 `invalid_filter`, `errors` names each one.

    ``errors`` maps each parameter's name to its messages, e.g. ``{"course": ["Enter an id:
    ..."]}``.
    """

    default_code = "invalid_filter"

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors, code=self.default_code)


def whole_number(raw: str, *, low: int = 1, high: int = MAX_ID) -> int | None:
    """`raw` read as a whole number in [low, high], or None when it is not one.

    Only ASCII digits with no sign, space or exponent are numbers; at most 19 digits are
    read, so `int()` never parses an attacker's megabyte of digits.
    """
    if not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def read_count(raw: str, *, cap: int) -> int:
    """`raw` as a count from 1 in ASCII digits (at most 100 of them), capped at `cap`.

    Raises ValueError for anything else. A count above the cap is lowered, not refused: a
    client asking for more rows than a page holds gets a full page.
    """
    if not _COUNT.fullmatch(raw) or int(raw) < 1:
        raise ValueError("Enter a whole number from 1.")
    return min(int(raw), cap)


def read_id(raw: str) -> int:
    """`raw` as an id (1 to 2**63-1, ASCII digits only); ValueError(ID_MESSAGE) otherwise."""
    value = whole_number(raw)
    if value is None:
        raise ValueError(ID_MESSAGE)
    return value


def read_choice(raw: str, allowed: Iterable[str]) -> str:
    """`raw` if it is one of `allowed` (compared exactly); ValueError listing them otherwise."""
    choices = [str(c) for c in allowed]
    if raw not in choices:
        raise ValueError(f"Must be one of: {', '.join(choices)}.")
    return raw


def read_bool(raw: str) -> bool:
    """`raw` as true/false (also 1/0, yes/no, any case); ValueError(BOOL_MESSAGE) otherwise."""
    if raw.lower() in TRUE_VALUES:
        return True
    if raw.lower() in FALSE_VALUES:
        return False
    raise ValueError(BOOL_MESSAGE)


def read_date(raw: str) -> dt.date:
    """`raw` as a date written YYYY-MM-DD; ValueError(DATE_MESSAGE) otherwise.

    Only that form: `date.fromisoformat` also reads "20260101" and week dates.
    """
    try:
        if _DATE.fullmatch(raw):
            return dt.date.fromisoformat(raw)
    except ValueError:
        pass
    raise ValueError(DATE_MESSAGE)
