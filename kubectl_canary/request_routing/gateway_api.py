"""Which backends a Gateway API implementation sends a request to, given HTTPRoutes. Pure.

The rules, as the spec states them (HTTPRoute v1, gateway-api v1.6.1 standard channel: the API reference
of `HTTPRouteRule.matches` in apis/v1/httproute_types.go, carried verbatim in the CRD's schema
descriptions, ../shared/crds/gateway-api/httproutes.yaml):
- "Each match is independent, i.e. this rule will be matched if **any** one of the matches is
  satisfied"; "If no matches are specified, the default is a prefix path match on "/"". Within an
  `HTTPRouteMatch` "Multiple match types are ANDed together".
- Precedence: "Across all rules specified on applicable Routes, precedence must be given to the match
  having: "Exact" path match. "Prefix" path match with largest number of characters. Method match.
  Largest number of header matches. Largest number of query param matches." (The method criterion
  arrived in v0.7.1.) "The precedence of RegularExpression path matches are implementation-specific":
  here they rank below every Exact and PathPrefix match.
- Ties: "If ties still exist across multiple Routes, matching precedence MUST be determined in order
  of the following criteria, continuing on ties: The oldest Route based on creation timestamp. The
  Route appearing first in alphabetical order by "{namespace}/{name}". If ties still exist within an
  HTTPRoute, matching precedence MUST be granted to the FIRST matching rule (in list order)".
- `PathPrefix` "matches full path elements ... a trailing `/` is ignored. For example, the paths
  `/abc`, `/abc/`, and `/abc/def` would all match the prefix `/abc`, but the path `/abcd` would not"
  (HTTPPathModifier's description of the PathPrefix match type).
- Header names: "Name matching MUST be case-insensitive"; "If multiple entries specify equivalent
  header names, only the first entry with an equivalent name MUST be considered for a match". Query
  parameter names: an "exact string match", the same first-entry rule. Values match exactly, or as a
  whole-value regular expression (type RegularExpression).
- Backends share the requests by `weight` (default 1; 0 sends none). A rule whose weights are all
  zero, or that has no backendRefs, answers 500.
- "When no rules matching a request have been successfully attached to the parent a request is coming
  from, a HTTP 404 status code MUST be returned."

Not modelled: hostnames and listeners (one host), filters other than as part of the outcome.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from kubectl_canary.request_routing.requests import NO_ROUTE, Decision, Outcome, PassedOver, Request, canonical

HTTPRoute = dict[str, Any]
Match = Mapping[str, Any]
Precedence = tuple[int, int, int, int, int]
DEFAULT_MATCH: dict[str, Any] = {"path": {"type": "PathPrefix", "value": "/"}}


def _path_of(match: Match) -> Mapping[str, Any]:
    path: Mapping[str, Any] = match.get("path") or DEFAULT_MATCH["path"]
    return path


def _path_reason(path: Mapping[str, Any], request_path: str) -> str | None:
    kind, value = path.get("type", "PathPrefix"), str(path.get("value", "/"))
    if kind == "Exact":
        return None if request_path == value else f"path {request_path} is not exactly {value}"
    if kind == "RegularExpression":
        if re.fullmatch(value, request_path) is not None:
            return None
        return f"path {request_path} does not match RegularExpression {value}"
    prefix = value.rstrip("/")
    if request_path == prefix or request_path.startswith(prefix + "/") or prefix == "":
        return None
    return f"path {request_path} is not under PathPrefix {value} (whole path elements)"


def _first_of_each(conditions: Sequence[Mapping[str, Any]], fold: bool) -> list[Mapping[str, Any]]:
    """Only the first entry of each (equivalent) name counts."""
    seen: set[str] = set()
    kept = []
    for condition in conditions:
        name = str(condition.get("name", ""))
        key = name.lower() if fold else name
        if key not in seen:
            seen.add(key)
            kept.append(condition)
    return kept


def _value_reason(what: str, condition: Mapping[str, Any], actual: str | None) -> str | None:
    name, expected = condition.get("name", ""), str(condition.get("value", ""))
    if actual is None:
        return f"{what} {name} is missing"
    if condition.get("type", "Exact") == "RegularExpression":
        if re.fullmatch(expected, actual) is not None:
            return None
        return f"{what} {name} is {actual!r}, not matching RegularExpression {expected}"
    return None if actual == expected else f"{what} {name} is {actual!r}, not {expected!r}"


def match_reason(match: Match, request: Request) -> str | None:
    """Why `match` does not take `request` (the first condition that fails); None when it does."""
    if (why := _path_reason(_path_of(match), request.path)) is not None:
        return why
    if match.get("method") not in (None, request.method):
        return f"method {request.method} is not {match['method']}"
    headers = {k.lower(): v for k, v in request.headers.items()}
    for condition in _first_of_each(match.get("headers") or [], fold=True):
        if (why := _value_reason("header", condition, headers.get(str(condition.get("name", "")).lower()))):
            return why
    for condition in _first_of_each(match.get("queryParams") or [], fold=False):
        if (why := _value_reason("query parameter", condition, request.query.get(str(condition.get("name", ""))))):
            return why
    return None


def match_matches(match: Match, request: Request) -> bool:
    return match_reason(match, request) is None


def precedence(match: Match) -> Precedence:
    """Higher is more specific: (Exact path, PathPrefix length, method, headers, query parameters)."""
    path = _path_of(match)
    kind = path.get("type", "PathPrefix")
    exact = 1 if kind == "Exact" else 0
    prefix = len(str(path.get("value", "/"))) if kind == "PathPrefix" else (-1 if kind == "RegularExpression" else 0)
    return (exact, prefix, 1 if match.get("method") else 0, len(match.get("headers") or []),
            len(match.get("queryParams") or []))


def describe_precedence(key: Precedence) -> str:
    """`PathPrefix of 5 characters, no method, 1 header, 0 query parameters`."""
    exact, prefix, method, headers, query = key
    path = "Exact path" if exact else ("RegularExpression path" if prefix < 0 else f"PathPrefix of {prefix} characters")
    return (f"{path}, {'a method' if method else 'no method'}, {headers} header{'s' * (headers != 1)}, "
            f"{query} query parameter{'s' * (query != 1)}")


_CRITERIA = ("an Exact path", "PathPrefix length", "a method", "the number of headers",
             "the number of query parameters")


def deciding(higher: Precedence, lower: Precedence) -> str:
    """The criterion on which `higher` outranks `lower`: the first that differs, in the spec's order."""
    return next((name for name, a, b in zip(_CRITERIA, higher, lower) if a != b), "nothing (a tie)")


