"""The release archive, unpacked in an empty directory, run by a python3 with no site-packages of ours."""

from __future__ import annotations

import glob
import io
import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from kubectl_canary import __version__
from kubectl_canary.cli import main
from tests.conftest import NAMESPACE
from tests.fake_apiserver import FakeApiServer
from tests.packaging.conftest import kubectl_path, python_only_dir, system_python

HEADER = "NAMESPACE    APP    PHASE    PRIMARY    CANARY    WEIGHT    HEADER    ROUTER    VERDICT"
# Every top-level package the archive vendors, and what the plugin imports.
IMPORTS = ("kubectl_canary.cli", "kubectl_canary.completer", "yaml", "ruamel.yaml", "tabulate")
# The archive's top-level entries: the plugin, the three packages it vendors (no Kubernetes client:
# the plugin speaks to the API server itself) and their metadata, the bootstrap.
TOP_LEVEL = {
    "__main__.py", "kubectl_canary", "yaml", "ruamel", "tabulate",
    "pyyaml-6.0.3.dist-info", "ruamel_yaml-0.19.1.dist-info", "tabulate-0.9.0.dist-info",
}


def seed(api: FakeApiServer, kubeconfig: Path) -> None:
    """App echo, stable on v1 with its pods ready (so `status` exits 0)."""
    assert main(["init", "echo", "-n", NAMESPACE, "--kubeconfig", str(kubeconfig)]) == 0
    api.set_deployment_ready(NAMESPACE, "echo-v1")


def run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def assert_status_table(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == HEADER.split()
    assert lines[1].split()[:5] == [NAMESPACE, "echo", "stable", "v1", "(1/1)"]


def test_archive_layout(plugin_dir: Path) -> None:
    assert sorted(p.name for p in plugin_dir.iterdir()) == ["LICENSE", "kubectl-canary", "kubectl_complete-canary"]
    app = (plugin_dir / "kubectl-canary").read_bytes()
    assert app.startswith(b"#!/usr/bin/env python3\n")
    assert os.access(plugin_dir / "kubectl-canary", os.X_OK)
    assert os.access(plugin_dir / "kubectl_complete-canary", os.X_OK)
    with zipfile.ZipFile(io.BytesIO(app)) as archive:
        names = archive.namelist()
    assert "__main__.py" in names and "kubectl_canary/cli.py" in names
    assert not [n for n in names if n.endswith((".so", ".pyd", ".dylib", ".pyc"))], "compiled files vendored"
    assert "yaml/__init__.py" in names and "ruamel/yaml/__init__.py" in names
    assert {name.split("/", 1)[0] for name in names} == TOP_LEVEL


def test_kubectl_canary_status_through_kubectl_with_only_python3(
    api: FakeApiServer, kubeconfig: Path, plugin_dir: Path, minimal_env: dict[str, str], tmp_path: Path
) -> None:
    seed(api, kubeconfig)
    first = run([kubectl_path(), "canary", "status", "-A"], minimal_env, tmp_path)  # unpacks into $HOME/.cache
    assert_status_table(first)
    assert list((Path(minimal_env["HOME"]) / ".cache" / "kubectl-canary").iterdir())
    again = run([kubectl_path(), "canary", "status", "-A"], minimal_env, tmp_path)  # from the cache
    assert_status_table(again)
    version = run([kubectl_path(), "canary", "version"], minimal_env, tmp_path)
    assert version.stdout.strip() == f"kubectl-canary v{__version__}"


@pytest.mark.parametrize("cache", ["unpacked", "unwritable"])
def test_runs_isolated_with_or_without_a_cache(
    api: FakeApiServer, kubeconfig: Path, plugin_dir: Path, minimal_env: dict[str, str], tmp_path: Path, cache: str
) -> None:
    """`python3 -I -S`: no site-packages at all, no environment variables of Python."""
    seed(api, kubeconfig)
    env = dict(minimal_env)
    if cache == "unwritable":
        env["XDG_CACHE_HOME"] = os.devnull + "/cache"  # not a directory: runs from the archive itself
    done = run([system_python(), "-I", "-S", str(plugin_dir / "kubectl-canary"), "status", "-A"], env, tmp_path)
    assert_status_table(done)


def test_an_exec_kubeconfig_runs_its_plugin_without_the_kubernetes_package(
    api: FakeApiServer, kubeconfig: Path, plugin_dir: Path, minimal_env: dict[str, str], tmp_path: Path
) -> None:
    """An exec credential plugin (interactiveMode IfAvailable, stdin not a terminal) from the archive: the
    plugin runs it itself, with no Kubernetes client package in the archive or the cache."""
    seed(api, kubeconfig)
    document = yaml.safe_load(kubeconfig.read_text())
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1beta1",
        "kind": "ExecCredential",
        "status": {"token": api.token},
    }
    document["users"][0]["user"] = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "python3",
            "args": ["-c", f"print({json.dumps(credential)!r})"],
            "interactiveMode": "IfAvailable",
        }
    }
    exec_kubeconfig = tmp_path / "exec-kubeconfig"
    exec_kubeconfig.write_text(yaml.safe_dump(document))
    env = {**minimal_env, "KUBECONFIG": str(exec_kubeconfig)}
    assert_status_table(run([kubectl_path(), "canary", "status", "-A"], env, tmp_path))
    (build,) = (Path(env["HOME"]) / ".cache" / "kubectl-canary").iterdir()
    assert not (build / "kubernetes").exists(), "the archive vendors the kubernetes package"


