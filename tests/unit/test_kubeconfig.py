"""The kubeconfig resolver and the identity it gives: files, entries, flags, exec plugins, in-cluster."""

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

from kubectl_canary.kube import kubeconfig
from kubectl_canary.kube.identity import Identity
from kubectl_canary.kube.kubeconfig import ConnectionOptions, Credentials, KubeconfigError, resolve

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
        "NO_PROXY",
        "no_proxy",
        "KUBERNETES_SERVICE_PORT",
        "POD_NAMESPACE",
    ):
        monkeypatch.delenv(name, raising=False)


def load(path: Path | None, context: str | None = None, **flags) -> Credentials:
    return resolve(ConnectionOptions(kubeconfig=str(path) if path else None, context=context, **flags))


def authorization(credentials: Credentials) -> str | None:
    return dict(Identity(credentials).headers()).get("Authorization")


EXEC_V1 = {"apiVersion": "client.authentication.k8s.io/v1", "interactiveMode": "Never"}
OIDC: dict = {"name": "oidc", "config": {"idp-issuer-url": "https://issuer.example/realms/dev", "client-id": "kubectl",
                                   "refresh-token": "r1"}}
ANSWER = 'print(json.dumps({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", "status": %s}))'


def test_token_and_ca(tmp_path):
    credentials = load(write(tmp_path / "k", {"token": "t0k"}))
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
    assert load(None).token == "first"


def test_first_file_wins_with_tls_server_name(tmp_path, monkeypatch):
    """The bug of issue 9: with tls-server-name the last file won (through the kubernetes package)."""
    cluster = {"server": "https://a.example:6443", "tls-server-name": "api.a", "insecure-skip-tls-verify": True}
    first = write(tmp_path / "a", {"token": "first"}, cluster)
    second = write(tmp_path / "b", {"token": "second"}, {"server": "https://b.example:6443"})
    monkeypatch.setenv("KUBECONFIG", f"{first}{os.pathsep}{second}")
    credentials = load(None)
    assert (credentials.server, credentials.tls_server_name, credentials.token) == (
        "https://a.example:6443",
        "api.a",
        "first",
    )


def test_relative_token_file(tmp_path):
    (tmp_path / "token").write_text("from-file\n")
    assert authorization(load(write(tmp_path / "k", {"tokenFile": "token"}))) == "Bearer from-file"


def test_token_file_is_read_again_when_it_changes(tmp_path):
    token = tmp_path / "token"
    token.write_text("one\n")
    identity = Identity(load(write(tmp_path / "k", {"tokenFile": "token"})))
    assert dict(identity.headers())["Authorization"] == "Bearer one"
    token.write_text("rotated-two\n")
    assert dict(identity.headers())["Authorization"] == "Bearer rotated-two"


def test_exec_plugin_token(tmp_path):
    script = plugin(
        tmp_path,
        """
import base64
info = json.loads(os.environ["KUBERNETES_EXEC_INFO"])
assert info["spec"]["interactive"] is False and info["spec"]["cluster"]["server"].startswith("https://")
assert base64.b64decode(info["spec"]["cluster"]["certificate-authority-data"]).decode().startswith("-----BEGIN")
print(json.dumps({"apiVersion": info["apiVersion"], "kind": "ExecCredential",
                  "status": {"token": "exec-" + os.environ["TEAM"] + "-" + sys.argv[1]}}))""",
    )
    user = {
        "exec": {
            **EXEC_V1,
            "command": "bin/cred-plugin",
            "args": ["x"],
            "env": [{"name": "TEAM", "value": "blue"}],
            "provideClusterInfo": True,
        }
    }
    assert str(script).startswith(str(tmp_path))
    assert authorization(load(write(tmp_path / "k", user))) == "Bearer exec-blue-x"


def test_exec_plugin_client_certificate(tmp_path):
    plugin(tmp_path, ANSWER % '{"clientCertificateData": "CERT", "clientKeyData": "KEY"}')
    identity = Identity(load(write(tmp_path / "k", {"exec": {**EXEC_V1, "command": "bin/cred-plugin"}})))
    assert (identity.client_pair(), dict(identity.headers()).get("Authorization")) == (("CERT", "KEY"), None)


