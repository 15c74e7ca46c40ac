"""Read the `items` of a LIST answer one at a time, so thousands of objects never sit in memory at once."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

_DECODER = json.JSONDecoder()
_SPACE = re.compile(r"[ \t\n\r]*")
_MANAGED_FIELDS = ',"managedFields":['


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

    Only whole members go. In valid JSON the `,"managedFields":[` found is a key, not text in a string (its
    unescaped quotes would end the string). The server's managedFields holds objects and strings, no array,
    so its end is the first `]` outside a string: the first `]` followed by what follows the array
    (_closes_managed_fields), which a `]` inside a string cannot be. An array with a `[` in it, or not
    followed so, is another layout and stays, to be decoded as it is."""
    kept: list[str] = []
    copied = search = 0  # text[:copied] is in `kept`, less what was cut; no cut starts before `search`
    while (start := text.find(_MANAGED_FIELDS, search)) >= 0:
        inside = start + len(_MANAGED_FIELDS)
        close = text.find("]", inside)
        while close >= 0 and not _closes_managed_fields(text, close):
            close = text.find("]", close + 1)
        if close < 0:
            break
        if text.find("[", inside, close) >= 0:
            search = inside  # not the server's managedFields: kept
            continue
        kept.append(text[copied:start])
        copied = search = close + 1
    kept.append(text[copied:])
    return "".join(kept)


def _closes_managed_fields(text: str, close: int) -> bool:
    """Whether the `]` at `close` is followed as the API server follows metadata.managedFields: by the end of
    the metadata and the object's next key (built-in kinds: ObjectMeta's last field), or by the metadata's
    "name" (custom resources: keys in alphabetical order). After a `]` inside a string, `"` would end the
    string, and no letter may follow a string: neither can be met there (a field manager named `x]},` is)."""
    after = close + 1
    return text.startswith(',"name":"', after) or (
        text.startswith('},"', after) and text[after + 3:after + 4].isalpha()
    )


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
    """The top-level "metadata" of a LIST answer (with its `continue` token), None when it has none. Nothing
    else is decoded: built-in kinds write it before the items, custom resources (keys in alphabetical
    order) last, where it is found from the end (_last_metadata). Anywhere else, the items are decoded too."""
    try:
        pos = _expect(text, _skip(text, 0), "{")
        while not text.startswith("}", pos):
            key, pos = _DECODER.raw_decode(text, pos)
            pos = _expect(text, _skip(text, pos), ":")
            if key == "metadata":
                value, _ = _DECODER.raw_decode(text, pos)
                return value
            if key == "items":
                found = _last_metadata(text)
                if found is not None:
                    return found
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


def _last_metadata(text: str) -> Any:
    """The top-level "metadata" when it is the object's last member, else None. The last `"metadata":{` in
    the text is a key (unescaped quotes cannot be inside a string), and when its object ends where the
    top-level object does, it is a member of the top-level object."""
    key = text.rfind('"metadata":{')
    if key < 0:
        return None
    value, end = _DECODER.raw_decode(text, key + len('"metadata":'))
    return value if text[end:].strip() == "}" and isinstance(value, dict) else None
