"""The API's JSON parser: bounded in size and in nesting, and free of unstorable characters.

Python's JSON decoder recurses once per nesting level; a body nested a thousand deep raises
RecursionError (a 500) in the parser or later in json.dumps. Bodies of this API are small
flat objects, so anything far outside that shape is refused as invalid input before any view
code runs.

Text must also be storable: PostgreSQL refuses NUL in text, and a lone UTF-16 surrogate
("\\ud800", which JSON may escape) cannot be encoded as UTF-8 at all. Either would fail deep
in the ORM or the renderer as a 500; they are refused here, naming the field, and the same
check serves query strings and form bodies (api.middleware).
"""

import io
import re
from collections.abc import Iterator
from typing import Any

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

# The largest legitimate body (a registration with notes of a few thousand characters) is a
# few kilobytes; escaped Unicode can multiply that by six.
MAX_BODY_BYTES = 256 * 1024
MAX_DEPTH = 32
# NUL and the surrogate block U+D800-U+DFFF: characters no text column or UTF-8 can hold.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "Contains a character that cannot be stored (NUL or a lone surrogate)."


def unstorable_text(value: Any, path: str = "") -> Iterator[str]:
    """Paths ("patient.mrn", "data.0") of strings, keys included, holding an unstorable character.

    Walks parsed JSON (dicts, lists, scalars) without recursion; an empty path is the body.
    """
    stack = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                yield where or "non_field_errors"
        elif isinstance(item, dict):
            for key, child in item.items():
                name = f"{where}.{key}" if where else str(key)
                if isinstance(key, str) and UNSTORABLE.search(key):
                    yield where or "non_field_errors"
                    continue
                stack.append((name, child))
        elif isinstance(item, list):
            stack.extend((f"{where}.{i}" if where else str(i), c) for i, c in enumerate(item))


def refuse_unstorable(value: Any, path: str = "") -> None:
    """Raise a 400 ValidationError naming each place in `value` that holds an unstorable string."""
    where = sorted(set(unstorable_text(value, path)))[:20]
    if where:
        raise ValidationError({name: [UNSTORABLE_MESSAGE] for name in where})


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
                refuse_unstorable(data)
                return data
        raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.")