def test_exec_plugin_refreshed_before_expiry(tmp_path):
    counter = tmp_path / "count"
    plugin(
        tmp_path,
        f"""
import pathlib
p = pathlib.Path({str(counter)!r}); n = int(p.read_text()) + 1 if p.exists() else 1; p.write_text(str(n))
"""
        + ANSWER % '{"token": f"t{n}", "expirationTimestamp": "2000-01-01T00:00:00Z"}',
    )
    identity = Identity(load(write(tmp_path / "k", {"exec": {**EXEC_V1, "command": "bin/cred-plugin"}})))
    assert dict(identity.headers())["Authorization"] == "Bearer t1"
    assert dict(identity.headers())["Authorization"] == "Bearer t2"  # expired: run again


@pytest.mark.parametrize(
    ("body", "exec_extra", "message"),
    [
        ('print("oops", file=sys.stderr); sys.exit(3)', {}, "exec plugin '.*cred-plugin' exited 3: oops"),
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
    user = {"exec": {**EXEC_V1, "command": "bin/cred-plugin", **exec_extra}}
    with pytest.raises(KubeconfigError, match=message):
        Identity(load(write(tmp_path / "k", user))).headers()


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ({"auth-provider": {"name": "oidc"}}, "user 'c' in .*: the oidc auth-provider needs idp-issuer-url"),
        ({"auth-provider": {"name": "oidc", "config": {"idp-issuer-url": "https://i"}}}, "needs client-id"),
        ({"auth-provider": {"name": "gcp"}}, "use the gke-gcloud-auth-plugin exec plugin"),
        ({"auth-provider": {"name": "azure"}}, "which kubectl removed; use the kubelogin exec plugin"),
        ({"auth-provider": {"name": "keystone"}}, "kubectl knows no auth-provider 'keystone' \\(only oidc\\)"),
        ({"auth-provider": OIDC, "exec": {"command": "x"}}, "exec and auth-provider cannot both be set"),
        (
            {"auth-provider": {"name": "oidc", "config": {**OIDC["config"], "idp-certificate-authority-data": "%%"}}},
            "idp-certificate-authority-data of user 'c' in .* is not base64",
        ),
        (
            {"auth-provider": {"name": "oidc", "config": {**OIDC["config"], "idp-certificate-authority": "no.pem"}}},
            "cannot read idp-certificate-authority of user 'c'",
        ),
        ({"exec": {"command": "x"}}, "apiVersion '' is not one of"),
        ({"exec": {"command": "x", "apiVersion": "client.authentication.k8s.io/v1"}}, "interactiveMode must be"),
        ({"client-certificate": "cert.pem"}, "cannot read client-certificate of user 'c'"),
        ({"token": "t", "username": "a"}, "more than one authentication method"),
    ],
)
def test_refused_users_name_the_entry(tmp_path, user, message):
    with pytest.raises(KubeconfigError, match=message):
        load(write(tmp_path / "k", user))


def test_basic_auth_and_impersonation(tmp_path):
    user = {
        "username": "a",
        "password": "b",
        "as": "jane",
        "as-groups": ["g1", "g2"],
        "as-uid": "42",
        "as-user-extra": {"scopes": ["x", "y"]},
    }
    headers = Identity(load(write(tmp_path / "k", user))).headers()
    assert headers == [
        ("Authorization", "Basic YTpi"),
        ("Impersonate-User", "jane"),
        ("Impersonate-Uid", "42"),
        ("Impersonate-Group", "g1"),
        ("Impersonate-Group", "g2"),
        ("Impersonate-Extra-Scopes", "x"),
        ("Impersonate-Extra-Scopes", "y"),
    ]


def test_flags_override_the_kubeconfig(tmp_path):
    (tmp_path / "ca.pem").write_text(CA)
    credentials = load(
        write(tmp_path / "k", {"token": "t", "as": "file-user"}, {"server": "https://a:1", "tls-server-name": "n"}),
        server="https://b:2",
        token="flag",
        as_user="flag-user",
        as_groups=("g",),
        insecure_skip_tls_verify=True,
    )
    assert (credentials.server, credentials.token, credentials.tls_server_name, credentials.insecure) == (
        "https://b:2",
        "flag",
        None,
        True,
    )
    assert credentials.impersonation is not None and credentials.impersonation.groups == ("g",)


