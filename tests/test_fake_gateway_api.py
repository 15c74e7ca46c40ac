"""The fake API server's Gateway API: HTTPRoute, Gateway and ReferenceGrant with the upstream's defaults
and the CEL rules a canary tool can break, and the gateway controller stand-in's route status."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fake_apiserver import ApiError, FakeApiServer
from tests.fake_apiserver.gateway_controller import CONTROLLER_NAME, GatewayController

NS = "echo"


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    with FakeApiServer() as server:
        server.ensure_namespace(NS)
        server.ensure_namespace("infra")
        yield server


def httproute(rules: list[dict[str, Any]], name: str = "echo") -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"parentRefs": [{"name": "gw", "namespace": "infra", "sectionName": "http"}], "rules": rules}}


def rule(*backends: tuple[str, int], matches: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"backendRefs": [{"name": name, "port": 80, "weight": weight}
                                              for name, weight in backends]}
    if matches is not None:
        result["matches"] = matches
    return result


def gateway(from_namespaces: str = "All") -> dict[str, Any]:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "gw", "namespace": "infra"},
            "spec": {"gatewayClassName": "fake",
                     "listeners": [{"name": "http", "port": 80, "protocol": "HTTP",
                                    "allowedRoutes": {"namespaces": {"from": from_namespaces}}}]}}


def service(name: str, namespace: str = NS) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": 8080}]}}


def test_the_server_fills_the_gateway_api_defaults(api: FakeApiServer) -> None:
    created = api.create(httproute([{"backendRefs": [{"name": "echo-v1", "port": 80}],
                                     "matches": [{"headers": [{"name": "stage", "value": "canary"}]}]},
                                    {}]))
    parent = created["spec"]["parentRefs"][0]
    assert (parent["group"], parent["kind"]) == ("gateway.networking.k8s.io", "Gateway")
    first, second = created["spec"]["rules"]
    assert first["backendRefs"] == [{"group": "", "kind": "Service", "name": "echo-v1", "port": 80, "weight": 1}]
    assert first["matches"] == [{"headers": [{"name": "stage", "type": "Exact", "value": "canary"}],
                                 "path": {"type": "PathPrefix", "value": "/"}}]
    assert second["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]


def test_limits_of_the_standard_channel_are_refused(api: FakeApiServer) -> None:
    too_many_rules = [rule(("echo-v1", 1)) for _ in range(17)]
    with pytest.raises(ApiError) as error:
        api.create(httproute(too_many_rules))
    assert error.value.code == 422 and "spec.rules: Too many: 17: must have at most 16 items" in str(error.value)

    matches = [{"path": {"type": "PathPrefix", "value": f"/p{i}"}} for i in range(43)]
    with pytest.raises(ApiError) as error:
        api.create(httproute([rule(("echo-v1", 1), matches=matches) for _ in range(3)]))  # 129 matches
    assert "the total number of matches across all rules in a route must be less than 128" in str(error.value)
    api.create(httproute([rule(("echo-v1", 1), matches=matches[:42]) for _ in range(3)] +
                         [rule(("echo-v1", 1), matches=matches[:2])]))  # 128 is allowed

    with pytest.raises(ApiError) as error:
        api.create(httproute([{"backendRefs": [{"name": "echo-v1"}]}], name="no-port"))
    assert "Must have port for Service reference" in str(error.value)
    with pytest.raises(ApiError) as error:
        api.create(httproute([rule(("echo-v1", 1_000_001))], name="heavy"))
    assert "should be less than or equal to 1000000" in str(error.value)
    mirror = {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": "echo-v2", "port": 80},
                                                         "percent": 10, "fraction": {"numerator": 1}}}
    with pytest.raises(ApiError) as error:
        api.create(httproute([{**rule(("echo-v1", 1)), "filters": [mirror]}], name="mirror"))
    assert "Only one of percent or fraction may be specified" in str(error.value)
    assert [r["metadata"]["name"] for r in api.list("httproutes", NS)] == ["echo"]


def wait_for(predicate: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def live(api: FakeApiServer) -> dict[str, Any]:
    route = api.get("httproutes", NS, "echo")
    assert route is not None
    return route


def conditions(route: dict[str, Any]) -> dict[str, tuple[str, str, int]]:
    parents = (route.get("status") or {}).get("parents") or []
    return {c["type"]: (c["status"], c["reason"], c["observedGeneration"])
            for p in parents for c in p["conditions"]}


def test_the_controller_judges_each_generation(api: FakeApiServer) -> None:
    api.create(gateway())
    api.create(service("echo-v1"))
    with GatewayController(api, delay=0.05):
        api.create(httproute([rule(("echo-v1", 1))]))
        route = wait_for(lambda: live(api).get("status") and live(api))
        assert route["status"]["parents"][0]["controllerName"] == CONTROLLER_NAME
        assert conditions(route) == {"Accepted": ("True", "Accepted", 1), "ResolvedRefs": ("True", "ResolvedRefs", 1)}

        # A change to a Service that does not exist: generation 2, judged with the reason.
        route["spec"]["rules"] = [rule(("echo-v1", 90), ("echo-v2", 10))]
        updated = api.replace({k: v for k, v in route.items() if k != "status"})
        assert updated["metadata"]["generation"] == 2
        judged = wait_for(lambda: conditions(live(api))["ResolvedRefs"][2] == 2 and live(api))
        assert conditions(judged) == {"Accepted": ("True", "Accepted", 2),
                                      "ResolvedRefs": ("False", "BackendNotFound", 2)}
        api.create(service("echo-v2"))
        wait_for(lambda: conditions(live(api))["ResolvedRefs"][0] == "True")
        assert live(api)["metadata"]["generation"] == 2  # status is a subresource


def test_the_controller_reports_listeners_and_grants(api: FakeApiServer) -> None:
    api.create(gateway(from_namespaces="Same"))
    api.create(service("shared", namespace="infra"))
    route = httproute([{"backendRefs": [{"name": "shared", "namespace": "infra", "port": 80}]}])
    api.create(route)
    controller = GatewayController(api)
    controller.reconcile()
    assert conditions(live(api)) == {
        "Accepted": ("False", "NotAllowedByListeners", 1), "ResolvedRefs": ("False", "RefNotPermitted", 1)}
    api.create({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant",
                "metadata": {"name": "from-echo", "namespace": "infra"},
                "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": NS}],
                         "to": [{"group": "", "kind": "Service"}]}})
    controller.reconcile()
    assert conditions(live(api))["ResolvedRefs"] == ("True", "ResolvedRefs", 1)
    version = live(api)["metadata"]["resourceVersion"]
    controller.reconcile()  # nothing changed: nothing written
    assert live(api)["metadata"]["resourceVersion"] == version
