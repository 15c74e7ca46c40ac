"""Properties of parse_routes / render_routes over generated RouteTables (hypothesis).

A generated table holds the app's own routes: 1 to 4 primary routes, each on paths of its own, sending to
upstream `echo` (single, or two-way weighted), each with its header route right before it, right after it
or (one route) anywhere, all in one phase (stable; header with 1..2 headers; weighted, with or without header
routes, with any weights not all zero giving one share, destinations in either order). Their names are the
plugin's (`echo-primary`, `echo-primary-N`, and the header routes'), the team's own (`team-N`) or none (the
seed series' Helm charts). Around them: 0..6 unmanaged routes before, between and after them (random names
or none, some close to ours; prefix, exact and regex matchers; direct responses, redirects, delegation,
routes to other upstreams, and to upstream `echo` without a version subset or not only to it: routes that
look like ours but are not the app's, since an app's routes are those to its Upstream's version subsets).
Random sequences of transitions (start_canary, shift_weight, promote, rollback) then go through parse ->
transition -> render.

Properties, after every step: unmanaged routes are kept identical and in the same relative order, each
primary route keeps its place among them and the input is not mutated; the app's routes get stable names
(a named route keeps its name; one route: `echo-primary` / `echo-canary-header`; several: `echo-primary-N`
/ `echo-canary-header-N`, or `NAME-canary-header`); no multi route has all-zero weights and each of ours
has two integer weights giving exactly the share asked for; a header route exists before each primary route
exactly when the state has a canary and headers; parse(render(x)) is the state rendered, with no route
disagreeing; rendering the same state again changes nothing. Rollback from any canary phase reached by any
sequence gives exactly the stable routes among the unmanaged routes; promote then rollback is refused.
Through the routing model (kubectl_canary/request_routing/gloo.py), for a grid of requests after every step: a
request no route of the app matched first goes exactly where it went; a request one of them matched goes where the phase
says (the canary when it carries the canary headers and the state has a header route, else the exact shares).
Tables whose routes disagree (one weighted differently, one without its header route) read as one state
naming exactly those routes, and the next command sets every route alike.

Examples per run (max_examples): 150 + 250 + 150 + 50 + 50 + 150 + 80 = 880 generated cases, plus the
example-based check that a new header route gets the primary route's options (a bug these tests found).
"""

from __future__ import annotations

import copy
import itertools
import json
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kubectl_canary.errors import CanaryError
from kubectl_canary.model.rollout import HeaderMatch, RolloutState, promote, rollback, shift_weight, start_canary
from kubectl_canary.request_routing.gloo import first_match, header_matches, route_request
from kubectl_canary.request_routing.requests import Request
from kubectl_canary.routers.gloo import parse_routes, render_routes

APP = "echo"
VERSIONS = ("v1", "v2", "v3", "blue", "green-2")

# No deadline: the machine is shared, and a slow example is not a failing one.
BASE = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- strategies -------------------------------------------------------------------------------------------

# Unmanaged routes are put together from pools of parts: quick to draw, as a table needs up to six.
PATHS = ["/", "/echo", "/echo/", "/echo/admin", "/api/echo", "/health"]
FOREIGN_MATCHERS: list[dict[str, Any]] = [
    *({"prefix": p} for p in PATHS),
    *({"exact": p} for p in PATHS[1:4]),
    {"regex": "/echo/.*"},
    {"regex": "^/v[0-9]+/echo$"},
    {"prefix": "/echo", "headers": [{"name": "x-debug"}]},
    {"prefix": "/echo", "headers": [{"name": "stage", "value": "canary"}]},  # the matcher of a header route
    {"exact": "/echo/login", "methods": ["POST"]},
    {"prefix": "/echo", "methods": ["GET", "HEAD"], "headers": [{"name": "x-env", "value": "dev.*", "regex": True}]},
]


def destination(upstream: str, namespace: str, subset: dict[str, str] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"upstream": {"name": upstream, "namespace": namespace}}
    if subset is not None:
        result["subset"] = {"values": subset}
    return result


