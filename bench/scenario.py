"""The cluster the benchmark runs against: the project's fake API server on loopback, kubeconfigs for it,
and apps seeded in the phase each measured command starts from.

Apps the plugin writes to are seeded through the plugin itself, in this process (`init`, `header`), so
their objects and field owners are exactly what the plugin leaves behind. The thousands of apps of the
`status -A` scaling run are stored directly (status only reads them), in the wire shapes README.md
documents."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from kubectl_canary.cli import main as canary_main
from tests.design_routes import PLATFORM_VIRTUAL_SERVICE
from tests.fake_apiserver import FakeApiServer

NAMESPACE = "bench"
APP = "echo"
Obj = dict[str, Any]
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


class SeedFailed(Exception):
    pass


def child_environment(workdir: Path, source: Path, plugin: str, *, bytecode: bool = True) -> dict[str, str]:
    """The environment measured commands run in (their working directory is `workdir`).

    The plugin is imported from `source`, a copy of kubectl_canary/ taken when the run starts: every round
    measures the same code while others edit the work tree, and its bytecode is cached there (this
    session's environment sets PYTHONDONTWRITEBYTECODE, which would make every command compile our
    modules again; users of `pip install .` have them compiled). `bytecode=False` keeps that setting.
    The plugin's directory comes first on PATH, so that `kubectl canary` runs the same plugin."""
    env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARIABLES and k != "PYTHONDONTWRITEBYTECODE"}
    if not bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(source), env.get("PYTHONPATH", "")) if p)
    env["KUBECACHEDIR"] = str(workdir / "kube-cache")  # kubectl's discovery cache, kept for the run
    env["XDG_CACHE_HOME"] = str(workdir / "cache")  # where the release zipapp unpacks itself
    env["PATH"] = f"{Path(plugin).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def snapshot(package: Path, into: Path) -> Path:
    """A copy of the package (sources only), importable with `into` on PYTHONPATH."""
    shutil.copytree(package, into / package.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return into


def tool(name: str) -> str | None:
    """A binary of the venv the benchmark runs in, else from PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


class Scenario:
    """One fake API server, a kubeconfig for it, the environment children run in, and app pools."""

    def __init__(self, api: FakeApiServer, workdir: Path, base_env: dict[str, str]) -> None:
        self.api = api
        self.workdir = workdir
        self.kubeconfig = api.write_kubeconfig(workdir / "kubeconfig", namespace=NAMESPACE)
        self.exec_kubeconfig = self._write_exec_kubeconfig(workdir / "kubeconfig-exec")
        api.ensure_namespace(NAMESPACE)
        add_platform(api)
        api.auto_ready = True  # every Deployment is ready as soon as it is written: no command is refused
        self.env = {**base_env, "KUBECONFIG": str(self.kubeconfig)}
        self._pools: dict[str, list[str]] = {}
        self._serial = 0

    def _write_exec_kubeconfig(self, path: Path) -> Path:
        """The same cluster, but the token comes from an exec credential plugin (as on EKS, GKE, AKS)."""
        document = yaml.safe_load(self.kubeconfig.read_text())
        credential = json.dumps(
            {
                "apiVersion": "client.authentication.k8s.io/v1",
                "kind": "ExecCredential",
                "status": {"token": self.api.token},
            }
        )
        document["users"][0]["user"] = {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": "/bin/sh",
                "args": ["-c", f"printf '%s' '{credential}'"],
                "interactiveMode": "Never",
            }
        }
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        path.chmod(0o600)
        return path

    # --- seeding through the plugin, in process -----------------------------------------------------

    def canary(self, *args: str) -> str:
        """`kubectl canary ARGS` in this process; raises unless it exits 0."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = canary_main(["--kubeconfig", str(self.kubeconfig), "-n", NAMESPACE, *args])
        if code != 0:
            raise SeedFailed(f"kubectl canary {' '.join(args)} exited {code}: {err.getvalue().strip()}")
        return out.getvalue()

    def new_name(self, prefix: str) -> str:
        self._serial += 1
        return f"{prefix}{self._serial}"

    def seed_app(self, name: str, phase: str, router: str = "gloo") -> str:
        """An app in `phase`: stable (v1), header (v1 + header route to v2) or weighted (v1 50%, v2 50%)."""
        if router == "gloo":
            self.canary("init", name)
        else:
            self.canary("init", name, "--router", router, "--gateway", "gloo-system/public")
        if phase in ("header", "weighted"):
            self.canary("header", name, "v2")
        if phase == "weighted":
            self.canary("weight", name, "50")
        return name

    def accept_route_table(self, app: str) -> None:
        """Gloo's verdict on the app's RouteTable, as its reporter writes it."""
        route_table = self.api.get("routetables", NAMESPACE, f"{app}-routes")
        assert route_table is not None
        route_table["status"] = {"statuses": {"gloo-system": {"state": "Accepted", "reportedBy": "gateway"}}}
        self.api.replace(route_table, manager="gloo")

    def fill_pool(self, pool: str, phase: str, count: int) -> None:
        """`count` apps in `phase`, each used once by a command that moves it on (header, finish, ...)."""
        names = self._pools.setdefault(pool, [])
        for _ in range(count):
            names.append(self.seed_app(self.new_name(pool), phase))

    def take(self, pool: str) -> str:
        names = self._pools.get(pool)
        if not names:
            raise SeedFailed(f"the pool of {pool!r} apps is empty; seed more")
        return names.pop(0)


def add_platform(api: FakeApiServer) -> None:
    """The platform team's VirtualService (docs/design.md section 1): `/` to RouteTables labelled apiGroup=example."""
    api.ensure_namespace("gloo-system")
    api.create(PLATFORM_VIRTUAL_SERVICE)


# --- the scaling run: thousands of apps stored directly ----------------------------------------------

APPS_PER_NAMESPACE = 50
MANAGER = "kubectl-canary"
_MANAGED_BY = {"app.kubernetes.io/managed-by": MANAGER}


def _destination(app: str, namespace: str, version: str) -> Obj:
    return {"upstream": {"name": app, "namespace": namespace}, "subset": {"values": {"version": version}}}


def route_table(app: str, namespace: str, phase: str) -> Obj:
    primary_action: Obj = {"single": _destination(app, namespace, "v1")}
    if phase == "weighted":
        primary_action = {
            "multi": {
                "destinations": [
                    {"destination": _destination(app, namespace, "v1"), "weight": 80},
                    {"destination": _destination(app, namespace, "v2"), "weight": 20},
                ]
            }
        }
    routes = [{"name": f"{app}-primary", "matchers": [{"prefix": f"/{app}"}], "routeAction": primary_action}]
    if phase in ("header", "weighted"):
        header = {
            "name": f"{app}-canary-header",
            "matchers": [{"prefix": f"/{app}", "headers": [{"name": "stage", "value": "canary"}]}],
            "routeAction": {"single": _destination(app, namespace, "v2")},
        }
        routes.insert(0, header)
    return {
        "apiVersion": "gateway.solo.io/v1",
        "kind": "RouteTable",
        "metadata": {
            "name": f"{app}-routes",
            "namespace": namespace,
            "labels": {"apiGroup": "example", **_MANAGED_BY},
        },
        "spec": {"routes": routes},
        "status": {"statuses": {"gloo-system": {"state": 1, "reportedBy": "gateway"}}},
    }


def deployment(app: str, namespace: str, version: str, replicas: int = 2) -> Obj:
    """A Deployment the size of a real one (status with conditions), ready."""
    pod_labels = {"app": app, "version": version}
    container = {
        "name": app,
        "image": "hashicorp/http-echo",
        "args": ["-listen=:8080", f"-text=version:{app}-$(VERSION)"],
        "env": [{"name": "VERSION", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['version']"}}}],
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
        "imagePullPolicy": "IfNotPresent",
    }
    condition = {
        "lastTransitionTime": "2025-01-01T00:00:00Z",
        "lastUpdateTime": "2025-01-01T00:00:00Z",
        "status": "True",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": f"{app}-{version}",
            "namespace": namespace,
            "labels": {**pod_labels, **_MANAGED_BY},
            "annotations": {"deployment.kubernetes.io/revision": "1"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(pod_labels)},
            "template": {"metadata": {"labels": dict(pod_labels)}, "spec": {"containers": [container]}},
        },
        "status": {
            "observedGeneration": 1,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "conditions": [
                {**condition, "type": "Available", "reason": "MinimumReplicasAvailable"},
                {**condition, "type": "Progressing", "reason": "NewReplicaSetAvailable"},
            ],
        },
    }


def scale_phase(index: int) -> str:
    """One app in ten is weighted, one in ten in the header phase, the rest stable."""
    return {0: "weighted", 1: "header"}.get(index % 10, "stable")


def seed_scale_apps(api: FakeApiServer, start: int, stop: int) -> float:
    """Store apps start..stop-1 (RouteTable and Deployments); returns the seconds it took."""
    began = time.perf_counter()
    for index in range(start, stop):
        namespace = f"scale-{index // APPS_PER_NAMESPACE:03d}"
        if index % APPS_PER_NAMESPACE == 0:
            api.ensure_namespace(namespace)
        app = f"app{index:05d}"
        phase = scale_phase(index)
        api.create(deployment(app, namespace, "v1"), manager=MANAGER)
        if phase != "stable":
            api.create(deployment(app, namespace, "v2"), manager=MANAGER)
        api.create(route_table(app, namespace, phase), manager=MANAGER)
    return time.perf_counter() - began


def timed_get(api: FakeApiServer, path: str) -> tuple[int, float]:
    """(bytes, ms) of one GET on the plain-HTTP side, measured from this process: what the fake server
    alone spends answering a LIST, to tell it apart from the plugin's own time."""
    request = urllib.request.Request(api.url + path, headers={"Authorization": f"Bearer {api.token}"})
    began = time.perf_counter()
    with urllib.request.urlopen(request) as response:
        body = response.read()
    return len(body), (time.perf_counter() - began) * 1000.0


@contextlib.contextmanager
def scale_server() -> Iterator[FakeApiServer]:
    with FakeApiServer() as api:
        add_platform(api)
        yield api
