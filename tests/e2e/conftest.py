"""The e2e suite's cluster: a real API server named by the environment, the stand-in controllers, the
platform team's objects, and a namespace per test.

- KUBECTL_CANARY_E2E_KUBECONFIG: an admin kubeconfig (cluster-admin). Without it the suite is skipped,
  unless KUBECTL_CANARY_E2E_REQUIRED=1 (CI), which turns every skip into a failure.
- KUBECTL_CANARY_E2E_CRDS: a directory of CRDs to install first (server-side apply of every *.yaml below
  it); otherwise Gloo's and the Gateway API's CRDs must be installed already.

The cluster needs no Gloo and no gateway: the stand-ins of standins.py play the kubelet, Gloo's reporter
and a Gateway API implementation in the namespaces the tests own. On a cluster with nodes, cordon them
(pods must stay unbound, see standins.py). Commands run through the real kubectl (KUBECTL, else the one
beside this Python, else PATH), which finds the installed plugin on PATH as `kubectl canary`.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.design_routes import PLATFORM_VIRTUAL_SERVICE
from tests.e2e.kube import Kube, Obj, rolled_out
from tests.e2e.standins import CONTROLLER_NAME, GATEWAY_CLASS, Standins, now

KUBECONFIG = os.environ.get("KUBECTL_CANARY_E2E_KUBECONFIG")
REQUIRED = os.environ.get("KUBECTL_CANARY_E2E_REQUIRED") == "1"
CRDS = os.environ.get("KUBECTL_CANARY_E2E_CRDS")
E2E_DIR = Path(__file__).parent
VENV_BIN = Path(sys.executable).parent
GLOO_CRDS = ("routetables.gateway.solo.io", "virtualservices.gateway.solo.io", "upstreams.gloo.solo.io")
GATEWAY_API_CRDS = ("gatewayclasses.gateway.networking.k8s.io", "gateways.gateway.networking.k8s.io",
                    "httproutes.gateway.networking.k8s.io", "referencegrants.gateway.networking.k8s.io")
# README's Gateway API walkthrough: Gateway infra/public, listener http, routes from every namespace.
GATEWAY = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "Gateway",
    "metadata": {"name": "public", "namespace": "infra"},
    "spec": {"gatewayClassName": GATEWAY_CLASS, "listeners": [
        {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}]},
}


def _is_e2e(item: pytest.Item) -> bool:
    return E2E_DIR in Path(str(item.fspath)).parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if KUBECONFIG:
        return
    skip = pytest.mark.skip(reason="KUBECTL_CANARY_E2E_KUBECONFIG is not set (see README: Running the e2e suite)")
    for item in items:
        if _is_e2e(item):
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI (KUBECTL_CANARY_E2E_REQUIRED=1) a skipped e2e test is a failure: the suite must really run."""
    outcome: Any = yield
    report = outcome.get_result()
    if REQUIRED and report.skipped and not hasattr(report, "wasxfail") and _is_e2e(item):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped while KUBECTL_CANARY_E2E_REQUIRED=1: {reason}"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def ok(self) -> Result:
        assert self.code == 0, f"exit {self.code}\nstdout: {self.out}\nstderr: {self.err}"
        return self

    @property
    def errors(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error:")]


def kubectl_binary() -> str:
    for candidate in (os.environ.get("KUBECTL"), str(VENV_BIN / "kubectl"), shutil.which("kubectl")):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail("no kubectl binary: run scripts/test, which installs one into .venv/bin")


class Cluster:
    """The real API server: the admin's client, the stand-ins, and kubectl (with the plugin) to run."""

    def __init__(self, kubeconfig: Path, tmp: Path) -> None:
        self.kubeconfig = kubeconfig
        self.kube = Kube(kubeconfig)
        self.tmp = tmp
        self.standins = Standins(self.kube)
        self.kubectl_path = kubectl_binary()
        # Cluster-scoped objects the tests made (a namespace's deletion does not take them): deleted at the end.
        self.cluster_scoped: list[tuple[str, str]] = []
        plugin = shutil.which("kubectl-canary", path=self.env()["PATH"])
        assert plugin, "kubectl-canary is not on PATH: install the project (scripts/test does, into .venv)"
        self.plugin_path = plugin

    def env(self, kubeconfig: Path | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBECTL_CANARY_")}
        env["KUBECONFIG"] = str(kubeconfig or self.kubeconfig)
        # kubectl finds the plugin (and helm and the pinned kubectl are found) in the project's .venv/bin.
        env["PATH"] = f"{Path(self.kubectl_path).parent}{os.pathsep}{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        env["NO_COLOR"] = "1"
        env.pop("KUBECTL_CANARY_DEBUG", None)
        return {**env, **(extra or {})}

    def kubectl(self, *args: str, kubeconfig: Path | None = None, stdin: str | None = None,
                env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120) -> Result:
        done = subprocess.run([self.kubectl_path, *args], env=self.env(kubeconfig, env), input=stdin, cwd=cwd,
                              capture_output=True, text=True, timeout=timeout)
        return Result(done.returncode, done.stdout, done.stderr)

    def shell(self, command: str, *, kubeconfig: Path | None = None, cwd: Path | None = None,
              env: dict[str, str] | None = None, timeout: float = 180) -> Result:
        """A command line as a README shows it, run by bash (continuation lines, comments and all)."""
        done = subprocess.run(["bash", "-c", command], env=self.env(kubeconfig, env), cwd=cwd,
                              capture_output=True, text=True, timeout=timeout)
        return Result(done.returncode, done.stdout, done.stderr)

    def canary(self, *args: str, kubeconfig: Path | None = None, stdin: str | None = None,
               env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120) -> Result:
        """The plugin as kubectl runs it (the `kubectl-canary` on PATH, same arguments and environment),
        without kubectl's own start-up; the walkthroughs and test_real_cluster.py go through kubectl."""
        done = subprocess.run([self.plugin_path, *args], env=self.env(kubeconfig, env), input=stdin, cwd=cwd,
                              capture_output=True, text=True, timeout=timeout)
        return Result(done.returncode, done.stdout, done.stderr)

    # --- namespaces ---

    def create_namespace(self, name: str) -> None:
        """Create it, once an earlier one of that name has finished terminating."""
        self.wait_namespaces_gone(name)
        self.kube.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def own_namespaces(self, *names: str) -> None:
        """Hand namespaces (existing or still to be made) to the stand-ins."""
        self.standins.own(names)

    def drop_namespaces(self, *names: str) -> None:
        for name in names:
            self.kube.delete("namespaces", None, name)
        self.standins.disown(names)

    def wait_namespaces_gone(self, *names: str) -> None:
        for name in names:
            live = self.kube.get("namespaces", None, name)
            if live is not None and not live["metadata"].get("deletionTimestamp"):
                pytest.fail(f"namespace {name} exists already: the e2e tests need it; delete it first")
            self.kube.wait_for(f"namespace {name} to be gone", partial(self._absent, "namespaces", None, name),
                               timeout=120)

    # --- reads ---

    def _absent(self, plural: str, namespace: str | None, name: str) -> bool:
        return self.kube.get(plural, namespace, name) is None

    def get(self, plural: str, namespace: str, name: str) -> Obj | None:
        return self.kube.get(plural, namespace, name)

    def routes(self, namespace: str, table: str) -> list[Obj]:
        found = self.get("routetables", namespace, table)
        assert found is not None, f"RouteTable {namespace}/{table} not found"
        return found["spec"]["routes"]

    def rules(self, namespace: str, route: str) -> list[Obj]:
        found = self.get("httproutes", namespace, route)
        assert found is not None, f"HTTPRoute {namespace}/{route} not found"
        return found["spec"]["rules"]

    def gone(self, plural: str, namespace: str, name: str) -> bool:
        """Deleted, or being deleted (the garbage collector may still hold it)."""
        live = self.get(plural, namespace, name)
        return live is None or "deletionTimestamp" in live["metadata"]

    def resource_version(self, plural: str, namespace: str, name: str) -> str:
        live = self.get(plural, namespace, name)
        assert live is not None
        return str(live["metadata"]["resourceVersion"])

    # --- waits ---

    def wait_rolled_out(self, namespace: str, *names: str, timeout: float = 60) -> None:
        """Until each Deployment (default: all of the namespace) is rolled out as `kubectl rollout status`
        judges it: what a user waits for before the next README step."""
        for name in names or [d["metadata"]["name"] for d in self.kube.list("deployments", namespace)["items"]
                              if not d["metadata"].get("deletionTimestamp")]:
            self.kube.wait_for(f"deployment {namespace}/{name} to roll out", partial(self._rolled_out, namespace, name),
                               timeout)

    def _rolled_out(self, namespace: str, name: str) -> bool:
        return rolled_out(self.get("deployments", namespace, name))

    def wait_available_replicas(self, namespace: str, name: str, count: int, timeout: float = 60) -> None:
        def reached() -> bool:
            live = self.get("deployments", namespace, name)
            status = (live or {}).get("status") or {}
            return bool(live and status.get("observedGeneration", 0) >= live["metadata"]["generation"]
                        and status.get("availableReplicas", 0) == count and status.get("readyReplicas", 0) == count)
        self.kube.wait_for(f"deployment {namespace}/{name} to have {count} available replicas", reached, timeout)

    def wait_gloo_verdict(self, namespace: str, table: str, state: str, timeout: float = 30) -> None:
        def reported() -> bool:
            live = self.get("routetables", namespace, table) or {}
            statuses = (live.get("status") or {}).get("statuses") or {}
            return (statuses.get("gloo-system") or {}).get("state") == state
        self.kube.wait_for(f"Gloo's verdict {state} on RouteTable {namespace}/{table}", reported, timeout)

    def wait_gateway_verdict(self, namespace: str, route: str, timeout: float = 30) -> Obj:
        """Until the gateway stand-in has judged the HTTPRoute's current generation; its conditions."""
        def judged() -> Obj | None:
            live = self.get("httproutes", namespace, route) or {}
            generation = (live.get("metadata") or {}).get("generation")
            for parent in (live.get("status") or {}).get("parents") or []:
                if parent.get("controllerName") == CONTROLLER_NAME:
                    conditions = {c["type"]: c for c in parent["conditions"]}
                    if all(c.get("observedGeneration") == generation for c in conditions.values()):
                        return conditions
            return None
        return self.kube.wait_for(f"the gateway's verdict on HTTPRoute {namespace}/{route}", judged, timeout)

    # --- users ---

    def user_kubeconfig(self, namespace: str, account: str, *, role: Obj | None = None) -> Path:
        """A kubeconfig acting as ServiceAccount `account` of `namespace` (a bearer token from the TokenRequest
        API), bound to `role` (a Role in `namespace`) when given."""
        kube = self.kube
        if kube.get("serviceaccounts", namespace, account) is None:
            kube.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": account,
                                                                                  "namespace": namespace}})
        subject = [{"kind": "ServiceAccount", "name": account, "namespace": namespace}]
        rbac = "rbac.authorization.k8s.io/v1"
        if role is not None:
            kube.apply({**role, "apiVersion": rbac, "kind": "Role",
                        "metadata": {**role["metadata"], "namespace": namespace}}, "e2e")
            kube.apply({"apiVersion": rbac, "kind": "RoleBinding",
                        "metadata": {"name": f"{account}-{role['metadata']['name']}", "namespace": namespace},
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                    "name": role["metadata"]["name"]}, "subjects": subject}, "e2e")
            self.wait_bound(namespace, account, role["rules"][0])
        return self.write_user_kubeconfig(namespace, account, {"token": self.token(namespace, account)})

    def wait_bound(self, namespace: str, account: str, rule: Obj) -> None:
        """Until the API server's RBAC (fed by informers) grants the account `rule`'s first verb: the first
        command of a test must not race the binding it just made."""
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {
            "user": f"system:serviceaccount:{namespace}:{account}",
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", "system:authenticated"],
            "resourceAttributes": {"namespace": namespace, "verb": rule["verbs"][0], "group": rule["apiGroups"][0],
                                   "resource": rule["resources"][0]}}}

        def allowed() -> bool:
            answer = self.kube.call("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
            return bool(answer["status"].get("allowed"))
        self.kube.wait_for(f"RBAC to grant {account} what it was bound to", allowed, timeout=30)

    def token(self, namespace: str, account: str) -> str:
        request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                   "spec": {"expirationSeconds": 3600}}
        answer = self.kube.call("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token", request)
        return str(answer["status"]["token"])

    def write_user_kubeconfig(self, namespace: str, user: str, credentials: Obj) -> Path:
        creds = self.kube.credentials
        cluster: Obj = {"server": creds.server}
        if creds.ca_data:
            cluster["certificate-authority-data"] = base64.b64encode(creds.ca_data).decode()
        if creds.insecure:
            cluster["insecure-skip-tls-verify"] = True
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": user,
            "clusters": [{"name": "e2e", "cluster": cluster}],
            "users": [{"name": user, "user": credentials}],
            "contexts": [{"name": user, "context": {"cluster": "e2e", "user": user, "namespace": namespace}}],
        }
        path = self.tmp / f"{namespace}-{user}-{uuid.uuid4().hex[:6]}.kubeconfig"
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    def admin_kubeconfig_in(self, namespace: str) -> Path:
        """The admin kubeconfig with `namespace` as its context's namespace: commands without -n run there,
        as the README's do for a user whose context is the app's namespace."""
        config = yaml.safe_load(self.kubeconfig.read_text())
        for context in config.get("contexts") or []:
            if context["name"] == config["current-context"]:
                context["context"]["namespace"] = namespace
        # Relative certificate paths keep pointing where they did.
        for section, key in (("clusters", "cluster"), ("users", "user")):
            for entry in config.get(section) or []:
                for field in ("certificate-authority", "client-certificate", "client-key", "tokenFile"):
                    if entry[key].get(field):
                        entry[key][field] = str((self.kubeconfig.parent / entry[key][field]).resolve())
        path = self.tmp / f"admin-in-{namespace}.kubeconfig"
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path