def describe_match(match: Match) -> str:
    """`PathPrefix /echo, GET, header stage=canary`: how messages show a match."""
    path = _path_of(match)
    parts = [f"{path.get('type', 'PathPrefix')} {path.get('value', '/')}"]
    if match.get("method"):
        parts.append(str(match["method"]))
    for condition in match.get("headers") or []:
        op = "=~" if condition.get("type") == "RegularExpression" else "="
        parts.append(f"header {condition.get('name')}{op}{condition.get('value')}")
    for condition in match.get("queryParams") or []:
        op = "=~" if condition.get("type") == "RegularExpression" else "="
        parts.append(f"query {condition.get('name')}{op}{condition.get('value')}")
    return ", ".join(parts)


def matches_of(rule: Mapping[str, Any]) -> list[Match]:
    return list(rule.get("matches") or [DEFAULT_MATCH])


def rule_label(index: int, rule: Mapping[str, Any]) -> str:
    """How messages name a rule: its name (GEP-995, named route rules), else its position."""
    return str(rule["name"]) if rule.get("name") else f"#{index + 1} (unnamed)"


def _ordered(routes: Sequence[HTTPRoute]) -> list[HTTPRoute]:
    """Oldest route first, then alphabetical by namespace/name: the spec's tie-breaks across routes."""
    return sorted(routes, key=lambda r: (r["metadata"].get("creationTimestamp", ""),
                                         f"{r['metadata'].get('namespace', '')}/{r['metadata']['name']}"))


def best_rule(routes: Sequence[HTTPRoute], request: Request) -> tuple[HTTPRoute, dict[str, Any]] | None:
    """The (route, rule) the request takes, by the spec's precedence and tie-breaks."""
    best: tuple[Precedence, HTTPRoute, dict[str, Any]] | None = None
    for route in _ordered(routes):
        for rule in (route.get("spec") or {}).get("rules") or [{}]:
            for match in matches_of(rule):
                if match_matches(match, request):
                    rank = precedence(match)
                    if best is None or rank > best[0]:  # strictly better: earlier routes and rules win ties
                        best = (rank, route, rule)
    return None if best is None else (best[1], best[2])


