"""An app of several routes on a real cluster, installed the way the seed series' next chart installs it.

Runs like tests/e2e/test_real_cluster.py (KUBECTL_CANARY_E2E_KUBECONFIG, KUBECTL_CANARY_E2E_CRDS), in a namespace
of its own. The chart's objects (tests/seed_charts.py: a RouteTable with two unnamed routes, `/APP/foo` and
`/APP/bar`, to Upstream APP subset v1; the Upstream with servicePort 8080 and subsets keyed by version; the
Service; Deployment APP-v1) are created with Helm's field manager; the test plays the kubelet to make the
pods ready when the cluster has none, as ../shared/k8s/README.md describes. Then header, weight, finish and
abort: every route moves, in the chart's order, and the real server stores exactly what the plugin renders; and an
HTTPRoute whose app has two rules (one of two matches) among a team's rule.
"""

from __future__ import annotations

import json
import uuid

import pytest
import yaml

from tests.e2e.test_real_cluster import GLOO_CRDS, KUBECONFIG, get, kubectl, routes, wait_ready
from tests.seed_charts import chart_deployments, chart_route_table, chart_service, chart_upstream
from tests.unit.test_gloo_several_routes import ABORTED, FINISHED, HEADER, WEIGHTED_30

pytestmark = pytest.mark.skipif(not KUBECONFIG, reason="KUBECTL_CANARY_E2E_KUBECONFIG is not set")


@pytest.fixture(scope="module")
def namespace():
    from tests.e2e import test_real_cluster

    if test_real_cluster.CRDS:
        kubectl("apply", "--server-side", "--force-conflicts", "-R", "-f", test_real_cluster.CRDS)
    for name in GLOO_CRDS:
        kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
    name = f"kubectl-canary-e2e-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def install_chart(namespace: str, app: str) -> None:
    """The chart's objects as `helm install APP` creates them (field manager helm)."""
    values = {"deployment": {"v1": {"replicas": 1}},
              "routing": {"apiGroup": "example", "version": "v1",
                          "routes": [{"prefix": "/{{ .Release.Name }}/foo"}, {"prefix": "/{{ .Release.Name }}/bar"}]}}
    objects = [chart_service(app, namespace), chart_upstream(app, namespace),
               *chart_deployments(values, app, namespace), chart_route_table(values, app, namespace)]
    kubectl("create", "--field-manager", "helm", "-f", "-", stdin=yaml.safe_dump_all(objects))


def make_ready(namespace: str, app: str, version: str) -> None:
    """Play the kubelet: the Deployment's pods Running and Ready, unless a real kubelet made them so."""
    if wait_ready(namespace, f"{app}-{version}", 5):
        return
    pods = kubectl("get", "pods", "-n", namespace, "-l", f"app={app},version={version}", "-o", "name").stdout.split()
    for pod in pods:
        kubectl("patch", pod, "-n", namespace, "--subresource=status", "--type=merge", "-p",
                json.dumps({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}))
    kubectl("wait", "--for=condition=Available", "--timeout=60s", f"deployment/{app}-{version}", "-n", namespace)


def expected(routes_: list[dict], namespace: str, app: str) -> list[dict]:
    """tests/unit/test_gloo_several_routes.py's routes are app echo's in namespace echo."""
    text = json.dumps(routes_).replace('"namespace": "echo"', f'"namespace": "{namespace}"')
    return json.loads(text.replace('"echo', f'"{app}').replace('"/echo/', f'"/{app}/'))


def test_header_weight_finish_move_every_route_in_the_charts_order(namespace):
    ns, app = ["-n", namespace], "echo"
    install_chart(namespace, app)
    make_ready(namespace, app, "v1")
    refused = kubectl("canary", "header", app, "v2", *ns, check=False)
    assert refused.returncode == 1 and '"helm"' in refused.stderr  # the chart's routes are Helm's
    kubectl("canary", "header", app, "v2", "--force-conflicts", *ns)
    assert routes(namespace, app) == expected(HEADER, namespace, app)
    make_ready(namespace, app, "v2")
    kubectl("canary", "weight", app, "30", *ns)
    assert routes(namespace, app) == expected(WEIGHTED_30, namespace, app)
    status = json.loads(kubectl("canary", "status", app, "-o", "json", *ns, check=False).stdout)
    assert (status["phase"], status["canary"]["weight"]) == ("weighted", 30)
    # Only the chart's Upstream port (8080 for a Service on 80) degrades it: no route disagrees.
    assert [p for p in status.get("problems", []) if "servicePort 8080" not in p] == []
    kubectl("canary", "finish", app, *ns)
    assert routes(namespace, app) == expected(FINISHED, namespace, app)
    deployment = get(namespace, "deployment", f"{app}-v1")
    assert deployment is None or "deletionTimestamp" in deployment["metadata"]


