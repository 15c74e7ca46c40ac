"""Bad input and failures a real server reproduces, against what docs/guard-table.md and docs/fault-table.md
claim (there from the fake API server): every refusal is one `error:` line, a non-zero exit and nothing
written; a command that fails half-way leaves no route pointing at a missing Deployment, and converges
when run again. Both routers.
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from tests.design_routes import FINISHED, STABLE, named
from tests.e2e.conftest import Cluster
from tests.e2e.users import CanI, forbidden_in

GATEWAY = "infra/public:http"
ROUTERS = ["gloo", "gateway-api"]


def route_object(router: str, app: str = "echo") -> tuple[str, str]:
    return ("routetables", f"{app}-routes") if router == "gloo" else ("httproutes", app)


def init_args(router: str) -> list[str]:
    return [] if router == "gloo" else ["--router", "gateway-api", "--gateway", GATEWAY]


def weighted_at_50(cluster: Cluster, ns: str, router: str, app: str = "echo") -> None:
    cluster.canary("init", app, "-n", ns, *init_args(router)).ok()
    cluster.canary("header", app, "v2", "-n", ns).ok()
    cluster.wait_rolled_out(ns)
    cluster.canary("weight", app, "50", "-n", ns).ok()


def traffic(cluster: Cluster, ns: str, router: str, app: str = "echo") -> list[tuple[str, int]]:
    """(version, weight) of the primary route's destinations, for either router."""
    if router == "gloo":
        action = cluster.routes(ns, f"{app}-routes")[-1]["routeAction"]
        if "single" in action:
            return [(action["single"]["subset"]["values"]["version"], 1)]
        return [(d["destination"]["subset"]["values"]["version"], d["weight"]) for d in action["multi"]["destinations"]]
    refs = cluster.rules(ns, app)[-1]["backendRefs"]
    return [(ref["name"].removeprefix(f"{app}-"), ref["weight"]) for ref in refs]


def refused(result, starts: str) -> None:
    assert result.code == 1, result
    assert result.errors == [result.err.strip()], result.err
    assert result.err.startswith(starts), result.err


@pytest.mark.parametrize("router", ROUTERS)
def test_the_canary_deployment_deleted_mid_rollout(cluster, ns, router):
    """guard-table: weight up and finish toward a missing Deployment are refused, --force or not; abort
    (toward the available primary) goes back."""
    weighted_at_50(cluster, ns, router)
    cluster.kubectl("delete", "deployment", "echo-v2", "-n", ns, "--wait=true").ok()
    plural, name = route_object(router)
    version = cluster.resource_version(plural, ns, name)
    missing = ("error: deployment echo-v2 not found, so v2 has no pods to serve traffic; the routes stay as they "
               "are (50% to v1, 50% to v2)")
    for command in (("weight", "echo", "75"), ("weight", "echo", "75", "--force"), ("finish", "echo"),
                    ("finish", "echo", "--force")):
        refused(cluster.canary(*command, "-n", ns), missing)
        assert cluster.resource_version(plural, ns, name) == version, command
    assert cluster.get("deployments", ns, "echo-v1") is not None

    status = cluster.canary("status", "echo", "-n", ns)
    assert status.code == 1  # degraded: half the traffic goes to a version that is gone
    assert "! echo: canary v2 receives 50% of the traffic but is missing" in status.out, status.out

    cluster.canary("abort", "echo", "-n", ns).ok()
    assert traffic(cluster, ns, router) == [("v1", 1)]
    cluster.canary("status", "echo", "-n", ns).ok()


@pytest.mark.parametrize("router", ROUTERS)
def test_the_primary_deployment_deleted_mid_rollout(cluster, ns, router):
    """guard-table: weight down and abort toward a missing primary are refused; finish (toward the canary,
    available) is the way out."""
    weighted_at_50(cluster, ns, router)
    cluster.kubectl("delete", "deployment", "echo-v1", "-n", ns, "--wait=true").ok()
    plural, name = route_object(router)
    version = cluster.resource_version(plural, ns, name)
    for command in (("weight", "echo", "10"), ("abort", "echo")):
        refused(cluster.canary(*command, "-n", ns), "error: deployment echo-v1 not found, so v1 has no pods to "
                                                    "serve traffic")
        assert cluster.resource_version(plural, ns, name) == version, command
    cluster.canary("finish", "echo", "-n", ns).ok()
    assert traffic(cluster, ns, router) == [("v2", 1)]