def weighted(*destinations: tuple[dict[str, Any], int]) -> dict[str, Any]:
    return {"routeAction": {"multi": {"destinations": [{"destination": d, "weight": w} for d, w in destinations]}}}


FOREIGN_ACTIONS: list[dict[str, Any]] = [
    {"directResponseAction": {"status": 403, "body": "forbidden"}},
    {"directResponseAction": {"status": 200}},
    {"redirectAction": {"pathRedirect": "/echo", "responseCode": "FOUND"}},
    {"delegateAction": {"ref": {"name": "team-routes", "namespace": "team"}}},
    {"delegateAction": {"selector": {"labels": {"apiGroup": "other"}}}},
    {"routeAction": {"single": destination("other", "apps")}},
    {"routeAction": {"single": destination("echo2", "echo", {"version": "v1"})}},
    {"routeAction": {"single": destination("echo-v2", "echo", {"version": "v2"})}},
    {"routeAction": {"single": destination("Echo", "echo", {"version": "v1"})}},
    weighted((destination("other", "apps", {"version": "v1"}), 3), (destination("api", "apps"), 1)),
    weighted((destination("other", "apps"), 1),),
    # Upstream echo, but not to a `version` subset, or not only to echo: not a route of the app.
    {"routeAction": {"single": destination(APP, "echo")}},
    {"routeAction": {"single": destination(APP, "echo", {"color": "blue"})}},
    weighted((destination(APP, "echo", {"version": "v1"}), 1), (destination("other", "apps", {"version": "v1"}), 1)),
]
FOREIGN_OPTIONS = [None, {"timeout": "5s"}, {"prefixRewrite": "/"}, {"retries": {"retryOn": "5xx", "numRetries": 2}}]
# Never exactly ours; some close to them.
FOREIGN_NAMES = [None, None, None, "admin", "health", "legacy", "echo", "echo-debug", "echo-primary-old", "a-1",
                 "echo-primary-x", "echo-canary-header-y", "team"]

matcher_lists = st.lists(st.sampled_from(FOREIGN_MATCHERS), min_size=1, max_size=2)


@st.composite
def foreign_routes(draw) -> dict[str, Any]:
    name = draw(st.sampled_from(FOREIGN_NAMES))
    route: dict[str, Any] = {} if name is None else {"name": name}
    route["matchers"] = copy.deepcopy(draw(matcher_lists))
    route.update(copy.deepcopy(draw(st.sampled_from(FOREIGN_ACTIONS))))
    options = draw(st.sampled_from(FOREIGN_OPTIONS))
    if options is not None:
        route["options"] = copy.deepcopy(options)
    return route


def header_dict(header: HeaderMatch) -> dict[str, Any]:
    result: dict[str, Any] = {"name": header.name}
    if header.value is not None:
        result["value"] = header.value
    if header.regex:
        result["regex"] = True
    if header.invert_match:
        result["invertMatch"] = True
    return result


HEADER_NAMES = [("stage",), ("x-canary",), ("X-Beta",), ("stage", "x-user-group"), ("cookie", "stage")]
header_values = st.sampled_from([None, "canary", "yes", "beta", "v.*"])


@st.composite
def header_sets(draw) -> tuple[HeaderMatch, ...]:
    """1..2 header conditions (ANDed) with distinct names: value or presence, regex, inverted."""
    names = draw(st.sampled_from(HEADER_NAMES))
    return tuple(HeaderMatch(n, draw(header_values), draw(st.booleans()), draw(st.booleans())) for n in names)


@dataclass
class Table:
    routes: list[dict[str, Any]]
    unmanaged: list[dict[str, Any]]
    before_primary: list[int]  # per app route: the unmanaged routes before its primary route
    primary_routes: list[dict[str, Any]]
    header_routes: list[dict[str, Any]]  # one per primary route in the header and weighted phases, else none
    primary_names: list[str]  # what each primary route is called once written
    header_names: list[str]  # what its header route is called
    upstream: dict[str, str]
    state: RolloutState  # what the table says
    shape: str


