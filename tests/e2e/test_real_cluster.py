"""The whole workflow against a real cluster, through the real kubectl (plugin dispatch) and the installed
plugin.

What it checks that the fake API server cannot: real schema validation of our objects, real
server-side apply field ownership (an apply keeps the labels it applied before; a foreign manager's
routes conflict), defaulting, the real Deployment controller, and the Gateway API's CEL rules. The
cluster and the stand-in controllers (a kubelet, Gloo's reporter, a gateway) come from conftest.py; each
test works in a namespace of its own.
"""

from __future__ import annotations

import json
import threading
import time

from tests.design_routes import FINISHED, PHASE1, STABLE, named, phase2
from tests.gateway_api_routes import FINISHED as GW_FINISHED
from tests.gateway_api_routes import HEADER as GW_HEADER
from tests.gateway_api_routes import STABLE as GW_STABLE
from tests.gateway_api_routes import WEIGHTED_10 as GW_WEIGHTED_10

GATEWAY = "infra/public:http"  # the platform's Gateway (conftest.py), judged by the gateway stand-in


def design(routes_: list[dict], namespace: str) -> list[dict]:
    """The routes of docs/design.md section 2 use namespace echo; ours run in the test namespace."""
    text = json.dumps(named(routes_)).replace('"namespace": "echo"', f'"namespace": "{namespace}"')
    return json.loads(text)


def test_plugin_is_found_by_kubectl(cluster):
    done = cluster.kubectl("canary", "--help").ok()
    assert "Two-phase canary rollouts" in done.out
    for verb in ("init", "adopt", "header", "weight", "finish", "abort", "status", "migrate", "rbac"):
        assert f"    {verb} " in done.out, verb
    assert "kubectl-canary" in cluster.kubectl("plugin", "list").out


def test_four_phases(cluster, ns):
    n = ["-n", ns]
    cluster.kubectl("canary", "init", "echo", "--create-namespace", *n).ok()
    assert cluster.routes(ns, "echo-routes") == design(STABLE, ns)
    assert cluster.get("routetables", ns, "echo-routes")["metadata"]["labels"]["apiGroup"] == "example"
    cluster.wait_gloo_verdict(ns, "echo-routes", "Accepted")

    cluster.standins.kubelet.hold(ns, "echo-v2", 0)  # its image never starts, for now
    cluster.kubectl("canary", "header", "echo", "v2", *n).ok()
    assert cluster.routes(ns, "echo-routes") == design(PHASE1, ns)

    before = cluster.resource_version("routetables", ns, "echo-routes")
    refused = cluster.kubectl("canary", "weight", "echo", "50", *n)
    assert refused.code == 1
    assert refused.err.startswith("error: deployment echo-v2 has 0/1 ready replicas")
    assert cluster.resource_version("routetables", ns, "echo-routes") == before
    cluster.kubectl("canary", "weight", "echo", "50", "--force", *n).ok()
    assert cluster.routes(ns, "echo-routes") == design(phase2(50), ns)
    # Server-side apply removes fields a manager stops applying: our label must survive our own applies.
    assert cluster.get("routetables", ns, "echo-routes")["metadata"]["labels"]["apiGroup"] == "example"

    status = json.loads(cluster.kubectl("canary", "status", "echo", "-o", "json", *n).out)
    assert (status["phase"], status["primary"]["version"], status["canary"]["version"]) == ("weighted", "v1", "v2")
    assert status["canary"]["weight"] == 50
    assert status["routeTable"] == {"name": "echo-routes", "state": "Accepted"}  # the reporter's verdict

    cluster.standins.kubelet.release(ns, "echo-v2")
    cluster.wait_rolled_out(ns, "echo-v2")
    cluster.kubectl("canary", "finish", "echo", *n).ok()
    assert cluster.routes(ns, "echo-routes") == design(FINISHED, ns)
    assert cluster.gone("deployments", ns, "echo-v1")


