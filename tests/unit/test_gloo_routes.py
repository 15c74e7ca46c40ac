"""parse_routes / render_routes against the exact routes of docs/design.md section 2 (app echo)."""

from __future__ import annotations

import copy
from fractions import Fraction

import pytest

from kubectl_canary.model.rollout import (
    DEFAULT_HEADER,
    HeaderMatch,
    Phase,
    promote,
    rollback,
    shift_weight,
    start_canary,
)
from kubectl_canary.routers.gloo import (
    RouteTableError,
    UpstreamRef,
    gloo_state,
    parse_routes,
    render_routes,
    stable_routes,
)
from tests.design_routes import FINISHED, PHASE1, STABLE, named, phase2


def step(routes: list[dict], transition) -> list[dict]:
    parsed = parse_routes("echo", routes)
    return render_routes(routes, parsed, transition(parsed.state))


FOREIGN_BEFORE = {"name": "admin", "matchers": [{"prefix": "/echo/admin"}], "directResponseAction": {"status": 403}}
FOREIGN_AFTER = {"matchers": [{"exact": "/health"}], "routeAction": {"single": {"upstream": {"name": "health"}}}}


class TestParse:
    def test_stable(self):
        state = parse_routes("echo", STABLE).state
        assert (state.phase, state.primary, state.canary, state.weight) == (Phase.STABLE, "v1", None, None)

    def test_phase1(self):
        state = parse_routes("echo", PHASE1).state
        assert (state.phase, state.primary, state.canary) == (Phase.HEADER, "v1", "v2")
        assert state.headers == (HeaderMatch("stage", "canary"),)

    @pytest.mark.parametrize("n", [0, 1, 50, 99, 100])
    def test_phase2(self, n):
        state = parse_routes("echo", phase2(n)).state
        assert (state.phase, state.primary, state.canary, state.weight) == (Phase.WEIGHTED, "v1", "v2", n)

    def test_finished(self):
        state = parse_routes("echo", FINISHED).state
        assert (state.phase, state.primary) == (Phase.STABLE, "v2")

    def test_weighted_without_header_route_takes_second_destination_as_canary(self):
        state = parse_routes("echo", phase2(30)[1:]).state
        assert (state.primary, state.canary, state.weight, state.headers) == ("v1", "v2", Fraction(30), ())

    def test_canary_is_the_header_version_whatever_the_destination_order(self):
        routes = phase2(30)
        routes[1]["routeAction"]["multi"]["destinations"].reverse()
        state = parse_routes("echo", routes).state
        assert (state.primary, state.canary, state.weight) == ("v1", "v2", Fraction(30))

    def test_weights_not_summing_to_100_are_read_as_a_share(self):
        routes = phase2(50)
        for d, w in zip(routes[1]["routeAction"]["multi"]["destinations"], (3, 1)):
            d["weight"] = w
        assert parse_routes("echo", routes).state.weight == 25

    def test_named_routes_are_found_among_foreign_routes(self):
        routes = [FOREIGN_BEFORE, *named(PHASE1), FOREIGN_AFTER]
        parsed = parse_routes("echo", routes)
        assert (parsed.header_index, parsed.primary_index) == (1, 2)
        assert parsed.upstream == UpstreamRef("echo", "echo")

    @pytest.mark.parametrize(
        ("routes", "message"),
        [
            ([], "no route sends traffic to upstream echo"),
            ([FOREIGN_AFTER], "no route sends traffic to upstream echo"),
            ([*STABLE, *FINISHED], r"on different primaries: #1 \(prefix /echo\) on v1, #2 \(prefix /echo\) on v2"),
        ],
    )
    def test_unreadable(self, routes, message):
        with pytest.raises(RouteTableError, match=message):
            parse_routes("echo", routes)

    def test_all_zero_weights_are_refused(self):
        routes = phase2(0)
        routes[1]["routeAction"]["multi"]["destinations"][0]["weight"] = 0
        with pytest.raises(RouteTableError, match="all weights are zero"):
            parse_routes("echo", routes)

    def test_header_route_to_a_third_version_is_refused(self):
        routes = phase2(10)
        routes[0]["routeAction"]["single"]["subset"]["values"]["version"] = "v3"
        with pytest.raises(RouteTableError, match="header route goes to v3"):
            parse_routes("echo", routes)

    def test_error_says_what_to_do(self):
        with pytest.raises(RouteTableError, match=r"kubectl edit routetable echo-routes"):
            parse_routes("echo", [])