PHASES = ("stable", "header", "weighted", "weighted-without-header")
PRIMARY_OPTIONS = [
    {"timeout": "10s"},
    {"prefixRewrite": "/"},
    {"headerManipulation": {"requestHeadersToRemove": ["x-a"]}},
]
VERSION_PAIRS = [(p, c) for p in VERSIONS for c in VERSIONS if p != c]
# Each app route has paths of its own: a header route narrows exactly one of them.
APP_PATHS = ["/echo", "/echo/foo", "/echo/bar", "/api/echo", "/echo-legacy"]
NAMINGS = ("plugin", "seed", "team")


def expected_names(naming: str, count: int) -> tuple[list[str | None], list[str], list[str | None], list[str]]:
    """(live primary names, their names once written, live header route names, theirs once written)."""
    if count == 1:
        live = {"plugin": "echo-primary", "seed": None, "team": "team-1"}[naming]
        header = "echo-canary-header"
        return [live], [live or "echo-primary"], [None if naming == "seed" else header], [header]
    numbers = range(1, count + 1)
    if naming == "team":
        names = [f"team-{n}" for n in numbers]
        headers = [f"team-{n}-canary-header" for n in numbers]
        return list(names), names, list(headers), headers
    names = [f"echo-primary-{n}" for n in numbers]
    headers = [f"echo-canary-header-{n}" for n in numbers]
    if naming == "seed":
        return [None] * count, names, [None] * count, headers
    return list(names), names, list(headers), headers


@st.composite
def tables(draw, phases: tuple[str, ...] = PHASES, positions: tuple[str, ...] = ("before", "after"),
           counts: tuple[int, int] = (1, 4), adjacent: bool | None = None) -> Table:
    """A RouteTable with the app's routes in one of `phases`, each header route (if any) `positions` its
    primary route; `adjacent` (drawn when None): nothing between a header route and its primary route."""
    count = draw(st.integers(*counts))
    naming = draw(st.sampled_from(NAMINGS))
    primary, canary = draw(st.sampled_from(VERSION_PAIRS))
    phase = draw(st.sampled_from(phases))
    upstream = {"name": APP, "namespace": draw(st.sampled_from(["echo", "apps"]))}
    paths = draw(st.permutations(APP_PATHS))[:count]
    live_names, names, live_header_names, header_names = expected_names(naming, count)

    def dest(version: str) -> dict[str, Any]:
        return {"upstream": dict(upstream), "subset": {"values": {"version": version}}}

    weight = None
    if phase.startswith("weighted"):
        share = draw(st.one_of(
            st.integers(0, 100).map(lambda w: (100 - w, w)),  # as we write them
            st.tuples(st.integers(0, 1000), st.integers(1, 1000)),  # as someone else might (a share)
            st.tuples(st.integers(1, 1000), st.just(0)),
        ))
        weight = Fraction(100 * share[1], sum(share))
    headers: tuple[HeaderMatch, ...] = draw(header_sets()) if phase in ("header", "weighted") else ()
    position = draw(st.sampled_from(positions)) if headers else "none"
    adjacent = draw(st.booleans()) if adjacent is None else adjacent

    blocks: list[list[dict[str, Any]]] = []
    primaries = []
    header_routes = []
    for index in range(count):
        route: dict[str, Any] = {"name": live_names[index]} if live_names[index] else {}
        route["matchers"] = [{"prefix": paths[index]},
                             *draw(st.sampled_from([[], [{"exact": f"{paths[index]}-legacy"}]]))]
        if weight is None:
            route["routeAction"] = {"single": dest(primary)}
        else:
            scale = draw(st.integers(1, 3))  # the same share, written with other integers
            destinations = [{"destination": dest(primary), "weight": share[0] * scale},
                            {"destination": dest(canary), "weight": share[1] * scale}]
            # Without a header route the second destination is the canary; with one, either order works.
            if headers and draw(st.booleans()):
                destinations.reverse()
            route["routeAction"] = {"multi": {"destinations": destinations}}
        options = draw(st.sampled_from([None, *PRIMARY_OPTIONS]))
        if options is not None:
            route["options"] = copy.deepcopy(options)
        primaries.append(route)
        block = [route]
        if headers:
            header_route: dict[str, Any] = {"name": live_header_names[index]} if live_header_names[index] else {}
            header_route["matchers"] = [{**m, "headers": [header_dict(h) for h in headers]} for m in route["matchers"]]
            header_route["routeAction"] = {"single": dest(canary)}
            if draw(st.booleans()):
                header_route["options"] = {"timeout": "1s"}
            header_routes.append(header_route)
            block = [header_route, route] if position == "before" else [route, header_route]
        blocks.append(block)

    unmanaged = draw(st.lists(foreign_routes(), max_size=6))
    # Where the unmanaged routes go: between the app's blocks, and inside them unless adjacent.
    slots = [(b, i) for b, block in enumerate(blocks) for i in range(len(block) + 1)
             if adjacent is False or i in (0, len(block))]
    places = sorted(draw(st.lists(st.sampled_from(slots), min_size=len(unmanaged), max_size=len(unmanaged))))
    routes: list[dict[str, Any]] = []
    before_primary = []
    foreign = iter(unmanaged)
    for b, block in enumerate(blocks):
        for i in range(len(block) + 1):
            routes.extend(next(foreign) for _ in range(places.count((b, i))))
            if i < len(block):
                if block[i] is primaries[b]:
                    before_primary.append(sum(1 for r in routes if r in unmanaged))
                routes.append(block[i])
    state = RolloutState(app=APP, primary=primary, canary=None if phase == "stable" else canary, weight=weight,
                         headers=headers)
    shape = f"{count} route(s), {naming} names, {phase}" + (f", header routes {position}" if headers else "")
    return Table(copy.deepcopy(routes), copy.deepcopy(unmanaged), before_primary, copy.deepcopy(primaries),
                 copy.deepcopy(header_routes), names, header_names, upstream, state, shape)


