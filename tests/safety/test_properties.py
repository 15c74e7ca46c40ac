"""Properties of parse_routes / render_routes over generated RouteTables (hypothesis).

A generated table holds the app's own routes (named `echo-primary` / `echo-canary-header`, or the seed
Helm chart's unnamed shapes: single or two-way weighted to upstream `echo`, the header route before the
primary route or after it) in any phase (stable; header with 1..2 headers; weighted, with or without a
header route, with any weights not all zero, destinations in either order) among 0..6 unmanaged routes
before, between and after them (random names or none; prefix, exact and regex matchers; direct
responses, redirects, delegation and routes to other upstreams; options; named and, next to named routes
of ours, unnamed routes to upstream `echo` that only look like ours). Random sequences of transitions
(start_canary, shift_weight, promote, rollback) then go through parse -> transition -> render.

Properties, after every step: unmanaged routes are kept identical and in the same relative order, the
primary route keeps its place among them and the input is not mutated; no multi route has all-zero
weights and ours has two integer weights giving exactly the share asked for; the header route exists
exactly when the state has a canary and headers, and immediately precedes the primary route;
parse(render(x)) is the state that was rendered; rendering the same state again changes nothing.
Rollback from any canary phase reached by any sequence gives exactly the stable routes (the named
primary with `single` to the primary version, its own matchers and options, no header route) among the
unmanaged routes; promote then rollback is refused.

Examples per run (max_examples): 150 + 250 + 150 + 50 + 50 = 650 generated cases (about 5 s), plus the
example-based check that a new header route gets the primary route's options (a bug these tests found).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kubectl_canary.errors import CanaryError
from kubectl_canary.model.rollout import HeaderMatch, RolloutState, promote, rollback, shift_weight, start_canary
from kubectl_canary.routers.gloo import parse_routes, render_routes

APP = "echo"
PRIMARY = "echo-primary"
HEADER = "echo-canary-header"
MANAGED = (PRIMARY, HEADER)
VERSIONS = ("v1", "v2", "v3", "blue", "green-2")

# No deadline: the machine is shared, and a slow example is not a failing one.
BASE = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

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
    # Upstream echo, but not to a `version` subset, or not only to echo: not a rollout route.
    {"routeAction": {"single": destination(APP, "echo")}},
    {"routeAction": {"single": destination(APP, "echo", {"color": "blue"})}},
    weighted((destination(APP, "echo", {"version": "v1"}), 1), (destination("other", "apps", {"version": "v1"}), 1)),
]
# Exactly the shapes of our routes: only where the parser must ignore them (named, or next to named ones).
ECHO_SHAPED_ACTIONS: list[dict[str, Any]] = [
    *({"routeAction": {"single": destination(APP, "echo", {"version": v})}} for v in ("v1", "v2", "v9")),
    weighted((destination(APP, "echo", {"version": "v1"}), 50), (destination(APP, "echo", {"version": "v2"}), 50)),
]
FOREIGN_OPTIONS = [None, {"timeout": "5s"}, {"prefixRewrite": "/"}, {"retries": {"retryOn": "5xx", "numRetries": 2}}]
# Never exactly ours; some close to them.
FOREIGN_NAMES = [None, None, None, "admin", "health", "legacy", "echo", "echo-debug", "echo-primary-old", "a-1"]

matcher_lists = st.lists(st.sampled_from(FOREIGN_MATCHERS), min_size=1, max_size=2)


@st.composite
def foreign_routes(draw, ours_named: bool) -> dict[str, Any]:
    name = draw(st.sampled_from(FOREIGN_NAMES))
    route: dict[str, Any] = {} if name is None else {"name": name}
    route["matchers"] = copy.deepcopy(draw(matcher_lists))
    # The parser ignores named routes, and every unnamed one when ours carry names.
    may_look_like_ours = name is not None or ours_named
    route.update(copy.deepcopy(draw(st.sampled_from(FOREIGN_ACTIONS + ECHO_SHAPED_ACTIONS * may_look_like_ours))))
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
    before_primary: int  # unmanaged routes before the primary route
    primary_route: dict[str, Any]
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


@st.composite
def tables(draw, phases: tuple[str, ...] = PHASES, positions: tuple[str, ...] = ("before", "after")) -> Table:
    """A RouteTable with our routes in one of `phases`, the header route (if any) `positions` the primary."""
    named = draw(st.booleans())
    primary, canary = draw(st.sampled_from(VERSION_PAIRS))
    phase = draw(st.sampled_from(phases))
    upstream = {"name": APP, "namespace": draw(st.sampled_from(["echo", "apps"]))}
    prefix = draw(st.sampled_from(["/echo", "/echo/", "/api/echo"]))

    def dest(version: str) -> dict[str, Any]:
        return {"upstream": dict(upstream), "subset": {"values": {"version": version}}}

    primary_route: dict[str, Any] = {"name": PRIMARY} if named else {}
    primary_route["matchers"] = [{"prefix": prefix}, *draw(st.sampled_from([[], [{"exact": "/echo-legacy"}]]))]
    if phase in ("stable", "header"):
        primary_route["routeAction"] = {"single": dest(primary)}
        weight = None
    else:
        weights = draw(
            st.one_of(
                st.integers(0, 100).map(lambda w: (100 - w, w)),  # as we write them
                st.tuples(st.integers(0, 1000), st.integers(1, 1000)),  # as someone else might (a share)
                st.tuples(st.integers(1, 1000), st.just(0)),
            )
        )
        destinations = [
            {"destination": dest(primary), "weight": weights[0]},
            {"destination": dest(canary), "weight": weights[1]},
        ]
        # Without a header route the second destination is the canary; with one, either order works.
        if phase == "weighted" and draw(st.booleans()):
            destinations.reverse()
        primary_route["routeAction"] = {"multi": {"destinations": destinations}}
        weight = Fraction(100 * weights[1], sum(weights))
    options = draw(st.sampled_from([None, *PRIMARY_OPTIONS]))
    if options is not None:
        primary_route["options"] = copy.deepcopy(options)

    headers: tuple[HeaderMatch, ...] = ()
    ours = [primary_route]
    position = "none"
    if phase in ("header", "weighted"):
        headers = draw(header_sets())
        header_route: dict[str, Any] = {"name": HEADER} if named else {}
        header_dicts = [header_dict(h) for h in headers]
        header_route["matchers"] = [{**m, "headers": copy.deepcopy(header_dicts)} for m in primary_route["matchers"]]
        header_route["routeAction"] = {"single": dest(canary)}
        if draw(st.booleans()):
            header_route["options"] = {"timeout": "1s"}
        position = draw(st.sampled_from(positions))
        ours = [header_route, primary_route] if position == "before" else [primary_route, header_route]

    unmanaged = draw(st.lists(foreign_routes(named), max_size=6))
    first = draw(st.integers(0, len(unmanaged)))
    second = draw(st.integers(first, len(unmanaged)))
    if len(ours) == 1:
        routes = [*unmanaged[:first], primary_route, *unmanaged[first:]]
        before_primary = first
    else:
        routes = [*unmanaged[:first], ours[0], *unmanaged[first:second], ours[1], *unmanaged[second:]]
        before_primary = first if position == "after" else second
    state = RolloutState(
        app=APP,
        primary=primary,
        canary=None if phase == "stable" else canary,
        weight=weight,
        headers=headers,
    )
    shape = f"{'named' if named else 'seed'} {phase}" + (f", header route {position}" if len(ours) == 2 else "")
    return Table(copy.deepcopy(routes), unmanaged, before_primary, primary_route, upstream, state, shape)


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


def check_rendered(table: Table, after: list[dict[str, Any]], desired: RolloutState):
    # Unmanaged routes: identical, same relative order; the primary keeps its place among them.
    assert [r for r in after if r.get("name") not in MANAGED] == table.unmanaged
    names = [r.get("name") for r in after]
    assert names.count(PRIMARY) == 1
    primary_index = names.index(PRIMARY)
    assert sum(1 for r in after[:primary_index] if r.get("name") not in MANAGED) == table.before_primary
    # The header route exists exactly when the state has one, right before the primary route.
    if desired.canary is not None and desired.headers:
        assert names.count(HEADER) == 1
        assert names.index(HEADER) == primary_index - 1
    else:
        assert HEADER not in names
    # Weights: never all zero; ours are two integers summing to 100.
    for route in after:
        destinations = ((route.get("routeAction") or {}).get("multi") or {}).get("destinations")
        if destinations is not None:
            assert sum(d["weight"] for d in destinations) > 0
    action = after[primary_index]["routeAction"]
    if desired.weight is not None and desired.canary is not None:
        # Exactly the share asked for; live weights that already give it are kept (3/1 stays 3/1).
        weights = [d["weight"] for d in action["multi"]["destinations"]]
        assert len(weights) == 2 and all(type(w) is int for w in weights) and sum(weights) > 0
    else:
        assert set(action) == {"single"}
    # Round trip, and a second render of the same state is a no-op (so re-running writes nothing).
    parsed = parse_routes(APP, after)
    assert parsed.state == desired
    assert render_routes(after, parsed, desired) == after


def stable_routes_expected(table: Table, primary: str) -> list[dict[str, Any]]:
    route = {k: copy.deepcopy(v) for k, v in table.primary_route.items() if k not in ("name", "routeAction")}
    subset = {"values": {"version": primary}}
    route = {"name": PRIMARY, **route, "routeAction": {"single": {"upstream": table.upstream, "subset": subset}}}
    k = table.before_primary
    return [*table.unmanaged[:k], route, *table.unmanaged[k:]]


# --- properties -------------------------------------------------------------------------------------------


@settings(BASE, max_examples=150)
@given(table=tables())
def test_parse_reads_the_generated_phase(table):
    event(table.shape)
    parsed = parse_routes(APP, table.routes)
    assert parsed.state == table.state
    assert table.routes[parsed.primary_index] == table.primary_route
    if table.state.headers:
        assert parsed.header_index is not None
        header_route = table.routes[parsed.header_index]
        assert header_route["routeAction"]["single"]["subset"]["values"] == {"version": table.state.canary}
    else:
        assert parsed.header_index is None
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
    assert [r.get("name") for r in promoted].count(HEADER) == 0
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
    assert names.index(HEADER) == names.index(PRIMARY) - 1




@pytest.mark.parametrize("options", PRIMARY_OPTIONS)
def test_a_new_header_route_gets_the_options_of_the_primary_route(options):
    routes = [
        {
            "name": PRIMARY,
            "matchers": [{"prefix": "/echo"}],
            "options": copy.deepcopy(options),
            "routeAction": {"single": destination(APP, "echo", {"version": "v1"})},
        }
    ]
    after, _ = render_step(routes, ("start_canary", "v2", (HeaderMatch("stage", "canary"),)))
    assert [r["name"] for r in after] == [HEADER, PRIMARY]
    assert after[0].get("options") == options
