"""The whole workflow against a real cluster, through the real kubectl and the installed plugin.

Runs when KUBECTL_CANARY_E2E_KUBECONFIG names a kubeconfig; skipped otherwise. The Gloo CRDs (and, for
the Gateway API router's tests, the Gateway API's standard-channel CRDs) must be installed already, or
KUBECTL_CANARY_E2E_CRDS names a directory of CRDs to install first (server-side apply, every *.yaml below
it). KUBECTL_CANARY_E2E_GATEWAY=NS/NAME[:LISTENER] names a Gateway whose controller judges the routes;
without it the Gateway API tests check what the API server alone does (validation, defaults, CEL). It works in a
namespace of its own and deletes it afterwards. Pods may never become ready (a control-plane-only
cluster): the readiness guard is asserted to refuse, then --force is used.

What it checks that the fake API server cannot: real schema validation of our objects, real
server-side apply field ownership (an apply keeps the labels it applied before; a foreign manager's
routes conflict), defaulting, and the real Deployment controller.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.design_routes import FINISHED, PHASE1, STABLE, named, phase2
from tests.gateway_api_routes import FINISHED as GW_FINISHED
from tests.gateway_api_routes import HEADER as GW_HEADER
from tests.gateway_api_routes import STABLE as GW_STABLE
from tests.gateway_api_routes import WEIGHTED_10 as GW_WEIGHTED_10

KUBECONFIG = os.environ.get("KUBECTL_CANARY_E2E_KUBECONFIG")
pytestmark = pytest.mark.skipif(not KUBECONFIG, reason="KUBECTL_CANARY_E2E_KUBECONFIG is not set")
# Installed only from a directory the user names: the project never reaches outside its own tree.
CRDS = os.environ.get("KUBECTL_CANARY_E2E_CRDS")
GLOO_CRDS = ("routetables.gateway.solo.io", "upstreams.gloo.solo.io")
# The Gateway API router: a Gateway (NS/NAME[:LISTENER]) whose controller judges the test's routes. Without
# one the routes attach to a Gateway that does not exist: the API server still validates and defaults
# them (what these tests check), but no gateway reports on them.
E2E_GATEWAY = os.environ.get("KUBECTL_CANARY_E2E_GATEWAY")


def kubectl(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    binary = os.environ.get("KUBECTL") or shutil.which("kubectl") or "kubectl"
    env = {**os.environ, "KUBECONFIG": str(KUBECONFIG)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run([binary, *args], env=env, capture_output=True, text=True, input=stdin, timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done


@pytest.fixture(scope="module")
def namespace():
    if CRDS:
        for crd in sorted(Path(CRDS).rglob("*.yaml")):
            kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crd))
    missing = [name for name in GLOO_CRDS if kubectl("get", "crd", name, check=False).returncode != 0]
    if missing:
        pytest.fail(f"CRDs {', '.join(missing)} are not installed: install Gloo, or set KUBECTL_CANARY_E2E_CRDS "
                    "to a directory of its CRDs")
    for name in GLOO_CRDS:
        kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
    name = f"kubectl-canary-e2e-{uuid.uuid4().hex[:6]}"
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def get(namespace: str, kind: str, name: str) -> dict | None:
    done = kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def routes(namespace: str, app: str = "echo") -> list[dict]:
    route_table = get(namespace, "routetables.gateway.solo.io", f"{app}-routes")
    assert route_table is not None
    return route_table["spec"]["routes"]


def design(routes_: list[dict], namespace: str) -> list[dict]:
    """The routes of docs/design.md section 2 use namespace echo; ours run in the test namespace."""
    text = json.dumps(named(routes_)).replace('"namespace": "echo"', f'"namespace": "{namespace}"')
    return json.loads(text)


def wait_ready(namespace: str, deployment: str, seconds: float) -> bool:
    done = kubectl(
        "rollout", "status", f"deployment/{deployment}", "-n", namespace, f"--timeout={int(seconds)}s", check=False
    )
    return done.returncode == 0


def test_plugin_is_found_by_kubectl():
    done = kubectl("canary", "--help")
    assert "Two-phase canary rollouts on Gloo Edge" in done.stdout


def test_four_phases(namespace):
    ns = ["-n", namespace]
    kubectl("canary", "init", "echo", "--create-namespace", *ns)
    assert routes(namespace) == design(STABLE, namespace)
    assert get(namespace, "routetables.gateway.solo.io", "echo-routes")["metadata"]["labels"]["apiGroup"] == "example"

    kubectl("canary", "header", "echo", "v2", *ns)
    assert routes(namespace) == design(PHASE1, namespace)

    if not wait_ready(namespace, "echo-v2", 60):
        before = get(namespace, "routetables.gateway.solo.io", "echo-routes")["metadata"]["resourceVersion"]
        refused = kubectl("canary", "weight", "echo", "50", *ns, check=False)
        assert refused.returncode == 1
        assert refused.stderr.startswith("error: deployment echo-v2 has 0/1 ready replicas")
        after = get(namespace, "routetables.gateway.solo.io", "echo-routes")["metadata"]["resourceVersion"]
        assert after == before
    kubectl("canary", "weight", "echo", "50", "--force", *ns)
    assert routes(namespace) == design(phase2(50), namespace)
    # Server-side apply removes fields a manager stops applying: our label must survive our own applies.
    assert get(namespace, "routetables.gateway.solo.io", "echo-routes")["metadata"]["labels"]["apiGroup"] == "example"

    status = json.loads(kubectl("canary", "status", "echo", "-o", "json", *ns, check=False).stdout)
    assert (status["phase"], status["primary"]["version"], status["canary"]["version"]) == ("weighted", "v1", "v2")
    assert status["canary"]["weight"] == 50

    kubectl("canary", "finish", "echo", "--force", *ns)
    assert routes(namespace) == design(FINISHED, namespace)
    assert get(namespace, "deployment", "echo-v1") is None or _deleting(namespace, "echo-v1")


def _deleting(namespace: str, name: str) -> bool:
    deployment = get(namespace, "deployment", name)
    return deployment is None or "deletionTimestamp" in deployment["metadata"]


def test_abort(namespace):
    ns = ["-n", namespace]
    kubectl("canary", "init", "abortme", *ns, "--create-namespace")
    kubectl("canary", "header", "abortme", "v2", *ns)
    kubectl("canary", "weight", "abortme", "30", "--force", *ns)
    kubectl("canary", "abort", "abortme", "--force", *ns)  # pods may never be ready: v1 is not available
    assert routes(namespace, "abortme")[0]["routeAction"] == {
        "single": {"upstream": {"name": "abortme", "namespace": namespace}, "subset": {"values": {"version": "v1"}}}
    }
    assert len(routes(namespace, "abortme")) == 1
    assert _deleting(namespace, "abortme-v2")


def test_routes_owned_by_another_manager_conflict(namespace):
    ns = ["-n", namespace]
    kubectl("canary", "init", "owned", *ns, "--create-namespace")
    # Helm writes with Update operations under its own manager name.
    patch = json.dumps(
        {
            "spec": {
                "routes": [
                    {
                        "matchers": [{"prefix": "/owned"}],
                        "routeAction": {
                            "single": {
                                "upstream": {"name": "owned", "namespace": namespace},
                                "subset": {"values": {"version": "v1"}},
                            }
                        },
                    }
                ]
            }
        }
    )
    kubectl(
        "patch",
        "routetables.gateway.solo.io",
        "owned-routes",
        *ns,
        "--type",
        "merge",
        "-p",
        patch,
        "--field-manager",
        "helm",
    )
    refused = kubectl("canary", "header", "owned", "v2", *ns, check=False)
    assert refused.returncode == 1
    assert '"helm"' in refused.stderr and "--force-conflicts" in refused.stderr
    kubectl("canary", "header", "owned", "v2", "--force-conflicts", *ns)
    assert [r.get("name") for r in routes(namespace, "owned")] == ["owned-canary-header", "owned-primary"]


def test_server_dry_run_changes_nothing(namespace):
    ns = ["-n", namespace]
    kubectl("canary", "init", "dry", *ns, "--create-namespace")
    before = get(namespace, "routetables.gateway.solo.io", "dry-routes")["metadata"]["resourceVersion"]
    kubectl("canary", "header", "dry", "v2", "--dry-run=server", *ns)
    time.sleep(1)
    assert get(namespace, "routetables.gateway.solo.io", "dry-routes")["metadata"]["resourceVersion"] == before
    assert get(namespace, "deployment", "dry-v2") is None


def test_events_shadow_and_steps_are_accepted_by_a_real_server(namespace):
    """Our Events, the shadow Upstream and options.shadowing pass real validation; history reads them."""
    ns = ["-n", namespace]
    kubectl("canary", "init", "prog", "--create-namespace", *ns)
    kubectl("canary", "header", "prog", "v2", *ns)
    kubectl("canary", "shadow", "prog", "v2", "--percent", "10", "--force", *ns)
    shadowing = routes(namespace, "prog")[1]["options"]["shadowing"]
    assert shadowing == {"upstream": {"name": "prog-shadow-v2", "namespace": namespace}, "percentage": 10}
    kubectl("canary", "weight", "prog", "30", "--step", "10", "--interval", "0", "--check", "true", "--force", *ns)
    assert routes(namespace, "prog")[1]["routeAction"]["multi"]["destinations"][1]["weight"] == 30
    failed = kubectl(
        "canary",
        "weight",
        "prog",
        "60",
        "--step",
        "10",
        "--interval",
        "0",
        "--check",
        "false",
        "--force",
        *ns,
        check=False,
    )
    assert failed.returncode == 1 and "gate failed at 40%" in failed.stderr
    assert len(routes(namespace, "prog")) == 1  # all traffic back on v1
    history = json.loads(kubectl("canary", "history", "prog", "-o", "json", *ns).stdout)
    reasons = [item["reason"] for item in history["items"]]
    assert reasons[:3] == ["CanaryInit", "CanaryHeader", "CanaryShadow"]
    assert reasons[-2:] == ["CanaryGateFailed", "CanaryAbort"]
    assert get(namespace, "upstreams.gloo.solo.io", "prog-shadow-v2") is None


def test_header_wait_times_out_without_routing(namespace):
    ns = ["-n", namespace]
    kubectl("canary", "init", "waiter", "--create-namespace", "--image", "registry.invalid/none:1", *ns)
    done = kubectl("canary", "header", "waiter", "v2", "--wait", "--timeout", "5s", *ns, check=False)
    assert done.returncode == 1 and "is not ready after 5s" in done.stderr
    assert len(routes(namespace, "waiter")) == 1


def test_rbac_objects_are_valid(namespace):
    kubectl("create", "namespace", namespace, check=False)
    manifest = kubectl("canary", "rbac", "echo", "-n", namespace).stdout
    kubectl("apply", "--dry-run=server", "-f", "-", stdin=manifest)


def test_status_watch_ends_at_its_timeout(namespace):
    ns = ["-n", namespace]
    kubectl("canary", "init", "watched", "--create-namespace", *ns)
    started = time.monotonic()
    done = kubectl("canary", "status", "watched", "--watch", "--timeout", "3s", *ns, check=False)
    assert done.returncode in (0, 1)
    assert 3 <= time.monotonic() - started < 30
    assert "watched" in done.stdout


# --- the Gateway API router ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gateway_api(namespace):
    if kubectl("get", "crd", "httproutes.gateway.networking.k8s.io", check=False).returncode != 0:
        pytest.skip("the Gateway API CRDs are not installed (set KUBECTL_CANARY_E2E_CRDS to install them)")
    kubectl("create", "namespace", namespace, check=False)
    return E2E_GATEWAY or f"{namespace}/e2e-gateway"


def rules(namespace: str, app: str) -> list[dict]:
    route = get(namespace, "httproutes.gateway.networking.k8s.io", app)
    assert route is not None
    return route["spec"]["rules"]


def gw_rules(rules_: list[dict], app: str) -> list[dict]:
    """tests/gateway_api_routes.py's rules are for app echo."""
    return json.loads(json.dumps(rules_).replace('"echo-', f'"{app}-').replace('"/echo"', f'"/{app}"'))


