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
- auth-provider oidc (client-go plugin/pkg/client/auth/oidc): read here; identity.py renews the id-token,
  and `with_oidc_tokens` writes the new tokens into the file that defined the user. gcp and azure are gone.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import ipaddress
# yaml is imported where a kubeconfig is parsed or written: a cached parse needs none (10 ms a command).

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_LEGACY_EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1beta1", "client.authentication.k8s.io/v1alpha1")
_EXEC_API_VERSIONS = ("client.authentication.k8s.io/v1", *_LEGACY_EXEC_API_VERSIONS)
_AUTH_PROVIDER_INSTEAD = {
    "gcp": "the gke-gcloud-auth-plugin exec plugin",
    "azure": "the kubelogin exec plugin (kubelogin convert-kubeconfig)",
}


class KubeconfigError(Exception):
    """The kubeconfig (or a flag) does not give a usable connection; the message names the file or entry."""


class CredentialError(KubeconfigError):
    """A credential could not be obtained (an OIDC issuer refused or was unreachable): not a kubeconfig fault,
    so its message stands alone."""


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
    """Whom to act as: kubectl's --as, --as-group, --as-uid, or the kubeconfig user's `as` fields."""

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
class OidcProvider:
    """`auth-provider: {name: oidc}`: the id-token is the bearer token; once it has expired, the refresh-token
    buys a new one at the issuer's token endpoint, and both are written back to `file`, under `user`."""

    user: str  # the user entry's name
    file: Path  # the kubeconfig that defined it (the first to name it)
    owner: str  # "user 'NAME' in FILE": for messages
    issuer_url: str
    client_id: str
    client_secret: str
    id_token: str
    refresh_token: str
    ca_pem: str | None  # idp-certificate-authority(-data); None: the system's roots
    proxy: str | None  # for the issuer: the environment's proxy, as Go's default transport


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
    oidc: OidcProvider | None = None
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
    """The kubeconfig files merged as kubectl merges them (the first file naming an entry wins)."""

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


def kubectl_cache_dir(env: Mapping[str, str]) -> Path:
    """kubectl's cache directory: $KUBECACHEDIR, else ~/.kube/cache (its --cache-dir default)."""
    return Path(env.get("KUBECACHEDIR") or Path(env.get("HOME") or "~").expanduser() / ".kube" / "cache")


# --- the parse cache ---------------------------------------------------------------------------------------
# Parsing a kubeconfig (YAML, with its certificates) costs a command about 15 ms with the yaml import; the
# parsed document is kept as JSON in kubectl's cache directory, one file per kubeconfig path, keyed by the
# file's identity (device, inode, size, mtime and ctime in ns). Any change to the file gives it another
# identity. A file changed within the same timestamp tick could keep it, so a parse is only kept once the
# file's mtime is a few seconds old (git's "racy" rule). An entry that cannot be read or does not match is
# ignored; writing one never fails a command. The entry holds the kubeconfig's credentials, so it is
# private to the user (0600, in a 0700 directory), as the kubeconfig itself should be.

_CACHE_FORMAT = 1
_RACY_SECONDS = 3.0


def _identity(status: os.stat_result) -> list[int]:
    return [status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns]


def _cache_entry(cache_dir: Path, path: Path) -> Path:
    import zlib

    where = os.path.abspath(path)
    return cache_dir / "kubectl-canary" / f"kubeconfig-{zlib.crc32(where.encode()):08x}.json"


def _cached_document(cache_dir: Path, path: Path, identity: list[int]) -> Any:
    """The document cached for `path` at this identity, else None."""
    try:
        with open(_cache_entry(cache_dir, path), encoding="utf-8") as f:
            entry = json.load(f)
    except (OSError, ValueError):
        return None
    if (
        not isinstance(entry, dict)
        or entry.get("format") != _CACHE_FORMAT
        or entry.get("path") != os.path.abspath(path)
        or entry.get("identity") != identity
    ):
        return None
    return entry.get("document")