@pytest.mark.parametrize(
    ("server", "env", "proxy"),
    [
        ("https://k8s.example:6443", {"HTTPS_PROXY": "proxy:3128"}, "http://proxy:3128"),
        ("https://k8s.example:6443", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example"}, None),
        ("https://k8s.example:6443", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".k8s.example"}, "http://p:1"),
        ("https://a.k8s.example:6443", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": ".k8s.example"}, None),
        ("https://k8s.example:6443", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "k8s.example:443"}, "http://p:1"),
        ("https://10.0.0.5:6443", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "10.0.0.0/8"}, None),
        ("https://10.0.0.5:6443", {"HTTP_PROXY": "http://p:1"}, None),
        ("https://127.0.0.1:6443", {"HTTPS_PROXY": "http://p:1"}, None),
        ("https://localhost:6443", {"HTTPS_PROXY": "http://p:1"}, None),
        ("https://k8s.example:6443", {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"}, None),
    ],
)
def test_proxy_from_the_environment_as_go_reads_it(tmp_path, server, env, proxy):
    path = write(tmp_path / "k", {"token": "t"}, {"server": server, "insecure-skip-tls-verify": True})
    assert resolve(ConnectionOptions(kubeconfig=str(path)), env).proxy == proxy


def test_proxy_url_wins_and_socks_is_refused(tmp_path):
    path = write(tmp_path / "k", {"token": "t"}, {"server": "https://127.0.0.1:1", "proxy-url": "http://p:3128"})
    assert resolve(ConnectionOptions(kubeconfig=str(path)), {}).proxy == "http://p:3128"
    socks = write(tmp_path / "s", {"token": "t"}, {"server": "https://a:1", "proxy-url": "socks5://p:1080"})
    with pytest.raises(KubeconfigError, match="only http:// proxies are supported"):
        resolve(ConnectionOptions(kubeconfig=str(socks)), {})


def test_in_cluster(tmp_path, monkeypatch):
    (tmp_path / "token").write_text("sa-token\n")
    (tmp_path / "ca.crt").write_text(CA)
    (tmp_path / "namespace").write_text("ci\n")
    monkeypatch.setattr(kubeconfig, "SERVICE_ACCOUNT", tmp_path)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    monkeypatch.setenv("HOME", str(tmp_path))
    credentials = load(None)
    assert (credentials.server, authorization(credentials), credentials.namespace, credentials.ca_pem) == (
        "https://[fd00::1]:443",
        "Bearer sa-token",
        "ci",
        CA,
    )


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update({"current-context": ""}), "no current-context in .* and no --server"),
        (lambda d: d["contexts"][0]["context"].update(cluster="gone"), "cluster 'gone' of context 'c' not found in "),
        (lambda d: d.update({"current-context": "gone"}), "context 'gone' not found in "),
        (lambda d: d.update({"users": "x"}), "users is not a list"),
    ],
)
def test_broken_kubeconfigs(tmp_path, edit, message):
    path = write(tmp_path / "k", {"token": "t"})
    document = yaml.safe_load(path.read_text())
    edit(document)
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(KubeconfigError, match=message):
        load(path)


def test_unknown_context_cluster_user(tmp_path):
    path = write(tmp_path / "k", {"token": "t"})
    with pytest.raises(KubeconfigError, match="context 'nope' not found"):
        load(path, "nope")
    with pytest.raises(KubeconfigError, match=r"cluster 'nope' \(--cluster\) not found"):
        load(path, cluster="nope")
    with pytest.raises(KubeconfigError, match=r"user 'nope' \(--user\) not found"):
        load(path, user="nope")
    with pytest.raises(KubeconfigError, match="does not exist"):
        load(tmp_path / "missing")


def test_exec_kubeconfig_end_to_end_without_the_kubernetes_package(api, kubeconfig, tmp_path):
    """Against the fake server, a kubeconfig whose token comes from an exec plugin: kubernetes is not imported."""
    plugin(tmp_path, ANSWER % f'{{"token": "{api.token}"}}')
    document = yaml.safe_load(kubeconfig.read_text())
    document["users"][0]["user"] = {"exec": {**EXEC_V1, "command": str(tmp_path / "bin" / "cred-plugin")}}
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


