"""Gateway API rules <-> rollout state, with exact YAML for every phase."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest
import yaml

from kubectl_canary.model.rollout import (
    DEFAULT_HEADER,
    HeaderMatch,
    RolloutState,
    promote,
    rollback,
    shift_weight,
    start_canary,
)
from kubectl_canary.model.rollout import start_shadow as shadow_on
from kubectl_canary.routers.gateway_api import (
    HTTPRouteError,
    parse_rules,
    render_rules,
    route_verdict,
    stable_rules,
)
from tests.gateway_api_routes import FINISHED, HEADER, STABLE, WEIGHTED_10

FOREIGN = {"name": "other", "matches": [{"path": {"type": "PathPrefix", "value": "/other"}}],
           "backendRefs": [{"group": "", "kind": "Service", "name": "other", "port": 8080, "weight": 1}]}


def step(rules: list[dict[str, Any]], transition: Callable[[RolloutState], RolloutState]) -> list[dict[str, Any]]:
    parsed = parse_rules("echo", rules)
    return render_rules(rules, parsed, transition(parsed.state))


def test_init_renders_the_stable_rule() -> None:
    assert stable_rules("echo", "v1", "/echo") == STABLE


def test_every_phase_renders_exactly() -> None:
    header = step(STABLE, lambda s: start_canary(s, "v2", (DEFAULT_HEADER,)))
    assert header == HEADER
    weighted = step(header, lambda s: shift_weight(s, 10))
    assert weighted == WEIGHTED_10
    assert step(weighted, promote) == FINISHED
    assert step(weighted, rollback) == STABLE
    assert parse_rules("echo", weighted).state.weight == 10


def test_foreign_rules_are_kept_in_order() -> None:
    rules = [FOREIGN, *STABLE, {**FOREIGN, "name": "last"}]
    header = step(rules, lambda s: start_canary(s, "v2", (DEFAULT_HEADER,)))
    assert header == [FOREIGN, *HEADER, {**FOREIGN, "name": "last"}]


def test_an_unchanged_split_keeps_the_live_weights() -> None:
    rules = yaml.safe_load(yaml.safe_dump(WEIGHTED_10))
    rules[1]["backendRefs"][0]["weight"], rules[1]["backendRefs"][1]["weight"] = 999, 1
    state = parse_rules("echo", rules).state
    assert state.weight == Fraction(1, 10)  # 0.1%, not 0
    again = step(rules, lambda s: start_canary(s, "v2", (HeaderMatch("stage", "beta"),)))
    assert again[1]["backendRefs"] == rules[1]["backendRefs"]
    assert again[0]["matches"][0]["headers"] == [{"name": "stage", "type": "Exact", "value": "beta"}]
    assert step(rules, lambda s: shift_weight(s, Fraction(25, 2)))[1]["backendRefs"][1]["weight"] == 125


def test_only_narrow_and_only_the_version_changes() -> None:
    primary = yaml.safe_load("""
name: echo-primary
matches:
- path: {type: Exact, value: /echo/api}
  method: POST
  headers: [{name: x-tenant, type: Exact, value: a}]
  queryParams: [{name: debug, type: Exact, value: "1"}]