def backends_of(route: HTTPRoute, rule: Mapping[str, Any]) -> list[tuple[dict[str, Any], int]]:
    """Each backendRef (without its weight, with the route's namespace when it names none) and its weight."""
    namespace = route["metadata"].get("namespace", "")
    result = []
    for ref in rule.get("backendRefs") or []:
        target = {k: v for k, v in ref.items() if k != "weight"}
        target.setdefault("namespace", namespace)
        result.append((target, int(ref.get("weight", 1))))
    return result


def outcome_of(route: HTTPRoute, rule: Mapping[str, Any]) -> Outcome:
    filters = canonical(rule.get("filters") or [])
    refs = backends_of(route, rule)
    if not refs:
        return Outcome(filters, other="no backendRefs: 500")
    total = sum(weight for _, weight in refs)
    if total == 0:
        return Outcome(filters, other="all weights zero: 500")
    shares: dict[str, Fraction] = {}
    for target, weight in refs:
        if weight:
            key = canonical(target)
            shares[key] = shares.get(key, Fraction(0)) + Fraction(weight, total)
    return Outcome(filters, tuple(sorted(shares.items())))


def route_request(routes: Sequence[HTTPRoute], request: Request) -> Outcome:
    """Where the gateway sends `request`."""
    found = best_rule(routes, request)
    return NO_ROUTE if found is None else outcome_of(*found)


def _where(route: HTTPRoute, several: bool) -> str:
    meta = route["metadata"]
    return f" of HTTPRoute {meta.get('namespace', '')}/{meta['name']}" if several else ""


def explain(routes: Sequence[HTTPRoute], request: Request) -> Decision:
    """Where the gateway sends `request`, the rule that takes it and its precedence, and for every other
    rule why it did not: no match of it matches, or its best match ranks below (or ties with and comes
    after) the winner's. `Decision.index` is the winner's position in its route's rules."""
    several = len(routes) > 1
    candidates: list[tuple[Precedence, HTTPRoute, int, dict[str, Any], Match]] = []
    # Every rule in the order the spec breaks ties (routes, then rules): why it did not match, or None.
    rules: list[tuple[HTTPRoute, int, dict[str, Any], str | None]] = []
    for route in _ordered(routes):
        for index, rule in enumerate((route.get("spec") or {}).get("rules") or [{}]):
            matching = [(precedence(m), m) for m in matches_of(rule) if match_matches(m, request)]
            if matching:
                rank, match = max(matching, key=lambda item: item[0])  # max keeps the first of equals
                candidates.append((rank, route, index, rule, match))
                rules.append((route, index, rule, None))
                continue
            reasons = [str(match_reason(m, request)) for m in matches_of(rule)]
            reason: str | None = reasons[0] if len(reasons) == 1 else "no match matches: " + "; ".join(
                f"#{i + 1}: {r}" for i, r in enumerate(reasons))
            rules.append((route, index, rule, reason))
    winner = None
    for candidate in candidates:
        if winner is None or candidate[0] > winner[0]:
            winner = candidate
    passed_over = []
    for route, index, rule, reason in rules:
        label = rule_label(index, rule) + _where(route, several)
        if reason is not None:
            passed_over.append(PassedOver(label, reason))
            continue
        assert winner is not None
        if rule is winner[3] and route is winner[1]:
            continue
        rank = next(c[0] for c in candidates if c[3] is rule and c[1] is route)
        name = rule_label(winner[2], winner[3]) + _where(winner[1], several)
        if rank < winner[0]:
            why = (f"matches, but ranks below {name} on {deciding(winner[0], rank)}: {describe_precedence(rank)} "
                   f"against {describe_precedence(winner[0])}")
        elif route is winner[1]:
            why = f"matches with the same precedence as {name}, which comes first in the rules"
        else:
            why = f"matches with the same precedence as {name}, whose HTTPRoute is older (or first by name)"
        passed_over.append(PassedOver(label, why))
    if winner is None:
        return Decision(request, NO_ROUTE, passed_over=tuple(passed_over))
    rank, route, index, rule, match = winner
    refs = backends_of(route, rule)
    total = sum(weight for _, weight in refs)
    destinations = tuple((target, Fraction(w, total)) for target, w in refs if w and total)
    return Decision(request, outcome_of(route, rule), rule_label(index, rule) + _where(route, several), index,
                    describe_match(match), destinations, tuple(passed_over), describe_precedence(rank))
