"""Commands racing each other (separate processes) and a foreign writer: never a mix, never a lost route."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

from kubectl_canary.routers.gloo import parse_routes
from tests.design_routes import STABLE, named, phase2

NS = "echo"
PLUGIN = str(Path(sys.executable).parent / "kubectl-canary")
STALE = "error: RouteTable echo-routes changed 5 times while it was being updated"


def routes(api) -> list[dict]:
    return api.get("routetables", NS, "echo-routes")["spec"]["routes"]


def start(kubeconfig: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    return subprocess.Popen([PLUGIN, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(processes: list[subprocess.Popen[str]]) -> list[tuple[int, str]]:
    results = []
    for process in processes:
        _, err = process.communicate(timeout=120)
        results.append((process.returncode, err))
    return results


def test_racing_weights_end_in_exactly_one_of_them(api, kubeconfig, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    api.set_deployment_ready(NS, "echo-v1")  # the primary is available, as on a cluster
    api.set_deployment_ready(NS, "echo-v2")
    weights = [5, 15, 25, 35, 45, 55]
    results = finish([start(kubeconfig, "weight", "echo", str(w)) for w in weights])
    for code, err in results:
        assert (code, err) == (0, "") or (code == 1 and err.startswith(STALE)), err
    succeeded = [w for w, (code, _) in zip(weights, results) if code == 0]
    assert succeeded
    assert routes(api) in [named(phase2(w)) for w in succeeded]
    patches = [r for r in api.requests if r.method == "PATCH"]
    # Every successful write was computed from the object it replaced: 409s show the races happened.
    assert len([p for p in patches if p.status == 200]) >= len(succeeded)


def test_racing_header_weight_and_abort_never_mix(api, kubeconfig, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    api.set_deployment_ready(NS, "echo-v1")  # the primary is available, as on a cluster
    api.set_deployment_ready(NS, "echo-v2")
    commands = [
        ["weight", "echo", "30"],
        ["abort", "echo", "--keep-canary"],
        ["header", "echo", "v2", "--header", "x=y"],
        ["weight", "echo", "60"],
    ]
    results = finish([start(kubeconfig, *c) for c in commands])
    for code, err in results:
        assert code in (0, 1), err
        assert code == 0 or (err.count("\n") == 1 and err.startswith("error: ")), err
    final = routes(api)
    state = parse_routes("echo", final).state  # always readable: never a mix of shapes
    if state.canary is None:
        assert final == named(STABLE)
    else:
        assert state.canary == "v2" and state.primary == "v1"
        assert final[0]["name"] == "echo-canary-header" and final[1]["name"] == "echo-primary"


def test_foreign_routes_added_during_a_race_survive(api, kubeconfig, canary):
    """Another manager appends routes (JSON patch, as `kubectl patch --type json` does) while our
    commands run with --force-conflicts: every foreign route is still there at the end."""
    canary("init", "echo")
    canary("header", "echo", "v2")
    api.set_deployment_ready(NS, "echo-v1")  # the primary is available, as on a cluster
    api.set_deployment_ready(NS, "echo-v2")
    added = []

    def foreign_writer() -> None:
        for i in range(8):
            route = {"matchers": [{"exact": f"/foreign-{i}"}], "directResponseAction": {"status": 200}}
            body = json.dumps([{"op": "add", "path": "/spec/routes/-", "value": route}]).encode()
            request = urllib.request.Request(
                f"{api.url}/apis/gateway.solo.io/v1/namespaces/{NS}/routetables/echo-routes?fieldManager=ops",
                data=body,
                method="PATCH",
                headers={"Content-Type": "application/json-patch+json", "Authorization": f"Bearer {api.token}"},
            )
            with urllib.request.urlopen(request) as response:
                assert response.status == 200
            added.append(route)

    writer = threading.Thread(target=foreign_writer)
    writer.start()
    processes = [start(kubeconfig, "weight", "echo", str(w), "--force-conflicts") for w in (10, 20, 30, 40)]
    results = finish(processes)
    writer.join()
    for code, err in results:
        assert code == 0 or err.startswith(STALE), err
    final = routes(api)
    assert len(added) == 8
    for route in added:
        assert route in final
    assert [r.get("name") for r in final[:2]] == ["echo-canary-header", "echo-primary"]
