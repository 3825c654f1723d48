"""Cursor pagination: stable under inserts and it never counts a large table."""

import base64
from urllib import parse

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from .params import read_count, whole_number

# Positions are primary keys (bigint, read by params.whole_number); anything else in a
# cursor was not made by us.
MAX_CURSOR_LENGTH = 200


class IdCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-id"
    invalid_cursor_message = "Invalid cursor."

    def get_page_size(self, request: Request) -> int:
        """`page_size` is a whole number from 1; above max_page_size it is capped, not refused.

        DRF silently ignores a page size it cannot read; a client that sent "0.5" or "-3"
        would get the default page and never learn its request was wrong.
        """
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            return read_count(raw, cap=self.max_page_size)
        except ValueError as refused:
            raise ValidationError({self.page_size_query_param: [str(refused)]}) from refused

    def decode_cursor(self, request: Request) -> Cursor | None:
        """A forged or mangled cursor is invalid input (400), not a missing page or a 500.

        DRF answers an undecodable cursor with 404 and passes the decoded position straight
        into the query, where a non-number raises ValueError and a huge one overflows.
        """
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None
        try:
            cursor = super().decode_cursor(request) if _is_ours(encoded) else None
        except NotFound:
            cursor = None
        if cursor is not None and (cursor.position is None or _is_id(cursor.position)):
            return cursor
        raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]})


class OldestFirstPagination(IdCursorPagination):
    page_size = 100
    max_page_size = 500
    ordering = "id"


def _is_ours(encoded: str) -> bool:
    """Strict base64 of a short query of our keys; DRF's lenient decoding reads noise as page 1."""
    if len(encoded) > MAX_CURSOR_LENGTH:
        return False
    try:
        query = base64.b64decode(encoded.encode("ascii"), validate=True).decode("ascii")
    except (ValueError, UnicodeError):
        return False
    keys = parse.parse_qs(query, keep_blank_values=True)
    return bool(keys) and set(keys) <= {"o", "r", "p"}


def _is_id(position: str) -> bool:
    return whole_number(position.removeprefix("-"), low=0) is not None
