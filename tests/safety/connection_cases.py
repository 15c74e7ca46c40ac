"""The connection corpus: kubeconfig / flag / environment shapes, each run through the real kubectl
(`kubectl get routetables`) and through the plugin (`kubectl-canary status`), against two fake API servers
("a" and "b"), two CONNECT proxies ("env-proxy" for $HTTPS_PROXY, "url-proxy" for proxy-url) and an OIDC
issuer (tests/safety/oidc_issuer.py) for the oidc auth-provider.

What a run is reduced to, per request for RouteTables: which server, through which proxy, the SNI name,
the client certificate's subject, Authorization, every Impersonate-* header, and the namespace; then what
the issuer was asked, and which user entries of the kubeconfig files changed (renewed OIDC tokens). The
two runs must agree on all of it, or both must fail (having asked the issuer the same kinds of requests).
docs/connection-table.md is rendered from the same shapes (scripts/connection_table.py writes it;
tests/safety/test_connection_parity.py checks it).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.fake_apiserver import FakeApiServer
from tests.fake_apiserver.transport import CA_CERTIFICATE, TLS_DIRECTORY
from tests.safety.oidc_issuer import (
    EXPIRED_ID_TOKEN,
    FRESH_ID_TOKEN,
    ISSUER_CERTIFICATE,
    REFRESHED_ID_TOKEN,
    TOKEN_NAMES,
    FakeIssuer,
    IssuerRules,
    oidc_user,
)

REPO = Path(__file__).resolve().parents[2]
TABLE_PATH = REPO / "docs" / "connection-table.md"
BIN = Path(sys.executable).parent
PLUGIN = str(BIN / "kubectl-canary")
TOKENS = ("token-a", "token-b", "token-flag", "token-file", "token-exec", FRESH_ID_TOKEN, REFRESHED_ID_TOKEN)
NAMESPACES = ("team-a", "team-b", "flag-ns")
# Variables of the caller's environment that would change where a run goes.
_CLEARED = (
    "KUBECONFIG",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
    "POD_NAMESPACE",
    "KUBECTL_CANARY_DEBUG",
)


class ConnectProxy:
    """An HTTP CONNECT proxy on 127.0.0.1 that resolves the test names fake-a.test / fake-b.test itself and
    remembers the local port of every tunnel it opens, so the fake server's records say who came through it."""

    def __init__(self, name: str, hosts: dict[str, str]) -> None:
        self.name = name
        self.hosts = hosts
        self.ports: set[int] = set()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._server.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            words = head.split(b"\r\n", 1)[0].decode().split()
            if len(words) < 2 or words[0] != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            host, _, port = words[1].rpartition(":")
            try:
                upstream = socket.create_connection((self.hosts.get(host, host), int(port)), timeout=5)
            except OSError:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                return
            self.ports.add(upstream.getsockname()[1])
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            with upstream:
                sockets = [client, upstream]
                while True:
                    readable, _, _ = select.select(sockets, [], [], 30)
                    if not readable:
                        return
                    for source in readable:
                        try:
                            data = source.recv(65536)
                            if data:
                                (upstream if source is client else client).sendall(data)
                        except OSError:  # a side reset the connection: the tunnel ends, as a proxy's does
                            data = b""
                        if not data:
                            return


@dataclass
class World:
    a: FakeApiServer
    b: FakeApiServer
    env_proxy: ConnectProxy
    url_proxy: ConnectProxy
    issuer: FakeIssuer

    def port(self, server: FakeApiServer) -> int:
        return int(server.https_url.rsplit(":", 1)[1])

    @property
    def ca_data(self) -> str:
        return base64.b64encode(CA_CERTIFICATE.read_bytes()).decode()

    def via(self, port: int) -> str:
        for proxy in (self.env_proxy, self.url_proxy):
            if port in proxy.ports:
                return proxy.name
        return "direct"


@contextlib.contextmanager
def world() -> Iterator[World]:
    with FakeApiServer(name="a", token=TOKENS[0]) as a, FakeApiServer(name="b", token=TOKENS[0]) as b:
        for server in (a, b):
            server.accept_tokens(*TOKENS)
            for namespace in NAMESPACES:
                server.ensure_namespace(namespace)
        hosts = {"fake-a.test": "127.0.0.1", "fake-b.test": "127.0.0.1"}
        env_proxy, url_proxy = ConnectProxy("env-proxy", hosts), ConnectProxy("url-proxy", hosts)
        try:
            with FakeIssuer() as issuer:
                yield World(a, b, env_proxy, url_proxy, issuer)
        finally:
            env_proxy.close()
            url_proxy.close()


@dataclass
class Setup:
    env: dict[str, str] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    service_account: Path | None = None  # run in-cluster: these files at /var/run/secrets/... (a mount namespace)
    issuer: IssuerRules = field(default_factory=IssuerRules)  # how the OIDC issuer answers


@dataclass(frozen=True)
class Shape:
    id: str
    description: str
    build: Callable[[World, Path], Setup]