transitions = st.one_of(
    st.tuples(st.just("start_canary"), st.sampled_from(VERSIONS), header_sets()),
    st.tuples(st.just("shift_weight"), st.integers(0, 100)),
    st.just(("promote",)),
    st.just(("rollback",)),
)


def transition(state: RolloutState, step: tuple[Any, ...]) -> RolloutState:
    if step[0] == "start_canary":
        return start_canary(state, step[1], step[2])
    if step[0] == "shift_weight":
        return shift_weight(state, step[1])
    return promote(state) if step[0] == "promote" else rollback(state)


# --- checks -----------------------------------------------------------------------------------------------


def render_step(routes: list[dict[str, Any]], step: tuple[Any, ...]) -> tuple[list[dict[str, Any]], RolloutState]:
    """parse -> transition -> render, as the verbs do; a refused transition raises CanaryError. The input
    routes are never modified."""
    snapshot = copy.deepcopy(routes)
    parsed = parse_routes(APP, routes)
    desired = transition(parsed.state, step)
    after = render_routes(routes, parsed, desired)
    assert routes == snapshot
    return after, desired


def ours(table: Table) -> set[str]:
    return {*table.primary_names, *table.header_names}


def check_rendered(table: Table, after: list[dict[str, Any]], desired: RolloutState):
    # Unmanaged routes: identical, same relative order; each primary keeps its place among them.
    assert [r for r in after if r.get("name") not in ours(table)] == table.unmanaged
    names = [r.get("name") for r in after]
    with_header = desired.canary is not None and bool(desired.headers)
    for primary, header, before in zip(table.primary_names, table.header_names, table.before_primary):
        assert names.count(primary) == 1
        index = names.index(primary)
        assert sum(1 for r in after[:index] if r.get("name") not in ours(table)) == before
        # The header route exists exactly when the state has one, right before the primary route.
        if with_header:
            assert names.count(header) == 1 and names.index(header) == index - 1
        else:
            assert header not in names
        action = after[index]["routeAction"]
        if desired.weight is not None and desired.canary is not None:
            # Exactly the share asked for; live weights that already give it are kept (3/1 stays 3/1).
            weights = [d["weight"] for d in action["multi"]["destinations"]]
            assert len(weights) == 2 and all(type(w) is int for w in weights) and sum(weights) > 0
        else:
            assert set(action) == {"single"}
    assert [n for n in names if n in table.primary_names] == table.primary_names  # in the table's order
    # Weights: never all zero.
    for route in after:
        destinations = ((route.get("routeAction") or {}).get("multi") or {}).get("destinations")
        if destinations is not None:
            assert sum(d["weight"] for d in destinations) > 0
    # Round trip, no route disagreeing, and a second render of the same state is a no-op.
    parsed = parse_routes(APP, after)
    assert (parsed.state, parsed.disagreements) == (desired, ())
    assert render_routes(after, parsed, desired) == after


