"""JSON as `kubectl get -o json` prints it (indented by two), made faster than the json module makes it.

json.dumps and JSONEncoder.iterencode use their C encoder only without `indent`; indented, they run a
Python generator per value and yield a string per token: 0.2 s for the 10,000 items of `status -A -o json`.
`indented` gives the same text (tests/unit/test_json_text.py holds it to json.dumps(value, indent=2)) with
one call per value and json's own C function for every string."""

from __future__ import annotations

import json.encoder
from typing import Any

_STRING: Any = json.encoder.encode_basestring_ascii  # json's escaping (ensure_ascii, the default)
_CONSTANTS = {None: "null", True: "true", False: "false"}


def indented(value: Any, indent: str = "") -> str:
    """json.dumps(value, indent=2), as if `value` sat at `indent` (its first line is not indented)."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = indent + "  "
        members = (f"{inner}{_key(key)}: {indented(item, inner)}" for key, item in value.items())
        return "{\n" + ",\n".join(members) + "\n" + indent + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        inner = indent + "  "
        return "[\n" + ",\n".join(inner + indented(item, inner) for item in value) + "\n" + indent + "]"
    return _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return str(_STRING(value))
    if value is None or value is True or value is False:
        return _CONSTANTS[value]
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _key(key: Any) -> str:
    """A member's name as json writes it: a string as it is, another scalar as its JSON text in quotes."""
    if isinstance(key, str):
        return str(_STRING(key))
    if key is None or isinstance(key, (bool, int, float)):
        return f'"{_scalar(key)}"'
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