def test_gloo_timeout_on_an_accepted_table_keeps_the_verdict(cluster, ns):
    """Gloo reports only a verdict that changes: after a write that stays Accepted nothing new arrives, so
    `--gloo-timeout` ends at its timeout with the previous verdict, and the reporter wrote nothing."""
    n = ["-n", ns]
    cluster.kubectl("canary", "init", "echo", *n).ok()
    cluster.kubectl("canary", "header", "echo", "v2", *n).ok()
    cluster.wait_rolled_out(ns)
    cluster.wait_gloo_verdict(ns, "echo-routes", "Accepted")
    reports = cluster.standins.gloo.reports
    started = time.monotonic()
    cluster.kubectl("canary", "weight", "echo", "10", "--gloo-timeout", "2s", *n).ok()
    assert time.monotonic() - started >= 2
    assert cluster.standins.gloo.reports == reports
    status = json.loads(cluster.kubectl("canary", "status", "echo", "-o", "json", *n).ok().out)
    assert status["routeTable"] == {"name": "echo-routes", "state": "Accepted"}


def test_abort(cluster, ns):
    n = ["-n", ns]
    cluster.kubectl("canary", "init", "abortme", *n).ok()
    cluster.kubectl("canary", "header", "abortme", "v2", *n).ok()
    cluster.kubectl("canary", "weight", "abortme", "30", "--force", *n).ok()
    cluster.wait_rolled_out(ns, "abortme-v1")
    cluster.kubectl("canary", "abort", "abortme", *n).ok()  # v1 is available: back to it without --force
    assert cluster.routes(ns, "abortme-routes") == [{"name": "abortme-primary", "matchers": [{"prefix": "/abortme"}],
                                                     "routeAction": {"single": {
                                                         "upstream": {"name": "abortme", "namespace": ns},
                                                         "subset": {"values": {"version": "v1"}}}}}]
    assert cluster.gone("deployments", ns, "abortme-v2")


def test_routes_owned_by_another_manager_conflict(cluster, ns):
    n = ["-n", ns]
    cluster.kubectl("canary", "init", "owned", *n).ok()
    # Helm 3 writes with Update operations under its own manager name.
    patch = json.dumps({"spec": {"routes": [{
        "matchers": [{"prefix": "/owned"}],
        "routeAction": {"single": {"upstream": {"name": "owned", "namespace": ns},
                                   "subset": {"values": {"version": "v1"}}}},
    }]}})
    cluster.kubectl("patch", "routetables.gateway.solo.io", "owned-routes", *n, "--type", "merge", "-p", patch,
                    "--field-manager", "helm").ok()
    refused = cluster.kubectl("canary", "header", "owned", "v2", *n)
    assert refused.code == 1
    assert '"helm"' in refused.err and "--force-conflicts" in refused.err
    cluster.kubectl("canary", "header", "owned", "v2", "--force-conflicts", *n).ok()
    assert [r.get("name") for r in cluster.routes(ns, "owned-routes")] == ["owned-canary-header", "owned-primary"]


def test_server_dry_run_changes_nothing(cluster, ns):
    n = ["-n", ns]
    cluster.kubectl("canary", "init", "dry", *n).ok()
    before = cluster.resource_version("routetables", ns, "dry-routes")
    cluster.kubectl("canary", "header", "dry", "v2", "--dry-run=server", *n).ok()
    assert cluster.resource_version("routetables", ns, "dry-routes") == before
    assert cluster.get("deployments", ns, "dry-v2") is None