def stable_routes_expected(table: Table, primary: str) -> list[dict[str, Any]]:
    stable = []
    for route, name in zip(table.primary_routes, table.primary_names):
        kept = {k: copy.deepcopy(v) for k, v in route.items() if k not in ("name", "routeAction")}
        action = {"single": {"upstream": table.upstream, "subset": {"values": {"version": primary}}}}
        stable.append({"name": name, **kept, "routeAction": action})
    result = list(table.unmanaged)
    for route, before in sorted(zip(stable, table.before_primary), key=lambda p: p[1], reverse=True):
        result.insert(before, route)
    # Several primaries after the same unmanaged routes keep their own order.
    return _in_order(result, table)


def _in_order(routes: list[dict[str, Any]], table: Table) -> list[dict[str, Any]]:
    app = [r for r in routes if r.get("name") in table.primary_names]
    app.sort(key=lambda r: table.primary_names.index(r["name"]))
    ordered = iter(app)
    return [next(ordered) if r.get("name") in table.primary_names else r for r in routes]


# A grid of requests over the app's paths and the unmanaged routes' paths, with and without canary headers.
REQUEST_PATHS = ["/", "/echo", "/echo/foo/x", "/echo/bar", "/api/echo", "/echo-legacy", "/echo/foo-legacy",
                 "/echo/admin", "/health"]
REQUEST_HEADERS: list[dict[str, str]] = [{}, {"stage": "canary"}, {"x-canary": "yes"}, {"stage": "beta"},
                                         {"stage": "canary", "x-user-group": "canary", "cookie": "canary"},
                                         {"X-Beta": "v1", "x-debug": "1"}]
REQUESTS = [Request(p, m, h) for p, m, h in itertools.product(REQUEST_PATHS, ["GET", "POST"], REQUEST_HEADERS)]


def carries(request: Request, headers: tuple[HeaderMatch, ...]) -> bool:
    lowered = {k.lower(): v for k, v in request.headers.items()}
    conditions = [{"name": h.name, "value": h.value, "regex": h.regex, "invertMatch": h.invert_match} for h in headers]
    return all(header_matches(c, lowered) for c in conditions)


def check_requests(table: Table, after: list[dict[str, Any]], desired: RolloutState) -> None:
    """Every request: where it went (not the app's), or where the phase says (the app's, on its own route)."""
    app_routes = [i for i, r in enumerate(table.routes) if _is_app(r)]
    for request in REQUESTS:
        index = first_match(table.routes, request)
        if index not in app_routes:
            assert route_request(after, request) == route_request(table.routes, request), request
            continue
        served = first_match(after, request)
        assert served is not None and after[served].get("name") in ours(table), request
        if desired.canary is not None and desired.headers and carries(request, desired.headers):
            expected = {desired.canary: Fraction(1)}
        else:
            shares = {desired.primary: 100 - (desired.weight or 0), desired.canary: desired.weight or 0}
            expected = {v: Fraction(s) / 100 for v, s in shares.items() if v is not None and s}
        outcome = route_request(after, request)
        got = {json.loads(key)["destination"]["subset"]["values"]["version"]: share
               for key, share in outcome.destinations}
        assert got == expected, request


