"""Through the real kubectl binary: plugin discovery, argument pass-through, exit codes."""

from __future__ import annotations

import json

from tests.design_routes import FINISHED, PHASE1, STABLE, named, phase2

NS = "echo"


def routes(api) -> list[dict]:
    return api.get("routetables", NS, "echo-routes")["spec"]["routes"]


def test_kubectl_finds_the_plugin(kubectl):
    listed = kubectl("plugin", "list")
    assert "kubectl-canary" in listed.out
    result = kubectl("canary", "--help")
    assert result.code == 0
    assert "Two-phase canary rollouts on Gloo Edge" in result.out
    for verb in ("init", "header", "weight", "finish", "abort", "status"):
        assert verb in result.out


def test_walkthrough_through_kubectl(api, kubectl):
    assert kubectl("canary", "init", "echo", "-n", NS).code == 0
    assert routes(api) == named(STABLE)

    assert kubectl("canary", "header", "echo", "v2").code == 0
    assert routes(api) == named(PHASE1)

    refused = kubectl("canary", "weight", "echo", "50")
    assert refused.code == 1
    assert refused.err.startswith("error: deployment echo-v2 has 0/1 ready replicas")

    api.set_deployment_ready(NS, "echo-v2")
    assert kubectl("canary", "weight", "echo", "50", "--namespace", NS).code == 0
    assert routes(api) == named(phase2(50))

    status = kubectl("canary", "status", "echo", "-o", "json")
    assert json.loads(status.out)["canary"]["weight"] == 50

    assert kubectl("canary", "finish", "echo").code == 0
    assert routes(api) == named(FINISHED)


def test_usage_errors_exit_2_through_kubectl(api, kubectl):
    result = kubectl("canary", "weight", "echo", "500")
    assert result.code == 2
    assert result.err.strip() == "error: invalid weight '500': give a percentage from 0 to 100, with at most 3 decimals"
    assert api.requests == []


def test_a_command_imports_only_its_own_verb(kubeconfig):
    import subprocess
    import sys

    code = (
        "import sys; from kubectl_canary.cli import main; main(['weight', 'echo', '10']); "
        "print(sorted(m for m in sys.modules if m.startswith('kubectl_canary.commands.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.splitlines()[-1] == "['kubectl_canary.commands.weight']", done.stderr
