"""Which backends a Gateway API implementation sends a request to, given HTTPRoutes. Tests only.

The spec's rules (HTTPRoute, gateway-api v1.6.1): every match of every rule of every route is a
candidate; a request takes the candidate that matches it with the highest precedence, in this order:
an Exact path match; then the PathPrefix match with the most characters; then a match with a method;
then the most header matches; then the most query-parameter matches. Ties across routes go to the oldest
route (creationTimestamp), then to the first by `namespace/name`; ties inside a route go to the first rule
in list order. A rule without matches matches `PathPrefix /`. PathPrefix matches whole path elements
(`/echo` matches `/echo` and `/echo/x`, not `/echoes`); header names are case-insensitive, header and
query values match exactly or as a whole-value regular expression. Backends share traffic by weight
(default 1, 0 sends nothing); a rule whose weights are all zero answers 500.

Not modelled: hostnames and listeners (one host), RegularExpression paths rank below every Exact and
PathPrefix match (their precedence is implementation-specific), filters other than as part of the
outcome.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from tests.routing_model import NO_ROUTE, Outcome, Request

HTTPRoute = dict[str, Any]
_DEFAULT_MATCH: dict[str, Any] = {"path": {"type": "PathPrefix", "value": "/"}}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _path_matches(path: Mapping[str, Any], request_path: str) -> bool:
    kind, value = path.get("type", "PathPrefix"), str(path.get("value", "/"))
    if kind == "Exact":
        return request_path == value
    if kind == "RegularExpression":
        return re.fullmatch(value, request_path) is not None
    prefix = value.rstrip("/")
    return request_path == prefix or request_path.startswith(prefix + "/") or prefix == ""


def _value_matches(condition: Mapping[str, Any], actual: str | None) -> bool:
    if actual is None:
        return False
    if condition.get("type", "Exact") == "RegularExpression":
        return re.fullmatch(str(condition.get("value", "")), actual) is not None
    return actual == condition.get("value")


def match_matches(match: Mapping[str, Any], request: Request) -> bool:
    if not _path_matches(match.get("path") or _DEFAULT_MATCH["path"], request.path):
        return False
    if match.get("method") not in (None, request.method):
        return False
    headers = {k.lower(): v for k, v in request.headers.items()}
    if not all(_value_matches(h, headers.get(str(h.get("name", "")).lower())) for h in match.get("headers") or []):
        return False
    return all(_value_matches(q, request.query.get(str(q.get("name", "")))) for q in match.get("queryParams") or [])


def _precedence(match: Mapping[str, Any]) -> tuple[int, int, int, int, int]:
    """Higher is more specific: (exact, prefix length, method, headers, query params)."""
    path = match.get("path") or _DEFAULT_MATCH["path"]
    kind = path.get("type", "PathPrefix")
    exact = 1 if kind == "Exact" else 0
    prefix = len(str(path.get("value", "/"))) if kind == "PathPrefix" else (-1 if kind == "RegularExpression" else 0)
    return (exact, prefix, 1 if match.get("method") else 0, len(match.get("headers") or []),
            len(match.get("queryParams") or []))


def best_rule(routes: list[HTTPRoute], request: Request) -> tuple[HTTPRoute, dict[str, Any]] | None:
    """The (route, rule) the request takes, by the spec's precedence and tie-breaks."""
    ordered = sorted(routes, key=lambda r: (r["metadata"].get("creationTimestamp", ""),
                                            f"{r['metadata'].get('namespace', '')}/{r['metadata']['name']}"))
    best: tuple[tuple[int, int, int, int, int], HTTPRoute, dict[str, Any]] | None = None
    for route in ordered:
        for rule in (route.get("spec") or {}).get("rules") or [{}]:
            for match in rule.get("matches") or [_DEFAULT_MATCH]:
                if match_matches(match, request):
                    rank = _precedence(match)
                    if best is None or rank > best[0]:  # strictly better: earlier routes and rules win ties
                        best = (rank, route, rule)
    return None if best is None else (best[1], best[2])


def outcome_of(route: HTTPRoute, rule: Mapping[str, Any]) -> Outcome:
    namespace = route["metadata"].get("namespace", "")
    filters = _canonical(rule.get("filters") or [])
    refs = rule.get("backendRefs") or []
    if not refs:
        return Outcome(filters, other="no backendRefs: 500")
    total = sum(int(ref.get("weight", 1)) for ref in refs)
    if total == 0:
        return Outcome(filters, other="all weights zero: 500")
    shares: dict[str, Fraction] = {}
    for ref in refs:
        weight = int(ref.get("weight", 1))
        if weight:
            target = {k: v for k, v in ref.items() if k != "weight"}
            target.setdefault("namespace", namespace)
            key = _canonical(target)
            shares[key] = shares.get(key, Fraction(0)) + Fraction(weight, total)
    return Outcome(filters, tuple(sorted(shares.items())))


def route_request(routes: list[HTTPRoute], request: Request) -> Outcome:
    """Where the gateway sends `request`."""
    found = best_rule(routes, request)
    return NO_ROUTE if found is None else outcome_of(*found)
