"""The list filters of the API: one django-filter FilterSet per list, read by api/params.py.

A view hands its scoped queryset and the query string to `filtered()`; the FilterSet reads
every parameter it declares with the rules of params.py (ids in ASCII digits from 1 to
2**63-1, choices compared exactly, YYYY-MM-DD dates, true/false) and applies it. Any value
that cannot be read, an empty one included, is one documented 400 `invalid_filter` whose
`errors` name each refused parameter; nothing is queried then. Parameters a list does not
declare are ignored. The same declarations give the OpenAPI parameters (`parameters()`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from alerts.models import ReminderKind, ReminderStatus, Severity
from alerts.selectors import ALERT_STATUSES, alerts_with_status
from surveillance.selectors import courses_with_due_items
from treatments import machine

from .params import InvalidFilter, read_bool, read_choice, read_date, read_id

REFUSED = "A value that cannot be read answers 400 `invalid_filter`."
ALERT_KIND_MAX = 40  # CoordinatorAlert.kind's max_length


class QueryValue(forms.Field):
    """One query parameter: None when absent; a value present, even empty, goes to `read`.

    `read` turns the raw text into the value or raises ValueError with the message the client
    sees. The widget hands over the last value given (a QueryDict's `get`).
    """

    widget = forms.TextInput

    def __init__(self, *, read: Callable[[str], Any], **kwargs: Any) -> None:
        self.read = read
        super().__init__(**kwargs)

    def clean(self, value: str | None) -> Any:
        if value is None:
            return None
        try:
            return self.read(value)
        except ValueError as refused:
            raise forms.ValidationError(str(refused), code="invalid_filter") from refused


class QueryFilter(django_filters.Filter):
    """A filter read by one of params.py's readers, documented as one OpenAPI parameter."""

    field_class = QueryValue
    openapi_type: Any = str

    def __init__(self, *args: Any, description: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("read", self.read)
        super().__init__(*args, **kwargs)
        self.description = description

    def read(self, raw: str) -> Any:
        raise NotImplementedError

    def openapi(self, name: str) -> OpenApiParameter:
        return OpenApiParameter(name, self.openapi_type, description=self._described())

    def _described(self) -> str:
        return f"{self.description} {REFUSED}".strip()


class IdFilter(QueryFilter):
    """An id: ASCII digits only, from 1 to 2**63-1."""

    openapi_type = int

    def read(self, raw: str) -> int:
        return read_id(raw)


class ChoiceFilter(QueryFilter):
    """One of a closed list of values, compared exactly; anything else is refused."""

    def __init__(self, *args: Any, choices: Iterable[Any], **kwargs: Any) -> None:
        self.choices = [str(choice) for choice in choices]
        super().__init__(*args, **kwargs)

    def read(self, raw: str) -> str:
        return read_choice(raw, self.choices)

    def openapi(self, name: str) -> OpenApiParameter:
        return OpenApiParameter(name, str, enum=self.choices, description=self._described())


class BoolFilter(QueryFilter):
    """true/false (also 1/0, yes/no)."""

    openapi_type = bool

    def read(self, raw: str) -> bool:
        return read_bool(raw)


class DateFilter(QueryFilter):
    """A date written YYYY-MM-DD."""

    openapi_type = dt.date

    def read(self, raw: str) -> dt.date:
        return read_date(raw)


class TextFilter(QueryFilter):
    """Free text up to `max_length` characters (a longer value could match nothing)."""

    def __init__(self, *args: Any, max_length: int, **kwargs: Any) -> None:
        self.max_length = max_length
        super().__init__(*args, **kwargs)

    def read(self, raw: str) -> str:
        if not raw or len(raw) > self.max_length:
            raise ValueError(f"Enter 1 to {self.max_length} characters.")
        return raw

    def openapi(self, name: str) -> OpenApiParameter:
        schema = {"type": "string", "minLength": 1, "maxLength": self.max_length}
        return OpenApiParameter(name, schema, description=self._described())


# ---------------------------------------------------------------------------------------------
# One FilterSet per list
# ---------------------------------------------------------------------------------------------


class CourseFilter(django_filters.FilterSet):
    """GET /api/v1/courses/: by state, care team, and items overdue or due by a date."""

    state = ChoiceFilter(choices=machine.State, description="The course's state.")
    care_team = IdFilter(field_name="care_team_id", description="A care team's id.")
    overdue = BoolFilter(
        method="filter_overdue", description="true: only courses with an item past due."
    )
    due_before = DateFilter(
        method="filter_due_before", description="Only courses with an item due on or before."
    )

    def filter_overdue(self, queryset: QuerySet, name: str, value: bool) -> QuerySet:
        if not value:
            return queryset
        return courses_with_due_items(queryset, before=timezone.localdate())

    def filter_due_before(self, queryset: QuerySet, name: str, value: dt.date) -> QuerySet:
        return courses_with_due_items(queryset, on_or_before=value)


class ResultFilter(django_filters.FilterSet):
    """GET /api/v1/imaging-studies/, lab-results/, symptom-checks/: by course."""

    course = IdFilter(field_name="course_id", description="A course's id.")


class ReminderFilter(django_filters.FilterSet):
    """GET /api/v1/reminders/: by course, status and kind."""

    course = IdFilter(field_name="course_id", description="A course's id.")
    status = ChoiceFilter(choices=ReminderStatus.values, description="The reminder's status.")
    kind = ChoiceFilter(choices=ReminderKind.values, description="What the reminder is for.")


class AlertFilter(django_filters.FilterSet):
    """GET /api/v1/alerts/: by course, status, severity and kind."""

    course = IdFilter(field_name="course_id", description="A course's id.")
    status = ChoiceFilter(
        choices=ALERT_STATUSES, method="filter_status", description="The alert's status."
    )
    severity = ChoiceFilter(choices=Severity.values, description="The alert's severity.")
    kind = TextFilter(max_length=ALERT_KIND_MAX, description="The alert's kind, exactly.")

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return alerts_with_status(queryset, value)


def filtered(
    filterset: type[django_filters.FilterSet], request: Request, queryset: QuerySet
) -> QuerySet:
    """`queryset` narrowed by the query parameters `filterset` declares.

    Raises InvalidFilter (400 `invalid_filter`, every unreadable parameter named in `errors`)
    before any query is made. Adds no query of its own: filters become WHERE clauses.
    """
    found = filterset(request.query_params, queryset=queryset, request=request)
    if not found.is_valid():
        raise InvalidFilter({name: list(messages) for name, messages in found.errors.items()})
    return found.qs


def parameters(filterset: type[django_filters.FilterSet]) -> list[OpenApiParameter]:
    """The OpenAPI query parameters of `filterset`, in declaration order."""
    return [spec.openapi(name) for name, spec in filterset.base_filters.items()]