# --- kubeconfig writing -------------------------------------------------------------------------------


def cluster(w: World, target: FakeApiServer, **extra: Any) -> dict[str, Any]:
    return {"server": target.https_url, "certificate-authority-data": w.ca_data, **extra}


def config(
    path: Path,
    *,
    clusters: dict[str, dict[str, Any]] | None = None,
    users: dict[str, dict[str, Any]] | None = None,
    contexts: dict[str, dict[str, Any]] | None = None,
    current: str | None = None,
) -> Path:
    document: dict[str, Any] = {"apiVersion": "v1", "kind": "Config"}
    document["clusters"] = [{"name": n, "cluster": c} for n, c in (clusters or {}).items()]
    document["users"] = [{"name": n, "user": u} for n, u in (users or {}).items()]
    document["contexts"] = [{"name": n, "context": c} for n, c in (contexts or {}).items()]
    if current is not None:
        document["current-context"] = current
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def simple(
    w: World,
    d: Path,
    *,
    server: FakeApiServer | None = None,
    user: dict[str, Any] | None = None,
    cluster_extra: dict[str, Any] | None = None,
    namespace: str = "team-a",
    name: str = "main",
) -> Path:
    return config(
        d / f"{name}.yaml",
        clusters={"c": {**cluster(w, server or w.a), **(cluster_extra or {})}},
        users={"u": user if user is not None else {"token": "token-a"}},
        contexts={"ctx": {"cluster": "c", "user": "u", "namespace": namespace}},
        current="ctx",
    )


def kubeconfig_env(*paths: Path) -> dict[str, str]:
    return {"KUBECONFIG": os.pathsep.join(map(str, paths))}


def exec_plugin(d: Path, token: str, *, expires_in: float | None = None, name: str = "cred") -> Path:
    """An exec credential plugin printing `token` (and an expiry), counting its runs in `<name>.runs`."""
    script = d / "bin" / name
    script.parent.mkdir(parents=True, exist_ok=True)
    expiry = ""
    if expires_in is not None:
        expiry = (
            f'status["expirationTimestamp"] = (datetime.datetime.now(datetime.timezone.utc) + '
            f'datetime.timedelta(seconds={expires_in})).strftime("%Y-%m-%dT%H:%M:%SZ")\n'
        )
    script.write_text(
        f"#!{sys.executable}\nimport datetime, json, os, pathlib, sys\n"
        f"runs = pathlib.Path({str(d / (name + '.runs'))!r})\n"
        "n = int(runs.read_text()) + 1 if runs.exists() else 1\nruns.write_text(str(n))\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "cluster = info['spec'].get('cluster') or {}\n"
        "ca = cluster.get('certificate-authority-data')\n"
        "ok = bool(ca) and b'BEGIN CERTIFICATE' in __import__('base64').b64decode(ca or '')\n"
        "suffix = '' if not cluster else ('-ca-ok' if ok else '-ca-bad')\n"
        f"status = {{'token': {token!r} + suffix}}\n"
        + expiry
        + "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', 'status': status}))\n"
    )
    script.chmod(0o755)
    return script


def exec_user(command: Path | str, **extra: Any) -> dict[str, Any]:
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": str(command),
            "interactiveMode": "Never",
            **extra,
        }
    }


def cert_user(who: str = "alice", base: Path = TLS_DIRECTORY) -> dict[str, Any]:
    return {"client-certificate": str(base / f"{who}.crt"), "client-key": str(base / f"{who}.key")}


def copy_certs(target: Path, *names: str) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(TLS_DIRECTORY / name, target / name)


# Context names avoid y/n/yes/no/on/off: Go's YAML reads them as booleans and kubectl refuses the file.

# --- the shapes -------------------------------------------------------------------------------------


def _two_files_current_context(w: World, d: Path, **first_cluster: str) -> Setup:
    """a.yaml and b.yaml, each with its own current-context; `first_cluster`: more fields of a.yaml's cluster."""
    first = config(
        d / "a.yaml",
        clusters={"ca": cluster(w, w.a, **first_cluster)},
        users={"ua": {"token": "token-a"}},
        contexts={"ctx-a": {"cluster": "ca", "user": "ua", "namespace": "team-a"}},
        current="ctx-a",
    )
    second = config(
        d / "b.yaml",
        clusters={"cb": cluster(w, w.b)},
        users={"ub": {"token": "token-b"}},
        contexts={"ctx-b": {"cluster": "cb", "user": "ub", "namespace": "team-b"}},
        current="ctx-b",
    )
    return Setup(env=kubeconfig_env(first, second))


def _conflicting_names(w: World, d: Path) -> Setup:
    first = config(d / "a.yaml", clusters={"prod": cluster(w, w.a)}, users={"admin": {"token": "token-a"}})
    second = config(
        d / "b.yaml",
        clusters={"prod": cluster(w, w.b)},
        users={"admin": {"token": "token-b"}},
        contexts={"prod": {"cluster": "prod", "user": "admin", "namespace": "team-b"}},
        current="prod",
    )
    return Setup(env=kubeconfig_env(first, second))