def _json_native(value: Any) -> bool:
    """True when JSON gives back exactly this value (YAML also has dates, binary, non-string keys)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_native(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_native(v) for v in value)
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    return value is None or isinstance(value, (str, int, bool))


def _keep_document(cache_dir: Path, path: Path, identity: list[int], document: Any) -> None:
    """Write the entry (a file beside it, renamed over it); every failure only means no cache."""
    if not _json_native(document) or abs(time.time() - identity[3] / 1e9) < _RACY_SECONDS:
        return
    entry = _cache_entry(cache_dir, path)
    temporary = entry.with_name(f".{entry.name}.{os.getpid()}")
    try:
        os.makedirs(entry.parent, mode=0o700, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"format": _CACHE_FORMAT, "path": os.path.abspath(path), "identity": identity,
                           "document": document}, f)
            os.replace(temporary, entry)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except (OSError, ValueError):
        pass


def _parse(path: Path, cache_dir: Path | None) -> tuple[bool, Any]:
    """(found, document) of one kubeconfig file: parsed, or from the parse cache when its identity matches."""
    try:
        with open(path) as f:  # the locale's encoding, as Path.read_text
            identity = _identity(os.fstat(f.fileno()))
            if cache_dir is not None:
                document = _cached_document(cache_dir, path, identity)
                if document is not None:
                    return True, document
            text = f.read()
            unchanged = _identity(os.fstat(f.fileno())) == identity
    except FileNotFoundError:
        return False, None
    except OSError as error:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {error.strerror}") from None
    import yaml

    try:
        document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise KubeconfigError(f"kubeconfig {path} is not valid YAML{at}") from None
    if cache_dir is not None and unchanged:
        _keep_document(cache_dir, path, identity, document)
    return True, document


def read_kubeconfigs(paths: list[Path], explicit: bool, cache_dir: Path | None = None) -> MergedKubeconfig:
    """Merge like client-go: the first file to name an entry or set current-context wins it. With `cache_dir`
    (kubectl's cache directory) parses are cached there (see above)."""
    merged = MergedKubeconfig()
    for path in paths:
        found, document = _parse(path, cache_dir)
        if not found:
            if explicit:
                raise KubeconfigError(f"kubeconfig {path} does not exist") from None
            continue
        merged.files.append(path)
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


def _oidc_provider(spec: Any, name: str, file: Path, owner: str, env: Mapping[str, str]) -> OidcProvider:
    """client-go's oidc auth-provider, checked as kubectl checks it before the first request."""
    provider = str(spec.get("name") or "") if isinstance(spec, dict) else ""
    if provider != "oidc":
        if provider in _AUTH_PROVIDER_INSTEAD:
            raise KubeconfigError(f"{owner} uses the {provider} auth-provider, which kubectl removed; use "
                                  f"{_AUTH_PROVIDER_INSTEAD[provider]}")
        raise KubeconfigError(f"{owner}: kubectl knows no auth-provider {provider!r} (only oidc); use an exec "
                              f"credential plugin")
    config = spec.get("config") or {}
    if not isinstance(config, dict):
        raise KubeconfigError(f"{owner}: auth-provider config is not a mapping")
    config = {str(k): "" if v is None else str(v) for k, v in config.items()}
    for key in ("idp-issuer-url", "client-id"):
        if not config.get(key):
            raise KubeconfigError(f"{owner}: the oidc auth-provider needs {key}")
    issuer = config["idp-issuer-url"]
    if urlsplit(issuer).scheme not in ("http", "https") or not urlsplit(issuer).hostname:
        raise KubeconfigError(f"{owner}: idp-issuer-url {issuer!r} is not an http(s) URL")
    ca = None
    if config.get("idp-certificate-authority-data"):  # the data wins over the file, as in client-go
        try:
            ca = base64.b64decode(config["idp-certificate-authority-data"], validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            raise KubeconfigError(f"idp-certificate-authority-data of {owner} is not base64 of a PEM file") from None
    elif config.get("idp-certificate-authority"):
        # kubectl resolves no path inside an auth-provider's config: relative means the working directory.
        ca = _file_text(Path(config["idp-certificate-authority"]), f"idp-certificate-authority of {owner}")
    return OidcProvider(
        user=name,
        file=file,
        owner=owner,
        issuer_url=issuer,
        client_id=config["client-id"],
        client_secret=config.get("client-secret", ""),
        id_token=config.get("id-token", ""),
        refresh_token=config.get("refresh-token", ""),
        ca_pem=ca,
        proxy=proxy_for(issuer, None, env),
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
    import ipaddress

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
        if url.scheme == "https":
            chosen = env.get("HTTPS_PROXY") or env.get("https_proxy") or ""
        else:
            chosen = env.get("HTTP_PROXY") or env.get("http_proxy") or ""
        if not chosen or host == "localhost":
            return None
        import ipaddress  # only when a proxy is set: 1-2 ms

        try:
            if ipaddress.ip_address(host).is_loopback:
                return None  # Go never proxies loopback addresses
        except ValueError:
            pass
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
    merged = read_kubeconfigs(kubeconfig_paths(options.kubeconfig, env), explicit=bool(options.kubeconfig),
                              cache_dir=kubectl_cache_dir(env))
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

    oidc = None
    if user.get("auth-provider"):
        assert user_file is not None  # no flag makes an auth-provider
        if user.get("exec"):
            raise KubeconfigError(f"{user_owner}: exec and auth-provider cannot both be set")
        oidc = _oidc_provider(user["auth-provider"], user_name, user_file, user_owner, env)
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
        oidc=oidc,
        source=source,
    )


# --- writing renewed OIDC tokens back ---------------------------------------------------------------------
# kubectl (client-go's ModifyConfig) writes them into the file that defined the user, under the lock file
# FILE.lock, and re-serializes that whole file (comments, key order and unknown fields are lost). Here only
# the two values change: every other byte of the file stays as it was.

_PLAIN_SCALAR = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._~+/=-]*")


def _user_config_node(document: Any, user: str) -> Any:
    """The composed `auth-provider.config` mapping of the first user entry named `user`, or None."""
    import yaml


    def get(node: Any, key: str) -> Any:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == key:
                    return v
        return None

    users = get(document, "users")
    for entry in users.value if isinstance(users, yaml.SequenceNode) else []:
        name = get(entry, "name")
        if isinstance(name, yaml.ScalarNode) and name.value == user:
            config = get(get(get(entry, "user"), "auth-provider"), "config")
            return config if isinstance(config, yaml.MappingNode) else None
    return None


def oidc_tokens_in(text: str, user: str) -> tuple[str, str] | None:
    """(id-token, refresh-token) of `user` as the file holds them now; None when it holds no oidc config."""
    import yaml

    try:
        config = _user_config_node(yaml.compose(text, Loader=yaml.SafeLoader), user)
    except yaml.YAMLError:
        return None
    if config is None:
        return None
    values = {k.value: v.value for k, v in config.value if isinstance(k, yaml.ScalarNode)
              and isinstance(v, yaml.ScalarNode)}
    return str(values.get("id-token") or ""), str(values.get("refresh-token") or "")


def _scalar_text(value: str, style: str | None) -> str:
    """`value` as a YAML scalar, in the style the file used for the old one where that can hold it."""
    import yaml

    plain = _PLAIN_SCALAR.fullmatch(value) is not None and yaml.safe_load(value) == value
    if style == "'" and "\n" not in value:
        return "'" + value.replace("'", "''") + "'"
    if style is None and plain:
        return value
    return json.dumps(value)  # JSON's string is a YAML double-quoted scalar


def with_oidc_tokens(text: str, user: str, tokens: dict[str, str]) -> str:
    """`text` (a kubeconfig) with `tokens` ({"id-token": ..., "refresh-token": ...}) set in the oidc config of
    `user`: each value replaced where it stands, or a missing key added first in that mapping. A layout
    this cannot edit in place (block scalars, aliases) is written again whole, without its comments."""
    import yaml

    document = yaml.compose(text, Loader=yaml.SafeLoader)
    config = _user_config_node(document, user)
    if config is None:
        raise KubeconfigError(f"user {user!r} has no auth-provider config any more")
    edits: list[tuple[int, int, str]] = []
    existing = {k.value: v for k, v in config.value if isinstance(k, yaml.ScalarNode)}
    missing = []
    for key, value in tokens.items():
        node = existing.get(key)
        if node is None:
            missing.append((key, value))
        elif not isinstance(node, yaml.ScalarNode) or node.style in ("|", ">"):
            return _rewritten(text, user, tokens)
        else:
            start, end = node.start_mark.index, node.end_mark.index
            new = _scalar_text(value, node.style)
            if start == end and text[start - 1:start] == ":":
                new = " " + new  # `id-token:` with no value
            edits.append((start, end, new))
    if missing:
        at = config.start_mark.index
        if config.flow_style:
            added = ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in missing)
            edits.append((at + 1, at + 1, added + (", " if config.value else "")))
        else:
            line_start = text.rfind("\n", 0, at) + 1
            if text[line_start:at].strip():
                return _rewritten(text, user, tokens)
            added = "".join(f"{k}: {_scalar_text(v, None)}\n{text[line_start:at]}" for k, v in missing)
            edits.append((at, at, added))
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _rewritten(text: str, user: str, tokens: dict[str, str]) -> str:
    import yaml

    document = yaml.safe_load(text)
    for entry in document.get("users") or []:
        if isinstance(entry, dict) and entry.get("name") == user:
            entry["user"]["auth-provider"].setdefault("config", {}).update(tokens)
            break
    return str(yaml.safe_dump(document, sort_keys=False, default_flow_style=False))


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """client-go's lock on a kubeconfig it changes: FILE.lock, created exclusively, removed afterwards."""
    lock = Path(f"{path}.lock")
    try:
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        raise CredentialError(f"cannot write to kubeconfig {path}: {lock} exists (kubectl is writing it; remove the "
                              f"lock if no kubectl runs)") from None
    except OSError as error:
        raise CredentialError(f"cannot lock kubeconfig {path}: {error.strerror}") from None
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            lock.unlink()


def replace_file(path: Path, text: str) -> None:
    """Write `text` to `path` at once (a file beside it, renamed over it), through symlinks, keeping its mode;
    in place, as kubectl writes, when only the file may be written, not its directory."""
    import tempfile

    real = path.resolve()
    try:
        mode = real.stat().st_mode & 0o7777
        try:
            fd, temporary = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.")
        except PermissionError:
            real.write_text(text)
            return
        try:
            with os.fdopen(fd, "w") as out:
                out.write(text)
            os.chmod(temporary, mode)
            os.replace(temporary, real)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as error:
        raise CredentialError(f"cannot write kubeconfig {path}: {error.strerror}") from None
