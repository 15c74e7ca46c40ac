"""`migrate`: a Gloo Edge rollout recreated on the Gateway API, Gloo untouched, every request routed alike."""

from __future__ import annotations

import json
from fractions import Fraction

import yaml

from kubectl_canary.request_routing.gateway_api import route_request as gateway_api_route
from kubectl_canary.request_routing.gloo import route_request as gloo_route
from kubectl_canary.request_routing.requests import Request

NS = "echo"
MIGRATE = ("migrate", "echo", "--to", "gateway-api", "--gateway", "infra/public:http")
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def versions_of(outcome, key: str) -> dict[str, Fraction]:
    """{version: share} of a routing outcome (Gloo: subset version; Gateway API: Service echo-VERSION)."""
    shares: dict[str, Fraction] = {}
    for target, share in outcome.destinations:
        decoded = json.loads(target)
        version = (decoded["destination"]["subset"]["values"]["version"] if key == "gloo"
                   else decoded["name"].removeprefix("echo-"))
        shares[version] = shares.get(version, Fraction(0)) + share
    return shares


def weighted_with_shadow(api, canary) -> None:
    assert canary("init", "echo").code == 0
    api.set_deployment_ready(NS, "echo-v1")
    assert canary("header", "echo", "v2", "--header", "x-canary=yes").code == 0
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("weight", "echo", "12.5").code == 0
    assert canary("shadow", "echo", "v2", "--percent", "5").code == 0


def test_migrate_creates_the_same_rollout_and_leaves_gloo_alone(api, gateway, canary):
    weighted_with_shadow(api, canary)
    gloo_before = {kind: api.get(kind, NS, name)["metadata"]["resourceVersion"]
                   for kind, name in (("routetables", "echo-routes"), ("upstreams", "echo"), ("services", "echo"))}

    result = canary(*MIGRATE)
    assert result.code == 0, result.err
    assert result.out.splitlines()[:3] == ["service/echo-v1 created", "service/echo-v2 created",
                                           "httproute.gateway.networking.k8s.io/echo created"]
    assert "Gloo's prefix /echo also matches /echox" in result.err
    assert {kind: api.get(kind, NS, name)["metadata"]["resourceVersion"]
            for kind, name in (("routetables", "echo-routes"), ("upstreams", "echo"), ("services", "echo"))
            } == gloo_before
    route_table = api.get("routetables", NS, "echo-routes")
    httproute = api.get("httproutes", NS, "echo")
    assert httproute["spec"]["rules"] == yaml.safe_load("""
- name: echo-canary-header
  matches: [{path: {type: PathPrefix, value: /echo}, headers: [{name: x-canary, type: Exact, value: "yes"}]}]
  backendRefs: [{group: "", kind: Service, name: echo-v2, port: 80, weight: 1}]
- name: echo-primary
  matches: [{path: {type: PathPrefix, value: /echo}}]
  filters:
  - type: RequestMirror
    requestMirror:
      backendRef: {group: "", kind: Service, name: echo-v2, port: 80}
      percent: 5
  backendRefs:
  - {group: "", kind: Service, name: echo-v1, port: 80, weight: 875}
  - {group: "", kind: Service, name: echo-v2, port: 80, weight: 125}
""")
    # Every request goes to the same versions in the same shares through either gateway.
    for path in ("/echo", "/echo/api", "/other"):
        for headers in ({}, {"x-canary": "yes"}, {"x-canary": "no"}):
            request = Request(path, "GET", headers)
            gloo = gloo_route(route_table["spec"]["routes"], request)
            assert versions_of(gateway_api_route([httproute], request), "gateway-api") == versions_of(gloo, "gloo")

    # Both gateways hold the app now: a command must say which one it drives.
    assert canary("weight", "echo", "50").code == 2
    assert canary("weight", "echo", "50", "--router", "gateway-api").code == 0
    assert api.get("routetables", NS, "echo-routes")["metadata"]["resourceVersion"] == gloo_before["routetables"]
    assert canary(*MIGRATE).code == 1  # the HTTPRoute exists: refuse, never overwrite


def test_a_client_dry_run_prints_and_writes_nothing(api, gateway, canary):
    weighted_with_shadow(api, canary)
    api.clear_requests()
    result = canary(*MIGRATE, "--dry-run=client", "-o", "yaml")
    assert result.code == 0, result.err
    kinds = [document["kind"] for document in yaml.safe_load_all(result.out)]
    assert kinds == ["Service", "Service", "HTTPRoute"]
    assert [r for r in api.requests if r.method in WRITES] == []
    assert api.get("httproutes", NS, "echo") is None


def test_a_missing_deployment_with_traffic_is_refused(api, gateway, canary):
    weighted_with_shadow(api, canary)
    api.delete("deployments", NS, "echo-v2")
    api.clear_requests()
    result = canary(*MIGRATE)
    assert result.code == 1
    assert "deployment echo-v2 not found in namespace echo, but the Gloo routes send traffic to v2" in result.err
    assert [r for r in api.requests if r.method in WRITES] == []