def test_abort_returns_every_route_and_different_phases_are_refused(namespace):
    ns, app = ["-n", namespace], "web"
    install_chart(namespace, app)
    make_ready(namespace, app, "v1")
    kubectl("canary", "header", app, "v2", "--force-conflicts", *ns)
    kubectl("canary", "weight", app, "40", "--force", *ns)
    # One route back to stable by hand: the routes are in two phases, refused before any write.
    mixed = routes(namespace, app)
    mixed[3]["routeAction"] = expected(ABORTED, namespace, app)[1]["routeAction"]
    del mixed[2]
    kubectl("patch", "routetables.gateway.solo.io", f"{app}-routes", *ns, "--type", "merge", "-p",
            json.dumps({"spec": {"routes": mixed}}))
    before = get(namespace, "routetables.gateway.solo.io", f"{app}-routes")["metadata"]["resourceVersion"]
    refused = kubectl("canary", "abort", app, "--force-conflicts", *ns, check=False)
    assert refused.returncode == 1 and "its routes are in different phases" in refused.stderr, refused.stderr
    assert get(namespace, "routetables.gateway.solo.io", f"{app}-routes")["metadata"]["resourceVersion"] == before
    # The route still weighted goes back on its own, then the app is one again.
    kubectl("canary", "abort", app, "--route-name", f"{app}-primary-1", "--keep-canary", "--force-conflicts", *ns)
    assert routes(namespace, app) == expected(ABORTED, namespace, app)


def test_an_httproute_whose_app_has_several_rules(namespace):
    if kubectl("get", "crd", "httproutes.gateway.networking.k8s.io", check=False).returncode != 0:
        pytest.skip("the Gateway API CRDs are not installed (set KUBECTL_CANARY_E2E_CRDS to install them)")
    ns, app = ["-n", namespace], "gwmany"
    kubectl("canary", "init", app, "--router", "gateway-api", "--gateway", f"{namespace}/e2e-gateway", *ns)
    two = [{"matches": [{"path": {"type": "PathPrefix", "value": f"/{app}/foo"}},
                        {"path": {"type": "Exact", "value": f"/{app}/x"}}],
            "backendRefs": [{"name": f"{app}-v1", "port": 80}]},
           {"name": "team", "matches": [{"path": {"type": "PathPrefix", "value": "/team"}}],
            "backendRefs": [{"name": "team", "port": 80}]},
           {"matches": [{"path": {"type": "PathPrefix", "value": f"/{app}/bar"}, "method": "GET"}],
            "backendRefs": [{"name": f"{app}-v1", "port": 80}]}]
    kubectl("patch", "httproutes.gateway.networking.k8s.io", app, *ns, "--type", "merge", "-p",
            json.dumps({"spec": {"rules": two}}))
    kubectl("canary", "header", app, "v2", "--force-conflicts", *ns)
    kubectl("canary", "weight", app, "10", "--force", *ns)
    stored = get(namespace, "httproutes.gateway.networking.k8s.io", app)["spec"]["rules"]
    assert [r["name"] for r in stored] == [f"{app}-canary-header-1", f"{app}-primary-1", "team",
                                           f"{app}-canary-header-2", f"{app}-primary-2"]
    assert len(stored[0]["matches"]) == 2  # a header match for each match of the rule
    assert [[(b["name"], b["weight"]) for b in stored[i]["backendRefs"]] for i in (1, 4)] == [
        [(f"{app}-v1", 90), (f"{app}-v2", 10)]] * 2
    again = kubectl("canary", "weight", app, "10", "--force", *ns)  # the server's defaults: no false change
    assert "unchanged" in again.stdout
    kubectl("canary", "abort", app, "--force", *ns)
    stored = get(namespace, "httproutes.gateway.networking.k8s.io", app)["spec"]["rules"]
    assert [(r["name"], [b["name"] for b in r["backendRefs"]]) for r in stored] == [
        (f"{app}-primary-1", [f"{app}-v1"]), ("team", ["team"]), (f"{app}-primary-2", [f"{app}-v1"])]
