"""An app of several routes, installed as the seed series' next chart installs it (two prefixes, unnamed routes
to Upstream echo subset v1): every command moves every route, status reads one phase, and routes that
disagree degrade it; the exact objects on the fake API server."""

from __future__ import annotations

import copy
import json

import pytest

from tests.seed_charts import chart_deployments, chart_route_table, chart_service, chart_upstream
from tests.unit.test_gloo_several_routes import ABORTED, FINISHED, HEADER, WEIGHTED_30

NS = "echo"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
VALUES = {"deployment": {"v1": {"replicas": 1}},
          "routing": {"apiGroup": "example", "version": "v1",
                      "routes": [{"prefix": "/{{ .Release.Name }}/foo"}, {"prefix": "/{{ .Release.Name }}/bar"}]}}


@pytest.fixture
def chart(api) -> None:
    """The chart's objects, written by hand (no field manager owns the routes)."""
    for obj in [chart_service(), chart_upstream(), *chart_deployments(VALUES), chart_route_table(VALUES)]:
        api.create(obj, manager=None)
    api.set_deployment_ready(NS, "echo-v1")


def routes(api) -> list[dict]:
    return api.get("routetables", NS, "echo-routes")["spec"]["routes"]


def edit(api, new_routes: list[dict]) -> None:
    """The table with other routes, as if written by hand long ago (no field manager owns them)."""
    table = api.get("routetables", NS, "echo-routes")
    api.delete("routetables", NS, "echo-routes")
    api.create({**{k: table[k] for k in ("apiVersion", "kind")}, "spec": {"routes": new_routes},
                "metadata": {k: table["metadata"][k] for k in ("name", "namespace", "labels", "annotations")
                             if k in table["metadata"]}}, manager=None)


def writes(api) -> list:
    return [r for r in api.requests if r.method in WRITES]


def test_every_command_moves_every_route_in_the_charts_order(api, chart, canary):
    header = canary("header", "echo", "v2")
    assert header.code == 0, header.err
    assert routes(api) == HEADER
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("weight", "echo", "30").code == 0
    assert routes(api) == WEIGHTED_30
    status = canary("status", "echo", "-o", "json")
    item = json.loads(status.out)
    assert (item["phase"], item["canary"]["weight"], item["canary"]["header"]) == (
        "weighted", 30, {"name": "stage", "value": "canary"})
    # The chart's Upstream has servicePort 8080 for a Service on port 80: that, and only that, degrades it.
    assert [p for p in item["problems"] if "servicePort" not in p and "port 8080" not in p] == []
    finished = canary("finish", "echo")
    assert finished.code == 0, finished.err
    assert routes(api) == FINISHED
    assert api.get("deployments", NS, "echo-v1") is None


def test_abort_returns_every_route_to_the_primary(api, chart, canary):
    assert canary("header", "echo", "v2").code == 0
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("weight", "echo", "30").code == 0
    aborted = canary("abort", "echo")
    assert aborted.code == 0, aborted.err
    assert routes(api) == ABORTED
    assert api.get("deployments", NS, "echo-v2") is None


def test_status_names_the_routes_that_disagree_and_the_next_command_sets_them_alike(api, chart, canary):
    assert canary("header", "echo", "v2").code == 0
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("weight", "echo", "30").code == 0
    edited = copy.deepcopy(routes(api))
    edited[3]["routeAction"]["multi"]["destinations"][0]["weight"] = 90
    edited[3]["routeAction"]["multi"]["destinations"][1]["weight"] = 10
    del edited[0]  # and the first route loses its header route
    edit(api, edited)
    status = canary("status", "echo")
    assert status.code == 1
    lines = status.out.splitlines()
    assert lines[1].split()[:7] == ["echo", "weighted", "v1", "(1/1)", "v2", "(1/1)", "30%"]
    assert [line for line in lines if line.startswith("! ") and "8080" not in line] == [
        "! echo: route 'echo-primary-1' has no header route (the app's other routes send stage=canary to v2)",
        "! echo: route 'echo-primary-2' sends 10% to v2, the app's other routes 30%",
        # ... and what that means for requests (app_requests.py), path by path:
        "! echo: canary v2 gets a different share on each of echo's paths: 30% for prefix /echo/foo (route "
        "echo-primary-1), 10% for prefix /echo/bar (route echo-primary-2)",
        "! echo: requests with header stage=canary reach canary v2 on some of echo's paths only: 30% for prefix "
        "/echo/foo (route echo-primary-1), 100% for prefix /echo/bar (route echo-canary-header-2)",
    ]
    assert canary("weight", "echo", "30").code == 0
    assert routes(api) == WEIGHTED_30


def test_routes_in_different_phases_are_refused_before_any_write(api, chart, canary):
    assert canary("header", "echo", "v2").code == 0
    edit(api, [*HEADER[:2], ABORTED[1]])
    api.clear_requests()
    result = canary("weight", "echo", "10", "--force")
    assert (result.code, result.out) == (1, "")
    assert result.err == (
        "error: cannot read the routes of echo in RouteTable echo-routes: its routes are in different phases: "
        "'echo-primary-1' on v1, header stage=canary to v2; 'echo-primary-2' stable on v1; fix the RouteTable by "
        "hand (kubectl edit routetable echo-routes)\n")
    assert writes(api) == []
    # --route-name limits a command to those routes: each can be brought back on its own.
    aborted = canary("abort", "echo", "--route-name", "echo-primary-1", "--keep-canary")
    assert aborted.code == 0, aborted.err
    assert routes(api) == ABORTED


def test_route_name_given_several_times_is_recorded_and_limits_later_commands(api, chart, canary):
    chart_routes = routes(api)
    edit(api, [{"name": "foo", **chart_routes[0]}, {"name": "bar", **chart_routes[1]},
               {"name": "baz", **copy.deepcopy(chart_routes[1]), "matchers": [{"prefix": "/echo/baz"}]}])
    result = canary("header", "echo", "v2", "--route-name", "foo", "--route-name", "baz")
    assert result.code == 0, result.err
    assert [r["name"] for r in routes(api)] == ["foo-canary-header", "foo", "bar", "baz-canary-header", "baz"]
    record = json.loads(api.get("routetables", NS, "echo-routes")["metadata"]["annotations"]["kubectl-canary.io/apps"])
    assert record == {"echo": {"routeNames": ["foo", "baz"]}}
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("weight", "echo", "50").code == 0
    assert "multi" not in routes(api)[2]["routeAction"]  # bar is not one of them: it stays on v1
    assert "multi" in routes(api)[4]["routeAction"]