def test_a_backend_service_missing_degrades_the_gateway_api_verdict(cluster, ns):
    """README: `Degraded` when a backend does not resolve (the gateway's ResolvedRefs is False)."""
    weighted_at_50(cluster, ns, "gateway-api")
    cluster.kube.delete("services", ns, "echo-v2")
    cluster.kube.wait_for("ResolvedRefs False", lambda: cluster.wait_gateway_verdict(ns, "echo")["ResolvedRefs"][
        "status"] == "False")
    status = cluster.canary("status", "echo", "-n", ns, "-o", "json")
    assert status.code == 1
    shown = json.loads(status.out)
    assert shown["route"]["state"] == "Degraded"
    assert any("Degraded" in p and "echo-v2" in p for p in shown["problems"]), shown["problems"]


def test_routes_gloo_rejected_are_reported(cluster, ns):
    """README: every command reads Gloo's verdict before writing and warns when Gloo had rejected the routes;
    `status` shows it and exits 1. Someone adds a route whose regex does not compile: the reporter stand-in
    rejects the table, as Gloo's translator would."""
    weighted_at_50(cluster, ns, "gloo")
    cluster.wait_gloo_verdict(ns, "echo-routes", "Accepted")
    broken = {"name": "broken", "matchers": [{"regex": "/(unclosed"}], "directResponseAction": {"status": 200}}
    cluster.kubectl("patch", "routetable", "echo-routes", "-n", ns, "--type=json", "-p", json.dumps([
        {"op": "add", "path": "/spec/routes/-", "value": broken}])).ok()
    cluster.wait_gloo_verdict(ns, "echo-routes", "Rejected")
    status = cluster.canary("status", "echo", "-n", ns, "-o", "json")
    assert status.code == 1
    shown = json.loads(status.out)
    assert shown["routeTable"]["state"] == "Rejected"
    assert any("Rejected" in p and "invalid regex" in p for p in shown["problems"]), shown["problems"]
    # abort takes the routes back from kubectl-patch, warns of the rejection, and keeps the foreign route.
    aborted = cluster.canary("abort", "echo", "-n", ns, "--force-conflicts").ok()
    assert "rejected" in aborted.err.lower(), aborted.err
    stable = json.loads(json.dumps(named(STABLE)).replace('"namespace": "echo"', f'"namespace": "{ns}"'))
    assert cluster.routes(ns, "echo-routes") == [*stable, broken]


def test_weights_that_sum_to_zero_are_refused_in_one_line(cluster, ns):
    """A route someone left with all weights at zero (Gloo rejects it) is not guessed at: one error line
    saying what to fix, exit 1, nothing written."""
    weighted_at_50(cluster, ns, "gloo")
    cluster.kubectl("patch", "routetable", "echo-routes", "-n", ns, "--type=json", "-p", json.dumps([
        {"op": "replace", "path": f"/spec/routes/1/routeAction/multi/destinations/{i}/weight", "value": 0}
        for i in (0, 1)])).ok()
    cluster.wait_gloo_verdict(ns, "echo-routes", "Rejected")
    version = cluster.resource_version("routetables", ns, "echo-routes")
    for command in (("status", "echo"), ("abort", "echo", "--force-conflicts"), ("weight", "echo", "10")):
        refused(cluster.canary(*command, "-n", ns), "error: cannot read the routes of echo in RouteTable "
                                                    "echo-routes: all weights are zero")
    assert cluster.resource_version("routetables", ns, "echo-routes") == version


def role_without(cluster: Cluster, ns: str, resource: str, verb: str) -> dict:
    """`kubectl canary rbac`'s Role, less one verb on one resource (plural.group)."""
    printed = yaml.safe_load_all(cluster.canary("rbac", "echo", "-n", ns).ok().out)
    role = next(o for o in printed if o["kind"] == "Role")
    for rule in role["rules"]:
        if f"{rule['resources'][0]}.{rule['apiGroups'][0]}".rstrip(".") == resource:
            rule["verbs"] = [v for v in rule["verbs"] if v != verb]
    return {"metadata": {"name": f"without-{verb}"}, "rules": role["rules"]}


@pytest.mark.parametrize("router", ROUTERS)
@pytest.mark.parametrize(("verb", "kept", "retired"), [("finish", "v2", "v1"), ("abort", "v1", "v2")])
def test_a_forbidden_delete_half_way_then_a_rerun_with_the_right(cluster, ns, router, verb, kept, retired):
    """fault-table: a finish or abort whose Deployment delete fails after the route change exits 1 with the
    routes moved and no route to a missing Deployment; run again (here by someone allowed to delete), it
    converges. The refused request is the one `kubectl auth can-i` refuses."""
    weighted_at_50(cluster, ns, router)
    kubeconfig = cluster.user_kubeconfig(ns, "no-delete", role=role_without(cluster, ns, "deployments.apps",
                                                                             "delete"))
    half = cluster.canary(verb, "echo", "-v", kubeconfig=kubeconfig)
    assert forbidden_in(half) == ("delete", "deployments.apps", ns)
    CanI(cluster, kubeconfig).agrees(half)
    assert traffic(cluster, ns, router) == [(kept, 1)]  # the routes moved first...
    assert cluster.get("deployments", ns, f"echo-{retired}") is not None  # ...the delete did not happen
    assert cluster.get("deployments", ns, f"echo-{kept}") is not None

    again = cluster.canary(verb, "echo", "-n", ns).ok()
    assert f"echo-{retired}" in again.out, again.out
    assert cluster.gone("deployments", ns, f"echo-{retired}")
    assert traffic(cluster, ns, router) == [(kept, 1)]
    if router == "gloo" and verb == "finish":
        assert cluster.routes(ns, "echo-routes") == json.loads(json.dumps(named(FINISHED)).replace(
            '"namespace": "echo"', f'"namespace": "{ns}"'))