def test_events_shadow_and_steps_are_accepted_by_a_real_server(cluster, ns):
    """Our Events, the shadow Upstream and options.shadowing pass real validation; history reads them."""
    n = ["-n", ns]
    cluster.kubectl("canary", "init", "prog", *n).ok()
    cluster.kubectl("canary", "header", "prog", "v2", *n).ok()
    cluster.kubectl("canary", "shadow", "prog", "v2", "--percent", "10", "--force", *n).ok()
    shadowing = cluster.routes(ns, "prog-routes")[1]["options"]["shadowing"]
    assert shadowing == {"upstream": {"name": "prog-shadow-v2", "namespace": ns}, "percentage": 10}
    cluster.kubectl("canary", "weight", "prog", "30", "--step", "10", "--interval", "0", "--check", "true", "--force",
                    *n).ok()
    assert cluster.routes(ns, "prog-routes")[1]["routeAction"]["multi"]["destinations"][1]["weight"] == 30
    failed = cluster.kubectl("canary", "weight", "prog", "60", "--step", "10", "--interval", "0", "--check", "false",
                             "--force", *n)
    assert failed.code == 1 and "gate failed at 40%" in failed.err
    assert len(cluster.routes(ns, "prog-routes")) == 1  # all traffic back on v1
    history = json.loads(cluster.kubectl("canary", "history", "prog", "-o", "json", *n).out)
    reasons = [item["reason"] for item in history["items"]]
    assert reasons[:3] == ["CanaryInit", "CanaryHeader", "CanaryShadow"]
    assert reasons[-2:] == ["CanaryGateFailed", "CanaryAbort"]
    assert cluster.get("upstreams", ns, "prog-shadow-v2") is None


def test_header_wait_times_out_without_routing(cluster, ns):
    n = ["-n", ns]
    cluster.kubectl("canary", "init", "waiter", "--image", "registry.invalid/none:1", *n).ok()
    cluster.standins.kubelet.hold(ns, "waiter-v2", 0)  # the image never starts
    done = cluster.kubectl("canary", "header", "waiter", "v2", "--wait", "--timeout", "2s", *n)
    assert done.code == 1 and "is not ready after 2s" in done.err
    assert len(cluster.routes(ns, "waiter-routes")) == 1


def test_header_wait_routes_once_the_pods_are_ready(cluster, ns):
    n = ["-n", ns]
    cluster.kubectl("canary", "init", "waiter", *n).ok()
    cluster.standins.kubelet.hold(ns, "waiter-v2", 0)
    timer = threading.Timer(1.0, cluster.standins.kubelet.release, (ns, "waiter-v2"))
    started = time.monotonic()
    timer.start()
    try:
        cluster.kubectl("canary", "header", "waiter", "v2", "--wait", "--timeout", "60s", *n).ok()
    finally:
        timer.join()
    assert time.monotonic() - started >= 1.0
    assert [r["name"] for r in cluster.routes(ns, "waiter-routes")] == ["waiter-canary-header", "waiter-primary"]
    deployment = cluster.get("deployments", ns, "waiter-v2")
    assert deployment["status"]["availableReplicas"] == 1


def test_rbac_objects_are_valid(cluster, ns):
    manifest = cluster.kubectl("canary", "rbac", "echo", "-n", ns).ok().out
    cluster.kubectl("apply", "--dry-run=server", "-f", "-", stdin=manifest).ok()


def test_status_watch_ends_at_its_timeout(cluster, ns):
    n = ["-n", ns]
    cluster.kubectl("canary", "init", "watched", *n).ok()
    started = time.monotonic()
    done = cluster.kubectl("canary", "status", "watched", "--watch", "--timeout", "3s", *n)
    assert done.code in (0, 1)
    assert 3 <= time.monotonic() - started < 30
    assert "watched" in done.out


# --- the Gateway API router ----------------------------------------------------------------------------


def gw_rules(rules_: list[dict], app: str) -> list[dict]:
    """tests/gateway_api_routes.py's rules are for app echo."""
    return json.loads(json.dumps(rules_).replace('"echo-', f'"{app}-').replace('"/echo"', f'"/{app}"'))