def _is_app(route: dict[str, Any]) -> bool:
    """A route of the app in a generated table: to upstream echo's version subsets only."""
    action = route.get("routeAction") or {}
    items = [action["single"]] if "single" in action else [
        d["destination"] for d in (action.get("multi") or {}).get("destinations") or []]
    return bool(items) and all((d.get("upstream") or {}).get("name") == APP and "version" in (
        (d.get("subset") or {}).get("values") or {}) for d in items)


# --- properties -------------------------------------------------------------------------------------------


@settings(BASE, max_examples=150)
@given(table=tables())
def test_parse_reads_the_generated_phase(table):
    event(table.shape)
    parsed = parse_routes(APP, table.routes)
    assert (parsed.state, parsed.disagreements) == (table.state, ())
    assert [table.routes[r.primary_index] for r in parsed.routes] == table.primary_routes
    for route in parsed.routes:
        if table.state.headers:
            assert route.header_index is not None
            header_route = table.routes[route.header_index]
            assert header_route["routeAction"]["single"]["subset"]["values"] == {"version": table.state.canary}
        else:
            assert route.header_index is None
    assert (parsed.upstream.name, parsed.upstream.namespace) == (APP, table.upstream["namespace"])


@settings(BASE, max_examples=250)
@given(table=tables(), steps=st.lists(transitions, min_size=1, max_size=6))
def test_any_sequence_of_transitions_keeps_every_property(table, steps):
    event(table.shape)
    routes, model = table.routes, table.state
    for step in steps:
        try:
            expected = transition(model, step)
        except CanaryError:
            with pytest.raises(CanaryError):
                render_step(routes, step)
            continue
        after, desired = render_step(routes, step)
        assert desired == expected
        check_rendered(table, after, desired)
        routes, model = after, desired


@settings(BASE, max_examples=150)
@given(table=tables(adjacent=True), steps=st.lists(transitions, min_size=1, max_size=5))
def test_the_apps_requests_go_where_the_phase_says_on_every_path_and_no_other_request_moves(table, steps):
    event(table.shape)
    routes = table.routes
    for step in steps:
        try:
            routes, desired = render_step(routes, step)
        except CanaryError:
            continue
        check_requests(table, routes, desired)


@settings(BASE, max_examples=150)
@given(table=tables(), steps=st.lists(transitions, max_size=6))
def test_rollback_after_any_sequence_restores_the_stable_routes_exactly(table, steps):
    routes, model = table.routes, table.state
    for step in steps:
        try:
            routes, model = render_step(routes, step)
        except CanaryError:
            continue
    if model.canary is None:
        event("stable at the end: rollback refused")
        with pytest.raises(CanaryError, match="has no canary to abort"):
            render_step(routes, ("rollback",))
        return
    event(f"rollback from {model.phase.value}")
    after, desired = render_step(routes, ("rollback",))
    assert desired == RolloutState(app=APP, primary=model.primary)
    assert after == stable_routes_expected(table, model.primary)


@settings(BASE, max_examples=50)
@given(table=tables(phases=PHASES[1:]), steps=st.lists(transitions, max_size=4))
def test_promote_then_rollback_is_refused(table, steps):
    routes = table.routes
    for step in steps:
        try:
            routes, _ = render_step(routes, step)
        except CanaryError:
            continue
    live = parse_routes(APP, routes).state
    if live.canary is None:
        version = next(v for v in VERSIONS if v != live.primary)
        routes, _ = render_step(routes, ("start_canary", version, (HeaderMatch("stage", "canary"),)))
    canary = parse_routes(APP, routes).state.canary
    promoted, state = render_step(routes, ("promote",))
    assert (state.primary, state.canary) == (canary, None)
    assert not set(table.header_names) & {r.get("name") for r in promoted}
    with pytest.raises(CanaryError, match="has no canary to abort"):
        render_step(promoted, ("rollback",))
    with pytest.raises(CanaryError, match="has no canary to abort"):
        rollback(state)


