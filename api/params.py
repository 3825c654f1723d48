"""Query-string parameters of the API, parsed one way everywhere.

Every list filter goes through these functions, so an id filter on one endpoint refuses
exactly what it refuses on another. Numbers are ASCII digits only: `str.isdigit()` is true
for "²" or "٣", which `int()` then rejects or reads as another number, and a value beyond a
bigint overflows the database driver. A refusal is a 400 with code `invalid_filter` naming
the parameter.
"""

import datetime as dt
import re
from collections.abc import Iterable

from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

# Primary keys are bigints (DEFAULT_AUTO_FIELD); a larger id cannot exist.
MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
TRUE_VALUES = frozenset({"true", "1", "yes"})
FALSE_VALUES = frozenset({"false", "0", "no"})


class InvalidFilter(ValidationError):
    """A query parameter that cannot be read: 400 `invalid_filter`, `errors` names it."""

    default_code = "invalid_filter"

    def __init__(self, name: str, message: str) -> None:
        super().__init__({name: [message]}, code=self.default_code)


def whole_number(raw: str, *, low: int = 1, high: int = MAX_ID) -> int | None:
    """`raw` read as a whole number in [low, high], or None when it is not one.

    Only ASCII digits with no sign, space or exponent are numbers; at most 19 digits are
    read, so `int()` never parses an attacker's megabyte of digits.
    """
    if not _DIGITS.fullmatch(raw):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def query_id(request: Request, name: str) -> int | None:
    """The id in query parameter `name` (1 to 2**63-1), None if absent; InvalidFilter otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    value = whole_number(raw)
    if value is None:
        raise InvalidFilter(name, "Enter an id: a whole number from 1, digits 0-9 only.")
    return value


def query_choice(request: Request, name: str, allowed: Iterable[str]) -> str | None:
    """The value of `name` if it is one of `allowed`, None if absent; InvalidFilter otherwise."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    choices = [str(c) for c in allowed]
    if raw not in choices:
        raise InvalidFilter(name, f"Must be one of: {', '.join(choices)}.")
    return raw


def query_bool(request: Request, name: str) -> bool:
    """`name` as true/false (also 1/0, yes/no); absent is false; InvalidFilter otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw.lower() in FALSE_VALUES:
        return False
    if raw.lower() in TRUE_VALUES:
        return True
    raise InvalidFilter(name, "Enter true or false.")


def query_date(request: Request, name: str) -> dt.date | None:
    """`name` as a date written YYYY-MM-DD, None if absent; InvalidFilter otherwise.

    Only that form: `date.fromisoformat` also reads "20260101" and week dates.
    """
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return dt.date.fromisoformat(raw) if _DATE.fullmatch(raw) else _refuse(name)
    except ValueError:
        return _refuse(name)


def _refuse(name: str) -> dt.date:
    raise InvalidFilter(name, "Enter a date as YYYY-MM-DD.")