def _jwt(claims: dict) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln"


def test_oidc_user_reads_its_provider(tmp_path):
    user = {"auth-provider": {"name": "oidc", "config": {
        **OIDC["config"], "client-secret": "s", "id-token": "a.b.c",
        "idp-certificate-authority-data": base64.b64encode(CA.encode()).decode(),
        "idp-certificate-authority": "ignored-when-data-is-set.pem"}}}
    path = write(tmp_path / "k", user)
    oidc = load(path).oidc
    assert oidc is not None
    assert (oidc.user, oidc.file, oidc.issuer_url, oidc.client_id, oidc.client_secret, oidc.id_token,
            oidc.refresh_token, oidc.ca_pem, oidc.proxy) == (
        "c", path, "https://issuer.example/realms/dev", "kubectl", "s", "a.b.c", "r1", CA, None)


def test_oidc_idp_ca_file_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    """kubectl resolves no path inside an auth-provider's config: a relative one is the working directory's."""
    (tmp_path / "cwd").mkdir()
    (tmp_path / "cwd" / "idp.pem").write_text(CA)
    monkeypatch.chdir(tmp_path / "cwd")
    user = {"auth-provider": {"name": "oidc", "config": {**OIDC["config"], "idp-certificate-authority": "idp.pem"}}}
    (tmp_path / "sub").mkdir()
    oidc = load(write(tmp_path / "sub" / "k", user)).oidc
    assert oidc is not None and oidc.ca_pem == CA


@pytest.mark.parametrize(
    ("seconds_left", "renewed"),
    [(11, False), (10, True), (3, True), (-100, True)],
)
def test_oidc_id_token_counts_as_expired_10s_before_its_exp(tmp_path, monkeypatch, seconds_left, renewed):
    """client-go's expiryDelta: valid while now + 10s is before exp."""
    import time

    from kubectl_canary.kube import identity

    now = 1_900_000_000
    monkeypatch.setattr(time, "time", lambda: float(now))
    token = _jwt({"exp": now + seconds_left})
    calls: list[str] = []

    def refresh(provider, refresh_token, timeout):
        calls.append(refresh_token)
        return "x.y.z", refresh_token

    monkeypatch.setattr(identity, "refresh_oidc", refresh)
    user = {"auth-provider": {"name": "oidc", "config": {**OIDC["config"], "id-token": token}}}
    path = write(tmp_path / "k", user)
    headers = dict(Identity(load(path)).headers())
    assert (headers["Authorization"] == "Bearer x.y.z") is renewed
    assert calls == (["r1"] if renewed else [])


@pytest.mark.parametrize(
    ("claims", "message"),
    [({}, None), ({"exp": "soon"}, "exp is not a number")],
)
def test_oidc_id_token_claims(tmp_path, monkeypatch, claims, message):
    """No exp reads as long expired (a renewal), as client-go reads it; an exp that is no number is refused."""
    from kubectl_canary.kube import identity

    monkeypatch.setattr(identity, "refresh_oidc", lambda p, r, t: ("x.y.z", r))
    user = {"auth-provider": {"name": "oidc", "config": {**OIDC["config"], "id-token": _jwt(claims)}}}
    session = Identity(load(write(tmp_path / "k", user)))
    if message is None:
        assert dict(session.headers())["Authorization"] == "Bearer x.y.z"
    else:
        with pytest.raises(KubeconfigError, match=message):
            session.headers()


def test_oidc_token_or_basic_auth_wins_and_the_issuer_is_not_asked(tmp_path, monkeypatch):
    from kubectl_canary.kube import identity

    monkeypatch.setattr(identity, "refresh_oidc", lambda *a: pytest.fail("the issuer was asked"))
    for extra, header in (({"token": "t"}, "Bearer t"), ({"username": "a", "password": "b"}, "Basic YTpi")):
        path = write(tmp_path / "k", {"auth-provider": OIDC, **extra})
        assert authorization(load(path)) == header


