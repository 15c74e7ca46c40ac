"""An app of several routes on a real cluster, installed the way the seed series' next chart installs it.

The chart's objects (tests/seed_charts.py: a RouteTable with two unnamed routes, `/APP/foo` and `/APP/bar`,
to Upstream APP subset v1; the Upstream with servicePort 8080 and subsets keyed by version; the Service;
Deployment APP-v1) are created with Helm's field manager; the kubelet stand-in makes the pods ready. Then
header, weight, finish and abort: every route moves, in the chart's order, and the real server stores
exactly what the plugin renders; and an HTTPRoute whose app has two rules (one of two matches) among a
team's rule.
"""

from __future__ import annotations

import json

import yaml

from tests.e2e.conftest import Cluster
from tests.seed_charts import chart_deployments, chart_route_table, chart_service, chart_upstream
from tests.unit.test_gloo_several_routes import ABORTED, FINISHED, HEADER, WEIGHTED_30

GATEWAY = "infra/public:http"


def install_chart(cluster: Cluster, namespace: str, app: str) -> None:
    """The chart's objects as `helm install APP` creates them (field manager helm)."""
    values = {"deployment": {"v1": {"replicas": 1}},
              "routing": {"apiGroup": "example", "version": "v1",
                          "routes": [{"prefix": "/{{ .Release.Name }}/foo"}, {"prefix": "/{{ .Release.Name }}/bar"}]}}
    objects = [chart_service(app, namespace), chart_upstream(app, namespace),
               *chart_deployments(values, app, namespace), chart_route_table(values, app, namespace)]
    cluster.kubectl("create", "--field-manager", "helm", "-f", "-", stdin=yaml.safe_dump_all(objects)).ok()


def expected(routes_: list[dict], namespace: str, app: str) -> list[dict]:
    """tests/unit/test_gloo_several_routes.py's routes are app echo's in namespace echo."""
    text = json.dumps(routes_).replace('"namespace": "echo"', f'"namespace": "{namespace}"')
    return json.loads(text.replace('"echo', f'"{app}').replace('"/echo/', f'"/{app}/'))


def test_header_weight_finish_move_every_route_in_the_charts_order(cluster, ns):
    namespace, app = ns, "echo"
    ns_flag = ["-n", namespace]
    install_chart(cluster, namespace, app)
    cluster.wait_rolled_out(namespace, f"{app}-v1")
    refused = cluster.kubectl("canary", "header", app, "v2", *ns_flag)
    assert refused.code == 1 and '"helm"' in refused.err  # the chart's routes are Helm's
    cluster.kubectl("canary", "header", app, "v2", "--force-conflicts", *ns_flag).ok()
    assert cluster.routes(namespace, f"{app}-routes") == expected(HEADER, namespace, app)
    cluster.wait_rolled_out(namespace, f"{app}-v2")
    cluster.kubectl("canary", "weight", app, "30", *ns_flag).ok()
    assert cluster.routes(namespace, f"{app}-routes") == expected(WEIGHTED_30, namespace, app)
    status = json.loads(cluster.kubectl("canary", "status", app, "-o", "json", *ns_flag).out)
    assert (status["phase"], status["canary"]["weight"]) == ("weighted", 30)
    # Only the chart's Upstream port (8080 for a Service on 80) degrades it: no route disagrees.
    assert [p for p in status.get("problems", []) if "servicePort 8080" not in p] == []
    cluster.kubectl("canary", "finish", app, *ns_flag).ok()
    assert cluster.routes(namespace, f"{app}-routes") == expected(FINISHED, namespace, app)
    assert cluster.gone("deployments", namespace, f"{app}-v1")


def test_abort_returns_every_route_and_different_phases_are_refused(cluster, ns):
    namespace, app = ns, "web"
    ns_flag = ["-n", namespace]
    install_chart(cluster, namespace, app)
    cluster.wait_rolled_out(namespace, f"{app}-v1")
    cluster.kubectl("canary", "header", app, "v2", "--force-conflicts", *ns_flag).ok()
    cluster.kubectl("canary", "weight", app, "40", "--force", *ns_flag).ok()
    # One route back to stable by hand: the routes are in two phases, refused before any write.
    mixed = cluster.routes(namespace, f"{app}-routes")
    mixed[3]["routeAction"] = expected(ABORTED, namespace, app)[1]["routeAction"]
    del mixed[2]
    cluster.kubectl("patch", "routetables.gateway.solo.io", f"{app}-routes", *ns_flag, "--type", "merge", "-p",
                    json.dumps({"spec": {"routes": mixed}})).ok()
    before = cluster.resource_version("routetables", namespace, f"{app}-routes")
    refused = cluster.kubectl("canary", "abort", app, "--force-conflicts", *ns_flag)
    assert refused.code == 1 and "its routes are in different phases" in refused.err, refused.err
    assert cluster.resource_version("routetables", namespace, f"{app}-routes") == before
    # The route still weighted goes back on its own, then the app is one again.
    cluster.kubectl("canary", "abort", app, "--route-name", f"{app}-primary-1", "--keep-canary", "--force-conflicts",
                    *ns_flag).ok()
    assert cluster.routes(namespace, f"{app}-routes") == expected(ABORTED, namespace, app)


def test_an_httproute_whose_app_has_several_rules(cluster, ns):
    namespace, app = ns, "gwmany"
    ns_flag = ["-n", namespace]
    cluster.kubectl("canary", "init", app, "--router", "gateway-api", "--gateway", GATEWAY, *ns_flag).ok()
    two = [{"matches": [{"path": {"type": "PathPrefix", "value": f"/{app}/foo"}},
                        {"path": {"type": "Exact", "value": f"/{app}/x"}}],
            "backendRefs": [{"name": f"{app}-v1", "port": 80}]},
           {"name": "team", "matches": [{"path": {"type": "PathPrefix", "value": "/team"}}],
            "backendRefs": [{"name": "team", "port": 80}]},
           {"matches": [{"path": {"type": "PathPrefix", "value": f"/{app}/bar"}, "method": "GET"}],
            "backendRefs": [{"name": f"{app}-v1", "port": 80}]}]
    cluster.kubectl("patch", "httproutes.gateway.networking.k8s.io", app, *ns_flag, "--type", "merge", "-p",
                    json.dumps({"spec": {"rules": two}})).ok()
    cluster.kubectl("canary", "header", app, "v2", "--force-conflicts", *ns_flag).ok()
    cluster.kubectl("canary", "weight", app, "10", "--force", *ns_flag).ok()
    stored = cluster.rules(namespace, app)
    assert [r["name"] for r in stored] == [f"{app}-canary-header-1", f"{app}-primary-1", "team",
                                           f"{app}-canary-header-2", f"{app}-primary-2"]
    assert len(stored[0]["matches"]) == 2  # a header match for each match of the rule
    assert [[(b["name"], b["weight"]) for b in stored[i]["backendRefs"]] for i in (1, 4)] == [
        [(f"{app}-v1", 90), (f"{app}-v2", 10)]] * 2
    again = cluster.kubectl("canary", "weight", app, "10", "--force", *ns_flag).ok()  # server defaults: no false change
    assert "unchanged" in again.out
    cluster.kubectl("canary", "abort", app, "--force", *ns_flag).ok()
    stored = cluster.rules(namespace, app)
    assert [(r["name"], [b["name"] for b in r["backendRefs"]]) for r in stored] == [
        (f"{app}-primary-1", [f"{app}-v1"]), ("team", ["team"]), (f"{app}-primary-2", [f"{app}-v1"])]