def test_gateway_api_four_phases(namespace, gateway_api):
    ns, app = ["-n", namespace], "gwecho"
    kubectl("canary", "init", app, "--router", "gateway-api", "--gateway", gateway_api, *ns)
    # The server fills its defaults (weight, types, group and kind): what it stores is what we render.
    assert rules(namespace, app) == gw_rules(GW_STABLE, app)
    kubectl("canary", "header", app, "v2", *ns)
    assert rules(namespace, app) == gw_rules(GW_HEADER, app)
    assert get(namespace, "service", f"{app}-v2")["spec"]["selector"] == {"app": app, "version": "v2"}
    kubectl("canary", "weight", app, "10", "--force", *ns)
    assert rules(namespace, app) == gw_rules(GW_WEIGHTED_10, app)
    # The gateway's controller may write the status meanwhile: the spec's generation says what we wrote.
    before = get(namespace, "httproutes.gateway.networking.k8s.io", app)["metadata"]["generation"]
    again = kubectl("canary", "weight", app, "10", "--force", *ns)  # no false change from the defaults
    assert "unchanged" in again.stdout
    assert get(namespace, "httproutes.gateway.networking.k8s.io", app)["metadata"]["generation"] == before
    if E2E_GATEWAY:
        kubectl("canary", "weight", app, "20", "--force", "--gloo-timeout", "60s", *ns)
        status = json.loads(kubectl("canary", "status", app, "-o", "json", *ns, check=False).stdout)
        assert status["route"]["state"] in ("Accepted", "Degraded"), status  # Degraded: pods not running
    kubectl("canary", "finish", app, "--force", *ns)
    assert rules(namespace, app) == gw_rules(GW_FINISHED, app)
    assert get(namespace, "service", f"{app}-v1") is None or _deleting(namespace, f"{app}-v1")