def _current_context_from_second(w: World, d: Path) -> Setup:
    first = config(
        d / "a.yaml",
        clusters={"c": cluster(w, w.a)},
        contexts={"ctx": {"cluster": "c", "user": "u", "namespace": "team-a"}},
    )
    second = config(
        d / "b.yaml",
        clusters={"c": cluster(w, w.b)},
        users={"u": {"token": "token-b"}},
        contexts={"ctx": {"cluster": "c", "user": "u", "namespace": "team-b"}},
        current="ctx",
    )
    return Setup(env=kubeconfig_env(first, second))


def _tls_server_name_first_file(w: World, d: Path) -> Setup:
    return _two_files_current_context(w, d, **{"tls-server-name": "api.fake.test"})


def _relative_paths_second_file(w: World, d: Path) -> Setup:
    other = d / "elsewhere"
    copy_certs(other / "pki", "server.crt", "bob.crt", "bob.key")
    (other / "token").write_text("token-file\n")
    first = config(
        d / "a.yaml", contexts={"ctx": {"cluster": "cb", "user": "ub", "namespace": "team-b"}}, current="ctx"
    )
    second = config(
        other / "b.yaml",
        clusters={"cb": {"server": w.b.https_url, "certificate-authority": "pki/server.crt"}},
        users={"ub": {"tokenFile": "token", "client-certificate": "pki/bob.crt", "client-key": "pki/bob.key"}},
    )
    return Setup(env=kubeconfig_env(first, second))


def _relative_client_cert(w: World, d: Path) -> Setup:
    copy_certs(d / "certs", "alice.crt", "alice.key")
    return Setup(
        env=kubeconfig_env(
            simple(w, d, user={"client-certificate": "certs/alice.crt", "client-key": "certs/alice.key"})
        )
    )


def _cert_data(w: World, d: Path) -> Setup:
    data = {
        f"client-{k}-data": base64.b64encode((TLS_DIRECTORY / f"bob.{ext}").read_bytes()).decode()
        for k, ext in (("certificate", "crt"), ("key", "key"))
    }
    return Setup(env=kubeconfig_env(simple(w, d, user=data)))


def _explicit_kubeconfig(w: World, d: Path) -> Setup:
    listed = simple(w, d, server=w.a, name="listed")
    explicit = simple(w, d, server=w.b, namespace="team-b", user={"token": "token-b"}, name="explicit")
    return Setup(env=kubeconfig_env(listed), args=["--kubeconfig", str(explicit)])


def _two_contexts(w: World, d: Path) -> Path:
    return config(
        d / "k.yaml",
        clusters={"ca": cluster(w, w.a), "cb": cluster(w, w.b)},
        users={"ua": {"token": "token-a"}, "ub": {"token": "token-b"}},
        contexts={
            "ctx-a": {"cluster": "ca", "user": "ua", "namespace": "team-a"},
            "ctx-b": {"cluster": "cb", "user": "ub", "namespace": "team-b"},
        },
        current="ctx-a",
    )


def _flag(*args: str) -> Callable[[World, Path], Setup]:
    return lambda w, d: Setup(env=kubeconfig_env(_two_contexts(w, d)), args=list(args))


def _server_flag(w: World, d: Path) -> Setup:
    path = simple(w, d, cluster_extra={"tls-server-name": "api.fake.test"})
    return Setup(env=kubeconfig_env(path), args=["--server", w.b.https_url])


def _ca_flag(w: World, d: Path) -> Setup:
    path = config(
        d / "k.yaml",
        clusters={"c": {"server": w.a.https_url}},
        users={"u": {"token": "token-a"}},
        contexts={"ctx": {"cluster": "c", "user": "u"}},
        current="ctx",
    )
    copy_certs(d / "pki", "server.crt")
    return Setup(env=kubeconfig_env(path), args=["--certificate-authority", "pki/server.crt"])


def _insecure_flag(w: World, d: Path) -> Setup:
    path = config(
        d / "k.yaml",
        clusters={"c": {"server": w.a.https_url}},
        users={"u": {"token": "token-a"}},
        contexts={"ctx": {"cluster": "c", "user": "u"}},
        current="ctx",
    )
    return Setup(env=kubeconfig_env(path), args=["--insecure-skip-tls-verify"])


def _client_cert_flags(w: World, d: Path) -> Setup:
    path = simple(w, d, user=cert_user("alice"))
    return Setup(
        env=kubeconfig_env(path),
        args=["--client-certificate", str(TLS_DIRECTORY / "bob.crt"), "--client-key", str(TLS_DIRECTORY / "bob.key")],
    )


def _file_impersonation(w: World, d: Path) -> Setup:
    user = {
        "token": "token-a",
        "as": "system:serviceaccount:team:viewer",
        "as-groups": ["viewers", "auditors"],
        "as-uid": "1234",
        "as-user-extra": {"reason": ["audit"]},
    }
    return Setup(env=kubeconfig_env(simple(w, d, user=user)))


