"""Cursor pagination: stable under inserts and it never counts a large table."""

from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-id"


class OldestFirstPagination(CursorPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "id"
