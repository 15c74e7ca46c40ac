"""A request that a route's matcher takes: to ask "where does a request for this path go" of the models
without the user spelling one. Pure.

The example is the smallest request the matcher asks for: its path (a regular expression's shortest
match), its first method, each header and query parameter it requires (a presence condition with the
value `1`), and nothing it forbids (an inverted condition leaves the header out).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from typing import Any

from kubectl_canary.model.rollout import HeaderMatch
from kubectl_canary.request_routing.requests import Request


def _parser() -> Any:
    """The regular expression parser of the standard library (public as sre_parse before 3.11)."""
    try:
        return importlib.import_module("re._parser")
    except ImportError:  # Python < 3.11
        return importlib.import_module("sre_parse")


_PRESENT = "1"


def _shortest(nodes: Any) -> str:
    """The shortest string the parsed pattern matches, for the constructs routes use; raises otherwise."""
    out = []
    for op, arg in nodes:
        name = _name(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("x" if chr(arg) != "x" else "a")
        elif name == "ANY":
            out.append("x")
        elif name == "IN":
            out.append(_member(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, _, item = arg
            out.append(_shortest(item) * low)
        elif name == "SUBPATTERN":
            out.append(_shortest(arg[-1]))
        elif name == "BRANCH":
            out.append(min((_shortest(b) for b in arg[1]), key=len))
        elif name == "AT":
            continue
        elif name == "CATEGORY":
            out.append(_category(str(arg)))
        else:
            raise ValueError(f"no example for {name}")
    return "".join(out)


def _name(op: Any) -> str:
    return str(getattr(op, "name", op))


def _category(name: str) -> str:
    if "DIGIT" in name and "NOT" not in name:
        return "1"
    if "SPACE" in name and "NOT" not in name:
        return " "
    return "a"


def _member(items: Any) -> str:
    negated = any(_name(op) == "NEGATE" for op, _ in items)
    if negated:
        excluded = {chr(arg) for op, arg in items if _name(op) == "LITERAL"}
        return next(c for c in "a1xA_-" if c not in excluded)
    for op, arg in items:
        kind = _name(op)
        if kind == "LITERAL":
            return chr(arg)
        if kind == "RANGE":
            return chr(arg[0])
        if kind == "CATEGORY":
            return _category(str(arg))
    raise ValueError("empty character class")


def sample(pattern: str) -> str | None:
    """A string the whole of which `pattern` matches; None when no short one is found."""
    try:
        text = _shortest(_parser().parse(pattern))
    except Exception:  # an unsupported construct, or not a pattern at all: no example
        return None
    return text if re.fullmatch(pattern, text) is not None else None


def _value(condition: Mapping[str, Any], regex: bool) -> str | None:
    value = condition.get("value")
    if value in (None, ""):
        return _PRESENT
    return sample(str(value)) if regex else str(value)


def gloo_example(matcher: Mapping[str, Any]) -> Request | None:
    """The smallest request a Gloo matcher takes; None when its regex has no example."""
    if "exact" in matcher:
        path: str | None = str(matcher["exact"])
    elif "regex" in matcher:
        path = sample(str(matcher["regex"]))
    else:
        path = str(matcher.get("prefix", "/"))
    methods = matcher.get("methods") or ["GET"]
    headers: dict[str, str] = {}
    for condition in matcher.get("headers") or []:
        if condition.get("invertMatch"):
            continue  # left out: an inverted condition holds on a missing header
        value = _value(condition, bool(condition.get("regex")))
        if value is None:
            return None
        headers[str(condition.get("name", "")).lower()] = value
    query: dict[str, str] = {}
    for condition in matcher.get("queryParameters") or []:
        value = _value(condition, bool(condition.get("regex")))
        if value is None:
            return None
        query[str(condition.get("name", ""))] = value
    return None if path is None else Request(path, str(methods[0]), headers, query)


def gateway_api_example(match: Mapping[str, Any]) -> Request | None:
    """The smallest request a Gateway API match takes; None when its regular expression has no example."""
    path_match = match.get("path") or {"type": "PathPrefix", "value": "/"}
    kind, value = path_match.get("type", "PathPrefix"), str(path_match.get("value", "/"))
    path = sample(value) if kind == "RegularExpression" else value
    headers: dict[str, str] = {}
    for condition in match.get("headers") or []:
        sampled = _value(condition, condition.get("type") == "RegularExpression")
        if sampled is None:
            return None
        headers.setdefault(str(condition.get("name", "")).lower(), sampled)
    query: dict[str, str] = {}
    for condition in match.get("queryParams") or []:
        sampled = _value(condition, condition.get("type") == "RegularExpression")
        if sampled is None:
            return None
        query.setdefault(str(condition.get("name", "")), sampled)
    return None if path is None else Request(path, str(match.get("method") or "GET"), headers, query)


def with_headers(request: Request, headers: tuple[HeaderMatch, ...]) -> Request | None:
    """`request` carrying the headers (the canary's); None when a regex header has no example value."""
    added = dict(request.headers)
    for header in headers:
        if header.invert_match:
            added.pop(header.name.lower(), None)  # the condition holds on a missing header
            continue
        value = _PRESENT if header.value is None else (sample(header.value) if header.regex else header.value)
        if value is None:
            return None
        added[header.name.lower()] = value
    return Request(request.path, request.method, added, dict(request.query))
