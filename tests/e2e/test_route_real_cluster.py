"""`route` and the status problems it shares, against a real API server: the walkthrough's phases, --after
against what the verb then writes, a shared table whose foreign route takes the canary requests, an HTTPRoute
where precedence decides."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import Cluster, Result

GATEWAY = "infra/public:http"


def route(cluster: Cluster, app: str, namespace: str, *args: str) -> list[str]:
    return cluster.kubectl("canary", "route", app, "-n", namespace, *args).ok().out.splitlines()


def table_of(lines: list[str]) -> list[tuple[str, str]]:
    """(route, goes to) of each row: the columns after MATCH and REQUEST."""
    rows = [line for line in lines[1:] if not line.startswith(("!", "note:"))]
    start = lines[0].index("ROUTE")
    goes = lines[0].index("GOES TO")
    return [(row[start:goes].strip(), row[goes:].strip()) for row in rows]


def test_route_follows_the_walkthrough_and_after_predicts_each_change(cluster, ns):
    namespace, app = ns, "routed"
    ns = ["-n", namespace]
    kubectl = cluster.kubectl
    kubectl("canary", "init", app, *ns).ok()
    assert table_of(route(cluster, app, namespace)) == [(f"{app}-primary", "v1 100%"), (f"{app}-primary", "v1 100%")]
    for step in (["header", "v2"], ["weight", "30", "--force"], ["finish", "--force"]):
        predicted = kubectl("canary", "route", app, *ns, "--after", " ".join(step)).ok()
        assert predicted.err.endswith("computed, nothing written\n")
        kubectl("canary", step[0], app, *step[1:], *ns).ok()
        assert route(cluster, app, namespace) == predicted.out.splitlines(), step
        if step[0] == "weight":
            assert table_of(predicted.out.splitlines()) == [(f"{app}-primary", "v1 70%, v2 30%"),
                                                                (f"{app}-canary-header", "v2 100%")]
    assert table_of(route(cluster, app, namespace)) == [(f"{app}-primary", "v2 100%"), (f"{app}-primary", "v2 100%")]


def test_a_foreign_catch_all_before_the_header_route_degrades_status(cluster, ns):
    namespace, app = ns, "shadowed"
    ns = ["-n", namespace]
    kubectl = cluster.kubectl
    kubectl("canary", "init", app, *ns).ok()
    kubectl("canary", "header", app, "v2", *ns).ok()
    routes = [{"name": "team-b", "matchers": [{"prefix": "/"}],
               "routeAction": {"single": {"upstream": {"name": "team-b", "namespace": namespace}}}},
              *cluster.routes(namespace, f"{app}-routes")]
    kubectl("patch", "routetables.gateway.solo.io", f"{app}-routes", *ns, "--type", "merge",
            "-p", json.dumps({"spec": {"routes": routes}})).ok()
    problem = (f"requests for prefix /{app} with header stage=canary do not reach header route {app}-canary-header: "
               f"route team-b, before it, takes them (e.g. GET /{app}, stage: canary)")
    status = kubectl("canary", "status", app, "-o", "json", *ns)
    assert status.code == 1 and problem in json.loads(status.out)["problems"]
    lines = route(cluster, app, namespace, "--path", f"/{app}/x", "-H", "stage=canary")
    assert lines[:4] == [f"request      GET /{app}/x, stage: canary",
                         f"route        team-b (RouteTable {namespace}/{app}-routes)",
                         "matched by   prefix /",
                         f"goes to      upstream {namespace}/team-b 100%"]


def test_an_httproute_where_precedence_decides(cluster, ns):
    namespace, app = ns, "ranked"
    ns = ["-n", namespace]
    kubectl = cluster.kubectl
    kubectl("canary", "init", app, "--router", "gateway-api", "--gateway", GATEWAY, *ns).ok()
    kubectl("canary", "header", app, "v2", *ns).ok()
    debug = {
        "name": "team-debug",
        "matches": [{"path": {"type": "PathPrefix", "value": f"/{app}"}, "method": "GET",
                     "headers": [{"name": "stage", "value": "canary"}]}],
        "backendRefs": [{"name": "debug", "port": 80}]}
    kubectl("patch", "httproutes.gateway.networking.k8s.io", app, *ns, "--type", "merge",
            "-p", json.dumps({"spec": {"rules": [*cluster.rules(namespace, app), debug]}})).ok()
    status = kubectl("canary", "status", app, "-o", "json", *ns)
    assert status.code == 1
    assert (f"requests for PathPrefix /{app} with header stage=canary do not reach header rule {app}-canary-header: "
            f"rule team-debug outranks it on a method and takes them (e.g. GET /{app}, stage: canary)"
            ) in json.loads(status.out)["problems"]
    get = route(cluster, app, namespace, "-H", "stage=canary")
    assert get[1:4] == [f"route        team-debug (HTTPRoute {namespace}/{app})",
                        f"matched by   PathPrefix /{app}, GET, header stage=canary",
                        "precedence   PathPrefix of 7 characters, a method, 1 header, 0 query parameters"]
    post = route(cluster, app, namespace, "-H", "stage=canary", "--method", "POST")
    assert post[1] == f"route        {app}-canary-header (HTTPRoute {namespace}/{app})"
    assert "             team-debug: method POST is not GET" in post


@pytest.mark.parametrize("verb", [["weight", "40", "--force"], ["abort", "--force"]])
def test_after_on_the_gateway_api_predicts_the_write(cluster, ns, verb):
    namespace, app = ns, f"after-{verb[0]}"
    ns = ["-n", namespace]
    kubectl = cluster.kubectl
    kubectl("canary", "init", app, "--router", "gateway-api", "--gateway", GATEWAY, *ns).ok()
    kubectl("canary", "header", app, "v2", *ns).ok()
    generation = (cluster.get("httproutes", namespace, app) or {})["metadata"]["generation"]
    predicted: Result = kubectl("canary", "route", app, *ns, "--after", " ".join(verb), "-o", "json").ok()
    assert (cluster.get("httproutes", namespace, app) or {})["metadata"]["generation"] == generation
    kubectl("canary", verb[0], app, *verb[1:], *ns).ok()
    assert kubectl("canary", "route", app, *ns, "-o", "json").ok().out == predicted.out
