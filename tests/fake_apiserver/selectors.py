"""Label selectors (`=`, `==`, `!=`, `in`, `notin`, `k`, `!k`, `>`, `<`; comma = AND) and field selectors
(`metadata.name`, `metadata.namespace` with `=`, `==`, `!=`), parsed the way the API server does."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Matcher = Callable[[dict[str, Any]], bool]


class SelectorError(ValueError):
    """A selector that does not parse (answered 400 BadRequest)."""


_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET = re.compile(rf"^\s*(?P<key>{_KEY})\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)\s*$")
_EXISTS = re.compile(rf"^\s*(?P<negated>!?)\s*(?P<key>{_KEY})\s*$")
_COMPARE = re.compile(rf"^\s*(?P<key>{_KEY})\s*(?P<op>==|!=|=|>|<)\s*(?P<value>{_VALUE})\s*$")


def _split_requirements(selector: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _requirement(text: str) -> Callable[[dict[str, str]], bool]:
    if match := _SET.match(text):
        key = match["key"]
        values = {value.strip() for value in match["values"].split(",")}
        if any(not re.fullmatch(_VALUE, value) for value in values):
            raise SelectorError(f"unable to parse requirement: invalid value in {text.strip()!r}")
        if match["op"] == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if match := _EXISTS.match(text):
        key = match["key"]
        if match["negated"]:
            return lambda labels: key not in labels
        return lambda labels: key in labels
    if match := _COMPARE.match(text):
        key, op, value = match["key"], match["op"], match["value"]
        if op in ("=", "=="):
            return lambda labels: labels.get(key) == value
        if op == "!=":
            return lambda labels: labels.get(key) != value
        if not value.lstrip("-").isdigit():
            raise SelectorError(
                f"unable to parse requirement: for 'gt', 'lt' operators, the value must be an integer: {value!r}"
            )
        bound = int(value)

        def compare(labels: dict[str, str]) -> bool:
            current = labels.get(key)
            if current is None or not current.lstrip("-").isdigit():
                return False
            return int(current) > bound if op == ">" else int(current) < bound

        return compare
    raise SelectorError(f"unable to parse requirement: {text.strip()!r}")


def parse_label_selector(selector: str) -> Matcher:
    """A matcher of objects by `metadata.labels`. An empty selector matches everything."""
    if not selector.strip():
        return lambda obj: True
    requirements = [_requirement(part) for part in _split_requirements(selector)]

    def matches(obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(requirement(labels) for requirement in requirements)

    return matches


_FIELD = re.compile(r"^\s*(?P<field>[A-Za-z0-9_.]+)\s*(?P<op>==|!=|=)\s*(?P<value>[^,]*?)\s*$")
SUPPORTED_FIELDS = ("metadata.name", "metadata.namespace")
# Events also select on the object they are about, and on their reason and type, as on a real server.
EVENT_FIELDS = (
    "involvedObject.kind", "involvedObject.name", "involvedObject.namespace", "involvedObject.uid",
    "involvedObject.apiVersion", "reason", "type",
)


def parse_field_selector(selector: str, *, extra_fields: tuple[str, ...] = ()) -> Matcher:
    """A matcher on `metadata.name` / `metadata.namespace` (and `extra_fields`); other fields are refused
    like the real server refuses them for custom resources."""
    if not selector.strip():
        return lambda obj: True
    requirements: list[Callable[[dict[str, Any]], bool]] = []
    for part in selector.split(","):
        match = _FIELD.match(part)
        if not match:
            raise SelectorError(f"invalid selector: '{selector}'; can't understand '{part}'")
        field, op, value = match["field"], match["op"], match["value"]
        if field not in SUPPORTED_FIELDS + extra_fields:
            raise SelectorError(f"field label not supported: {field}")
        path = tuple(field.split("."))
        negated = op == "!="

        def requirement(
            obj: dict[str, Any], path: tuple[str, ...] = path, value: str = value, negated: bool = negated
        ) -> bool:
            current: Any = obj
            for key in path:
                current = current.get(key) if isinstance(current, dict) else None
            text = "" if current is None else str(current)
            return (text != value) if negated else (text == value)

        requirements.append(requirement)
    return lambda obj: all(requirement(obj) for requirement in requirements)
