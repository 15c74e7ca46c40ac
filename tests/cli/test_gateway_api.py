"""The four phases on the Gateway API router, end to end against the fake API server and its gateway
controller stand-in: the exact HTTPRoute rules and Services on the server after each command."""

from __future__ import annotations

import copy
import json

import pytest

from tests.gateway_api_routes import FINISHED, HEADER, STABLE, WEIGHTED_10

NS = "echo"
INIT = ("init", "echo", "--router", "gateway-api", "--gateway", "infra/public:http")
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def rules(api) -> list[dict]:
    return api.get("httproutes", NS, "echo")["spec"]["rules"]


def service_selector(api, name: str) -> dict | None:
    service = api.get("services", NS, name)
    return None if service is None else service["spec"]["selector"]


def test_init_creates_the_deployment_its_service_and_the_httproute(api, gateway, canary):
    result = canary(*INIT)
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        "deployment.apps/echo-v1 created",
        "service/echo-v1 created",
        "httproute.gateway.networking.k8s.io/echo created",
    ]
    route = api.get("httproutes", NS, "echo")
    assert route["spec"]["parentRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra", "name": "public",
         "sectionName": "http"}]
    assert route["spec"]["rules"] == STABLE
    assert api.get("services", NS, "echo-v1")["spec"] == {
        "selector": {"app": "echo", "version": "v1"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    assert api.get("routetables", NS, "echo-routes") is None and api.get("upstreams", NS, "echo") is None
    again = canary(*INIT)
    assert again.code == 0 and "already initialised" in again.out


def test_four_phases(api, gateway, canary):
    assert canary(*INIT).code == 0
    api.set_deployment_ready(NS, "echo-v1")

    header = canary("header", "echo", "v2")
    assert header.code == 0, header.err
    assert rules(api) == HEADER
    assert service_selector(api, "echo-v2") == {"app": "echo", "version": "v2"}

    refused = canary("weight", "echo", "10")  # v2 is not available yet: nothing moves
    assert refused.code == 1 and "echo-v2 has 0/1 ready replicas" in refused.err
    assert rules(api) == HEADER

    api.set_deployment_ready(NS, "echo-v2")
    weighted = canary("weight", "echo", "10", "--gloo-timeout", "5s")  # waits for the gateway's verdict
    assert weighted.code == 0, weighted.err
    assert rules(api) == WEIGHTED_10
    status = json.loads(canary("status", "echo", "-o", "json").out)
    assert status["router"] == "gateway-api"
    assert status["route"] == {"kind": "HTTPRoute", "name": "echo", "state": "Accepted"}
    assert status["canary"]["weight"] == 10

    finished = canary("finish", "echo")
    assert finished.code == 0, finished.err
    assert rules(api) == FINISHED
    assert api.get("deployments", NS, "echo-v1") is None
    assert api.get("services", NS, "echo-v1") is None  # no rule names it any more
    assert service_selector(api, "echo-v2") == {"app": "echo", "version": "v2"}
    assert canary("finish", "echo").code == 0  # converged: says so


def test_abort_returns_to_the_primary_and_retires_the_canary(api, gateway, canary):
    assert canary(*INIT).code == 0
    api.set_deployment_ready(NS, "echo-v1")
    assert canary("header", "echo", "v2").code == 0
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("weight", "echo", "10").code == 0
    result = canary("abort", "echo")
    assert result.code == 0, result.err
    assert rules(api) == STABLE
    assert api.get("deployments", NS, "echo-v2") is None and api.get("services", NS, "echo-v2") is None


def test_a_header_rule_that_would_widen_is_refused_before_any_write(api, gateway, canary):
    assert canary(*INIT).code == 0
    api.set_deployment_ready(NS, "echo-v1")
    route = api.get("httproutes", NS, "echo")
    debug = {"name": "debug", "matches": [{"path": {"type": "PathPrefix", "value": "/echo"},
                                           "headers": [{"name": "x-debug", "type": "Exact", "value": "1"}]}],
             "backendRefs": [{"group": "", "kind": "Service", "name": "debugger", "port": 80, "weight": 1}]}
    route["spec"]["rules"] = [*route["spec"]["rules"], debug]
    api.replace({k: v for k, v in route.items() if k != "status"})
    before = copy.deepcopy(api.get("httproutes", NS, "echo"))
    api.clear_requests()

    result = canary("header", "echo", "v2")
    assert result.code == 1
    assert result.err == (
        "error: the canary header rule of echo would outrank rule debug of HTTPRoute echo, which serves some "
        "requests carrying the canary header today; choose another --header, or give that rule more specific "
        "matches\n")
    assert [r for r in api.requests if r.method in WRITES] == []
    assert api.get("httproutes", NS, "echo")["spec"] == before["spec"]
    # Disjoint from x-debug: 1, so allowed (the rule was added by another manager: take the routes over).
    assert canary("header", "echo", "v2", "--header", "x-debug=2", "--force-conflicts").code == 0


def test_an_app_on_both_gateways_asks_which(api, gateway, canary):
    assert canary("init", "echo").code == 0  # Gloo
    assert canary(*INIT).code == 0  # refused quietly: the app exists (on Gloo)
    assert api.get("httproutes", NS, "echo") is None
    api.create({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": {"name": "echo", "namespace": NS},
                "spec": {"parentRefs": [{"name": "public", "namespace": "infra"}], "rules": copy.deepcopy(STABLE)}})
    result = canary("weight", "echo", "10")
    assert result.code == 2
    assert result.err == ("error: app echo has routes on two gateways (RouteTable echo-routes and HTTPRoute echo); "
                          "choose which to change with --router gloo|gateway-api\n")
    assert canary("status", "echo", "--router", "gateway-api", "-o", "json").code in (0, 1)


@pytest.mark.parametrize("command", [("header", "echo", "v2"), ("weight", "echo", "10"), ("status", "echo")])
def test_without_the_gateway_api_crds_gloo_apps_work_and_gateway_api_is_named(api, canary, command):
    from tests.fake_apiserver import Fault

    assert canary("init", "echo").code == 0
    api.inject_fault(Fault.status(404, reason="NotFound", message="the server could not find the requested resource"),
                     path_contains="/apis/gateway.networking.k8s.io/", times=100)
    assert canary(*command).code in (0, 1)  # the Gloo app is found; a missing Gateway API is no error
    refused = canary(*INIT, "--dry-run=server")
    assert refused.code == 1
    assert refused.err.startswith("error: the API server does not serve httproutes.gateway.networking.k8s.io")


def test_the_rule_limit_is_refused_before_any_write(api, gateway, canary):
    assert canary(*INIT).code == 0
    api.set_deployment_ready(NS, "echo-v1")
    route = api.get("httproutes", NS, "echo")
    filler = [{"name": f"r{i}", "matches": [{"path": {"type": "PathPrefix", "value": f"/x{i}"}}],
               "backendRefs": [{"name": "other", "port": 80}]} for i in range(15)]
    route["spec"]["rules"] = [*route["spec"]["rules"], *filler]
    api.replace({k: v for k, v in route.items() if k != "status"}, manager="kubectl-canary")
    api.clear_requests()
    result = canary("header", "echo", "v2")
    assert result.code == 1
    assert result.err == ("error: HTTPRoute echo would have 17 rules, more than the Gateway API's 16: move other "
                          "rules to another HTTPRoute first\n")
    assert [r for r in api.requests if r.method in WRITES] == []
    assert api.get("deployments", NS, "echo-v2") is None


def test_a_failed_gate_returns_all_traffic_to_the_primary(api, gateway, canary):
    assert canary(*INIT).code == 0
    api.set_deployment_ready(NS, "echo-v1")
    assert canary("header", "echo", "v2").code == 0
    api.set_deployment_ready(NS, "echo-v2")
    result = canary("weight", "echo", "100", "--steps", "10,50", "--interval", "0", "--check", "exit 3")
    assert result.code == 1
    assert "all traffic is back on v1; deployment echo-v2 is kept for inspection" in result.err
    assert rules(api) == STABLE
    # Kept for inspection, and reachable: its Service stays until the leftover goes with an abort.
    assert api.get("deployments", NS, "echo-v2") is not None and api.get("services", NS, "echo-v2") is not None
    assert canary("abort", "echo").code == 0
    assert api.get("deployments", NS, "echo-v2") is None and api.get("services", NS, "echo-v2") is None