def _proxied(w: World, d: Path, *, no_proxy: str | None, host: str = "fake-a.test", proxy_url: bool = False) -> Setup:
    extra = {"server": f"https://{host}:{w.port(w.a)}"}
    if proxy_url:
        extra["proxy-url"] = w.url_proxy.url
    env = kubeconfig_env(simple(w, d, cluster_extra=extra))
    env["HTTPS_PROXY"] = w.env_proxy.url
    if no_proxy is not None:
        env["NO_PROXY"] = no_proxy
    return Setup(env=env)


def _loopback_with_proxy_env(w: World, d: Path) -> Setup:
    env = kubeconfig_env(simple(w, d))
    env["HTTPS_PROXY"] = w.env_proxy.url
    return Setup(env=env)


def _token_file(w: World, d: Path) -> Setup:
    (d / "token").write_text("token-file\n")
    return Setup(env=kubeconfig_env(simple(w, d, user={"tokenFile": "token"})))


def _token_and_token_file(w: World, d: Path) -> Setup:
    (d / "token").write_text("token-file\n")
    return Setup(env=kubeconfig_env(simple(w, d, user={"token": "token-a", "tokenFile": "token"})))


def _exec(w: World, d: Path, **extra: Any) -> Setup:
    exec_plugin(d, "token-exec")
    return Setup(env=kubeconfig_env(simple(w, d, user=exec_user("./bin/cred", **extra))))


def _exec_cluster_info(w: World, d: Path) -> Setup:
    """provideClusterInfo: the plugin gets the CA as data (it appends -ca-ok to the token when it did)."""
    exec_plugin(d, "token-exec")
    global_ca = {"server": w.a.https_url, "certificate-authority": "ca.crt"}
    copy_certs(d, "server.crt")
    (d / "ca.crt").write_bytes((d / "server.crt").read_bytes())
    w.a.accept_tokens(*TOKENS, "token-exec-ca-ok")
    w.b.accept_tokens(*TOKENS, "token-exec-ca-ok")
    path = config(
        d / "k.yaml",
        clusters={"c": global_ca},
        users={"u": exec_user("./bin/cred", provideClusterInfo=True)},
        contexts={"ctx": {"cluster": "c", "user": "u", "namespace": "team-a"}},
        current="ctx",
    )
    return Setup(env=kubeconfig_env(path))


def _no_kubeconfig(w: World, d: Path, *args: str) -> Setup:
    return Setup(
        env={"KUBECONFIG": str(d / "absent.yaml")}, args=["--server", w.b.https_url, "--token", "token-flag", *args]
    )


def _in_cluster(w: World, d: Path) -> Setup:
    sa = d / "sa"
    sa.mkdir()
    (sa / "token").write_text("token-b\n")
    shutil.copy(CA_CERTIFICATE, sa / "ca.crt")
    (sa / "namespace").write_text("team-b\n")
    return Setup(
        env={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(w.port(w.b))}, service_account=sa
    )


def _plain_http(w: World, d: Path) -> Setup:
    return Setup(env=kubeconfig_env(simple(w, d, cluster_extra={"server": w.a.url}, user={"token": "token-a"})))


def _bare_host_port(w: World, d: Path) -> Setup:
    return Setup(env=kubeconfig_env(simple(w, d, cluster_extra={"server": f"127.0.0.1:{w.port(w.a)}"})))


def _malformed(w: World, d: Path) -> Setup:
    (d / "broken.yaml").write_text("clusters: [\n  - name: c\n    cluster: {server: \n")
    return Setup(env=kubeconfig_env(d / "broken.yaml"))


def _oidc(w: World, d: Path, *, id_token: str | None, rules: IssuerRules | None = None, **user: Any) -> Setup:
    return Setup(env=kubeconfig_env(simple(w, d, user=oidc_user(w.issuer, id_token=id_token, **user))),
                 issuer=rules or IssuerRules())


def _oidc_ca_file(w: World, d: Path, *, relative: bool) -> Setup:
    """The issuer's CA in a file named by idp-certificate-authority; the kubeconfig in sub/. A relative
    path is the working directory's (certs/, beside sub/), not the kubeconfig's."""
    copy_certs(d / "certs", ISSUER_CERTIFICATE.name)
    ca = "certs/issuer.crt" if relative else str(d / "certs" / "issuer.crt")
    user = oidc_user(w.issuer, id_token=EXPIRED_ID_TOKEN, ca=ca)
    return Setup(env=kubeconfig_env(simple(w, d / "sub", user=user)))


def _oidc_second_file(w: World, d: Path) -> Setup:
    """KUBECONFIG=a:b: a holds the cluster, the context and another user; b the oidc user: b is written."""
    first = config(
        d / "a.yaml",
        clusters={"c": cluster(w, w.a)},
        users={"other": {"token": "token-a"}},
        contexts={"ctx": {"cluster": "c", "user": "jane", "namespace": "team-a"}},
        current="ctx",
    )
    second = config(d / "b.yaml", users={"jane": oidc_user(w.issuer, id_token=EXPIRED_ID_TOKEN)})
    return Setup(env=kubeconfig_env(first, second))


