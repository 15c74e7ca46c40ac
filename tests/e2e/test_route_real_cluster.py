"""`route` and the status problems it shares, against a real API server (see test_real_cluster.py for the
environment): the walkthrough's phases, --after against what the verb then writes, a shared table whose
foreign route takes the canary requests, an HTTPRoute where precedence decides."""

from __future__ import annotations

import json

import pytest

from tests.e2e import test_real_cluster as real

pytestmark = real.pytestmark
namespace = real.namespace  # the fixtures of the real-cluster module: its namespace, its Gateway
gateway_api = real.gateway_api
kubectl = real.kubectl


def route(app: str, namespace: str, *args: str) -> list[str]:
    done = kubectl("canary", "route", app, "-n", namespace, *args)
    return done.stdout.splitlines()


def table_of(lines: list[str]) -> list[tuple[str, str]]:
    """(route, goes to) of each row: the columns after MATCH and REQUEST."""
    rows = [line for line in lines[1:] if not line.startswith(("!", "note:"))]
    start = lines[0].index("ROUTE")
    goes = lines[0].index("GOES TO")
    return [(row[start:goes].strip(), row[goes:].strip()) for row in rows]


def test_route_follows_the_walkthrough_and_after_predicts_each_change(namespace):
    ns, app = ["-n", namespace], "routed"
    kubectl("canary", "init", app, "--create-namespace", *ns)
    assert table_of(route(app, namespace)) == [(f"{app}-primary", "v1 100%"), (f"{app}-primary", "v1 100%")]
    for step in (["header", "v2"], ["weight", "30", "--force"], ["finish", "--force"]):
        predicted = kubectl("canary", "route", app, *ns, "--after", " ".join(step))
        assert predicted.stderr.endswith("computed, nothing written\n")
        kubectl("canary", step[0], app, *step[1:], *ns)
        assert route(app, namespace) == predicted.stdout.splitlines(), step
        if step[0] == "weight":
            assert table_of(predicted.stdout.splitlines()) == [(f"{app}-primary", "v1 70%, v2 30%"),
                                                                (f"{app}-canary-header", "v2 100%")]
    assert table_of(route(app, namespace)) == [(f"{app}-primary", "v2 100%"), (f"{app}-primary", "v2 100%")]


def test_a_foreign_catch_all_before_the_header_route_degrades_status(namespace):
    ns, app = ["-n", namespace], "shadowed"
    kubectl("canary", "init", app, "--create-namespace", *ns)
    kubectl("canary", "header", app, "v2", *ns)
    table = real.get(namespace, "routetables.gateway.solo.io", f"{app}-routes")
    routes = [{"name": "team-b", "matchers": [{"prefix": "/"}],
               "routeAction": {"single": {"upstream": {"name": "team-b", "namespace": namespace}}}},
              *table["spec"]["routes"]]
    kubectl("patch", "routetables.gateway.solo.io", f"{app}-routes", *ns, "--type", "merge",
            "-p", json.dumps({"spec": {"routes": routes}}))
    problem = (f"requests for prefix /{app} with header stage=canary do not reach header route {app}-canary-header: "
               f"route team-b, before it, takes them (e.g. GET /{app}, stage: canary)")
    status = kubectl("canary", "status", app, "-o", "json", *ns, check=False)
    assert status.returncode == 1 and problem in json.loads(status.stdout)["problems"]
    lines = route(app, namespace, "--path", f"/{app}/x", "-H", "stage=canary")
    assert lines[:4] == [f"request      GET /{app}/x, stage: canary",
                         f"route        team-b (RouteTable {namespace}/{app}-routes)",
                         "matched by   prefix /",
                         f"goes to      upstream {namespace}/team-b 100%"]


def test_an_httproute_where_precedence_decides(namespace, gateway_api):
    ns, app = ["-n", namespace], "ranked"
    kubectl("canary", "init", app, "--router", "gateway-api", "--gateway", gateway_api, *ns)
    kubectl("canary", "header", app, "v2", *ns)
    debug = {
        "name": "team-debug",
        "matches": [{"path": {"type": "PathPrefix", "value": f"/{app}"}, "method": "GET",
                     "headers": [{"name": "stage", "value": "canary"}]}],
        "backendRefs": [{"name": "debug", "port": 80}]}
    kubectl("patch", "httproutes.gateway.networking.k8s.io", app, *ns, "--type", "merge",
            "-p", json.dumps({"spec": {"rules": [*real.rules(namespace, app), debug]}}))
    status = kubectl("canary", "status", app, "-o", "json", *ns, check=False)
    assert status.returncode == 1
    assert (f"requests for PathPrefix /{app} with header stage=canary do not reach header rule {app}-canary-header: "
            f"rule team-debug outranks it on a method and takes them (e.g. GET /{app}, stage: canary)"
            ) in json.loads(status.stdout)["problems"]
    get = route(app, namespace, "-H", "stage=canary")
    assert get[1:4] == [f"route        team-debug (HTTPRoute {namespace}/{app})",
                        f"matched by   PathPrefix /{app}, GET, header stage=canary",
                        "precedence   PathPrefix of 7 characters, a method, 1 header, 0 query parameters"]
    post = route(app, namespace, "-H", "stage=canary", "--method", "POST")
    assert post[1] == f"route        {app}-canary-header (HTTPRoute {namespace}/{app})"
    assert "             team-debug: method POST is not GET" in post


@pytest.mark.parametrize("verb", [["weight", "40", "--force"], ["abort", "--force"]])
def test_after_on_the_gateway_api_predicts_the_write(namespace, gateway_api, verb):
    ns, app = ["-n", namespace], f"after-{verb[0]}"
    kubectl("canary", "init", app, "--router", "gateway-api", "--gateway", gateway_api, *ns)
    kubectl("canary", "header", app, "v2", *ns)
    generation = real.get(namespace, "httproutes.gateway.networking.k8s.io", app)["metadata"]["generation"]
    predicted = kubectl("canary", "route", app, *ns, "--after", " ".join(verb), "-o", "json")
    assert real.get(namespace, "httproutes.gateway.networking.k8s.io", app)["metadata"]["generation"] == generation
    kubectl("canary", verb[0], app, *verb[1:], *ns)
    assert kubectl("canary", "route", app, *ns, "-o", "json").stdout == predicted.stdout
