"""Where requests go after any sequence of commands, per a model of Gloo's route matching (hypothesis).

Generated tables: the app's 1 to 4 primary routes (named `echo-primary`, or `echo-primary-N`), each with
any matcher shape (prefix, exact or regex path; 1..2 matchers; methods, query parameters and its own header
conditions, inverted or not; the app's routes may overlap, the first one matching wins), a destination
with extra subset keys (`region`) and, on a weighted destination, per-destination options, among 0..5
foreign routes before, between and after them (tests/safety/test_properties.py's pools). Generated commands: header
(any canary headers, re-run with others), weight (whole and decimal percents), finish, abort, shadow on
and off, through parse -> transition -> render as the verbs do. A fixed grid of requests (paths x
methods x headers x query) goes through kubectl_canary/request_routing/gloo.py before and after every step.

Properties, for every request after every step:
- a request whose first match before the commands was not one of the app's routes goes exactly where it
  went (same route options, same destinations, same shares): the app's routes never widen;
- a request one of the app's routes matched first goes where the phase says, through that route's header
  route or itself: to the canary when the state has a header route and the request carries the canary
  headers, else split by the state's exact shares; each destination is that route's original one with only
  the subset's `version` changed (other subset keys, per-destination options kept), and its route options
  are that route's (shadowing aside).

Per run: 400 + 60 tables, each with a header command and up to 6 more, x 192 requests (REQUESTS):
about 400 tables x 2.5 applied commands x 192 requests = 190,000 checked requests (each routed before
and after), plus 60 x 192 full-rollout checks, in about 10 s.
"""

from __future__ import annotations

import copy
import itertools
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kubectl_canary.errors import CanaryError
from kubectl_canary.model.rollout import (
    HeaderMatch,
    RolloutState,
    promote,
    rollback,
    shift_weight,
    start_canary,
    start_shadow,
    stop_shadow,
    traffic_shares,
)
from kubectl_canary.request_routing.gloo import first_match, header_matches, route_request
from kubectl_canary.request_routing.requests import Request, canonical
from kubectl_canary.routers.gloo import parse_routes, render_routes
from tests.safety.test_properties import foreign_routes

APP = "echo"
PRIMARY = "echo-primary"
HEADER = "echo-canary-header"
BASE = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

PATHS = ["/", "/echo", "/echo/a", "/echox", "/api/echo", "/v2/echo"]
METHODS = ["GET", "POST"]
REQUEST_HEADERS: list[dict[str, str]] = [
    {},
    {"stage": "canary"},
    {"stage": "beta"},
    {"stage": "canary", "x-tenant": "a"},
    {"stage": "canary", "x-tenant": "b"},
    {"x-canary": "yes", "x-tenant": "a"},
    {"x-tenant": "a"},
    {"Stage": "canary", "x-debug": "1"},
]
QUERIES: list[dict[str, str]] = [{}, {"debug": "1"}]
REQUESTS = [
    Request(p, m, h, q) for p, m, h, q in itertools.product(PATHS, METHODS, REQUEST_HEADERS, QUERIES)
]

PATH_MATCHERS = [
    {"prefix": "/echo"}, {"prefix": "/"}, {"exact": "/echo"}, {"regex": "/v[0-9]+/echo"}, {"prefix": "/api"}
]
OWN_HEADERS: list[list[dict[str, Any]]] = [
    [],
    [{"name": "x-tenant", "value": "a"}],
    [{"name": "x-tenant", "value": "b", "invertMatch": True}],
    [{"name": "x-debug"}],
    [{"name": "stage", "value": "canary"}],  # the primary itself matches the canary header
]
METHOD_SETS: list[list[str] | None] = [None, ["GET"], ["POST", "PUT"]]
QUERY_SETS: list[list[dict[str, Any]] | None] = [
    None,
    [{"name": "debug"}],
    [{"name": "debug", "value": "1"}],
    [{"name": "debug", "value": "[0-9]+", "regex": True}],
]
CANARY_HEADERS: list[tuple[HeaderMatch, ...]] = [
    (HeaderMatch("stage", "canary"),),
    (HeaderMatch("stage"),),
    (HeaderMatch("x-canary", "yes"),),
    (HeaderMatch("stage", "can.*", regex=True),),
    (HeaderMatch("stage", "beta", invert_match=True),),
    (HeaderMatch("stage", "canary"), HeaderMatch("x-tenant", "a")),
]
DESTINATION_OPTIONS = [
    {"headerManipulation": {"requestHeadersToAdd": [{"header": {"key": "x-region", "value": "eu"}}]}},
    {"headerManipulation": {"requestHeadersToRemove": ["x-debug"]}},
]
VERSIONS = ("v2", "v3")
PERCENTS = st.one_of(
    st.integers(0, 100).map(Fraction), st.sampled_from([Fraction(1, 10), Fraction(25, 2), Fraction(999, 10)])
)


