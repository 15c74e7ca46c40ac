"""The fast kubeconfig reader: what it reads itself, and what it leaves to the kubernetes package."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kubectl_canary import kubeconfig
from kubectl_canary.kubeconfig import KubeconfigError, NeedsKubernetesClient, load_credentials

CA = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"


def write(path: Path, user: dict, cluster: dict | None = None, namespace: str = "team", name: str = "c") -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": cluster
                or {
                    "server": "https://k8s.example:6443/",
                    "certificate-authority-data": base64.b64encode(CA.encode()).decode(),
                },
            }
        ],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": namespace}}],
        "current-context": name,
    }
    path.write_text(yaml.safe_dump(document))
    return path


def plugin(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "bin" / "cred-plugin"
    script.parent.mkdir(exist_ok=True)
    script.write_text(f"#!{sys.executable}\nimport json, os, sys\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (
        "KUBECONFIG",
        "KUBERNETES_SERVICE_HOST",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


def test_token_and_ca(tmp_path):
    credentials = load_credentials(str(write(tmp_path / "k", {"token": "t0k"})), None)
    assert (credentials.server, credentials.namespace, credentials.token, credentials.ca_pem) == (
        "https://k8s.example:6443",
        "team",
        "t0k",
        CA,
    )


def test_merged_kubeconfig_list_first_file_wins(tmp_path, monkeypatch):
    first = write(tmp_path / "a", {"token": "first"})
    second = write(tmp_path / "b", {"token": "second"}, namespace="other")
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}{os.pathsep}{first}{os.pathsep}{second}")
    assert load_credentials(None, None).token == "first"


def test_relative_token_file(tmp_path):
    (tmp_path / "token").write_text("from-file\n")
    assert load_credentials(str(write(tmp_path / "k", {"tokenFile": "token"})), None).token == "from-file"


def test_exec_plugin_token(tmp_path):
    script = plugin(
        tmp_path,
        """
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
assert info["spec"]["interactive"] is False and info["spec"]["cluster"]["server"].startswith("https://")
print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                  "status": {"token": "exec-" + os.environ["TEAM"] + "-" + sys.argv[1]}}))""",
    )
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": "bin/cred-plugin",
            "args": ["x"],
            "env": [{"name": "TEAM", "value": "blue"}],
            "provideClusterInfo": True,
            "interactiveMode": "IfAvailable",
        }
    }
    assert str(script).startswith(str(tmp_path))
    assert load_credentials(str(write(tmp_path / "k", user)), None).token == "exec-blue-x"


def test_exec_plugin_client_certificate(tmp_path):
    plugin(tmp_path, 'print(json.dumps({"status": {"clientCertificateData": "CERT", "clientKeyData": "KEY"}}))')
    credentials = load_credentials(str(write(tmp_path / "k", {"exec": {"command": "bin/cred-plugin"}})), None)
    assert (credentials.client_cert_pem, credentials.client_key_pem, credentials.token) == ("CERT", "KEY", None)


@pytest.mark.parametrize(
    ("body", "exec_extra", "message"),
    [
        ('print("oops", file=sys.stderr); sys.exit(3)', {}, "exec plugin '.*' exited 3: oops"),
        ('print("not json")', {}, "did not print an ExecCredential"),
        (
            None,
            {"command": "no-such-plugin", "installHint": "install it with brew"},
            "exec plugin 'no-such-plugin' not found: install it with brew",
        ),
    ],
)
def test_exec_plugin_failures_are_one_line(tmp_path, body, exec_extra, message):
    if body is not None:
        plugin(tmp_path, body)
    user = {"exec": {"command": "bin/cred-plugin", **exec_extra}}
    with pytest.raises(KubeconfigError, match=message):
        load_credentials(str(write(tmp_path / "k", user)), None)


@pytest.mark.parametrize(
    ("user", "cluster"),
    [
        ({"auth-provider": {"name": "oidc"}}, None),
        ({"username": "a", "password": "b"}, None),
        ({"exec": {"command": "x", "interactiveMode": "Always"}}, None),
        ({"token": "t"}, {"server": "https://k", "proxy-url": "http://proxy:3128"}),
        ({"token": "t"}, {"server": "https://k", "tls-server-name": "api"}),
    ],
)
def test_what_the_kubernetes_package_handles(tmp_path, user, cluster):
    with pytest.raises(NeedsKubernetesClient):
        load_credentials(str(write(tmp_path / "k", user, cluster)), None)


def test_proxy_environment_goes_to_the_kubernetes_package(tmp_path, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    with pytest.raises(NeedsKubernetesClient):
        load_credentials(str(write(tmp_path / "k", {"token": "t"})), None)


def test_in_cluster(tmp_path, monkeypatch):
    (tmp_path / "token").write_text("sa-token\n")
    (tmp_path / "ca.crt").write_text(CA)
    (tmp_path / "namespace").write_text("ci\n")
    monkeypatch.setattr(kubeconfig, "_SERVICE_ACCOUNT", tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setenv("HOME", str(tmp_path))
    credentials = load_credentials(None, None)
    assert (credentials.server, credentials.token, credentials.namespace, credentials.ca_pem) == (
        "https://[fd00::1]:443",
        "sa-token",
        "ci",
        CA,
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update({"current-context": ""}), "no current-context is set; pass --context"),
        (lambda d: d["contexts"][0]["context"].update(cluster="gone"), "cluster 'gone' of context 'c' not found"),
    ],
)
def test_broken_kubeconfigs(tmp_path, edit, message):
    path = write(tmp_path / "k", {"token": "t"})
    document = yaml.safe_load(path.read_text())
    edit(document)
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(KubeconfigError, match=message):
        load_credentials(str(path), None)


def test_unknown_context(tmp_path):
    with pytest.raises(KubeconfigError, match="context 'nope' not found"):
        load_credentials(str(write(tmp_path / "k", {"token": "t"})), "nope")


def test_exec_kubeconfig_end_to_end_without_the_kubernetes_package(api, kubeconfig, tmp_path):
    """Against the fake server, a kubeconfig whose token comes from an exec plugin: kubernetes is not imported."""
    plugin(tmp_path, f'print(json.dumps({{"status": {{"token": "{api.token}"}}}}))')
    document = yaml.safe_load(kubeconfig.read_text())
    document["users"][0]["user"] = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(tmp_path / "bin" / "cred-plugin")}
    }
    exec_config = tmp_path / "exec-kubeconfig"
    exec_config.write_text(yaml.safe_dump(document))
    code = (
        "import sys; from kubectl_canary.cli import main; rc = main(['status', '-A', '-o', 'json']); "
        "print('kubernetes' in sys.modules, rc)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "KUBECONFIG": str(exec_config)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.splitlines()[-1] == "False 0", done.stderr
    assert json.loads("\n".join(done.stdout.splitlines()[:-1])) == {"items": []}
