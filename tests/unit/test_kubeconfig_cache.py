"""The kubeconfig parse cache (kube/kubeconfig.py): a parse is kept in kubectl's cache directory, keyed by
the file's identity, and never outlives a change to the file."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from kubectl_canary.kube.kubeconfig import ConnectionOptions, KubeconfigError, resolve

HOUR_AGO = time.time() - 3600


def kubeconfig(path: Path, server: str, *, extra: str = "", mtime: float | None = HOUR_AGO) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: c\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\n{extra}"
        "users:\n- name: u\n  user:\n    token: t0ken\n"
        "contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: team\n"
        "current-context: c\n"
    )
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "kubectl-canary").glob("kubeconfig-*.json"))


def server(path: Path, env: dict[str, str]) -> str:
    return resolve(ConnectionOptions(kubeconfig=str(path)), env).server


def test_a_parse_is_kept_private_in_kubectls_cache_dir_and_used(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", "https://a.example:6443")
    env = {"KUBECACHEDIR": str(tmp_path / "cache")}
    assert server(path, env) == "https://a.example:6443"
    [entry] = entries(tmp_path / "cache")
    assert stat.S_IMODE(entry.stat().st_mode) == 0o600
    assert stat.S_IMODE(entry.parent.stat().st_mode) == 0o700
    # What the next command reads is the entry, while the file keeps its identity.
    kept = json.loads(entry.read_text())
    kept["document"]["clusters"][0]["cluster"]["server"] = "https://from-the-cache.example"
    entry.write_text(json.dumps(kept))
    assert server(path, env) == "https://from-the-cache.example"


def test_without_kubecachedir_the_cache_is_under_home(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", "https://a.example:6443")
    assert server(path, {"HOME": str(tmp_path / "home")}) == "https://a.example:6443"
    assert len(entries(tmp_path / "home" / ".kube" / "cache")) == 1


@pytest.mark.parametrize("same_mtime", [True, False])
def test_a_changed_kubeconfig_is_read_again_even_with_its_old_size_and_mtime(tmp_path: Path, same_mtime: bool) -> None:
    path = kubeconfig(tmp_path / "config", "https://a.example:6443")
    env = {"KUBECACHEDIR": str(tmp_path / "cache")}
    assert server(path, env) == "https://a.example:6443"
    # Rewritten in place, same length, and (a tool keeping timestamps) the same mtime: its ctime differs.
    kubeconfig(path, "https://b.example:6443", mtime=HOUR_AGO if same_mtime else time.time() - 60)
    assert server(path, env) == "https://b.example:6443"
    assert server(path, env) == "https://b.example:6443"


def test_a_replaced_kubeconfig_is_read_again(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", "https://a.example:6443")
    env = {"KUBECACHEDIR": str(tmp_path / "cache")}
    assert server(path, env) == "https://a.example:6443"
    kubeconfig(tmp_path / "new", "https://b.example:6443")
    os.replace(tmp_path / "new", path)  # as kubectl config and the OIDC write-back do: a new inode
    assert server(path, env) == "https://b.example:6443"


def test_a_kubeconfig_written_just_now_is_not_kept(tmp_path: Path) -> None:
    """Within the same timestamp tick a second write could keep the file's identity: no entry yet."""
    path = kubeconfig(tmp_path / "config", "https://a.example:6443", mtime=None)
    env = {"KUBECACHEDIR": str(tmp_path / "cache")}
    assert server(path, env) == "https://a.example:6443"
    assert entries(tmp_path / "cache") == []


@pytest.mark.parametrize("content", ["{not json", "[]", '{"format": 1}', ""])
def test_an_unreadable_entry_is_ignored_and_replaced(tmp_path: Path, content: str) -> None:
    path = kubeconfig(tmp_path / "config", "https://a.example:6443")
    env = {"KUBECACHEDIR": str(tmp_path / "cache")}
    server(path, env)
    [entry] = entries(tmp_path / "cache")
    entry.write_text(content)
    assert server(path, env) == "https://a.example:6443"
    assert json.loads(entry.read_text())["document"]["clusters"][0]["cluster"]["server"] == "https://a.example:6443"


def test_a_cache_dir_that_cannot_be_written_changes_nothing(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "config", "https://a.example:6443")
    (tmp_path / "file").write_text("")
    assert server(path, {"KUBECACHEDIR": str(tmp_path / "file" / "cache")}) == "https://a.example:6443"


def test_yaml_that_json_cannot_hold_is_not_kept(tmp_path: Path) -> None:
    """A date (or binary, or a non-string key) would come back from JSON as something else."""
    extra = "    extensions:\n    - name: x\n      extension:\n        since: 2024-01-01\n"
    path = kubeconfig(tmp_path / "config", "https://a.example:6443", extra=extra)
    env = {"KUBECACHEDIR": str(tmp_path / "cache")}
    assert server(path, env) == "https://a.example:6443"
    assert entries(tmp_path / "cache") == []


def test_errors_are_the_same_with_a_cache(tmp_path: Path) -> None:
    env = {"KUBECACHEDIR": str(tmp_path / "cache")}
    bad = tmp_path / "bad"
    bad.write_text("clusters: [\n")
    os.utime(bad, (HOUR_AGO, HOUR_AGO))
    for _ in range(2):
        with pytest.raises(KubeconfigError, match=r"is not valid YAML \(line 2\)"):
            server(bad, env)
    scalar = tmp_path / "scalar"
    scalar.write_text("just text\n")
    os.utime(scalar, (HOUR_AGO, HOUR_AGO))
    for _ in range(2):
        with pytest.raises(KubeconfigError, match="not a kubeconfig"):
            server(scalar, env)
    assert [json.loads(e.read_text())["document"] for e in entries(tmp_path / "cache")] == ["just text"]
