"""The whole workflow against a real cluster, through the real kubectl and the installed plugin.

Runs when KUBECTL_CANARY_E2E_KUBECONFIG names a kubeconfig; skipped otherwise. The Gloo CRDs must be
installed already (they are wherever Gloo runs), or KUBECTL_CANARY_E2E_CRDS names a directory of CRDs to
install first (server-side apply; e.g. a checkout of Gloo's install/helm/gloo/crds). It works in a
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

KUBECONFIG = os.environ.get("KUBECTL_CANARY_E2E_KUBECONFIG")
pytestmark = pytest.mark.skipif(not KUBECONFIG, reason="KUBECTL_CANARY_E2E_KUBECONFIG is not set")
# Installed only from a directory the user names: the project never reaches outside its own tree.
CRDS = os.environ.get("KUBECTL_CANARY_E2E_CRDS")
GLOO_CRDS = ("routetables.gateway.solo.io", "upstreams.gloo.solo.io")


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
    """DESIGN.md's routes use namespace echo; ours run in the test namespace."""
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
    kubectl("canary", "abort", "abortme", *ns)
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