filters: [{type: RequestHeaderModifier, requestHeaderModifier: {set: [{name: x-from, value: gw}]}}]
backendRefs: [{group: "", kind: Service, name: echo-v1, namespace: apps, port: 8080, weight: 1}]
timeouts: {request: 10s}
""")
    header_rule, rendered_primary = step([primary], lambda s: start_canary(s, "v2", (DEFAULT_HEADER,)))
    assert rendered_primary == primary
    assert header_rule == {
        "name": "echo-canary-header",
        "matches": [{**primary["matches"][0], "headers": [{"name": "x-tenant", "type": "Exact", "value": "a"},
                                                          {"name": "stage", "type": "Exact", "value": "canary"}]}],
        "filters": primary["filters"],
        "timeouts": {"request": "10s"},
        "backendRefs": [{"group": "", "kind": "Service", "name": "echo-v2", "namespace": "apps", "port": 8080,
                         "weight": 1}],
    }
    assert parse_rules("echo", [header_rule, rendered_primary]).state.headers == (DEFAULT_HEADER,)


def test_a_header_rule_that_would_outrank_another_rule_is_refused() -> None:
    # Another team's rule for /echo requests with x-debug: 1 outranks the primary (one header > none);
    # the header rule (one header, listed first) would take its requests that carry stage: canary.
    debug = {"name": "debug", "matches": [{"path": {"type": "PathPrefix", "value": "/echo"},
                                           "headers": [{"name": "x-debug", "type": "Exact", "value": "1"}]}],
             "backendRefs": [{"group": "", "kind": "Service", "name": "debugger", "port": 80, "weight": 1}]}
    with pytest.raises(HTTPRouteError, match="would outrank rule debug of HTTPRoute echo"):
        step([*STABLE, debug], lambda s: start_canary(s, "v2", (DEFAULT_HEADER,)))
    # A rule that no canary request can match (another tenant) is no obstacle.
    tenant_b = {**debug, "matches": [{"path": {"type": "PathPrefix", "value": "/echo"},
                                      "headers": [{"name": "stage", "type": "Exact", "value": "beta"}]}]}
    assert step([*STABLE, tenant_b], lambda s: start_canary(s, "v2", (DEFAULT_HEADER,)))[-1] == tenant_b


def test_the_api_servers_limits_are_checked_before_writing() -> None:
    full = [*STABLE] + [{**FOREIGN, "name": f"r{i}"} for i in range(15)]
    with pytest.raises(HTTPRouteError, match="would have 17 rules, more than the Gateway API's 16"):
        step(full, lambda s: start_canary(s, "v2", (DEFAULT_HEADER,)))
    many = [{"path": {"type": "PathPrefix", "value": f"/echo/{i}"}} for i in range(64)]
    primary = {**STABLE[0], "matches": many}
    with pytest.raises(HTTPRouteError, match="would have 129 matches in all"):
        step([primary, {**FOREIGN, "matches": many[:1]}], lambda s: start_canary(s, "v2", (DEFAULT_HEADER,)))


def test_a_header_without_a_value_is_refused() -> None:
    with pytest.raises(HTTPRouteError, match="matches a header by its value only"):
        step(STABLE, lambda s: start_canary(s, "v2", (HeaderMatch("x-canary"),)))


def test_shadowing_is_a_request_mirror_filter() -> None:
    mirrored = step(WEIGHTED_10, lambda s: shadow_on(s, "v3", 12.5))
    assert mirrored[1]["filters"] == [{"type": "RequestMirror", "requestMirror": {
        "backendRef": {"group": "", "kind": "Service", "name": "echo-v3", "port": 80},
        "fraction": {"numerator": 12500, "denominator": 100_000}}}]
    state = parse_rules("echo", mirrored).state
    assert (state.shadow.version, state.shadow.percent) == ("v3", 12.5)
    assert step(mirrored, rollback) == STABLE


def test_unreadable_rules_name_the_fix() -> None:
    zero = yaml.safe_load(yaml.safe_dump(WEIGHTED_10))
    for ref in zero[1]["backendRefs"]:
        ref["weight"] = 0
    with pytest.raises(HTTPRouteError, match="all weights are zero"):
        parse_rules("echo", zero)
    with pytest.raises(HTTPRouteError, match="kubectl edit httproute echo"):
        parse_rules("echo", [FOREIGN])


def test_the_verdict_knows_whether_the_change_was_processed() -> None:
    def route(generation: int, *conditions: tuple[str, str, str, int]) -> dict[str, Any]:
        return {"metadata": {"generation": generation}, "status": {"parents": [{
            "parentRef": {"name": "gw"}, "controllerName": "x",
            "conditions": [{"type": t, "status": s, "reason": r, "message": "m", "observedGeneration": g}
                           for t, s, r, g in conditions]}]}}
    ok = route(2, ("Accepted", "True", "Accepted", 2), ("ResolvedRefs", "True", "ResolvedRefs", 2))
    assert route_verdict(ok) == route_verdict(ok).__class__("Accepted", "", True)
    stale = route(3, ("Accepted", "True", "Accepted", 2), ("ResolvedRefs", "True", "ResolvedRefs", 2))
    assert (route_verdict(stale).state, route_verdict(stale).processed) == ("Pending", False)
    missing = route(2, ("Accepted", "True", "Accepted", 2), ("ResolvedRefs", "False", "BackendNotFound", 2))
    assert route_verdict(missing).state == "Degraded" and "BackendNotFound" in route_verdict(missing).reason
    assert route_verdict({"metadata": {"generation": 1}}).state == "Pending"


def test_parents_as_status_wide_shows_them():
    from kubectl_canary.routers.gateway_api import parents

    route = {"metadata": {"name": "echo", "namespace": "shop"}, "spec": {"parentRefs": [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra", "name": "public",
         "sectionName": "http"},
        {"name": "internal", "port": 8080},
        {"group": "", "kind": "Service", "name": "echo"},
    ]}}
    assert parents(route) == ("infra/public:http", "shop/internal port 8080", "Service/shop/echo")
    assert parents({"metadata": {"namespace": "shop"}, "spec": {}}) == ()
