"""Finding one app's routes in a RouteTable shared with others, and adopting them (pure, exact YAML)."""

from __future__ import annotations

import pytest
import yaml

from kubectl_canary.routers.gloo import AmbiguousRoutes, RouteTableError, UnversionedRoute, adopt_routes, parse_routes

TABLE = yaml.safe_load("""
- name: healthz
  matchers: [{exact: /healthz}]
  directResponseAction: {status: 200}
- name: echo
  matchers: [{prefix: /echo}]
  routeAction: {single: {upstream: {name: team-a-echo-80, namespace: gloo-system}}}
- name: cart
  matchers: [{prefix: /cart}]
  routeAction:
    single: {upstream: {name: team-a-cart-80, namespace: gloo-system}, subset: {values: {version: v1}}}
- matchers: [{prefix: /cart/admin}]
  routeAction: {single: {upstream: {name: team-a-cart-80, namespace: gloo-system}}}
""")
CART = ("gloo-system", "team-a-cart-80")
ECHO = ("gloo-system", "team-a-echo-80")


def test_by_upstream_the_route_to_version_subsets_wins_over_one_to_the_bare_upstream():
    parsed = parse_routes("cart", TABLE, upstream=CART, table="team-a")
    assert (parsed.primary_index, parsed.header_index, parsed.state.primary) == (2, None, "v1")


def test_the_upstream_namespace_must_match_when_given():
    with pytest.raises(RouteTableError, match="no route sends traffic to upstream other/team-a-cart-80 "
                                              r"\(the routes send to: gloo-system/team-a-cart-80, "
                                              "gloo-system/team-a-echo-80\\)"):
        parse_routes("cart", TABLE, upstream=("other", "team-a-cart-80"), table="team-a")


def test_by_name_first():
    assert parse_routes("cart", TABLE, route_name="cart", table="team-a").primary_index == 2
    with pytest.raises(RouteTableError, match="no route is named 'carts'"):
        parse_routes("cart", TABLE, route_name="carts", table="team-a")


def test_every_versioned_route_to_the_upstream_is_the_apps_and_route_name_limits_them():
    table = [*TABLE[:3], {**TABLE[2], "name": "cart-2"}]
    parsed = parse_routes("cart", table, upstream=CART, table="team-a")
    assert [(r.primary_index, r.header_index) for r in parsed.routes] == [(2, None), (3, None)]
    assert parsed.state.primary == "v1" and parsed.disagreements == ()
    assert [(r.primary_index, r.header_index) for r in parse_routes(
        "cart", table, route_name="cart-2", upstream=CART, table="team-a").routes] == [(3, None)]
    assert [r.primary_index for r in parse_routes(
        "cart", table, route_names=("cart-2", "cart"), upstream=CART, table="team-a").routes] == [2, 3]


def test_two_bare_routes_to_the_upstream_are_adopted_one_at_a_time():
    table = [*TABLE[:2], {**TABLE[1], "name": "echo-2"}]
    with pytest.raises(AmbiguousRoutes, match=r"\('echo', 'echo-2'\); pick one with --route-name NAME"):
        adopt_routes("echo", table, "v1", upstream=ECHO, table="team-a")
    assert adopt_routes("echo", table, "v1", route_name="echo-2", upstream=ECHO, table="team-a")[1] == 2


def test_a_route_without_subsets_is_read_only_after_adopt():
    with pytest.raises(UnversionedRoute, match="kubectl canary adopt echo v1"):
        parse_routes("echo", TABLE, upstream=ECHO, table="team-a")
    adopted, index = adopt_routes("echo", TABLE, "v1", upstream=ECHO, table="team-a")
    assert index == 1
    assert adopted == [TABLE[0], yaml.safe_load("""
name: echo
matchers: [{prefix: /echo}]
routeAction:
  single: {upstream: {name: team-a-echo-80, namespace: gloo-system}, subset: {values: {version: v1}}}
"""), *TABLE[2:]]
    assert parse_routes("echo", adopted, upstream=ECHO, table="team-a").state.primary == "v1"
    assert adopt_routes("echo", adopted, "v1", upstream=ECHO) == (adopted, 1)  # already adopted: unchanged