def test_gateway_api_four_phases(cluster, ns):
    n, app = ["-n", ns], "gwecho"
    cluster.kubectl("canary", "init", app, "--router", "gateway-api", "--gateway", GATEWAY, *n).ok()
    # The server fills its defaults (weight, types, group and kind): what it stores is what we render.
    assert cluster.rules(ns, app) == gw_rules(GW_STABLE, app)
    cluster.kubectl("canary", "header", app, "v2", *n).ok()
    assert cluster.rules(ns, app) == gw_rules(GW_HEADER, app)
    assert cluster.get("services", ns, f"{app}-v2")["spec"]["selector"] == {"app": app, "version": "v2"}
    cluster.kubectl("canary", "weight", app, "10", "--force", *n).ok()
    assert cluster.rules(ns, app) == gw_rules(GW_WEIGHTED_10, app)
    # The gateway's controller writes the status meanwhile: the spec's generation says what we wrote.
    before = cluster.get("httproutes", ns, app)["metadata"]["generation"]
    again = cluster.kubectl("canary", "weight", app, "10", "--force", *n).ok()  # no false change from the defaults
    assert "unchanged" in again.out
    assert cluster.get("httproutes", ns, app)["metadata"]["generation"] == before
    # --gloo-timeout waits until the gateway has judged the change (its observedGeneration).
    cluster.wait_rolled_out(ns)
    cluster.kubectl("canary", "weight", app, "20", "--gloo-timeout", "60s", *n).ok()
    status = json.loads(cluster.kubectl("canary", "status", app, "-o", "json", *n).out)
    assert status["route"]["state"] == "Accepted", status
    cluster.kubectl("canary", "finish", app, *n).ok()
    assert cluster.rules(ns, app) == gw_rules(GW_FINISHED, app)
    assert cluster.gone("services", ns, f"{app}-v1") and cluster.gone("deployments", ns, f"{app}-v1")


def test_gateway_api_limits_are_refused_before_writing(cluster, ns):
    n, app = ["-n", ns], "gwfull"
    cluster.kubectl("canary", "init", app, "--router", "gateway-api", "--gateway", GATEWAY, *n).ok()
    route = cluster.get("httproutes", ns, app)
    filler = [{"name": f"r{i}", "matches": [{"path": {"type": "PathPrefix", "value": f"/x{i}"}}],
               "backendRefs": [{"name": f"{app}-v1", "port": 80}]} for i in range(15)]
    patch = json.dumps({"spec": {"rules": route["spec"]["rules"] + filler}})
    cluster.kubectl("patch", "httproutes.gateway.networking.k8s.io", app, *n, "--type", "merge", "-p", patch).ok()
    before = cluster.get("httproutes", ns, app)["metadata"]["generation"]
    refused = cluster.kubectl("canary", "header", app, "v2", "--force-conflicts", *n)
    assert refused.code == 1 and "more than the Gateway API's 16" in refused.err
    assert cluster.get("httproutes", ns, app)["metadata"]["generation"] == before
    assert cluster.get("deployments", ns, f"{app}-v2") is None


def test_migrate_creates_what_a_real_server_accepts(cluster, ns):
    n, app = ["-n", ns], "moving"
    cluster.kubectl("canary", "init", app, *n).ok()
    cluster.kubectl("canary", "header", app, "v2", *n).ok()
    cluster.kubectl("canary", "weight", app, "25", "--force", *n).ok()
    cluster.kubectl("canary", "migrate", app, "--to", "gateway-api", "--gateway", GATEWAY, *n).ok()
    migrated = cluster.rules(ns, app)
    assert [r["name"] for r in migrated] == [f"{app}-canary-header", f"{app}-primary"]
    assert [(b["name"], b["weight"]) for b in migrated[1]["backendRefs"]] == [(f"{app}-v1", 75), (f"{app}-v2", 25)]
    both = cluster.kubectl("canary", "weight", app, "30", "--force", *n)
    assert both.code == 2 and "--router gloo|gateway-api" in both.err
