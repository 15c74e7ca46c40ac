"""Shell completion: kubectl >= 1.26 through kubectl_complete-canary, and the scripts of `completion`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubectl_canary.cli import main
from kubectl_canary.commands import all_commands
from kubectl_canary.commands.completion import SCRIPTS
from kubectl_canary.completer import PERCENTS
from tests.conftest import NAMESPACE
from tests.fake_apiserver import FakeApiServer
from tests.packaging.conftest import kubectl_path

COMMANDS = all_commands()

BIN = Path(sys.executable).parent  # kubectl-canary and kubectl_complete-canary (pip's console scripts)
VERBS = [command.name for command in COMMANDS]

Run = Callable[..., tuple[list[str], int]]
CAPTURE: dict[str, Any] = {"capture_output": True, "text": True, "timeout": 60}


def parse(output: str) -> tuple[list[str], int]:
    """Cobra's format: candidates (without descriptions), then `:<directive>`."""
    lines = [line for line in output.splitlines() if line]
    assert lines and lines[-1].startswith(":"), output
    return [line.split("\t")[0] for line in lines[:-1]], int(lines[-1][1:])


@pytest.fixture
def kubectl_complete(kubeconfig: Path) -> Run:
    """`kubectl __complete canary ARGS...`, what kubectl's own completion script runs on <TAB>."""
    if not (BIN / "kubectl_complete-canary").exists():
        pytest.fail("no kubectl_complete-canary next to python: pip install -e . (scripts/test does)")
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "KUBECONFIG": str(kubeconfig)}

    def run(*args: str) -> tuple[list[str], int]:
        done = subprocess.run(
            [kubectl_path(), "__complete", "canary", *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return parse(done.stdout)

    return run


@pytest.fixture
def hidden_complete(kubeconfig: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """`kubectl-canary __complete ARGS...`, in this process."""

    def run(*args: str) -> tuple[list[str], int]:
        capsys.readouterr()  # drop what came before
        assert main(["__complete", *args]) == 0
        return parse(capsys.readouterr().out)

    return run


def seed(api: FakeApiServer) -> None:
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    for app, namespace in (("echo", NAMESPACE), ("web", NAMESPACE), ("shop", "other")):
        assert main(["init", app, "-n", namespace]) == 0


def requests_since(api: FakeApiServer, before: int) -> list[str]:
    """The plugin's requests: not kubectl's own `GET /version` (a kubectl "dispatcher" that picks the
    kubectl matching the server's version, as cloud SDKs install, asks before running anything)."""
    return [f"{r.method} {r.path}" for r in api.requests[before:] if r.path != "/version"]


@pytest.fixture
def helper(kubeconfig: Path) -> Run:
    """`kubectl_complete-canary ARGS...`, run as kubectl runs it."""

    def run(*args: str) -> tuple[list[str], int]:
        done = subprocess.run([str(BIN / "kubectl_complete-canary"), *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return parse(done.stdout)

    return run


def test_kubectl_completes_subcommands_and_flags_without_the_cluster(api: FakeApiServer, kubectl_complete: Run) -> None:
    before = len(api.requests)
    assert kubectl_complete("") == (VERBS, 4)
    assert kubectl_complete("st") == (["status"], 4)
    flags, directive = kubectl_complete("weight", "--")
    assert {"--force", "--dry-run", "--namespace", "--kubeconfig", "--context", "--output"} <= set(flags)
    assert directive == 4
    assert kubectl_complete("weight", "--dry-run=") == (["--dry-run=none", "--dry-run=client", "--dry-run=server"], 4)
    assert kubectl_complete("status", "-o", "") == (["table", "wide", "name", "json", "yaml"], 4)
    assert kubectl_complete("completion", "") == (["bash", "zsh", "fish"], 4)
    assert kubectl_complete("weight", "echo", "") == (list(PERCENTS), 4 | 32)  # keep 0..100 in order
    assert kubectl_complete("init", "") == ([], 4)  # a new app's name: nothing to offer
    assert requests_since(api, before) == []


def test_the_helper_sends_no_request_for_subcommands_flags_and_fixed_values(api: FakeApiServer, helper: Run) -> None:
    assert helper("") == (VERBS, 4)
    assert "--dry-run" in helper("header", "--")[0]
    assert helper("weight", "echo", "1") == (["10", "100"], 4 | 32)
    assert helper("rbac", "-o", "") == (["yaml", "json"], 4)
    assert api.requests == []


LISTS = [f"GET /apis/gateway.solo.io/v1/namespaces/{NAMESPACE}/routetables",
         f"GET /apis/gateway.networking.k8s.io/v1/namespaces/{NAMESPACE}/httproutes"]


def test_kubectl_completes_app_names_with_one_list_per_router(api: FakeApiServer, kubectl_complete: Run) -> None:
    seed(api)
    for verb in ("header", "weight", "finish", "abort", "status"):
        before = len(api.requests)
        assert kubectl_complete(verb, "") == (["echo", "web"], 4)
        assert requests_since(api, before) == LISTS
    assert kubectl_complete("status", "e") == (["echo"], 4)
    assert kubectl_complete("status", "-n", "other", "") == (["shop"], 4)
    assert kubectl_complete("weight", "--namespace=other", "") == (["shop"], 4)
    assert kubectl_complete("status", "-A", "") == ([], 4)  # status -A takes no APP


def test_app_names_follow_kubeconfig_and_context(api: FakeApiServer, kubectl_complete: Run, tmp_path: Path) -> None:
    seed(api)
    document = yaml.safe_load(api.write_kubeconfig(tmp_path / "base", namespace="other").read_text())
    good = document["contexts"][0]
    broken_cluster = {"name": "nowhere", "cluster": {"server": "https://127.0.0.1:1"}}
    document["clusters"].append(broken_cluster)
    document["contexts"] = [
        {"name": "broken", "context": {"cluster": "nowhere", "user": good["context"]["user"]}},
        {**good, "name": "good"},
    ]
    document["current-context"] = "broken"
    other = tmp_path / "other-kubeconfig"
    other.write_text(yaml.safe_dump(document))
    assert kubectl_complete("status", "--kubeconfig", str(other), "") == ([], 4)  # broken: nothing, no error
    assert kubectl_complete("status", "--kubeconfig", str(other), "--context", "good", "") == (["shop"], 4)
    assert kubectl_complete("status", "--kubeconfig", str(other), "--context", "") == (["broken", "good"], 4)


def test_versions_after_header_app(api: FakeApiServer, hidden_complete: Run) -> None:
    seed(api)
    before = len(api.requests)
    assert hidden_complete("header", "echo", "") == (["v2"], 4)
    route_table = f"/apis/gateway.solo.io/v1/namespaces/{NAMESPACE}/routetables/echo-routes"
    httproute = f"/apis/gateway.networking.k8s.io/v1/namespaces/{NAMESPACE}/httproutes/echo"
    assert requests_since(api, before) == [f"GET {route_table}", f"GET {httproute}"]
    assert main(["header", "echo", "v2"]) == 0
    assert hidden_complete("header", "echo", "") == (["v2"], 4)  # the running canary: a new --header
    assert hidden_complete("header", "missing", "") == ([], 4)


def test_the_kubeconfig_flag_completes_file_names(hidden_complete: Run) -> None:
    assert hidden_complete("status", "--kubeconfig", "") == ([], 0)


def test_flag_and_subcommand_completion_does_not_import_kubernetes(kubeconfig: Path) -> None:
    code = (
        "import sys; from kubectl_canary.cli import main; "
        "main(['__complete', 'weight', '--']); main(['__complete', '']); main(['__complete', 'weight', 'echo', '']); "
        "assert 'kubernetes' not in sys.modules, 'kubernetes imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_kubectl_uses_the_archives_helper(api: FakeApiServer, minimal_env: dict[str, str], tmp_path: Path) -> None:
    seed(api)
    before = len(api.requests)
    done = subprocess.run(
        [kubectl_path(), "__complete", "canary", ""], env=minimal_env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert parse(done.stdout) == (VERBS, 4)
    done = subprocess.run(
        [kubectl_path(), "__complete", "canary", "weight", ""], env=minimal_env, capture_output=True, text=True
    )
    assert parse(done.stdout) == (["echo", "web"], 4)
    assert requests_since(api, before) == LISTS


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "powershell"])
def test_completion_prints_a_script(shell: str, capsys: pytest.CaptureFixture[str]) -> None:
    if shell == "powershell":
        assert main(["completion", shell]) == 2
        assert "invalid choice" in capsys.readouterr().err
        return
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert script == SCRIPTS[shell]
    assert "kubectl-canary __complete" in script
    binary = shutil.which(shell)
    if binary is None:
        return  # the syntax check needs the shell
    check = [binary, "--no-execute", "-c", script] if shell == "fish" else [binary, "-n", "-c", script]
    done = subprocess.run(check, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def bash_complete(line: str, env: dict[str, str]) -> list[str]:
    """What `kubectl-canary <line><TAB>` offers in bash with our script loaded."""
    script = (
        f"{SCRIPTS['bash']}\n"
        'COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; _kubectl_canary; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(["bash", "-c", script, "bash", line], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [reply for reply in done.stdout.splitlines() if reply]


def test_the_bash_script_completes_kubectl_canary(api: FakeApiServer, kubeconfig: Path, tmp_path: Path) -> None:
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    seed(api)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "KUBECONFIG": str(kubeconfig)}
    assert bash_complete("kubectl-canary st", env) == ["status"]
    assert bash_complete("kubectl-canary ", env) == VERBS
    assert bash_complete("kubectl-canary weight ", env) == ["echo", "web"]
    assert bash_complete("kubectl-canary weight echo ", env) == list(PERCENTS)
    assert bash_complete("kubectl-canary weight --dry-run=c", env) == ["client"]  # bash splits at '='
    assert bash_complete("kubectl-canary status -n other ", env) == ["shop"]
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "kube.yaml").write_text("")
    files = bash_complete(f"kubectl-canary status --kubeconfig {tmp_path}/configs/ku", env)
    assert files == [f"{tmp_path}/configs/kube.yaml"]


def shell_env(kubeconfig: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "KUBECONFIG": str(kubeconfig)}


def test_the_fish_script_completes_kubectl_canary(api: FakeApiServer, kubeconfig: Path, tmp_path: Path) -> None:
    if shutil.which("fish") is None:
        pytest.skip("no fish")
    seed(api)
    script = tmp_path / "kubectl-canary.fish"
    script.write_text(SCRIPTS["fish"])

    def fish_complete(line: str) -> list[str]:
        command = f"source {script}; complete -C {line!r}"
        done = subprocess.run(["fish", "--no-config", "-c", command], env=shell_env(kubeconfig), **CAPTURE)
        assert done.returncode == 0, done.stderr
        return [reply.split("\t")[0] for reply in done.stdout.splitlines()]

    assert fish_complete("kubectl-canary ") == sorted(VERBS)
    assert fish_complete("kubectl-canary weight ") == ["echo", "web"]
    assert fish_complete("kubectl-canary weight echo ") == list(PERCENTS)
    assert fish_complete("kubectl-canary status -n ") == ["default", NAMESPACE, "other"]


def test_the_zsh_script_hands_candidates_to_describe(api: FakeApiServer, kubeconfig: Path, tmp_path: Path) -> None:
    """zsh's completion system needs a terminal: stub _describe and _files, and call the function."""
    if shutil.which("zsh") is None:
        pytest.skip("no zsh")
    seed(api)
    script = tmp_path / "kubectl-canary.zsh"
    script.write_text(SCRIPTS["zsh"])

    def zsh_complete(*words: str) -> list[str]:
        command = (
            'compdef() { :; }; _describe() { print -rl -- "$@" "${(@P)${@[-1]}}"; }; _files() { print FILES; }; '
            f"source {script}; words=(kubectl-canary {' '.join(repr(w) for w in words)}); CURRENT=${{#words}}; "
            "_kubectl_canary"
        )
        done = subprocess.run(["zsh", "-f", "-c", command], env=shell_env(kubeconfig), **CAPTURE)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    assert zsh_complete("weight", "") == [
        "kubectl-canary", "candidates", "echo:gloo: stable on v1", "web:gloo: stable on v1"]
    assert zsh_complete("weight", "echo", "") == ["-V", "kubectl-canary", "candidates", *PERCENTS]
    assert zsh_complete("--kubeconfig", "") == ["FILES"]
    assert zsh_complete("weight", "--dry-run=s") == ["kubectl-canary", "candidates", "--dry-run=server"]
