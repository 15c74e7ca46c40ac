"""Which destinations Gloo (Envoy) sends a request to, given a RouteTable's routes. Tests only.

A model of route matching as Gloo Edge translates it to Envoy: the first route with a matching
matcher wins (a route's matchers are ORed; no matchers means prefix `/`). A matcher's path is a
prefix, exact or (fully matched) regex path; its headers, methods and query parameters are ANDed.
A header condition without `value` asks for presence, `regex` matches the whole value, and
`invertMatch` inverts the result (so an inverted condition on a missing header matches, as in
Envoy). Header names are case-insensitive. Not modelled: `caseSensitive: false`, connect matchers,
inheritable matchers, delegation's own matching (a delegating route is one opaque outcome).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

Route = dict[str, Any]


@dataclass(frozen=True)
class Request:
    path: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.path, self.method, tuple(sorted(self.headers.items())), tuple(sorted(self.query.items()))))


@dataclass(frozen=True)
class Outcome:
    """Where a request goes: the route's options, and each destination (with its per-destination
    options) with its share; or an action that is not a route to upstreams; or nothing (404)."""

    route_options: str = ""
    destinations: tuple[tuple[str, Fraction], ...] = ()
    other: str = ""

    def shares(self) -> dict[str, Fraction]:
        return dict(self.destinations)


NO_ROUTE = Outcome(other="no route: 404")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _header_matches(condition: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
    value = headers.get(str(condition.get("name", "")).lower())
    expected = condition.get("value")
    if value is None:
        result = False
    elif expected is None or expected == "":
        result = True
    elif condition.get("regex"):
        result = re.fullmatch(expected, value) is not None
    else:
        result = value == expected
    inverted: bool = bool(condition.get("invertMatch"))
    return result != inverted


def _query_matches(condition: Mapping[str, Any], query: Mapping[str, str]) -> bool:
    value = query.get(str(condition.get("name", "")))
    expected = condition.get("value")
    if value is None:
        return False
    if expected is None or expected == "":
        return True
    if condition.get("regex"):
        return re.fullmatch(str(expected), value) is not None
    return bool(value == expected)


def matcher_matches(matcher: Mapping[str, Any], request: Request) -> bool:
    if "exact" in matcher:
        path_ok = request.path == matcher["exact"]
    elif "regex" in matcher:
        path_ok = re.fullmatch(matcher["regex"], request.path) is not None
    else:
        path_ok = request.path.startswith(matcher.get("prefix", "/"))
    if not path_ok:
        return False
    methods = matcher.get("methods") or []
    if methods and request.method not in methods:
        return False
    headers = {k.lower(): v for k, v in request.headers.items()}
    if not all(_header_matches(h, headers) for h in matcher.get("headers") or []):
        return False
    return all(_query_matches(q, request.query) for q in matcher.get("queryParameters") or [])


def route_matches(route: Route, request: Request) -> bool:
    return any(matcher_matches(m, request) for m in route.get("matchers") or [{}])


def first_match(routes: list[Route], request: Request) -> int | None:
    return next((i for i, route in enumerate(routes) if route_matches(route, request)), None)


def outcome_of(route: Route) -> Outcome:
    options = _canonical(route.get("options") or {})
    action = route.get("routeAction")
    if action is None:
        other = {k: v for k, v in route.items() if k.endswith("Action")}
        return Outcome(options, other=_canonical(other))
    if "single" in action:
        return Outcome(options, ((_canonical({"destination": action["single"]}), Fraction(1)),))
    items = (action.get("multi") or {}).get("destinations") or []
    total = sum(int(i.get("weight") or 0) for i in items)
    if total == 0:
        return Outcome(options, other="all weights zero: route error")
    shares: dict[str, Fraction] = {}
    for item in items:
        weight = int(item.get("weight") or 0)
        if weight:
            key = _canonical({k: v for k, v in item.items() if k != "weight"})
            shares[key] = shares.get(key, Fraction(0)) + Fraction(weight, total)
    return Outcome(options, tuple(sorted(shares.items())))


def route_request(routes: list[Route], request: Request) -> Outcome:
    """Where Gloo sends `request`."""
    index = first_match(routes, request)
    return NO_ROUTE if index is None else outcome_of(routes[index])
