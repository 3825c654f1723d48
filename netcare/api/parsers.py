"""The API's JSON parser: bounded in size and in nesting, so no body can exhaust the server.

Python's JSON decoder recurses once per nesting level; a body nested a thousand deep raises
RecursionError (a 500) in the parser or later in json.dumps. Bodies of this API are small
flat objects, so anything far outside that shape is refused as invalid input before any view
code runs.
"""

import io
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# The largest legitimate body (a registration with notes of a few thousand characters) is a
# few kilobytes; escaped Unicode can multiply that by six.
MAX_BODY_BYTES = 256 * 1024
MAX_DEPTH = 32


def depth_of(value: Any) -> int:
    """Nesting depth of parsed JSON, measured without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest


class BoundedJSONParser(JSONParser):
    """JSONParser that refuses bodies over MAX_BODY_BYTES or nested deeper than MAX_DEPTH."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read(MAX_BODY_BYTES + 1) if stream is not None else b""
        if len(raw) > MAX_BODY_BYTES:
            raise ParseError(f"The request body is larger than {MAX_BODY_BYTES // 1024} KB.")
        try:
            data = super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError:
            data = None
        else:
            if depth_of(data) <= MAX_DEPTH:
                return data
        raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.")
