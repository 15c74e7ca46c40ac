"""Gloo Edge rollout -> the same rollout on the Gateway API (`kubectl canary migrate`)."""

from __future__ import annotations

import copy
from fractions import Fraction
from typing import Any

import pytest
import yaml

from kubectl_canary.model.migration import MigrationError, http_matches, to_gateway_api
from kubectl_canary.routers.gateway_api import GatewayRef, parse_rules
from tests.design_routes import STABLE, phase2

GATEWAY = GatewayRef("infra", "public", "http")
UPSTREAM = {"spec": {"kube": {"serviceName": "echo", "servicePort": 80}}}
SERVICE = {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}


def table(routes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"spec": {"routes": copy.deepcopy(routes)}}


def test_a_weighted_rollout_migrates_in_the_same_phase() -> None:
    routes = phase2(10)
    routes[1]["routeAction"]["multi"]["destinations"][0]["weight"] = 999
    routes[1]["routeAction"]["multi"]["destinations"][1]["weight"] = 1
    migration = to_gateway_api("echo", "echo", table(routes), UPSTREAM, SERVICE, GATEWAY)
    services = [o for o in migration.objects if o["kind"] == "Service"]
    assert [s["metadata"]["name"] for s in services] == ["echo-v1", "echo-v2"]
    assert services[1]["spec"] == {"selector": {"app": "echo", "version": "v2"},
                                   "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    route = migration.objects[-1]
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                            "namespace": "infra", "name": "public", "sectionName": "http"}]
    assert route["spec"]["rules"] == yaml.safe_load("""
- name: echo-canary-header
  matches: [{path: {type: PathPrefix, value: /echo}, headers: [{name: stage, type: Exact, value: canary}]}]
  backendRefs: [{group: "", kind: Service, name: echo-v2, port: 80, weight: 1}]
- name: echo-primary
  matches: [{path: {type: PathPrefix, value: /echo}}]
  backendRefs:
  - {group: "", kind: Service, name: echo-v1, port: 80, weight: 999}
  - {group: "", kind: Service, name: echo-v2, port: 80, weight: 1}
""")
    assert parse_rules("echo", route["spec"]["rules"]).state.weight == Fraction(1, 10)  # exactly 0.1%
    assert migration.warnings == ["Gloo's prefix /echo also matches /echox...; the Gateway API's PathPrefix /echo "
                                  "matches /echo and /echo/... only"]


def test_matchers_translate_field_by_field() -> None:
    matches, _ = http_matches("echo", [{"exact": "/echo/api", "methods": ["GET", "POST"],
                                        "headers": [{"name": "X-Tenant", "value": "a"}],
                                        "queryParameters": [{"name": "v", "value": "[0-9]+", "regex": True}]}])
    base = {"path": {"type": "Exact", "value": "/echo/api"},
            "headers": [{"name": "x-tenant", "type": "Exact", "value": "a"}],
            "queryParams": [{"name": "v", "type": "RegularExpression", "value": "[0-9]+"}]}
    assert matches == [{**base, "method": "GET"}, {**base, "method": "POST"}]


def test_what_the_gateway_api_cannot_express_is_refused() -> None:
    routes = copy.deepcopy(STABLE)
    routes[0]["matchers"][0]["headers"] = [{"name": "x-internal", "invertMatch": True}]
    with pytest.raises(MigrationError, match="by presence or absence"):
        to_gateway_api("echo", "echo", table(routes), UPSTREAM, SERVICE, GATEWAY)


def test_an_app_of_several_routes_migrates_to_a_rule_per_route() -> None:
    from kubectl_canary.request_routing.gateway_api import route_request as gateway_request
    from kubectl_canary.request_routing.gloo import route_request
    from kubectl_canary.request_routing.requests import Request
    from tests.seed_charts import chart_routes

    values = {"routing": {"version": "v1", "canary": {"version": "v2", "weight": 30, "headers": {"stage": "canary"}},
                          "routes": [{"prefix": "/echo/foo/"}, {"prefix": "/echo/bar/"}]}}
    routes = chart_routes(values)
    rules = to_gateway_api("echo", "echo", table(routes), UPSTREAM, SERVICE, GATEWAY).objects[-1]["spec"]["rules"]
    assert [r["name"] for r in rules] == ["echo-canary-header-1", "echo-primary-1", "echo-canary-header-2",
                                          "echo-primary-2"]
    http_route = {"metadata": {"name": "echo", "namespace": "echo"}, "spec": {"rules": rules}}
    for path in ("/echo/foo/x", "/echo/bar/y", "/echo/baz"):
        for headers in ({}, {"stage": "canary"}):
            gloo = route_request(routes, Request(path, headers=headers)).shares()
            gateway = gateway_request([http_route], Request(path, headers=headers)).shares()
            versions = sorted((k.split('"version": "')[1][:2], v) for k, v in gloo.items())
            assert versions == sorted((k.split('"name": "echo-')[1][:2], v) for k, v in gateway.items()), path

    uneven = copy.deepcopy(routes)
    uneven[3]["routeAction"]["multi"]["destinations"][1]["weight"] = 10
    uneven[3]["routeAction"]["multi"]["destinations"][0]["weight"] = 90
    with pytest.raises(MigrationError, match=r"the routes of echo disagree \(route #4 \(prefix /echo/bar/\) sends "
                                             r"10% to v2, the app's other routes 30%\); set them alike first"):
        to_gateway_api("echo", "echo", table(uneven), UPSTREAM, SERVICE, GATEWAY)