def _install_crds(cluster: Cluster, directory: Path) -> None:
    files = sorted(directory.rglob("*.yaml"))
    args = [arg for f in files for arg in ("-f", str(f))]
    cluster.kubectl("apply", "--server-side", "--force-conflicts", *args).ok()


def _wait_established(cluster: Cluster, names: tuple[str, ...]) -> None:
    def established(name: str) -> bool:
        crd = cluster.kube.get("customresourcedefinitions", None, name)
        conditions = ((crd or {}).get("status") or {}).get("conditions") or []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)
    for name in names:
        if cluster.kube.get("customresourcedefinitions", None, name) is None:
            pytest.fail(f"CRD {name} is not installed: install Gloo's and the Gateway API's CRDs, or set "
                        "KUBECTL_CANARY_E2E_CRDS to a directory of them")
        cluster.kube.wait_for(f"CRD {name} to be Established", partial(established, name), timeout=60)


def _platform(cluster: Cluster) -> list[tuple[str, str | None, str]]:
    """What the platform team runs: VirtualService gloo-system/default delegating to RouteTables labelled
    apiGroup=example, and Gateway infra/public of the stand-in's GatewayClass. Returns what it created."""
    kube = cluster.kube
    created: list[tuple[str, str | None, str]] = []
    for namespace in ("gloo-system", "infra"):
        if kube.get("namespaces", None, namespace) is None:
            cluster.create_namespace(namespace)
            created.append(("namespaces", None, namespace))
    if kube.get("virtualservices", "gloo-system", "default") is None:
        kube.create(PLATFORM_VIRTUAL_SERVICE)
        created.append(("virtualservices", "gloo-system", "default"))
    kube.apply({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
                "metadata": {"name": GATEWAY_CLASS}, "spec": {"controllerName": CONTROLLER_NAME}}, "e2e")
    created.append(("gatewayclasses", None, GATEWAY_CLASS))
    if kube.get("gateways", "infra", "public") is None:
        kube.create(GATEWAY)
        created.append(("gateways", "infra", "public"))
    gateway = kube.get("gateways", "infra", "public")
    assert gateway is not None
    generation = gateway["metadata"]["generation"]
    accepted = [{"type": t, "status": "True", "reason": t, "message": "", "observedGeneration": generation,
                 "lastTransitionTime": now()} for t in ("Accepted", "Programmed")]
    kube.merge_patch("gateways", "infra", "public", {"status": {"conditions": accepted}}, sub="status")
    return created


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    assert KUBECONFIG
    started = time.monotonic()
    tmp = tmp_path_factory.mktemp("e2e")
    found = Cluster(Path(KUBECONFIG).resolve(), tmp)
    if CRDS:
        _install_crds(found, Path(CRDS))
    _wait_established(found, GLOO_CRDS + GATEWAY_API_CRDS)
    created = _platform(found)
    found.standins.start()
    print(f"e2e: cluster ready in {time.monotonic() - started:.1f}s", file=sys.stderr)
    yield found
    found.standins.close()
    for plural, name in found.cluster_scoped:
        found.kube.delete(plural, None, name)
    for plural, namespace, name in reversed(created):
        found.kube.delete(plural, namespace, name)
    errors = found.standins.errors()
    assert not errors, f"the stand-in controllers failed: {errors}"


@pytest.fixture
def ns(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A namespace of the test's own, handed to the stand-ins; deleted after the test."""
    base = request.node.name.replace("_", "-").replace("[", "-").replace("]", "").lower()
    base = "".join(ch for ch in base if ch.isalnum() or ch == "-").removeprefix("test-")
    name = f"{base[:40].strip('-')}-{uuid.uuid4().hex[:5]}"
    cluster.own_namespaces(name)
    cluster.create_namespace(name)
    yield name
    cluster.drop_namespaces(name)


@pytest.fixture
def readme_namespaces(cluster: Cluster) -> Iterator[Any]:
    """The README's own namespaces (echo, team-a): a test takes them with `take(*names)`; each is waited
    for until gone (a previous test may still be deleting it), then handed to the stand-ins, and deleted
    after the test."""
    taken: list[str] = []

    def take(*names: str) -> None:
        cluster.wait_namespaces_gone(*names)
        cluster.own_namespaces(*names)
        taken.extend(names)

    yield take
    cluster.drop_namespaces(*taken)
