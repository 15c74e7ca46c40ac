"""Fixtures: a fake API server per test, a kubeconfig pointing at it, and ways to run the plugin."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubectl_canary.cli import main
from tests.design_routes import PLATFORM_VIRTUAL_SERVICE
from tests.fake_apiserver import FakeApiServer
from tests.fake_apiserver.gateway_controller import GatewayController

NAMESPACE = "echo"


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def api() -> Iterator[FakeApiServer]:
    with FakeApiServer() as server:
        server.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
        yield server




@pytest.fixture
def platform(api: FakeApiServer) -> dict:
    """The platform team's VirtualService (docs/design.md section 1): `/` to RouteTables labelled apiGroup=example."""
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gloo-system"}})
    return api.create(PLATFORM_VIRTUAL_SERVICE)


GATEWAY = {
    "apiVersion": "gateway.networking.k8s.io/v1",
    "kind": "Gateway",
    "metadata": {"name": "public", "namespace": "infra"},
    "spec": {
        "gatewayClassName": "fake",
        "listeners": [
            {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "All"}}}
        ],
    },
}


@pytest.fixture
def gateway(api: FakeApiServer) -> Iterator[GatewayController]:
    """A Gateway API implementation: Gateway infra/public (listener http, routes from every namespace) and
    its controller, which judges every HTTPRoute change 50 ms after it lands."""
    api.ensure_namespace("infra")
    api.create(GATEWAY)
    with GatewayController(api, delay=0.05) as controller:
        yield controller


@pytest.fixture
def kubeconfig(api: FakeApiServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = api.write_kubeconfig(tmp_path / "kubeconfig", namespace=NAMESPACE)
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path


@pytest.fixture
def canary(kubeconfig: Path, monkeypatch: pytest.MonkeyPatch):
    """Run `kubectl canary ARGS` in this process (fast); returns exit code, stdout, stderr.

    A bug raises here instead of becoming an `error: internal error` line.
    """
    monkeypatch.setenv("KUBECTL_CANARY_DEBUG", "1")

    def run(*args: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
        return Result(code, out.getvalue(), err.getvalue())

    return run


def kubectl_binary() -> str:
    found = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not found:
        pytest.fail("no kubectl binary: run scripts/test, which installs one into .venv/bin")
    return found


@pytest.fixture
def kubectl(kubeconfig: Path):
    """Run the real kubectl binary, which finds our plugin as `kubectl-canary` on PATH."""
    plugin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{plugin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    env["KUBECONFIG"] = str(kubeconfig)

    def run(*args: str, timeout: float = 60) -> Result:
        done = subprocess.run([kubectl_binary(), *args], env=env, capture_output=True, text=True, timeout=timeout)
        return Result(done.returncode, done.stdout, done.stderr)

    return run
