"""auth-provider oidc against a real API server, through the real kubectl and the plugin.

Runs when KUBECTL_CANARY_E2E_KUBECONFIG names a kubeconfig (see test_real_cluster.py). A real API server
only takes an id-token its own authenticator verifies; a ServiceAccount token is a JWT it verifies, so the
stand-in issuer (tests/safety/oidc_issuer.py) answers the refresh grant with one: the kubeconfig's expired
id-token is renewed at the issuer, the renewed token is accepted by the API server (as that ServiceAccount,
bound to a Role that reads RouteTables and Deployments), and it is written back to the kubeconfig.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import Cluster
from tests.safety.oidc_issuer import (
    EXPIRED_ID_TOKEN,
    REFRESH_TOKEN,
    ROTATED_REFRESH_TOKEN,
    FakeIssuer,
    IssuerRules,
    oidc_user,
)

READER = {"metadata": {"name": "reader"}, "rules": [
    {"apiGroups": ["gateway.solo.io"], "resources": ["routetables"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]}]}


@pytest.fixture
def reader(cluster: Cluster, ns: str) -> str:
    """A ServiceAccount token of `ns` that may read RouteTables and Deployments in it."""
    cluster.user_kubeconfig(ns, "jane", role=READER)
    return cluster.token(ns, "jane")


def _kubeconfig(cluster: Cluster, path: Path, user: dict) -> Path:
    written = yaml.safe_load(cluster.write_user_kubeconfig("default", "jane", user).read_text())
    written["contexts"][0]["context"].pop("namespace")
    path.write_text(yaml.safe_dump(written, sort_keys=False))
    return path


def _run(command: list[str], kubeconfig: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "HTTPS_PROXY", "https_proxy")}
    env.update(KUBECONFIG=str(kubeconfig), HOME=str(cwd))
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def _config(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["users"][0]["user"]["auth-provider"]["config"]


def test_expired_oidc_id_token_is_renewed_and_accepted_by_the_real_api_server(cluster, ns, reader, tmp_path):
    namespace, service_account_token = ns, reader
    with FakeIssuer() as issuer:
        issuer.reset(IssuerRules(id_token=service_account_token))
        runs = {}
        for who, command in (("kubectl", [cluster.kubectl_path, "get", "routetables"]),
                             ("plugin", [cluster.plugin_path, "status", "--router", "gloo", "-o", "json"])):
            (tmp_path / who).mkdir()
            path = _kubeconfig(cluster, tmp_path / who / "config", oidc_user(issuer, id_token=EXPIRED_ID_TOKEN))
            issuer.requests.clear()
            done = _run([*command, "-n", namespace], path, tmp_path / who)
            runs[who] = (done.returncode, list(issuer.requests), _config(path))
            assert done.returncode == 0, done.stderr
        assert runs["plugin"] == runs["kubectl"]
        _, asked, written = runs["plugin"]
        assert asked == ["GET discovery", "POST token (basic)"]
        assert (written["id-token"], written["refresh-token"]) == (service_account_token, ROTATED_REFRESH_TOKEN)


def test_expired_oidc_id_token_without_refresh_token_is_one_error_line(cluster, ns, reader, tmp_path):
    namespace = ns
    with FakeIssuer() as issuer:
        user = oidc_user(issuer, id_token=EXPIRED_ID_TOKEN, refresh_token=None)
        path = _kubeconfig(cluster, tmp_path / "config", user)
        before = path.read_text()
        done = _run([cluster.plugin_path, "status", "--router", "gloo", "-n", namespace], path, tmp_path)
        assert done.returncode == 1
        assert done.stderr == (f"error: user 'jane' in {path}: the oidc id-token has expired and there is no "
                               f"refresh-token to renew it; log in to {issuer.url} again\n")
        assert (issuer.requests, path.read_text()) == ([], before)
        assert REFRESH_TOKEN not in before
