"""Where to connect and as whom: the one resolver, with client-go's rules (tools/clientcmd).

Every request of the plugin goes where this module says; nothing else reads a kubeconfig. The rules,
as kubectl applies them:
- files: `--kubeconfig` alone (it must exist), else every file of $KUBECONFIG (missing ones skipped),
  else ~/.kube/config. The first file to name a cluster, user or context wins that name, and the first
  to set current-context wins it. Relative paths resolve against the file that names them.
- the context is --context, else current-context; --cluster, --user override its cluster and user; the
  connection flags override fields of those entries (a --server clears tls-server-name unless
  --tls-server-name is given too; --certificate-authority or --insecure-skip-tls-verify replace both).
- credentials and impersonation only travel over TLS (an http:// server gets neither).
- an empty configuration and no --server: the pod's service account (in-cluster), when there is one.
- proxy: the cluster's proxy-url, else $HTTPS_PROXY/$HTTP_PROXY with $NO_PROXY, as Go reads them
  (loopback hosts are never proxied).
"""

from __future__ import annotations

import base64
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_LEGACY_EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1beta1", "client.authentication.k8s.io/v1alpha1")
_EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", *_LEGACY_EXEC_API_VERSIONS)
_AUTH_PROVIDER_INSTEAD = {
    "gcp": "the gke-gcloud-auth-plugin exec plugin",
    "azure": "the kubelogin exec plugin (kubelogin convert-kubeconfig)",
    "oidc": "an exec plugin such as kubelogin (kubectl oidc-login)",
}


class KubeconfigError(Exception):
    """The kubeconfig (or a flag) does not give a usable connection; the message names the file or entry."""


@dataclass(frozen=True)
class ConnectionOptions:
    """kubectl's connection flags, as given (None/empty: not given)."""

    kubeconfig: str | None = None
    context: str | None = None
    cluster: str | None = None
    user: str | None = None
    server: str | None = None
    token: str | None = None
    certificate_authority: str | None = None
    client_certificate: str | None = None
    client_key: str | None = None
    tls_server_name: str | None = None
    insecure_skip_tls_verify: bool = False
    as_user: str | None = None
    as_groups: tuple[str, ...] = ()
    as_uid: str | None = None
    request_timeout: float = 30.0  # 0: no timeout, as kubectl's --request-timeout=0


@dataclass(frozen=True)
class Impersonation:
    user: str
    uid: str | None = None
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def headers(self) -> list[tuple[str, str]]:
        """The Impersonate-* headers, repeated per group and extra value, as client-go sends them."""
        from urllib.parse import quote

        found = [("Impersonate-User", self.user)]
        if self.uid:
            found.append(("Impersonate-Uid", self.uid))
        found += [("Impersonate-Group", group) for group in self.groups]
        for key, values in self.extra:
            # Go's canonical header form (net/http writes Impersonate-Extra-Reason for "reason").
            name = "-".join(part[:1].upper() + part[1:].lower() for part in quote(key, safe="").split("-"))
            found += [(f"Impersonate-Extra-{name}", value) for value in values]
        return found


@dataclass(frozen=True)
class ExecPlugin:
    """A client.authentication.k8s.io credential plugin, ready to run."""

    command: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    api_version: str
    interactive_mode: str
    install_hint: str
    cluster_info: dict[str, Any] | None  # spec.cluster when provideClusterInfo is set


@dataclass(frozen=True)
class Credentials:
    """Everything a transport needs: the server, its TLS settings, the identity, the proxy."""

    server: str
    namespace: str
    token: str | None = None
    token_file: Path | None = None  # re-read when it changes (client-go: BearerTokenFile)
    basic_auth: tuple[str, str] | None = None
    ca_pem: str | None = None
    client_cert_pem: str | None = None
    client_key_pem: str | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    proxy: str | None = None  # http://host:port of the proxy to tunnel through, None: direct
    impersonation: Impersonation | None = None
    exec_plugin: ExecPlugin | None = None
    source: str = field(default="", compare=False)  # "context X of FILE": for messages