def shared_table(cluster: Cluster, ns: str) -> list[str]:
    """RouteTable `team` holding cart's and search's routes (and a foreign one), each app at its header
    phase; returns the route names."""
    for app in ("cart", "search"):
        cluster.canary("init", app, "-n", ns).ok()
    routes = [{"name": "healthz", "matchers": [{"exact": "/healthz"}], "directResponseAction": {"status": 200}}]
    for app in ("cart", "search"):
        routes += cluster.routes(ns, f"{app}-routes")
        cluster.kube.delete("routetables", ns, f"{app}-routes")
    table = {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
             "metadata": {"name": "team", "namespace": ns, "labels": {"apiGroup": "example"}},
             "spec": {"routes": routes}}
    cluster.kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(table)).ok()
    cluster.canary("header", "cart", "v2", "-n", ns, "--route-table", "team", "--force-conflicts").ok()
    cluster.canary("header", "search", "v2", "-n", ns, "--route-table", "team").ok()
    cluster.wait_rolled_out(ns)
    return ["healthz", "cart-canary-header", "cart-primary", "search-canary-header", "search-primary"]


def shared_route(cluster: Cluster, ns: str) -> list[str]:
    """HTTPRoute `shop-public` holding web's and api's rules, each app at its header phase."""
    rules = []
    for app in ("web", "api"):
        cluster.canary("init", app, "-n", ns, *init_args("gateway-api")).ok()
        rules += cluster.rules(ns, app)
        cluster.kube.delete("httproutes", ns, app)
    shared = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
              "metadata": {"name": "shop-public", "namespace": ns},
              "spec": {"parentRefs": [{"namespace": "infra", "name": "public", "sectionName": "http"}],
                       "rules": rules}}
    cluster.kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(shared)).ok()
    cluster.canary("header", "web", "v2", "-n", ns, "--route", "shop-public", "--force-conflicts").ok()
    cluster.canary("header", "api", "v2", "-n", ns, "--route", "shop-public").ok()
    cluster.wait_rolled_out(ns)
    return ["web-canary-header", "web-primary", "api-canary-header", "api-primary"]


def weight_of(cluster: Cluster, ns: str, router: str, app: str) -> int:
    if router == "gloo":
        route = next(r for r in cluster.routes(ns, "team") if r.get("name") == f"{app}-primary")
        return int(route["routeAction"]["multi"]["destinations"][1]["weight"])
    rule = next(r for r in cluster.rules(ns, "shop-public") if r["name"] == f"{app}-primary")
    return int(rule["backendRefs"][1]["weight"])


@pytest.mark.parametrize("router", ROUTERS)
def test_two_processes_on_two_apps_of_one_shared_route_object_both_land(cluster, ns, router):
    """README: two commands on two apps of one table at once both land (a 409 re-reads and recomputes).
    On a real server the race is real: the -v logs say how many writes met a 409."""
    names = shared_table(cluster, ns) if router == "gloo" else shared_route(cluster, ns)
    apps = ("cart", "search") if router == "gloo" else ("web", "api")
    env = cluster.env()
    conflicts = 0
    for round_ in range(5):
        wanted = {apps[0]: 10 + round_, apps[1]: 90 - round_}
        processes = [subprocess.Popen([cluster.kubectl_path, "canary", "weight", app, str(percent), "-n", ns, "-v"],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for app, percent in wanted.items()]
        for process in processes:
            _, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
            conflicts += len(re.findall(r"^I PATCH \S+/(?:routetables|httproutes)/\S+ 409 ", err, re.M))
        for app, percent in wanted.items():
            assert weight_of(cluster, ns, router, app) == percent, (round_, app)
        plural, name = ("routetables", "team") if router == "gloo" else ("httproutes", "shop-public")
        live = cluster.get(plural, ns, name)["spec"]["routes" if router == "gloo" else "rules"]
        assert [r.get("name") for r in live] == names
    print(f"{router}: {conflicts} writes met a 409 in 5 rounds")
