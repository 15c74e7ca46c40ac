"""An app of several routes on Gloo (pure, exact YAML): the RouteTable the seed series' next chart renders for
two prefixes, every phase moving both routes, and tables whose routes disagree."""

from __future__ import annotations

import copy
from fractions import Fraction

import pytest
import yaml

from kubectl_canary.model.rollout import (
    DEFAULT_HEADER,
    HeaderMatch,
    Phase,
    promote,
    rollback,
    shift_weight,
    start_canary,
)
from kubectl_canary.routers.gloo import RouteTableError, parse_routes, render_routes
from tests.seed_charts import chart_routes

CHART_VALUES = yaml.safe_load("""
routing:
  apiGroup: example
  version: v1
  routes:
    - prefix: "/{{ .Release.Name }}/foo"
    - prefix: "/{{ .Release.Name }}/bar"
""")
CHART_STABLE = chart_routes(CHART_VALUES)
V1 = "{upstream: {name: echo, namespace: echo}, subset: {values: {version: v1}}}"
V2 = "{upstream: {name: echo, namespace: echo}, subset: {values: {version: v2}}}"
HEADER = yaml.safe_load(f"""
- name: echo-canary-header-1
  matchers: [{{prefix: /echo/foo, headers: [{{name: stage, value: canary}}]}}]
  routeAction: {{single: {V2}}}
- name: echo-primary-1
  matchers: [{{prefix: /echo/foo}}]
  routeAction: {{single: {V1}}}
- name: echo-canary-header-2
  matchers: [{{prefix: /echo/bar, headers: [{{name: stage, value: canary}}]}}]
  routeAction: {{single: {V2}}}
- name: echo-primary-2
  matchers: [{{prefix: /echo/bar}}]
  routeAction: {{single: {V1}}}
""")
WEIGHTED_30 = yaml.safe_load(f"""
- name: echo-canary-header-1
  matchers: [{{prefix: /echo/foo, headers: [{{name: stage, value: canary}}]}}]
  routeAction: {{single: {V2}}}
- name: echo-primary-1
  matchers: [{{prefix: /echo/foo}}]
  routeAction: {{multi: {{destinations: [{{destination: {V1}, weight: 70}}, {{destination: {V2}, weight: 30}}]}}}}
- name: echo-canary-header-2
  matchers: [{{prefix: /echo/bar, headers: [{{name: stage, value: canary}}]}}]
  routeAction: {{single: {V2}}}
- name: echo-primary-2
  matchers: [{{prefix: /echo/bar}}]
  routeAction: {{multi: {{destinations: [{{destination: {V1}, weight: 70}}, {{destination: {V2}, weight: 30}}]}}}}
""")
FINISHED = yaml.safe_load(f"""
- name: echo-primary-1
  matchers: [{{prefix: /echo/foo}}]
  routeAction: {{single: {V2}}}
- name: echo-primary-2
  matchers: [{{prefix: /echo/bar}}]
  routeAction: {{single: {V2}}}
""")
ABORTED = yaml.safe_load(f"""
- name: echo-primary-1
  matchers: [{{prefix: /echo/foo}}]
  routeAction: {{single: {V1}}}
- name: echo-primary-2
  matchers: [{{prefix: /echo/bar}}]
  routeAction: {{single: {V1}}}
""")
ADMIN = {"name": "admin", "matchers": [{"prefix": "/echo/admin"}], "directResponseAction": {"status": 403}}


def step(routes: list[dict], transition, **flags) -> list[dict]:
    parsed = parse_routes("echo", routes, **flags)
    return render_routes(routes, parsed, transition(parsed.state))


def test_the_charts_table_is_an_app_of_two_routes():
    expected = yaml.safe_load(f"""
- matchers: [{{prefix: /echo/foo}}]
  routeAction: {{single: {V1}}}
- matchers: [{{prefix: /echo/bar}}]
  routeAction: {{single: {V1}}}
""")
    assert chart_routes(CHART_VALUES) == expected
    parsed = parse_routes("echo", CHART_STABLE)
    assert (parsed.state.phase, parsed.state.primary, parsed.disagreements) == (Phase.STABLE, "v1", ())
    assert [(r.primary_index, r.header_index) for r in parsed.routes] == [(0, None), (1, None)]


def test_every_phase_moves_both_routes_in_the_charts_order():
    header = step(CHART_STABLE, lambda s: start_canary(s, "v2", (DEFAULT_HEADER,)))
    assert header == HEADER
    weighted = step(header, lambda s: shift_weight(s, 30))
    assert weighted == WEIGHTED_30
    assert step(weighted, promote) == FINISHED
    assert step(weighted, rollback) == ABORTED
    assert step(header, rollback) == ABORTED
    assert step(weighted, lambda s: shift_weight(s, 30)) == WEIGHTED_30  # already there: unchanged