def kubeconfig_paths(explicit: str | None, env: Mapping[str, str]) -> list[Path]:
    if explicit:
        return [Path(explicit).expanduser()]
    listed = env.get("KUBECONFIG")
    if listed:
        return [Path(p).expanduser() for p in listed.split(os.pathsep) if p]
    return [Path(env.get("HOME") or "~").expanduser() / ".kube" / "config"]


@dataclass
class MergedKubeconfig:
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    contexts: dict[str, dict[str, Any]] = field(default_factory=dict)
    current_context: str = ""
    origin: dict[str, Path] = field(default_factory=dict)  # "clusters/NAME" -> the file that named it
    files: list[Path] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.clusters or self.users or self.contexts or self.current_context)

    def where(self) -> str:
        return ", ".join(map(str, self.files)) or "no kubeconfig"


def read_kubeconfigs(paths: list[Path], explicit: bool) -> MergedKubeconfig:
    """Merge like client-go: the first file to name an entry or set current-context wins it."""
    merged = MergedKubeconfig()
    for path in paths:
        try:
            text = path.read_text()
        except FileNotFoundError:
            if explicit:
                raise KubeconfigError(f"kubeconfig {path} does not exist") from None
            continue
        except OSError as error:
            raise KubeconfigError(f"cannot read kubeconfig {path}: {error.strerror}") from None
        merged.files.append(path)
        try:
            document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            at = f" (line {mark.line + 1})" if mark is not None else ""
            raise KubeconfigError(f"kubeconfig {path} is not valid YAML{at}") from None
        if not isinstance(document, dict):
            raise KubeconfigError(f"kubeconfig {path} is not a kubeconfig (not a mapping)")
        for kind, key in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            entries = document.get(kind) or []
            if not isinstance(entries, list):
                raise KubeconfigError(f"kubeconfig {path}: {kind} is not a list")
            table: dict[str, dict[str, Any]] = getattr(merged, kind)
            for entry in entries:
                if not isinstance(entry, dict) or not isinstance(entry.get(key) or {}, dict):
                    raise KubeconfigError(f"kubeconfig {path}: an entry of {kind} is not a mapping")
                name = entry.get("name")
                if not isinstance(name, str) or not name:
                    raise KubeconfigError(f"kubeconfig {path}: an entry of {kind} has no name")
                if name not in table:
                    table[name] = dict(entry.get(key) or {})
                    merged.origin[f"{kind}/{name}"] = path
        current = document.get("current-context")
        if not merged.current_context and isinstance(current, str) and current:
            merged.current_context = current
    return merged


def _relative_to(value: str, base: Path | None) -> Path:
    path = Path(value).expanduser()
    if path.is_absolute() or base is None:
        return path if path.is_absolute() else Path.cwd() / path
    return base.parent / path