@st.composite
def matchers(draw) -> dict[str, Any]:
    matcher: dict[str, Any] = dict(draw(st.sampled_from(PATH_MATCHERS)))
    if own := draw(st.sampled_from(OWN_HEADERS)):
        matcher["headers"] = copy.deepcopy(own)
    if methods := draw(st.sampled_from(METHOD_SETS)):
        matcher["methods"] = list(methods)
    if query := draw(st.sampled_from(QUERY_SETS)):
        matcher["queryParameters"] = copy.deepcopy(query)
    return matcher


@st.composite
def app_routes(draw) -> list[dict[str, Any]]:
    """1 to 4 primary routes of the app: `echo-primary` alone, else `echo-primary-N`."""
    routes = draw(st.lists(primary_routes(), min_size=1, max_size=4))
    if len(routes) > 1:
        for number, route in enumerate(routes, 1):
            route["name"] = f"{PRIMARY}-{number}"
    return routes


@st.composite
def primary_routes(draw) -> dict[str, Any]:
    values = {"version": "v1"}
    if draw(st.booleans()):
        values["region"] = draw(st.sampled_from(["eu", "us"]))
    destination = {"upstream": {"name": APP, "namespace": "echo"}, "subset": {"values": values}}
    route: dict[str, Any] = {"name": PRIMARY, "matchers": draw(st.lists(matchers(), min_size=1, max_size=2))}
    options = draw(st.sampled_from([None, *DESTINATION_OPTIONS]))
    if options is None:
        route["routeAction"] = {"single": destination}
    else:
        item = {"destination": destination, "weight": draw(st.sampled_from([1, 7])), "options": options}
        route["routeAction"] = {"multi": {"destinations": [item]}}
    if draw(st.booleans()):
        route["options"] = {"timeout": "10s"}
    return route


commands = st.one_of(
    st.tuples(st.just("header"), st.sampled_from(VERSIONS), st.sampled_from(CANARY_HEADERS)),
    st.tuples(st.just("weight"), PERCENTS),
    st.just(("finish",)),
    st.just(("abort",)),
    st.tuples(st.just("shadow"), st.sampled_from(VERSIONS)),
    st.just(("shadow-off",)),
)


def transition(state: RolloutState, command: tuple[Any, ...]) -> RolloutState:
    verb = command[0]
    if verb == "header":
        return start_canary(state, command[1], command[2])
    if verb == "weight":
        return shift_weight(state, command[1])
    if verb == "shadow":
        return start_shadow(state, command[1], 10.0)
    if verb == "shadow-off":
        return stop_shadow(state)
    return promote(state) if verb == "finish" else rollback(state)


def item_of(primary: dict[str, Any], version: str) -> str:
    """The outcome key of the primary's original destination with only the version changed."""
    action = primary["routeAction"]
    item = {"destination": action["single"]} if "single" in action else dict(action["multi"]["destinations"][0])
    item = copy.deepcopy(item)
    item.pop("weight", None)
    item["destination"]["subset"]["values"]["version"] = version
    return canonical(item)