@settings(BASE, max_examples=50)
@given(table=tables(phases=("header", "weighted"), positions=("after",)), percent=st.integers(0, 100))
def test_a_header_route_after_the_primary_is_moved_right_before_it(table, percent):
    event(table.shape)
    after, _ = render_step(table.routes, ("shift_weight", percent))
    names = [r.get("name") for r in after]
    for primary, header in zip(table.primary_names, table.header_names):
        assert names.index(header) == names.index(primary) - 1


@settings(BASE, max_examples=80)
@given(table=tables(phases=("weighted",), counts=(2, 4)), data=st.data(), percent=st.integers(0, 100))
def test_routes_that_disagree_are_named_and_the_next_command_sets_them_alike(table, data, percent):
    """Some of the routes of a weighted app (not all) get another weight, or lose their header route. The app's
    weight is the one most of its routes have (the first route's among equals); a missing header route is
    always the odd one."""
    count = len(table.primary_routes)
    odd = sorted(data.draw(st.sets(st.integers(0, count - 1), min_size=1, max_size=count - 1)))
    how = data.draw(st.sampled_from(["weight", "header"]))
    event(f"{len(odd)} of {count} routes without the others' {how}")
    routes = copy.deepcopy(table.routes)
    places = [routes.index(p) for p in table.primary_routes]
    named = odd
    if how == "weight":
        odd_weight = (7, 993) if table.state.weight != Fraction(7, 10) else (1, 999)
        for k in odd:
            for item in routes[places[k]]["routeAction"]["multi"]["destinations"]:
                canary = item["destination"]["subset"]["values"]["version"] == table.state.canary
                item["weight"] = odd_weight[0] if canary else odd_weight[1]
        if len(odd) * 2 > count or (len(odd) * 2 == count and 0 in odd):
            named = [k for k in range(count) if k not in odd]
    else:
        for k in odd:  # without a header route, the canary is the second destination (as the plugin writes it)
            routes[places[k]]["routeAction"]["multi"]["destinations"].sort(
                key=lambda item: item["destination"]["subset"]["values"]["version"] == table.state.canary)
        dropped = [routes.index(table.header_routes[k]) for k in odd]
        routes = [r for i, r in enumerate(routes) if i not in dropped]
        places = [place - sum(1 for d in dropped if d < place) for place in places]
    parsed = parse_routes(APP, routes)
    assert len(parsed.disagreements) == len(named)
    for k, problem in zip(named, parsed.disagreements):
        primary = table.primary_routes[k]
        path = primary["matchers"][0]["prefix"]
        label = repr(primary["name"]) if primary.get("name") else f"#{places[k] + 1} (prefix {path})"
        assert problem.startswith(f"route {label} "), (label, problem)
        assert ("has no header route" in problem) == (how == "header")
    assert (parsed.state.primary, parsed.state.canary, parsed.state.headers) == (
        table.state.primary, table.state.canary, table.state.headers)
    after = render_routes(routes, parsed, shift_weight(parsed.state, percent))
    again = parse_routes(APP, after)
    assert (again.disagreements, again.state.weight, again.state.headers) == ((), percent, table.state.headers)


@pytest.mark.parametrize("options", PRIMARY_OPTIONS)
def test_a_new_header_route_gets_the_options_of_the_primary_route(options):
    routes = [
        {
            "name": "echo-primary",
            "matchers": [{"prefix": "/echo"}],
            "options": copy.deepcopy(options),
            "routeAction": {"single": destination(APP, "echo", {"version": "v1"})},
        }
    ]
    after, _ = render_step(routes, ("start_canary", "v2", (HeaderMatch("stage", "canary"),)))
    assert [r["name"] for r in after] == ["echo-canary-header", "echo-primary"]
    assert after[0].get("options") == options