KUBECTL_WRITTEN = """\
apiVersion: v1
clusters:
- cluster:
    server: https://k8s.example:6443
  name: c
# the team's shared login
users:
- name: other
  user:
    token: t
- name: jane
  user:
    auth-provider:
      config:
        client-id: kubectl
        id-token: old.id.token   # expires hourly
        idp-issuer-url: https://issuer.example
        refresh-token: 'r1'
      name: oidc
"""


@pytest.mark.parametrize(
    ("text", "tokens", "expected"),
    [
        (  # kubectl's own layout, a comment and a quoted value: only the two values change
            KUBECTL_WRITTEN,
            {"id-token": "new.id.token", "refresh-token": "r2"},
            KUBECTL_WRITTEN.replace("old.id.token", "new.id.token").replace("'r1'", "'r2'"),
        ),
        (  # no id-token yet: added first in the mapping, at its indentation
            KUBECTL_WRITTEN.replace("        id-token: old.id.token   # expires hourly\n", ""),
            {"id-token": "new.id.token"},
            KUBECTL_WRITTEN.replace("        id-token: old.id.token   # expires hourly\n", "").replace(
                "        client-id", "        id-token: new.id.token\n        client-id"),
        ),
        (  # an empty value
            KUBECTL_WRITTEN.replace("id-token: old.id.token   # expires hourly", "id-token:"),
            {"id-token": "new.id.token"},
            KUBECTL_WRITTEN.replace("id-token: old.id.token   # expires hourly", "id-token: new.id.token"),
        ),
        (  # flow style, and a value that must be quoted
            "users: [{name: jane, user: {auth-provider: {name: oidc, config: {refresh-token: r1}}}}]\n",
            {"id-token": "a.b.c", "refresh-token": "yes: no"},
            'users: [{name: jane, user: {auth-provider: {name: oidc, config: {"id-token": "a.b.c", '
            'refresh-token: "yes: no"}}}}]\n',
        ),
        (  # a JSON kubeconfig stays JSON
            '{"users": [{"name": "jane", "user": {"auth-provider": {"name": "oidc", '
            '"config": {"id-token": "old", "refresh-token": "r1"}}}}]}\n',
            {"id-token": "new.id.token", "refresh-token": "r2"},
            '{"users": [{"name": "jane", "user": {"auth-provider": {"name": "oidc", '
            '"config": {"id-token": "new.id.token", "refresh-token": "r2"}}}}]}\n',
        ),
    ],
)
def test_renewed_oidc_tokens_change_only_their_values(text, tokens, expected):
    assert kubeconfig.with_oidc_tokens(text, "jane", tokens) == expected
    written = yaml.safe_load(expected)
    config = next(u for u in written["users"] if u["name"] == "jane")["user"]["auth-provider"]["config"]
    assert {k: config[k] for k in tokens} == tokens


def test_renewed_oidc_tokens_in_a_layout_that_cannot_be_edited_in_place_rewrite_the_file():
    text = KUBECTL_WRITTEN.replace("id-token: old.id.token   # expires hourly", "id-token: |\n          old.id.token")
    written = yaml.safe_load(kubeconfig.with_oidc_tokens(text, "jane", {"id-token": "new.id.token"}))
    expected = yaml.safe_load(text)
    expected["users"][1]["user"]["auth-provider"]["config"]["id-token"] = "new.id.token"
    assert written == expected


def test_renewed_tokens_are_written_through_a_symlink_keeping_the_mode(tmp_path):
    real = tmp_path / "real" / "config"
    real.parent.mkdir()
    real.write_text("old\n")
    real.chmod(0o600)
    link = tmp_path / "config"
    link.symlink_to(real)
    kubeconfig.replace_file(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert sorted(p.name for p in real.parent.iterdir()) == ["config"]  # no file left beside it


def test_renewed_tokens_are_written_in_place_when_the_directory_is_not_writable(tmp_path, monkeypatch):
    import tempfile

    path = tmp_path / "config"
    path.write_text("old\n")
    inode = path.stat().st_ino

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    kubeconfig.replace_file(path, "new\n")
    assert (path.read_text(), path.stat().st_ino) == ("new\n", inode)