def _oidc_explicit(w: World, d: Path) -> Setup:
    listed = simple(w, d, name="listed", user=oidc_user(w.issuer, id_token=EXPIRED_ID_TOKEN))
    explicit = simple(w, d, name="explicit", user=oidc_user(w.issuer, id_token=EXPIRED_ID_TOKEN))
    return Setup(env=kubeconfig_env(listed), args=["--kubeconfig", str(explicit)])


def _oidc_rejected(w: World, d: Path) -> Setup:
    w.a.accept_tokens("token-a")  # the server no longer takes the (unexpired) id-token: a 401
    return _oidc(w, d, id_token=FRESH_ID_TOKEN)


OIDC_SHAPES: tuple[Shape, ...] = (
    Shape("oidc-fresh-id-token", "auth-provider oidc, id-token not expired: the bearer token; the issuer is not asked",
          lambda w, d: _oidc(w, d, id_token=FRESH_ID_TOKEN)),
    Shape("oidc-expired-refresh", "oidc, id-token expired, refresh-token, idp-certificate-authority-data: renewed at "
          "the issuer, both tokens written back", lambda w, d: _oidc(w, d, id_token=EXPIRED_ID_TOKEN)),
    Shape("oidc-no-id-token", "oidc, no id-token, a refresh-token: renewed, id-token added to the user",
          lambda w, d: _oidc(w, d, id_token=None)),
    Shape("oidc-expired-no-refresh-token", "oidc, id-token expired, no refresh-token",
          lambda w, d: _oidc(w, d, id_token=EXPIRED_ID_TOKEN, refresh_token=None)),
    Shape("oidc-no-tokens", "oidc, neither id-token nor refresh-token",
          lambda w, d: _oidc(w, d, id_token=None, refresh_token=None)),
    Shape("oidc-id-token-not-jwt", "oidc, an id-token that is not a JWT", lambda w, d: _oidc(w, d, id_token="opaque")),
    Shape("oidc-idp-ca-file", "oidc, expired, the issuer's CA in idp-certificate-authority (absolute path)",
          lambda w, d: _oidc_ca_file(w, d, relative=False)),
    Shape("oidc-idp-ca-file-relative", "oidc, expired, idp-certificate-authority relative: to the working directory, "
          "not to the kubeconfig", lambda w, d: _oidc_ca_file(w, d, relative=True)),
    Shape("oidc-no-idp-ca", "oidc, expired, no idp-certificate-authority: the issuer's certificate is not trusted",
          lambda w, d: _oidc(w, d, id_token=EXPIRED_ID_TOKEN, ca=None)),
    Shape("oidc-user-in-second-file", "KUBECONFIG=a:b, the oidc user only in b (expired): b is written",
          _oidc_second_file),
    Shape("oidc-explicit-kubeconfig", "--kubeconfig with an expired oidc user, $KUBECONFIG another: the explicit file "
          "is written", _oidc_explicit),
    Shape("oidc-issuer-wants-form", "oidc, expired; the issuer refuses Basic client auth and sends no new "
          "refresh-token", lambda w, d: _oidc(w, d, id_token=EXPIRED_ID_TOKEN,
                                              rules=IssuerRules(client_auth="form", rotate=False))),
    Shape("oidc-refresh-refused", "oidc, expired; the issuer answers invalid_grant",
          lambda w, d: _oidc(w, d, id_token=EXPIRED_ID_TOKEN, rules=IssuerRules(refuse=True))),
    Shape("oidc-server-401", "oidc, fresh id-token the server refuses (401): neither renews it", _oidc_rejected),
    Shape("oidc-under-token-flag", "oidc user (expired) with --token: the token wins, the issuer is not asked",
          lambda w, d: Setup(env=_oidc(w, d, id_token=EXPIRED_ID_TOKEN).env, args=["--token", "token-flag"])),
)