def test_every_vendored_package_imports_from_the_zip(plugin_dir: Path, tmp_path: Path) -> None:
    code = (
        "import importlib, sys; sys.path.insert(0, sys.argv[1]); "
        f"[importlib.import_module(m) for m in {IMPORTS!r}]; "
        "import yaml, os; assert not yaml.__with_libyaml__; "
        "assert all(m.__file__.startswith(sys.argv[1]) for m in map(sys.modules.get, "
        f"{list(IMPORTS)!r})); print('ok')"
    )
    archive = str(plugin_dir / "kubectl-canary")
    done = run([system_python(), "-I", "-S", "-c", code, archive], {}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def other_pythons() -> list[str]:
    """Further CPython 3.9+ interpreters on this machine (pyenv), to run the one archive with."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = []
    for path in sorted(glob.glob(os.path.join(root, "versions", "3.*", "bin", "python3"))):
        version = Path(path).parent.parent.name.split(".")
        if len(version) >= 2 and version[1].isdigit() and int(version[1]) >= 9:
            found.append(path)
    return found


def test_one_archive_for_every_supported_python(
    api: FakeApiServer, kubeconfig: Path, plugin_dir: Path, minimal_env: dict[str, str], tmp_path: Path
) -> None:
    pythons = other_pythons()
    if not pythons:
        pytest.skip("no other Python 3.9+ on this machine")
    seed(api, kubeconfig)
    for python in pythons:
        python_dir = python_only_dir(tmp_path / Path(python).parts[-3], python)
        env = {**minimal_env, "PATH": f"{plugin_dir}{os.pathsep}{python_dir}"}
        done = run([kubectl_path(), "canary", "status", "-A"], env, tmp_path)
        assert done.returncode == 0, f"{python}: {done.stderr}"
        assert_status_table(done)


def test_a_python_older_than_3_9_gets_one_line(plugin_dir: Path, tmp_path: Path) -> None:
    olds = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.[5-8].*/bin/python3")))
    if not olds:
        pytest.skip("no Python older than 3.9 on this machine")
    done = run([olds[0], str(plugin_dir / "kubectl-canary"), "version"], {}, tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("error: kubectl-canary needs Python 3.9 or newer")
    assert "Traceback" not in done.stderr


def test_the_offline_mode_runs_from_the_archive(plugin_dir: Path, tmp_path: Path) -> None:
    """`--local` needs ruamel.yaml, which the archive vendors: the diff of a header change on a repository."""
    repo = tmp_path / "repo"
    shutil.copytree(Path(__file__).resolve().parents[1] / "gitops" / "repos" / "plain", repo)
    done = run([system_python(), "-I", str(plugin_dir / "kubectl-canary"), "header", "echo", "v2", "--local",
                "-f", str(repo), "--diff"], {"HOME": str(tmp_path)}, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "echo-canary-header" in done.stdout and "nothing written (--diff)" in done.stdout
