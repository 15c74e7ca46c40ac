"""A fast reader for kubeconfigs: tokens, client certificates, CAs, exec credential plugins, in-cluster.

Importing the `kubernetes` package costs ~0.5 s (with exec plugins 35.x also loads every generated
model), ten times a kubectl call. Most set-ups need none of it, so they are read here; what this
reader does not handle (auth-provider plugins, proxies, interactive exec plugins, basic auth)
raises `NeedsKubernetesClient` and the caller falls back to the package, which handles all of it.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_HANDLED_USER_KEYS = {
    "exec",
    "token",
    "tokenFile",
    "client-certificate",
    "client-certificate-data",
    "client-key",
    "client-key-data",
}
_HANDLED_CLUSTER_KEYS = {"server", "certificate-authority", "certificate-authority-data", "insecure-skip-tls-verify"}
_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


class NeedsKubernetesClient(Exception):
    """This kubeconfig needs the full `kubernetes` package."""


class KubeconfigError(Exception):
    """The kubeconfig is missing or broken; the message says which part."""


@dataclass(frozen=True)
class Credentials:
    server: str
    namespace: str
    token: str | None = None
    ca_pem: str | None = None
    client_cert_pem: str | None = None
    client_key_pem: str | None = None
    insecure: bool = False


def kubeconfig_paths(explicit: str | None) -> list[Path]:
    if explicit:
        return [Path(explicit).expanduser()]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def _merged(paths: list[Path]) -> tuple[dict[str, Any], dict[str, Path]]:
    """Merge like kubectl: the first file to define a name or current-context wins.

    Also returns, per `kind/name`, the file it came from: relative paths resolve against it.
    """
    merged: dict[str, Any] = {"clusters": {}, "users": {}, "contexts": {}, "current-context": ""}
    origin: dict[str, Path] = {}
    found = False
    for path in paths:
        try:
            text = path.read_text()
        except FileNotFoundError:
            continue
        except OSError as error:
            raise KubeconfigError(f"cannot read {path}: {error.strerror}") from None
        found = True
        try:
            document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        except yaml.YAMLError:
            raise KubeconfigError(f"{path} is not valid YAML") from None
        if not isinstance(document, dict):
            raise KubeconfigError(f"{path} is not a kubeconfig")
        for kind, key in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
            for entry in document.get(kind) or []:
                name = (entry or {}).get("name")
                if name is not None and name not in merged[kind]:
                    merged[kind][name] = entry.get(key) or {}
                    origin[f"{kind}/{name}"] = path
        if not merged["current-context"] and document.get("current-context"):
            merged["current-context"] = document["current-context"]
    if not found:
        raise KubeconfigError(f"no kubeconfig found at {os.pathsep.join(map(str, paths))}")
    return merged, origin


def _pem(entry: dict[str, Any], key: str, base: Path) -> str | None:
    data = entry.get(f"{key}-data")
    if data:
        return base64.b64decode(data).decode()
    file = entry.get(key)
    if file:
        path = Path(file).expanduser()
        try:
            return (path if path.is_absolute() else base.parent / path).read_text()
        except OSError as error:
            raise KubeconfigError(f"cannot read {key} {file}: {error.strerror}") from None
    return None


_SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def _in_cluster() -> Credentials:
    """A pod's own service account, as client-go's rest.InClusterConfig reads it."""
    host, port = os.environ["KUBERNETES_SERVICE_HOST"], os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    host = f"[{host}]" if ":" in host else host
    try:
        token = (_SERVICE_ACCOUNT / "token").read_text().strip()
        ca = (_SERVICE_ACCOUNT / "ca.crt").read_text()
    except OSError as error:
        raise KubeconfigError(f"in-cluster service account files unreadable: {error.strerror}") from None
    namespace_file = _SERVICE_ACCOUNT / "namespace"
    namespace = namespace_file.read_text().strip() if namespace_file.exists() else "default"
    return Credentials(server=f"https://{host}:{port}", namespace=namespace or "default", token=token, ca_pem=ca)


def _exec_credential(spec: dict[str, Any], cluster: dict[str, Any], base: Path) -> dict[str, Any]:
    """Run an exec credential plugin (client.authentication.k8s.io) and return its `status`."""
    import subprocess  # only exec kubeconfigs pay for it

    if spec.get("interactiveMode") == "Always":
        raise NeedsKubernetesClient("interactive exec plugin")
    command = str(spec.get("command") or "")
    if os.sep in command and not os.path.isabs(command):
        command = str(base.parent / command)  # relative to the kubeconfig, as kubectl resolves it
    info: dict[str, Any] = {"spec": {"interactive": False}}
    if spec.get("provideClusterInfo"):
        info["spec"]["cluster"] = {k: v for k, v in cluster.items() if k != "extensions"}
    api_version = spec.get("apiVersion") or "client.authentication.k8s.io/v1beta1"
    env = {**os.environ, **{e["name"]: e["value"] for e in spec.get("env") or []}}
    env["KUBERNETES_EXEC_INFO"] = json.dumps({"apiVersion": api_version, "kind": "ExecCredential", **info})
    try:
        done = subprocess.run(
            [command, *(spec.get("args") or [])], env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=60
        )
    except FileNotFoundError:
        hint = spec.get("installHint")
        raise KubeconfigError(f"exec plugin {command!r} not found" + (f": {hint.strip()}" if hint else "")) from None
    except (OSError, subprocess.TimeoutExpired) as error:
        raise KubeconfigError(f"exec plugin {command!r} failed: {error}") from None
    if done.returncode != 0:
        last = (done.stderr.decode(errors="replace").strip().splitlines() or [""])[-1]
        raise KubeconfigError(f"exec plugin {command!r} exited {done.returncode}" + (f": {last}" if last else ""))
    try:
        status: dict[str, Any] = json.loads(done.stdout)["status"]
    except (ValueError, KeyError, TypeError):
        raise KubeconfigError(f"exec plugin {command!r} did not print an ExecCredential") from None
    return status


def load_credentials(explicit: str | None, context: str | None) -> Credentials:
    """Credentials of `context` (default: current-context) from the kubeconfig(s), else in-cluster."""
    if any(os.environ.get(v) for v in _PROXY_VARIABLES):
        raise NeedsKubernetesClient("proxy")
    in_pod = explicit is None and not os.environ.get("KUBECONFIG") and os.environ.get("KUBERNETES_SERVICE_HOST")
    if in_pod and not Path("~/.kube/config").expanduser().exists():
        return _in_cluster()
    merged, origin = _merged(kubeconfig_paths(explicit))
    name = context or merged["current-context"]
    if not name:
        raise KubeconfigError("no current-context is set; pass --context")
    if name not in merged["contexts"]:
        raise KubeconfigError(f"context {name!r} not found")
    ctx = merged["contexts"][name]
    cluster = merged["clusters"].get(ctx.get("cluster"))
    if cluster is None:
        raise KubeconfigError(f"cluster {ctx.get('cluster')!r} of context {name!r} not found")
    user = merged["users"].get(ctx.get("user"), {}) if ctx.get("user") else {}
    if set(user) - _HANDLED_USER_KEYS or set(cluster) - _HANDLED_CLUSTER_KEYS:
        raise NeedsKubernetesClient("credential plugin or an option only the kubernetes package handles")
    if not cluster.get("server"):
        raise KubeconfigError(f"cluster {ctx.get('cluster')!r} has no server")

    user_file = origin.get(f"users/{ctx.get('user')}", Path.cwd() / "kubeconfig")
    cluster_file = origin[f"clusters/{ctx.get('cluster')}"]
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token_path = Path(user["tokenFile"]).expanduser()
        try:
            token = (token_path if token_path.is_absolute() else user_file.parent / token_path).read_text().strip()
        except OSError as error:
            raise KubeconfigError(f"cannot read tokenFile {user['tokenFile']}: {error.strerror}") from None
    client_cert = _pem(user, "client-certificate", user_file)
    client_key = _pem(user, "client-key", user_file)
    if user.get("exec"):
        status = _exec_credential(user["exec"], cluster, user_file)
        token = status.get("token") or token
        client_cert = status.get("clientCertificateData") or client_cert
        client_key = status.get("clientKeyData") or client_key
    return Credentials(
        server=str(cluster["server"]).rstrip("/"),
        namespace=ctx.get("namespace") or "default",
        token=token,
        ca_pem=_pem(cluster, "certificate-authority", cluster_file),
        client_cert_pem=client_cert,
        client_key_pem=client_key,
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
    )