def test_gateway_api_limits_are_refused_before_writing(namespace, gateway_api):
    ns, app = ["-n", namespace], "gwfull"
    kubectl("canary", "init", app, "--router", "gateway-api", "--gateway", gateway_api, *ns)
    route = get(namespace, "httproutes.gateway.networking.k8s.io", app)
    filler = [{"name": f"r{i}", "matches": [{"path": {"type": "PathPrefix", "value": f"/x{i}"}}],
               "backendRefs": [{"name": f"{app}-v1", "port": 80}]} for i in range(15)]
    patch = json.dumps({"spec": {"rules": route["spec"]["rules"] + filler}})
    kubectl("patch", "httproutes.gateway.networking.k8s.io", app, *ns, "--type", "merge", "-p", patch)
    before = get(namespace, "httproutes.gateway.networking.k8s.io", app)["metadata"]["generation"]
    refused = kubectl("canary", "header", app, "v2", "--force-conflicts", *ns, check=False)
    assert refused.returncode == 1 and "more than the Gateway API's 16" in refused.stderr
    assert get(namespace, "httproutes.gateway.networking.k8s.io", app)["metadata"]["generation"] == before
    assert get(namespace, "deployment", f"{app}-v2") is None


def test_migrate_creates_what_a_real_server_accepts(namespace, gateway_api):
    ns, app = ["-n", namespace], "moving"
    kubectl("canary", "init", app, "--create-namespace", *ns)
    kubectl("canary", "header", app, "v2", *ns)
    kubectl("canary", "weight", app, "25", "--force", *ns)
    kubectl("canary", "migrate", app, "--to", "gateway-api", "--gateway", gateway_api, *ns)
    migrated = rules(namespace, app)
    assert [r["name"] for r in migrated] == [f"{app}-canary-header", f"{app}-primary"]
    assert [(b["name"], b["weight"]) for b in migrated[1]["backendRefs"]] == [(f"{app}-v1", 75), (f"{app}-v2", 25)]
    both = kubectl("canary", "weight", app, "30", "--force", *ns, check=False)
    assert both.returncode == 2 and "--router gloo|gateway-api" in both.stderr