def _file_text(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as error:
        raise KubeconfigError(f"cannot read {what} {path}: {error.strerror}") from None


def _pem(entry: dict[str, Any], key: str, base: Path | None, owner: str) -> str | None:
    data = entry.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raise KubeconfigError(f"{key}-data of {owner} is not base64 of a PEM file") from None
    file = entry.get(key)
    if file:
        return _file_text(_relative_to(str(file), base), f"{key} of {owner}")
    return None


def in_cluster_possible(env: Mapping[str, str]) -> bool:
    """client-go's inClusterClientConfig.Possible: the service variables and a token file."""
    return (
        bool(env.get("KUBERNETES_SERVICE_HOST") and env.get("KUBERNETES_SERVICE_PORT"))
        and (SERVICE_ACCOUNT / "token").is_file()
    )


def _in_cluster(options: ConnectionOptions, env: Mapping[str, str]) -> Credentials:
    """A pod's own service account, as client-go's rest.InClusterConfig, with --server, --token and
    --certificate-authority applied on top (the only flags it honours)."""
    host, port = env["KUBERNETES_SERVICE_HOST"], env["KUBERNETES_SERVICE_PORT"]
    host = f"[{host}]" if ":" in host else host
    ca_file = _relative_to(options.certificate_authority, None) if options.certificate_authority else None
    namespace = env.get("POD_NAMESPACE") or ""
    namespace_file = SERVICE_ACCOUNT / "namespace"
    if not namespace and namespace_file.is_file():
        namespace = namespace_file.read_text().strip()
    server = options.server or f"https://{host}:{port}"
    return Credentials(
        server=server.rstrip("/"),
        namespace=namespace or "default",
        token=options.token,
        token_file=None if options.token else SERVICE_ACCOUNT / "token",
        ca_pem=_file_text(ca_file or SERVICE_ACCOUNT / "ca.crt", "certificate-authority"),
        proxy=proxy_for(server, None, env),
        source="in-cluster service account",
    )


def _exec_plugin(spec: Any, owner: str, base: Path | None, cluster: dict[str, Any], ca: str | None) -> ExecPlugin:
    if not isinstance(spec, dict) or not spec.get("command"):
        raise KubeconfigError(f"exec of {owner} has no command")
    api_version = str(spec.get("apiVersion") or "")
    if api_version not in _EXEC_API_VERSIONS:
        raise KubeconfigError(
            f"exec of {owner}: apiVersion {api_version!r} is not one of {', '.join(_EXEC_API_VERSIONS)}"
        )
    mode = str(spec.get("interactiveMode") or ("IfAvailable" if api_version in _LEGACY_EXEC_API_VERSIONS else ""))
    if mode not in ("Never", "IfAvailable", "Always"):
        raise KubeconfigError(f"exec of {owner}: interactiveMode must be Never, IfAvailable or Always")
    command = str(spec["command"])
    if os.sep in command and not os.path.isabs(command):
        command = str(_relative_to(command, base))  # relative to the kubeconfig that names it
    info = None
    if spec.get("provideClusterInfo"):
        # client.authentication.k8s.io Cluster: the CA as data, never a path the plugin would misread.
        info = {
            "server": cluster.get("server", ""),
            "tls-server-name": cluster.get("tls-server-name") or None,
            "insecure-skip-tls-verify": bool(cluster.get("insecure-skip-tls-verify")) or None,
            "certificate-authority-data": base64.b64encode(ca.encode()).decode() if ca else None,
            "proxy-url": cluster.get("proxy-url") or None,
            "config": (cluster.get("extensions") or {}).get("client.authentication.k8s.io/exec")
            if isinstance(cluster.get("extensions"), dict)
            else None,
        }
        info = {k: v for k, v in info.items() if v is not None}
    return ExecPlugin(
        command=command,
        args=tuple(str(a) for a in spec.get("args") or []),
        env=tuple((str(e.get("name")), str(e.get("value", ""))) for e in spec.get("env") or []),
        api_version=api_version,
        interactive_mode=mode,
        install_hint=str(spec.get("installHint") or "").strip(),
        cluster_info=info,
    )


def _server_url(server: str) -> str:
    """A server without a scheme is plain http: client-go decides before it reads any TLS setting."""
    parts = urlsplit(server)
    if not parts.scheme or not parts.netloc:
        server = "http://" + server
        parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KubeconfigError(f"server {server!r} is not an http(s) URL")
    return server.rstrip("/")


def _no_proxy_matches(host: str, port: str, no_proxy: str) -> bool:
    """Go's httpproxy NO_PROXY rules: *, IPs, CIDRs, domain suffixes, optional :port."""
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if "/" in entry:
            try:
                if ip is not None and ip in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
            continue
        entry_port = ""
        if entry.startswith("["):
            entry, _, rest = entry[1:].partition("]")
            entry_port = rest.lstrip(":")
        elif entry.count(":") == 1:
            entry, entry_port = entry.split(":")
        try:
            entry_ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(entry)
        except ValueError:
            entry_ip = None
        if entry_ip is not None:  # an IP entry matches that IP only, never a name
            if ip == entry_ip and (not entry_port or entry_port == port):
                return True
            continue
        if entry.startswith("*."):
            entry = entry[1:]
        exact_too = not entry.startswith(".")
        suffix = entry if entry.startswith(".") else "." + entry
        if (host.endswith(suffix) or (exact_too and host == entry)) and (not entry_port or entry_port == port):
            return True
    return False


def proxy_for(server: str, proxy_url: str | None, env: Mapping[str, str]) -> str | None:
    """The proxy client-go would use for `server`: the cluster's proxy-url, else the environment's."""
    if proxy_url:
        chosen = proxy_url
    else:
        url = urlsplit(server)
        host = (url.hostname or "").lower()
        if host == "localhost":
            return None
        try:
            if ipaddress.ip_address(host).is_loopback:
                return None  # Go never proxies loopback addresses
        except ValueError:
            pass
        if url.scheme == "https":
            chosen = env.get("HTTPS_PROXY") or env.get("https_proxy") or ""
        else:
            chosen = env.get("HTTP_PROXY") or env.get("http_proxy") or ""
        if not chosen:
            return None
        port = str(url.port or (443 if url.scheme == "https" else 80))
        if _no_proxy_matches(host, port, env.get("NO_PROXY") or env.get("no_proxy") or ""):
            return None
    parts = urlsplit(chosen if "://" in chosen else "http://" + chosen)
    if parts.scheme != "http":
        raise KubeconfigError(
            f"proxy {chosen!r}: only http:// proxies are supported (not {parts.scheme}://); use an HTTP CONNECT proxy"
        )
    if not parts.hostname:
        raise KubeconfigError(f"proxy {chosen!r} has no host")
    return f"http://{parts.netloc.rpartition('@')[2]}"


def resolve(options: ConnectionOptions, env: Mapping[str, str] | None = None) -> Credentials:
    """The server, TLS settings, identity, namespace and proxy kubectl would use with these flags."""
    env = os.environ if env is None else env
    merged = read_kubeconfigs(kubeconfig_paths(options.kubeconfig, env), explicit=bool(options.kubeconfig))
    named = options.context or options.cluster or options.user
    if merged.empty and not options.server and not named and in_cluster_possible(env):
        return _in_cluster(options, env)

    context_name = options.context or merged.current_context
    if context_name and context_name not in merged.contexts:
        raise KubeconfigError(f"context {context_name!r} not found in {merged.where()}")
    context = merged.contexts.get(context_name, {}) if context_name else {}
    cluster_name = options.cluster or str(context.get("cluster") or "")
    if options.cluster and options.cluster not in merged.clusters:
        raise KubeconfigError(f"cluster {options.cluster!r} (--cluster) not found in {merged.where()}")
    user_name = options.user or str(context.get("user") or "")
    if options.user and options.user not in merged.users:
        raise KubeconfigError(f"user {options.user!r} (--user) not found in {merged.where()}")
    cluster = dict(merged.clusters.get(cluster_name, {}))
    user = dict(merged.users.get(user_name, {}))
    cluster_file = merged.origin.get(f"clusters/{cluster_name}")
    user_file = merged.origin.get(f"users/{user_name}")
    cluster_owner = f"cluster {cluster_name!r} in {cluster_file}" if cluster_file else "the --server flag"
    user_owner = f"user {user_name!r} in {user_file}" if user_file else "the command line"

    # The flags, on top of the entries (client-go: DirectClientConfig.getCluster/getAuthInfo).
    flag_paths: set[str] = set()
    if options.server:
        cluster["server"] = options.server
    if options.insecure_skip_tls_verify or options.certificate_authority:
        cluster["insecure-skip-tls-verify"] = options.insecure_skip_tls_verify
        cluster.pop("certificate-authority-data", None)
        cluster["certificate-authority"] = options.certificate_authority or ""
        flag_paths.add("certificate-authority")
    if options.tls_server_name or options.server:
        cluster["tls-server-name"] = options.tls_server_name or ""
    for key, value in (
        ("token", options.token),
        ("client-certificate", options.client_certificate),
        ("client-key", options.client_key),
        ("as", options.as_user),
        ("as-uid", options.as_uid),
    ):
        if value:
            user[key] = value
            if key.startswith("client-"):
                user.pop(f"{key}-data", None)
                flag_paths.add(key)
    if options.as_groups:
        user["as-groups"] = list(options.as_groups)

    if not context_name and not options.server:
        raise KubeconfigError(
            f"no current-context in {merged.where()} and no --server; pass --context, or set one with "
            f"'kubectl config use-context'"
        )
    if not cluster.get("server"):
        if cluster_name and cluster_file is None:
            raise KubeconfigError(f"cluster {cluster_name!r} of context {context_name!r} not found in {merged.where()}")
        raise KubeconfigError(f"{cluster_owner if cluster_file else 'context ' + repr(context_name)} has no server")

    def base(key: str, origin: Path | None) -> Path | None:
        return None if key in flag_paths else origin  # flags' paths are relative to the working directory

    ca = _pem(cluster, "certificate-authority", base("certificate-authority", cluster_file), cluster_owner)
    insecure = bool(cluster.get("insecure-skip-tls-verify"))
    if insecure and ca:
        raise KubeconfigError(f"{cluster_owner}: certificate-authority and insecure-skip-tls-verify are both set")
    cert_given = bool(user.get("client-certificate") or user.get("client-certificate-data"))
    client_cert = _pem(user, "client-certificate", base("client-certificate", user_file), user_owner)
    client_key = _pem(user, "client-key", base("client-key", user_file), user_owner)
    if cert_given and not client_key:
        raise KubeconfigError(f"{user_owner}: client-certificate is set without client-key")
    server = _server_url(str(cluster["server"]))
    namespace = str(context.get("namespace") or "default")
    tls_server_name = str(cluster.get("tls-server-name") or "") or None
    proxy = proxy_for(server, str(cluster.get("proxy-url") or "") or None, env)
    source = f"context {context_name!r}" if context_name else "the --server flag"
    impersonation = None
    if user.get("as") or user.get("as-uid") or user.get("as-groups") or user.get("as-user-extra"):
        if not user.get("as"):
            raise KubeconfigError(
                f"{user_owner}: as-groups, as-uid or as-user-extra without as (the user to impersonate)"
            )
        extra = user.get("as-user-extra") or {}
        impersonation = Impersonation(
            user=str(user["as"]),
            uid=str(user.get("as-uid") or "") or None,
            groups=tuple(str(g) for g in user.get("as-groups") or []),
            extra=tuple((str(k), tuple(str(v) for v in (vs or []))) for k, vs in sorted(extra.items())),
        )
    if not server.startswith("https://"):
        # client-go reads no credentials for a plain-HTTP server (impersonation still goes).
        return Credentials(server=server, namespace=namespace, proxy=proxy, impersonation=impersonation, source=source)

    if user.get("auth-provider"):
        provider = str((user["auth-provider"] or {}).get("name") or "")
        instead = _AUTH_PROVIDER_INSTEAD.get(provider, "an exec credential plugin")
        raise KubeconfigError(
            f"{user_owner} uses the {provider or 'legacy'} auth-provider, which kubectl removed; use {instead}"
        )
    token = str(user.get("token") or "") or None
    token_file = _relative_to(str(user["tokenFile"]), user_file) if user.get("tokenFile") else None
    if token_file is not None and token is None:
        _file_text(token_file, f"tokenFile of {user_owner}")  # fail now, naming it, as client-go does
    basic = None
    if user.get("username") or user.get("password"):
        basic = (str(user.get("username") or ""), str(user.get("password") or ""))
        if token or token_file:
            raise KubeconfigError(f"{user_owner}: more than one authentication method (token and username)")
    exec_plugin = None
    if user.get("exec") and not (token or token_file or basic or client_cert):
        exec_plugin = _exec_plugin(user["exec"], user_owner, user_file, cluster, ca)
    return Credentials(
        server=server,
        namespace=namespace,
        token=token,
        token_file=token_file,
        basic_auth=basic,
        ca_pem=ca,
        client_cert_pem=client_cert,
        client_key_pem=client_key,
        insecure=insecure,
        tls_server_name=tls_server_name,
        proxy=proxy,
        impersonation=impersonation,
        exec_plugin=exec_plugin,
        source=source,
    )