class TestRender:
    def test_init_routes_are_design_stable_routes_named(self):
        assert stable_routes("echo", "v1", UpstreamRef("echo", "echo"), "/echo") == named(STABLE)

    def test_header_phase_from_stable(self):
        assert step(STABLE, lambda s: start_canary(s, "v2", (DEFAULT_HEADER,))) == named(PHASE1)

    @pytest.mark.parametrize("n", [0, 10, 50, 100])
    def test_weight_from_header_phase(self, n):
        assert step(PHASE1, lambda s: shift_weight(s, n)) == named(phase2(n))

    def test_weight_changes_only_the_weights(self):
        assert step(named(phase2(10)), lambda s: shift_weight(s, 60)) == named(phase2(60))

    @pytest.mark.parametrize("start", [PHASE1, phase2(40)])
    def test_finish(self, start):
        assert step(start, promote) == named(FINISHED)

    @pytest.mark.parametrize("start", [PHASE1, phase2(40), phase2(100)])
    def test_abort(self, start):
        assert step(start, rollback) == named(STABLE)

    def test_other_header_replaces_the_header(self):
        routes = step(PHASE1, lambda s: start_canary(s, "v2", (HeaderMatch("x-canary", "yes"),)))
        assert routes[0]["matchers"] == [{"prefix": "/echo", "headers": [{"name": "x-canary", "value": "yes"}]}]

    def test_foreign_routes_are_kept_in_order_and_untouched(self):
        routes = [FOREIGN_BEFORE, *STABLE, FOREIGN_AFTER]
        snapshot = copy.deepcopy(routes)
        result = step(routes, lambda s: start_canary(s, "v2", (DEFAULT_HEADER,)))
        assert result == [FOREIGN_BEFORE, *named(PHASE1), FOREIGN_AFTER]
        assert routes == snapshot  # the input is not mutated

    def test_header_route_behind_the_catch_all_is_moved_before_it(self):
        routes = [PHASE1[1], FOREIGN_AFTER, PHASE1[0]]
        result = step(routes, lambda s: shift_weight(s, 20))
        assert [r.get("name") for r in result] == ["echo-canary-header", "echo-primary", None]

    def test_route_options_on_our_routes_survive(self):
        routes = named(PHASE1)
        routes[1]["options"] = {"timeout": "5s"}
        routes[0]["options"] = {"retries": {"numRetries": 2}}
        result = step(routes, lambda s: shift_weight(s, 30))
        assert result[1]["options"] == {"timeout": "5s"}
        assert result[0]["options"] == {"retries": {"numRetries": 2}}

    def test_seed_upstream_namespace_is_kept(self):
        routes = copy.deepcopy(STABLE)
        routes[0]["routeAction"]["single"]["upstream"]["namespace"] = "gloo-system"
        result = step(routes, lambda s: start_canary(s, "v2", (DEFAULT_HEADER,)))
        assert result[0]["routeAction"]["single"]["upstream"] == {"name": "echo", "namespace": "gloo-system"}

    def test_unchanged_when_already_there(self):
        routes = named(phase2(50))
        assert step(routes, lambda s: shift_weight(s, 50)) == routes


class TestGlooState:
    @pytest.mark.parametrize(
        ("statuses", "expected"),
        [
            ({}, (None, "")),
            ({"gloo-system": {"state": "Accepted"}}, ("Accepted", "")),
            ({"gloo-system": {"state": 2, "reason": "bad route"}}, ("Rejected", "bad route")),
            ({"a": {"state": "Accepted"}, "b": {"state": "Warning", "reason": "w"}}, ("Warning", "w")),
        ],
    )
    def test_worst_state(self, statuses, expected):
        assert gloo_state({"status": {"statuses": statuses}}) == expected


def test_a_new_header_route_copies_the_primary_options_but_not_its_shadowing():
    routes = named(STABLE)
    routes[0]["options"] = {"timeout": "5s", "shadowing": {"upstream": {"name": "x"}, "percentage": 5}}
    result = step(routes, lambda s: start_canary(s, "v2", (DEFAULT_HEADER,)))
    assert result[0]["options"] == {"timeout": "5s"}
    assert result[1]["options"] == routes[0]["options"]