SHAPES: tuple[Shape, ...] = (
    Shape(
        "one-file",
        "one kubeconfig: token, CA data, the context's namespace",
        lambda w, d: Setup(env=kubeconfig_env(simple(w, d))),
    ),
    Shape("two-files-current-context", "KUBECONFIG=a:b, each with its own current-context", _two_files_current_context),
    Shape(
        "two-files-conflicting-names",
        "KUBECONFIG=a:b, both name cluster 'prod' and user 'admin'; b sets the context",
        _conflicting_names,
    ),
    Shape(
        "current-context-from-second",
        "KUBECONFIG=a:b, only b sets current-context; a's entries win the names",
        _current_context_from_second,
    ),
    Shape(
        "tls-server-name-first-file",
        "KUBECONFIG=a:b, a's cluster has tls-server-name (issue 9's bug)",
        _tls_server_name_first_file,
    ),
    Shape(
        "relative-paths-second-file",
        "KUBECONFIG=a:sub/b; b's CA, tokenFile and client cert are relative to sub/",
        _relative_paths_second_file,
    ),
    Shape(
        "relative-client-cert", "client-certificate and client-key relative to the kubeconfig", _relative_client_cert
    ),
    Shape("client-cert-data", "client-certificate-data and client-key-data", _cert_data),
    Shape("explicit-kubeconfig", "--kubeconfig wins over $KUBECONFIG", _explicit_kubeconfig),
    Shape("flag-context", "--context picks the other context", _flag("--context", "ctx-b")),
    Shape("flag-cluster", "--cluster overrides the context's cluster", _flag("--cluster", "cb")),
    Shape("flag-user", "--user overrides the context's user", _flag("--user", "ub")),
    Shape("flag-namespace", "-n overrides the context's namespace", _flag("-n", "flag-ns")),
    Shape("flag-server", "--server overrides the cluster's server and clears its tls-server-name", _server_flag),
    Shape("flag-token", "--token overrides the user's token", _flag("--token", "token-flag")),
    Shape("flag-ca", "--certificate-authority for a cluster without CA (relative to the working directory)", _ca_flag),
    Shape("flag-insecure", "--insecure-skip-tls-verify for a cluster without CA", _insecure_flag),
    Shape("flag-client-cert", "--client-certificate/--client-key replace the user's", _client_cert_flags),
    Shape(
        "flag-tls-server-name",
        "--tls-server-name api.fake.test (a name in the certificate)",
        _flag("--tls-server-name", "api.fake.test"),
    ),
    Shape(
        "flag-tls-server-name-wrong",
        "--tls-server-name other.test (not in the certificate)",
        _flag("--tls-server-name", "other.test"),
    ),
    Shape(
        "flag-impersonation",
        "--as, --as-group twice, --as-uid",
        _flag("--as", "jane", "--as-group", "devs", "--as-group", "ops", "--as-uid", "42"),
    ),
    Shape("file-impersonation", "as, as-groups, as-uid, as-user-extra in the user", _file_impersonation),
    Shape(
        "flag-as-over-file",
        "--as replaces the user's as (its groups stay)",
        lambda w, d: Setup(
            env=kubeconfig_env(simple(w, d, user={"token": "token-a", "as": "file-user", "as-groups": ["g"]})),
            args=["--as", "flag-user"],
        ),
    ),
    Shape(
        "file-groups-without-as",
        "as-groups without as in the user",
        lambda w, d: Setup(env=kubeconfig_env(simple(w, d, user={"token": "token-a", "as-groups": ["g"]}))),
    ),
    Shape("flag-group-without-as", "--as-group without --as", _flag("--as-group", "g")),
    Shape("https-proxy", "HTTPS_PROXY for https://fake-a.test", lambda w, d: _proxied(w, d, no_proxy=None)),
    Shape(
        "https-proxy-no-proxy-miss",
        "HTTPS_PROXY, NO_PROXY=.other.test,fake-b.test (no match)",
        lambda w, d: _proxied(w, d, no_proxy=".other.test,fake-b.test"),
    ),
    Shape(
        "https-proxy-no-proxy-match",
        "HTTPS_PROXY, NO_PROXY=.test: direct, and fake-a.test does not resolve",
        lambda w, d: _proxied(w, d, no_proxy=".test"),
    ),
    Shape("https-proxy-loopback", "HTTPS_PROXY with a 127.0.0.1 server: never proxied (Go)", _loopback_with_proxy_env),
    Shape(
        "proxy-url",
        "the cluster's proxy-url wins over HTTPS_PROXY and ignores NO_PROXY",
        lambda w, d: _proxied(w, d, no_proxy="fake-a.test", proxy_url=True),
    ),
    Shape("token-file", "tokenFile relative to the kubeconfig", _token_file),
    Shape("token-and-token-file", "token and tokenFile both set", _token_and_token_file),
    Shape("exec-plugin", "exec credential plugin (relative command)", _exec),
    Shape("exec-cluster-info", "exec plugin with provideClusterInfo (CA from a relative file)", _exec_cluster_info),
    Shape(
        "exec-under-token-flag",
        "exec user with --token: the token wins, the plugin does not run",
        lambda w, d: Setup(env=_exec(w, d).env, args=["--token", "token-flag"]),
    ),
    Shape(
        "no-kubeconfig-server-token",
        "no kubeconfig: --server, --token, --certificate-authority",
        lambda w, d: _no_kubeconfig(w, d, "--certificate-authority", str(CA_CERTIFICATE)),
    ),
    Shape(
        "no-kubeconfig-insecure",
        "no kubeconfig: --server, --token, --insecure-skip-tls-verify",
        lambda w, d: _no_kubeconfig(w, d, "--insecure-skip-tls-verify"),
    ),
    Shape(
        "no-kubeconfig-no-ca",
        "no kubeconfig: --server, --token, no CA: verification fails",
        lambda w, d: _no_kubeconfig(w, d),
    ),
    Shape("in-cluster", "no kubeconfig, the pod's service account files and KUBERNETES_SERVICE_*", _in_cluster),
    Shape("plain-http", "an http:// server: no credentials are sent (401)", _plain_http),
    Shape("bare-host-port", "server 127.0.0.1:PORT (no scheme) with a CA: plain http, no credentials", _bare_host_port),
    Shape(
        "missing-explicit-kubeconfig",
        "--kubeconfig naming a file that does not exist",
        lambda w, d: Setup(args=["--kubeconfig", str(d / "absent.yaml")]),
    ),
    Shape("malformed-kubeconfig", "a kubeconfig that is not YAML", _malformed),
    Shape("unknown-context", "--context that no file has", _flag("--context", "nope")),
    Shape("unknown-cluster", "--cluster that no file has", _flag("--cluster", "nope")),
    Shape("unknown-user", "--user that no file has", _flag("--user", "nope")),
    *OIDC_SHAPES,
)


