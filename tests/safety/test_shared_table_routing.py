"""A RouteTable shared by three apps and foreign routes: commands on one app never move another's requests.

Generated tables: the app `cart`'s primary route (tests/safety/test_routing.py's shapes), named `cart` or
unnamed, sending to the discovered Upstream gloo-system/team-a-cart-80; the routes of two other apps
(echo, search: version subsets of their own discovered Upstreams, one of them on the same path prefix
with a header condition) and 0..4 foreign routes, in any order. Commands on cart are found as the
verbs find them (by --upstream; after the first render by name). For every request of the grid, after
every step: a request cart's route did not match first goes exactly where it went; the other apps'
routes and the foreign routes are the same objects, in the same order.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_canary.errors import CanaryError
from kubectl_canary.request_routing.gloo import first_match, route_request
from kubectl_canary.routers.gloo import parse_routes, render_routes
from tests.safety.test_properties import foreign_routes
from tests.safety.test_routing import BASE, CANARY_HEADERS, REQUESTS, VERSIONS, commands, primary_routes, transition

UPSTREAM = ("gloo-system", "team-a-cart-80")


def other_app(name: str, prefix: str, headers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    matcher: dict[str, Any] = {"prefix": prefix, **({"headers": headers} if headers else {})}
    destination = {"upstream": {"name": f"team-a-{name}-80", "namespace": "gloo-system"},
                   "subset": {"values": {"version": "v1"}}}
    return {"name": name, "matchers": [matcher], "routeAction": {"single": destination}}


OTHER_APPS = [other_app("echo", "/echo"), other_app("search", "/", [{"name": "x-search"}])]


def cart_route(route: dict[str, Any], named: bool) -> dict[str, Any]:
    route = copy.deepcopy(route)
    route.pop("name")
    action = route["routeAction"]
    destination = action["single"] if "single" in action else action["multi"]["destinations"][0]["destination"]
    destination["upstream"] = {"name": UPSTREAM[1], "namespace": UPSTREAM[0]}
    return {"name": "cart", **route} if named else route


def theirs(routes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every route that is not cart's (cart's carry its names or send to its upstream)."""
    names = ("cart", "cart-primary", "cart-canary-header")
    return [r for r in routes if r.get("name") not in names and UPSTREAM[1] not in json.dumps(r)]


@settings(BASE, max_examples=150)
@given(
    primary=primary_routes(),
    named=st.booleans(),
    foreign=st.lists(foreign_routes(), max_size=4),
    order=st.randoms(use_true_random=False),
    start=st.tuples(st.just("header"), st.sampled_from(VERSIONS), st.sampled_from(CANARY_HEADERS)),
    sequence=st.lists(commands, max_size=5),
)
def test_commands_on_one_app_leave_every_other_request_where_it_went(primary, named, foreign, order, start,
                                                                     sequence):
    cart = cart_route(primary, named)
    before = [*OTHER_APPS, *foreign, cart]
    order.shuffle(before)
    routes = copy.deepcopy(before)
    cart_index = before.index(cart)
    for command in [start, *sequence]:
        parsed = parse_routes("cart", routes, upstream=UPSTREAM, table="team-a")
        try:
            desired = transition(parsed.state, command)
        except CanaryError:
            continue
        routes = render_routes(routes, parsed, desired)
        assert theirs(routes) == theirs(before)
        for request in REQUESTS:
            if first_match(before, request) != cart_index:
                assert route_request(routes, request) == route_request(before, request), request
