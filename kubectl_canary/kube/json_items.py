"""Read the `items` of a LIST answer one at a time, so thousands of objects never sit in memory at once."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from typing import Any

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")
# `,"managedFields":[...]` as the API server writes it into an object's metadata: an array of objects that
# holds no array, followed by the metadata's end (built-in kinds: ObjectMeta's last field) or its "name"
# (custom resources: keys in alphabetical order). Possessive quantifiers (Python 3.11) keep the scan linear.
_MANAGED_FIELDS = (
    re.compile(r',"managedFields":\[(?:[^"\[\]]++|"(?:[^"\\]++|\\.)*+")*+\](?=\}|,"name":)')
    if sys.version_info >= (3, 11)
    else None
)


class MalformedJSON(ValueError):
    pass


def _skip(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)
    return match.end() if match else pos


def _expect(text: str, pos: int, char: str) -> int:
    if pos >= len(text) or text[pos] != char:
        raise MalformedJSON(f"expected {char!r} at offset {pos}")
    return _skip(text, pos + 1)


def without_managed_fields(text: str) -> str:
    """A LIST answer without its objects' metadata.managedFields (which manager set which field: half of a
    Deployment's bytes, and half the time spent decoding it), for readers that never look at them.

    Only whole members go: in valid JSON the `,"` a match starts with is outside any string (a quote inside
    one is escaped), the array ends at its first `]` outside a string (it holds no other array), and what
    follows is the metadata's end or its "name". Text the pattern does not fit (another layout, an older
    Python) stays as it is, and decodes to the same objects with their managedFields."""
    return _MANAGED_FIELDS.sub("", text) if _MANAGED_FIELDS is not None else text


def iter_items(text: str, rest: dict[str, Any] | None = None) -> Iterator[Any]:
    """The elements of the top-level object's "items" array, decoded one by one; the other keys go to
    `rest` (a LIST's metadata, with its `continue` token), when given."""
    try:
        pos = _expect(text, _skip(text, 0), "{")
        more = not text.startswith("}", pos)
        while more:
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _expect(text, _skip(text, pos), ":")
            if key == "items" and text.startswith("[", pos):
                pos = _skip(text, pos + 1)
                more_items = not text.startswith("]", pos)
                while more_items:
                    item, pos = _DECODER.raw_decode(text, pos)
                    yield item
                    pos = _skip(text, pos)
                    more_items = text.startswith(",", pos)
                    if more_items:
                        pos = _skip(text, pos + 1)
                pos = _expect(text, pos, "]")
            else:
                value, pos = _DECODER.raw_decode(text, pos)
                if rest is not None:
                    rest[key] = value
                pos = _skip(text, pos)
            more = text.startswith(",", pos)
            if more:
                pos = _skip(text, pos + 1)
        _expect(text, pos, "}")
    except (ValueError, IndexError) as error:
        raise MalformedJSON(str(error)) from None


def list_metadata(text: str) -> Any:
    """The top-level "metadata" of a LIST answer (with its `continue` token), None when it has none. The API
    server writes it before the items, so nothing else is decoded; after them, the items are decoded too."""
    try:
        pos = _expect(text, _skip(text, 0), "{")
        while not text.startswith("}", pos):
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _expect(text, _skip(text, pos), ":")
            if key == "metadata":
                value, _ = _DECODER.raw_decode(text, pos)
                return value
            if key == "items":
                rest: dict[str, Any] = {}
                for _ in iter_items(text, rest):
                    pass
                return rest.get("metadata")
            _, pos = _DECODER.raw_decode(text, pos)
            pos = _skip(text, pos)
            if text.startswith(",", pos):
                pos = _skip(text, pos + 1)
        return None
    except (ValueError, IndexError) as error:
        raise MalformedJSON(str(error)) from None