# --- running --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    code: int
    seen: tuple[tuple[str, ...], ...]  # sorted observations of RouteTable requests
    message: str  # the last line of stderr
    issuer: tuple[str, ...] = ()  # what the OIDC issuer answered, in order
    # Per user entry that changed: (kubeconfig file relative to the run's directory, user, the entry as JSON,
    # the auth-provider config values that changed).
    written: tuple[tuple[str, str, str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def issuer_kinds(self) -> tuple[str, ...]:
        """The issuer's requests without repeats (kubectl repeats a failing renewal per discovery request)."""
        return tuple(dict.fromkeys(self.issuer))


@dataclass(frozen=True)
class Outcome:
    shape: Shape
    kubectl: Run
    plugin: Run

    @property
    def agree(self) -> bool:
        kubectl, plugin = self.kubectl, self.plugin
        if not kubectl.ok and not plugin.ok:
            return kubectl.issuer_kinds == plugin.issuer_kinds and kubectl.written == plugin.written
        return (kubectl.ok and plugin.ok and (kubectl.seen, kubectl.issuer, kubectl.written)
                == (plugin.seen, plugin.issuer, plugin.written))


def in_cluster_supported() -> bool:
    if not shutil.which("unshare"):
        return False
    done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True)
    return done.returncode == 0


_MOUNT = (
    "mount -t tmpfs none /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && "
    'cp "$SERVICE_ACCOUNT_FILES"/* /run/secrets/kubernetes.io/serviceaccount/ && exec "$@"'
)


def _run(w: World, command: list[str], setup: Setup, d: Path) -> Run:
    env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    env.update(HOME=str(d / "home"), PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **setup.env)
    if setup.service_account is not None:
        env["SERVICE_ACCOUNT_FILES"] = str(setup.service_account)
        command = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", _MOUNT, "sh", *command]
    for server in (w.a, w.b):
        server.clear_requests()
    # Which proxy a request came through is told by the proxy's local port; the kernel reuses port
    # numbers, so only the ports of this run's tunnels may count (else a direct connection reusing the
    # number of an earlier case's tunnel would read as proxied).
    for proxy in (w.env_proxy, w.url_proxy):
        proxy.ports.clear()
    w.issuer.reset(setup.issuer)
    files = _kubeconfig_files(setup)
    before = {path: _users_of(path) for path in files}
    done = subprocess.run([*command, *setup.args], env=env, cwd=d, capture_output=True, text=True, timeout=60)
    written = []
    for path in files:
        old, new = before[path], _users_of(path)
        for name, entry in new.items():
            if entry != old.get(name):
                changes = _config_changes(old.get(name) or {}, entry)
                # The two runs live in two directories: an absolute path into the run's own reads the same.
                as_json = json.dumps(entry, sort_keys=True).replace(str(d), "RUN")
                written.append((str(path.relative_to(d)), name, as_json, changes))
    seen = set()
    for server in (w.a, w.b):
        for record in server.requests:
            if "/routetables" not in record.path:
                continue
            seen.add(
                (
                    record.instance,
                    w.via(record.peer_port),
                    record.sni or "-",
                    record.client_subject or "-",
                    record.authorization or "-",
                    " ".join(f"{k}={v}" for k, v in sorted(record.impersonate)) or "-",
                    record.namespace or "-",
                    str(record.status),
                )
            )
    # The last line: kubectl logs (klog, with times) before its final one; the plugin writes one line.
    message = next((line for line in reversed(done.stderr.splitlines()) if line.strip()), "")
    message = re.sub(r"^[EIW]\d{4} [\d:.]+ +\d+ \S+\] ", "", message)
    return Run(done.returncode, tuple(sorted(seen)), message, tuple(w.issuer.requests), tuple(sorted(written)))


def _kubeconfig_files(setup: Setup) -> list[Path]:
    listed = [Path(p) for p in setup.env.get("KUBECONFIG", "").split(os.pathsep) if p]
    explicit = [Path(setup.args[i + 1]) for i, a in enumerate(setup.args[:-1]) if a == "--kubeconfig"]
    return [p for p in dict.fromkeys(listed + explicit) if p.is_absolute()]


def _users_of(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return {}
    users = document.get("users") if isinstance(document, dict) else None
    return {u["name"]: u.get("user") for u in users or [] if isinstance(u, dict) and "name" in u}


def _config_changes(old: dict[str, Any], new: dict[str, Any]) -> str:
    """`id-token=<refreshed>, refresh-token=refresh-2`: the auth-provider config values that changed."""
    before = (old.get("auth-provider") or {}).get("config") or {}
    after = (new.get("auth-provider") or {}).get("config") or {}
    return ", ".join(f"{k}={TOKEN_NAMES.get(v, v)}" for k, v in sorted(after.items()) if before.get(k) != v)


def run_shape(w: World, shape: Shape, d: Path) -> Outcome:
    kubectl = os.environ.get("KUBECTL") or str(BIN / "kubectl")
    kubectl_dir, plugin_dir = d / "kubectl", d / "plugin"
    kubectl_dir.mkdir(parents=True)
    plugin_dir.mkdir(parents=True)
    kubectl_run = _run(w, [kubectl, "get", "routetables"], shape.build(w, kubectl_dir), kubectl_dir)
    plugin_run = _run(w, [PLUGIN, "status"], shape.build(w, plugin_dir), plugin_dir)
    for server in (w.a, w.b):
        server.accept_tokens(*TOKENS)
    return Outcome(shape, kubectl_run, plugin_run)


def run_all(base: Path) -> list[Outcome]:
    with world() as w:
        return [
            run_shape(w, shape, base / shape.id)
            for shape in SHAPES
            if shape.id != "in-cluster" or in_cluster_supported()
        ]


# --- the table ------------------------------------------------------------------------------------


def _describe(run: Run) -> str:
    if not run.ok:
        text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", run.message)
        text = re.sub(r"(fake-[ab]\.test):\d+", r"\1:PORT", text)
        text = re.sub(r"/tmp/\S+", "TMP", text)
        text = re.sub(r" on [\d.]+:53:", " on DNS:", text)  # the resolver of the machine
        return f"fails: {text[:140]}".replace("|", "\\|") + _oidc_detail(run)
    parts = []
    for instance, via, sni, subject, authorization, impersonate, namespace, status in run.seen:
        bearer = authorization.removeprefix("Bearer ")
        who = subject if subject != "-" else f"token {TOKEN_NAMES.get(bearer, bearer)}"
        detail = [f"server {instance}", f"ns {namespace}", who]
        if via != "direct":
            detail.append(f"via {via}")
        if sni != "-":
            detail.append(f"SNI {sni}")
        if impersonate != "-":
            detail.append(impersonate)
        if status != "200":
            detail.append(f"HTTP {status}")
        parts.append(", ".join(detail))
    return ("; ".join(parts) or "ok, no request").replace("|", "\\|") + _oidc_detail(run)


def _oidc_detail(run: Run) -> str:
    """What the OIDC issuer was asked and what was written back, after a cell."""
    detail = ""
    if run.issuer:
        # A failing kubectl renews again per discovery request: how often depends on its timing.
        asked = run.issuer_kinds if not run.ok else run.issuer
        detail += f"; issuer: {', '.join(asked)}" + (" (repeated)" if len(run.issuer) > len(asked) else "")
    for file, user, _, changes in run.written:
        detail += f"; wrote {changes} into {file} (user {user})"
    return detail


def render_table(outcomes: list[Outcome]) -> str:
    lines = [
        "# Connection table",
        "",
        "Generated by `scripts/connection_table.py` from the shapes of `tests/safety/connection_cases.py`: do",
        "not edit it by hand. `tests/safety/test_connection_parity.py` fails when it differs.",
        "",
        "Each shape (kubeconfig files, flags, environment) runs through the real kubectl (`kubectl get",
        "routetables`) and through the plugin (`kubectl-canary status`) against two fake API servers, *a*",
        "and *b*, and two CONNECT proxies (*env-proxy* in $HTTPS_PROXY, *url-proxy* in a cluster's",
        "proxy-url). A cell says what the servers saw of the RouteTable requests: which server, the",
        "namespace, the identity (token or client certificate subject), the proxy, the SNI name and the",
        "Impersonate-* headers; or the first line of the error. For the oidc auth-provider, what the OIDC",
        "issuer stand-in answered (discovery, the token endpoint and how the client authenticated) and which",
        "token values were written into which kubeconfig file (the user entries must be equal after both",
        "runs). The two must agree, or both must fail.",
        "",
        "| shape | kubectl | kubectl-canary |",
        "|---|---|---|",
    ]
    for outcome in outcomes:
        lines.append(
            f"| **{outcome.shape.id}**: {outcome.shape.description} | {_describe(outcome.kubectl)} | "
            f"{_describe(outcome.plugin)} |"
        )
    return "\n".join(lines) + "\n"