def test_the_charts_own_canary_phase_is_read_and_taken_over():
    values = copy.deepcopy(CHART_VALUES)
    values["routing"]["canary"] = {"version": "v2", "weight": 30, "headers": {"stage": "canary"}}
    rendered = chart_routes(values)
    state = parse_routes("echo", rendered).state
    assert (state.primary, state.canary, state.weight, state.headers) == ("v1", "v2", Fraction(30), (DEFAULT_HEADER,))
    # The chart writes the header before the prefix in its matcher; the plugin's order is the primary's.
    assert step(rendered, lambda s: shift_weight(s, 30)) == WEIGHTED_30


def test_one_route_keeps_todays_names():
    one = chart_routes({"routing": {"version": "v1", "routes": [{"prefix": "/echo"}]}})
    assert [r["name"] for r in step(one, lambda s: start_canary(s, "v2", (DEFAULT_HEADER,)))] == [
        "echo-canary-header", "echo-primary"]


def test_named_routes_keep_their_names_and_other_routes_stay_where_they_are():
    routes = [{"name": "foo", **CHART_STABLE[0]}, ADMIN, CHART_STABLE[1]]
    result = step(routes, lambda s: start_canary(s, "v2", (HeaderMatch("x-canary", "yes"),)))
    assert [r.get("name") for r in result] == [
        "foo-canary-header", "foo", "admin", "echo-canary-header-2", "echo-primary-2"]
    assert result[2] is routes[1]
    again = step(result, lambda s: shift_weight(s, 10))
    assert [r.get("name") for r in again] == [r.get("name") for r in result]


def test_route_name_limits_a_command_to_those_routes():
    routes = [{"name": "foo", **CHART_STABLE[0]}, {"name": "bar", **CHART_STABLE[1]}, ADMIN]
    result = step(routes, lambda s: start_canary(s, "v2", (DEFAULT_HEADER,)), route_name="bar")
    assert [r.get("name") for r in result] == ["foo", "echo-canary-header", "bar", "admin"]
    both = step(routes, lambda s: start_canary(s, "v2", (DEFAULT_HEADER,)), route_names=("bar", "foo"))
    assert [r.get("name") for r in both] == ["foo-canary-header", "foo", "bar-canary-header", "bar", "admin"]
    with pytest.raises(RouteTableError, match="route 'foo-canary-header' is a header route"):
        parse_routes("echo", both, route_name="foo-canary-header")


def test_routes_that_disagree_are_one_degraded_app_and_the_next_command_sets_them_alike():
    uneven = copy.deepcopy(WEIGHTED_30)
    uneven[3]["routeAction"]["multi"]["destinations"][0]["weight"] = 90
    uneven[3]["routeAction"]["multi"]["destinations"][1]["weight"] = 10
    parsed = parse_routes("echo", uneven)
    assert (parsed.state.weight, parsed.disagreements) == (
        Fraction(30), ("route 'echo-primary-2' sends 10% to v2, the app's other routes 30%",))
    assert [s.weight for s in parsed.route_states] == [30, 10]
    assert step(uneven, lambda s: shift_weight(s, 30)) == WEIGHTED_30

    without_header = [r for r in WEIGHTED_30 if r["name"] != "echo-canary-header-1"]
    parsed = parse_routes("echo", without_header)
    assert (parsed.state.headers, parsed.disagreements) == ((DEFAULT_HEADER,), (
        "route 'echo-primary-1' has no header route (the app's other routes send stage=canary to v2)",))
    assert step(without_header, lambda s: shift_weight(s, 30)) == WEIGHTED_30


@pytest.mark.parametrize("routes, message", [
    ([*HEADER[:2], FINISHED[1]],
     r"its routes are on different primaries: 'echo-primary-1' on v1, 'echo-primary-2' on v2"),
    ([*HEADER[:2], ABORTED[1]],
     r"its routes are in different phases: 'echo-primary-1' on v1, header stage=canary to v2; "
     r"'echo-primary-2' stable on v1"),
    ([*WEIGHTED_30[:2], *HEADER[2:]],
     r"its routes are in different phases: 'echo-primary-1' v1 70% / v2 30%, header stage=canary; "
     r"'echo-primary-2' on v1, header stage=canary to v2"),
])
def test_routes_in_different_phases_or_on_different_primaries_are_refused(routes, message):
    with pytest.raises(RouteTableError, match=rf"^cannot read the routes of echo in RouteTable echo-routes: {message}"):
        parse_routes("echo", routes)


def test_a_header_route_without_its_primary_route_is_refused():
    with pytest.raises(RouteTableError, match=r"header route 'echo-canary-header-2' has no primary route of its own"):
        parse_routes("echo", [*HEADER[:3], ADMIN])
