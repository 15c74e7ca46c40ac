"""Which destinations Gloo Edge (Envoy) sends a request to, given routes in their order. Pure.

The rules, as Gloo documents them:
- First match, in order. "Envoy evaluates routes top-to-bottom and uses the first match"; routes inline
  in a VirtualService, or in one RouteTable it delegates to by `delegateAction.ref`, "are passed to
  Envoy in the exact order they are defined" (solo-io/gloo docs, guides/traffic_management/
  destination_types/delegation/route_ordering.md, "Route ordering in delegation"; Envoy's own
  "Route matching": each route entry "is checked, in order. If there is a match, the route is used
  and no further route checks are made").
- Delegation flattens: Gloo "will flatten the non-delegated routes defined in config tree down to a
  single Proxy", and the routes of a delegated RouteTable "must inherit the prefix delegated to them"
  (docs, destination_types/delegation/_index.md, "Delegating with Route Tables"). So the table's routes
  stand where the delegating route stood, and a request none of them matches goes on to the routes
  after it (`flatten`).
- With `delegateAction.selector`, tables of distinct `weight` are concatenated by ascending weight;
  tables of the same weight (default 0) have their merged routes sorted by path (route_ordering.md,
  "Same weight"; projects/gloo/pkg/utils/sort_routes.go, `SortRoutesByPath`): `sorted_by_path`.
- A route's matchers are ORed, no matchers means prefix `/`. Within a matcher (api reference,
  projects/gloo/api/v1/core/matchers/matchers.proto.sk.md, `Matcher`): `prefix` "must match the
  beginning of the :path header" (so `/echo` also matches `/echoes`), `exact` the whole path without
  the query string, `regex` "The entire path (without the query string) must match the regex";
  `caseSensitive` (default true) applies to prefix and exact paths; `headers`: "A match will happen if
  all the headers in the route are present in the request with the same values (or based on presence
  if the value field is not in the config)"; `queryParameters`: "they all must match"; `methods`: "If
  none specified, the matcher will ignore the HTTP Method". A `HeaderMatcher` with `regex` matches the
  whole value; `invertMatch` inverts the result ("name=foo, invert_match=true: matches if no header
  named foo is present"). Header names are case-insensitive (HTTP/2 lowercases them).

Not modelled: connect matchers, `inheritableMatchers` (a parent's headers and methods added to the
child's), hostnames (virtual host domains), route tables beyond the one given (an unread delegation
is one opaque outcome).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from kubectl_canary.request_routing.requests import NO_ROUTE, Decision, Outcome, PassedOver, Request, canonical

Route = dict[str, Any]
Matcher = Mapping[str, Any]


# --- one matcher -----------------------------------------------------------------------------------


def _path_reason(matcher: Matcher, path: str) -> str | None:
    """Why the path does not match (None: it does)."""
    folded = matcher.get("caseSensitive") is False  # prefix and exact only; a regex says for itself
    given = path.lower() if folded else path
    if "exact" in matcher:
        expected = str(matcher["exact"])
        if given == (expected.lower() if folded else expected):
            return None
        return f"path {path} is not exactly {expected}"
    if "regex" in matcher:
        if re.fullmatch(str(matcher["regex"]), path) is not None:
            return None
        return f"path {path} does not match regex {matcher['regex']} (the whole path must)"
    prefix = str(matcher.get("prefix", "/"))
    if given.startswith(prefix.lower() if folded else prefix):
        return None
    return f"path {path} does not start with prefix {prefix}"


def header_reason(condition: Mapping[str, Any], headers: Mapping[str, str]) -> str | None:
    """Why one header condition fails on `headers` (names lowercased); None when it holds."""
    name = str(condition.get("name", ""))
    value = headers.get(name.lower())
    expected = condition.get("value")
    inverted = bool(condition.get("invertMatch"))
    if value is None:
        holds, why = False, f"header {name} is missing"
    elif expected is None or expected == "":
        holds, why = True, f"header {name} is present"
    elif condition.get("regex"):
        holds = re.fullmatch(str(expected), value) is not None
        why = f"header {name} is {value!r}, " + ("matching" if holds else "not matching") + f" regex {expected}"
    else:
        holds = value == expected
        why = f"header {name} is {value!r}" + ("" if holds else f", not {expected!r}")
    if holds != inverted:
        return None
    return f"{why} (inverted match)" if inverted else why


def header_matches(condition: Mapping[str, Any], headers: Mapping[str, str]) -> bool:
    return header_reason(condition, headers) is None


def _query_reason(condition: Mapping[str, Any], query: Mapping[str, str]) -> str | None:
    name = str(condition.get("name", ""))
    value = query.get(name)
    expected = condition.get("value")
    if value is None:
        return f"query parameter {name} is missing"
    if expected is None or expected == "":
        return None
    if condition.get("regex"):
        if re.fullmatch(str(expected), value) is not None:
            return None
        return f"query parameter {name} is {value!r}, not matching regex {expected}"
    return None if value == expected else f"query parameter {name} is {value!r}, not {expected!r}"


def matcher_reason(matcher: Matcher, request: Request) -> str | None:
    """Why `matcher` does not take `request` (the first condition that fails); None when it does.
    Path, methods, headers and query parameters are ANDed."""
    if (why := _path_reason(matcher, request.path)) is not None:
        return why
    methods = matcher.get("methods") or []
    if methods and request.method not in methods:
        return f"method {request.method} is not {' or '.join(map(str, methods))}"
    headers = {k.lower(): v for k, v in request.headers.items()}
    for condition in matcher.get("headers") or []:
        if (why := header_reason(condition, headers)) is not None:
            return why
    for condition in matcher.get("queryParameters") or []:
        if (why := _query_reason(condition, request.query)) is not None:
            return why
    return None


def matcher_matches(matcher: Matcher, request: Request) -> bool:
    return matcher_reason(matcher, request) is None


def describe_matcher(matcher: Matcher) -> str:
    """`prefix /echo, GET, header stage=canary`: how messages show a matcher."""
    if "exact" in matcher:
        parts = [f"exact {matcher['exact']}"]
    elif "regex" in matcher:
        parts = [f"regex {matcher['regex']}"]
    else:
        parts = [f"prefix {matcher.get('prefix', '/')}"]
    if matcher.get("caseSensitive") is False:
        parts.append("case-insensitive")
    if matcher.get("methods"):
        parts.append(" or ".join(map(str, matcher["methods"])))
    for condition in matcher.get("headers") or []:
        parts.append(f"header {_condition(condition)}")
    for condition in matcher.get("queryParameters") or []:
        parts.append(f"query {_condition(condition)}")
    return ", ".join(parts)


def _condition(condition: Mapping[str, Any]) -> str:
    name, value = condition.get("name", ""), condition.get("value")
    op = "=~" if condition.get("regex") else "="
    text = f"{name}{op}{value}" if value not in (None, "") else f"{name} present"
    return f"not {text}" if condition.get("invertMatch") else text


# --- one route ---------------------------------------------------------------------------------------


def matchers_of(route: Route) -> list[Matcher]:
    return list(route.get("matchers") or [{}])


def route_reason(route: Route, request: Request) -> str | None:
    """Why no matcher of the route takes the request (they are ORed); None when one does."""
    reasons = [matcher_reason(m, request) for m in matchers_of(route)]
    if any(r is None for r in reasons):
        return None
    if len(reasons) == 1:
        return reasons[0]
    return "no matcher matches: " + "; ".join(f"#{i + 1}: {r}" for i, r in enumerate(reasons))


def route_matches(route: Route, request: Request) -> bool:
    return any(matcher_matches(m, request) for m in matchers_of(route))


def route_label(index: int, route: Route) -> str:
    """How messages name a route: its name, else its position."""
    return str(route["name"]) if route.get("name") else f"#{index + 1} (unnamed)"


def first_match(routes: Sequence[Route], request: Request) -> int | None:
    return next((i for i, route in enumerate(routes) if route_matches(route, request)), None)


def destinations_of(route: Route) -> list[tuple[dict[str, Any], int]] | None:
    """Each destination item of the route (`{"destination": ...}` plus per-destination options) with its
    weight; None when the route does not send to upstreams (a delegation, redirect, direct response)."""
    action = route.get("routeAction")
    if action is None:
        return None
    if "single" in action:
        return [({"destination": action["single"]}, 1)]
    items = (action.get("multi") or {}).get("destinations") or []
    return [({k: v for k, v in item.items() if k != "weight"}, int(item.get("weight") or 0)) for item in items]


def outcome_of(route: Route) -> Outcome:
    options = canonical(route.get("options") or {})
    items = destinations_of(route)
    if items is None:
        other = {k: v for k, v in route.items() if k.endswith("Action")}
        return Outcome(options, other=canonical(other))
    total = sum(weight for _, weight in items)
    if total == 0:
        # Gloo reports a route error for a multi destination whose weights are all zero.
        return Outcome(options, other="all weights zero: route error")
    shares: dict[str, Fraction] = {}
    for item, weight in items:
        if weight:
            key = canonical(item)
            shares[key] = shares.get(key, Fraction(0)) + Fraction(weight, total)
    return Outcome(options, tuple(sorted(shares.items())))


def route_request(routes: Sequence[Route], request: Request) -> Outcome:
    """Where Gloo sends `request`."""
    index = first_match(routes, request)
    return NO_ROUTE if index is None else outcome_of(routes[index])


def explain(routes: Sequence[Route], request: Request, labels: Sequence[str] | None = None) -> Decision:
    """Where Gloo sends `request`, the route that takes it, and why each route before it did not.

    `labels` names the routes in messages (default: `route_label`); the routes after the one that takes
    the request are never evaluated (first match), so they are not listed.
    """
    names = list(labels) if labels is not None else [route_label(i, r) for i, r in enumerate(routes)]
    passed: list[PassedOver] = []
    for index, route in enumerate(routes):
        reason = route_reason(route, request)
        if reason is not None:
            passed.append(PassedOver(names[index], reason))
            continue
        matcher = next(m for m in matchers_of(route) if matcher_matches(m, request))
        items = destinations_of(route) or []
        total = sum(weight for _, weight in items)
        destinations = tuple((item, Fraction(w, total)) for item, w in items if w and total)
        return Decision(request, outcome_of(route), names[index], index, describe_matcher(matcher), destinations,
                        tuple(passed))
    return Decision(request, NO_ROUTE, passed_over=tuple(passed))


# --- delegation ------------------------------------------------------------------------------------


def flatten(virtual_service_routes: Sequence[Route], delegates_here: Sequence[bool], table_routes: Sequence[Route]
            ) -> list[tuple[Route, int | None]]:
    """The VirtualService's routes with each route that delegates to the table replaced by the table's
    routes, as Gloo flattens them; each with its index in the table (None: a VirtualService route)."""
    flat: list[tuple[Route, int | None]] = []
    for route, here in zip(virtual_service_routes, delegates_here):
        if here:
            flat.extend((child, i) for i, child in enumerate(table_routes))
        else:
            flat.append((route, None))
    return flat


_PATH_PRIORITY = {"": 0, "exact": 1, "regex": 2, "prefix": 3}


def _path_kind(matcher: Matcher) -> str:
    return next((kind for kind in ("exact", "regex", "prefix") if kind in matcher), "")


def _less(first: Matcher, second: Matcher) -> bool:
    """sort_routes.go `lessMatcher`: more methods first, then exact < regex < prefix, then the greater
    path string first (so `/echo/foo` before `/echo`)."""
    methods = (len(first.get("methods") or []), len(second.get("methods") or []))
    if methods[0] != methods[1]:
        return methods[0] > methods[1]
    kinds = (_PATH_PRIORITY[_path_kind(first)], _PATH_PRIORITY[_path_kind(second)])
    if kinds[0] != kinds[1]:
        return kinds[0] < kinds[1]
    return str(first.get(_path_kind(first), "")) > str(second.get(_path_kind(second), ""))


def sorted_by_path(routes: Sequence[Route]) -> list[Route]:
    """The routes as Gloo sorts the merged routes of same-weight tables a selector picks
    (`SortRoutesByPath`, a stable sort keyed on each route's most specific matcher)."""

    def smallest(route: Route) -> Matcher:
        # The default matcher is prefix `/` (gateway defaults.DefaultMatcher).
        found: Matcher = (route.get("matchers") or [{"prefix": "/"}])[0]
        for matcher in route.get("matchers") or []:
            if _less(matcher, found):
                found = matcher
        return found

    def compare(a: Route, b: Route) -> int:
        first, second = smallest(a), smallest(b)
        return -1 if _less(first, second) else (1 if _less(second, first) else 0)

    return sorted(routes, key=functools.cmp_to_key(compare))