def carries(request: Request, headers: tuple[HeaderMatch, ...]) -> bool:
    lowered = {k.lower(): v for k, v in request.headers.items()}
    conditions = [{"name": h.name, "value": h.value, "regex": h.regex, "invertMatch": h.invert_match} for h in headers]
    return all(header_matches(c, lowered) for c in conditions)


def without_shadowing(options_json: str, primary: dict[str, Any]) -> bool:
    import json

    options = {k: v for k, v in json.loads(options_json).items() if k != "shadowing"}
    return options == (primary.get("options") or {})


def header_name(primary: dict[str, Any], count: int) -> str:
    return HEADER if count == 1 else str(primary["name"]).replace("-primary-", "-canary-header-")


def check_routing(before: list[dict[str, Any]], primaries: list[dict[str, Any]], after: list[dict[str, Any]],
                  state: RolloutState) -> None:
    places = {before.index(primary): primary for primary in primaries}
    for request in REQUESTS:
        index = first_match(before, request)
        primary = None if index is None else places.get(index)
        if primary is None:
            assert route_request(after, request) == route_request(before, request), request
            continue
        served = first_match(after, request)
        assert served is not None, request
        assert after[served].get("name") in (primary["name"], header_name(primary, len(primaries))), request
        outcome = route_request(after, request)
        assert without_shadowing(outcome.route_options, primary), request
        if state.canary is not None and state.headers and carries(request, state.headers):
            expected = {item_of(primary, state.canary): Fraction(1)}
        else:
            expected = {item_of(primary, v): share / 100 for v, share in traffic_shares(state).items()}
        assert outcome.shares() == expected, request


def interleave(primaries: list[dict[str, Any]], foreign: list[dict[str, Any]], positions: list[int]
               ) -> list[dict[str, Any]]:
    """The foreign routes with each primary route inserted before the foreign route at its position."""
    routes = list(foreign)
    for primary, position in sorted(zip(primaries, positions), key=lambda p: -min(p[1], len(foreign))):
        routes.insert(min(position, len(foreign)), primary)
    order = iter(primaries)
    return [next(order) if any(r is p for p in primaries) else r for r in routes]


def run_commands(primaries: list[dict[str, Any]], foreign: list[dict[str, Any]], positions: list[int],
                 sequence: list[tuple[Any, ...]]) -> int:
    before = interleave(primaries, foreign, positions)
    routes = copy.deepcopy(before)
    applied = 0
    for command in sequence:
        parsed = parse_routes(APP, routes)
        try:
            desired = transition(parsed.state, command)
        except CanaryError:
            continue
        routes = render_routes(routes, parsed, desired)
        assert parse_routes(APP, routes).state == desired
        check_routing(before, primaries, routes, desired)
        applied += 1
    return applied


@settings(BASE, max_examples=400)
@given(
    primaries=app_routes(),
    foreign=st.lists(foreign_routes(), max_size=5),
    positions=st.lists(st.integers(0, 5), min_size=4, max_size=4),
    start=st.tuples(st.just("header"), st.sampled_from(VERSIONS), st.sampled_from(CANARY_HEADERS)),
    sequence=st.lists(commands, max_size=6),
)
def test_requests_go_where_they_went_or_where_the_phase_says(primaries, foreign, positions, start, sequence):
    applied = run_commands(primaries, foreign, positions, [start, *sequence])
    event(f"{len(primaries)} route(s), {applied} commands applied")


@settings(BASE, max_examples=60)
@given(
    primaries=app_routes(),
    foreign=st.lists(foreign_routes(), max_size=3),
    headers=st.sampled_from(CANARY_HEADERS),
    percent=PERCENTS,
)
def test_a_full_rollout_then_abort_routes_every_request_as_before(primaries, foreign, headers, percent):
    before = [*foreign, *primaries]
    routes = copy.deepcopy(before)
    for command in [("header", "v2", headers), ("weight", percent), ("abort",)]:
        parsed = parse_routes(APP, routes)
        routes = render_routes(routes, parsed, transition(parsed.state, command))
    for request in REQUESTS:
        assert route_request(routes, request) == route_request(before, request), request
