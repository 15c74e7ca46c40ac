"""A tiny Kubernetes API client for the e2e suite's own reads, waits and stand-in controllers.

It speaks plain HTTPS with what an admin kubeconfig holds (a client certificate or a token, the cluster's
CA), so the suite depends on nothing the plugin is made of: what the plugin does is judged by an
independent reader. One keep-alive connection per thread; watches get their own connection.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

# plural -> (API prefix, namespaced)
RESOURCES: dict[str, tuple[str, bool]] = {
    "namespaces": ("/api/v1", False),
    "pods": ("/api/v1", True),
    "services": ("/api/v1", True),
    "events": ("/api/v1", True),
    "serviceaccounts": ("/api/v1", True),
    "deployments": ("/apis/apps/v1", True),
    "replicasets": ("/apis/apps/v1", True),
    "routetables": ("/apis/gateway.solo.io/v1", True),
    "virtualservices": ("/apis/gateway.solo.io/v1", True),
    "upstreams": ("/apis/gloo.solo.io/v1", True),
    "httproutes": ("/apis/gateway.networking.k8s.io/v1", True),
    "gateways": ("/apis/gateway.networking.k8s.io/v1", True),
    "gatewayclasses": ("/apis/gateway.networking.k8s.io/v1", False),
    "referencegrants": ("/apis/gateway.networking.k8s.io/v1beta1", True),
    "customresourcedefinitions": ("/apis/apiextensions.k8s.io/v1", False),
    "roles": ("/apis/rbac.authorization.k8s.io/v1", True),
    "rolebindings": ("/apis/rbac.authorization.k8s.io/v1", True),
    "clusterroles": ("/apis/rbac.authorization.k8s.io/v1", False),
    "clusterrolebindings": ("/apis/rbac.authorization.k8s.io/v1", False),
}


class KubeError(Exception):
    def __init__(self, status: int, body: Any, what: str) -> None:
        self.status = status
        self.body = body
        message = body.get("message") if isinstance(body, dict) else body
        super().__init__(f"{what}: {status} {message}")


@dataclass(frozen=True)
class Credentials:
    server: str
    ca_data: bytes | None
    cert_data: bytes | None
    key_data: bytes | None
    token: str | None
    insecure: bool


def _data(entry: dict[str, Any], key: str, base: Path) -> bytes | None:
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    if entry.get(key):
        return (base / entry[key]).read_bytes()
    return None


def read_kubeconfig(path: Path) -> Credentials:
    """The current context's server and credentials: what the e2e suite needs from an admin kubeconfig."""
    config = yaml.safe_load(path.read_text())
    by_name = {kind: {e["name"]: e[kind[:-1]] for e in config.get(kind) or []}
               for kind in ("clusters", "users", "contexts")}
    context = by_name["contexts"][config["current-context"]]
    cluster, user = by_name["clusters"][context["cluster"]], by_name["users"].get(context.get("user"), {}) or {}
    base = path.parent
    token = user.get("token") or (Path(base / user["tokenFile"]).read_text().strip() if user.get("tokenFile") else None)
    return Credentials(
        server=cluster["server"],
        ca_data=_data(cluster, "certificate-authority", base),
        cert_data=_data(user, "client-certificate", base),
        key_data=_data(user, "client-key", base),
        token=token,
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
    )


def path_of(plural: str, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
    prefix, namespaced = RESOURCES[plural]
    parts = [prefix]
    if namespaced and namespace:
        parts.append(f"namespaces/{namespace}")
    parts.append(plural)
    if name:
        parts.append(name)
    if sub:
        parts.append(sub)
    return "/".join(parts)


class Kube:
    """Requests as the kubeconfig's user. Thread-safe: each thread keeps its own connection."""

    def __init__(self, kubeconfig: Path) -> None:
        self.kubeconfig = kubeconfig
        self.credentials = creds = read_kubeconfig(kubeconfig)
        url = urllib.parse.urlsplit(creds.server)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 443
        self.context = ssl.create_default_context()
        if creds.insecure:
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE
        elif creds.ca_data:
            self.context.load_verify_locations(cadata=creds.ca_data.decode())
        if creds.cert_data and creds.key_data:
            # ssl loads a client certificate only from files.
            with tempfile.TemporaryDirectory() as tmp:
                cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
                cert.write_bytes(creds.cert_data)
                key.write_bytes(creds.key_data)
                self.context.load_cert_chain(str(cert), str(key))
        self._local = threading.local()

    def _connection(self, timeout: float | None = 30) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self.context, timeout=timeout)

    def _headers(self, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": "kubectl-canary-e2e"}
        if content_type:
            headers["Content-Type"] = content_type
        if self.credentials.token:
            headers["Authorization"] = f"Bearer {self.credentials.token}"
        return headers

    def request(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json",
                query: dict[str, str] | None = None) -> tuple[int, Any]:
        if query:
            path = f"{path}?{urllib.parse.urlencode(query)}"
        data = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
        for attempt in range(3):
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = self._local.connection = self._connection()
            try:
                connection.request(method, path, body=data, headers=self._headers(content_type if data else None))
                response = connection.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise
                time.sleep(0.1)
                continue
            try:
                return response.status, json.loads(raw) if raw else None
            except ValueError:
                return response.status, raw.decode(errors="replace")
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, body: Any = None, *, ok: tuple[int, ...] = (200, 201),
             content_type: str = "application/json", query: dict[str, str] | None = None) -> Any:
        status, answer = self.request(method, path, body, content_type=content_type, query=query)
        if status not in ok:
            raise KubeError(status, answer, f"{method} {path}")
        return answer

    # --- objects ---

    def get(self, plural: str, namespace: str | None, name: str) -> Obj | None:
        status, answer = self.request("GET", path_of(plural, namespace, name))
        if status == 404:
            return None
        if status != 200:
            raise KubeError(status, answer, f"GET {plural} {namespace}/{name}")
        return answer

    def list(self, plural: str, namespace: str | None = None, selector: str | None = None) -> Obj:
        query = {"labelSelector": selector} if selector else None
        return self.call("GET", path_of(plural, namespace), query=query)

    def create(self, obj: Obj) -> Obj:
        plural = plural_of(obj)
        return self.call("POST", path_of(plural, obj["metadata"].get("namespace")), obj)

    def apply(self, obj: Obj, manager: str, *, force: bool = True, sub: str | None = None) -> Obj:
        """Server-side apply, as a controller or a person's tool would."""
        meta = obj["metadata"]
        path = path_of(plural_of(obj), meta.get("namespace"), meta["name"], sub)
        query = {"fieldManager": manager, "force": "true" if force else "false"}
        return self.call("PATCH", path, obj, content_type="application/apply-patch+yaml",
                         query=query)

    def merge_patch(self, plural: str, namespace: str | None, name: str, patch: Obj, *, sub: str | None = None,
                    manager: str | None = None) -> Obj:
        query = {"fieldManager": manager} if manager else None
        return self.call("PATCH", path_of(plural, namespace, name, sub), patch,
                         content_type="application/merge-patch+json", query=query)

    def delete(self, plural: str, namespace: str | None, name: str) -> None:
        self.call("DELETE", path_of(plural, namespace, name), ok=(200, 202, 404))

    # --- watching and waiting ---

    def watch(self, plural: str, *, resource_version: str, timeout_seconds: int = 60,
              stop: threading.Event | None = None) -> Iterator[tuple[str, Obj]]:
        """Events of every namespace from `resource_version`; ends when the server ends the watch.

        Raises KubeError(410) when the version is too old: list again."""
        query = {"watch": "1", "resourceVersion": resource_version, "timeoutSeconds": str(timeout_seconds),
                 "allowWatchBookmarks": "true"}
        connection = self._connection(timeout=timeout_seconds + 10)
        try:
            connection.request("GET", f"{path_of(plural)}?{urllib.parse.urlencode(query)}",
                               headers=self._headers(None))
            response = connection.getresponse()
            if response.status != 200:
                raise KubeError(response.status, response.read().decode(errors="replace"), f"watch {plural}")
            while stop is None or not stop.is_set():
                line = response.readline()
                if not line:
                    return
                event = json.loads(line)
                if event["type"] == "ERROR":
                    raise KubeError(int(event["object"].get("code") or 500), event["object"], f"watch {plural}")
                yield event["type"], event["object"]
        finally:
            connection.close()

    def wait_for(self, what: str, condition: Callable[[], Any], timeout: float = 60) -> Any:
        """Poll `condition` until it returns something truthy; fail naming `what` after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)


def plural_of(obj: Obj) -> str:
    kind = obj["kind"]
    special = {"GatewayClass": "gatewayclasses", "ReferenceGrant": "referencegrants",
               "CustomResourceDefinition": "customresourcedefinitions"}
    return special.get(kind) or f"{kind.lower()}s"


def rolled_out(deployment: Obj | None) -> bool:
    """`kubectl rollout status`'s judgement: every desired replica updated and available, at the current
    generation, and no old replica left."""
    if deployment is None:
        return False
    spec, status = deployment["spec"], deployment.get("status") or {}
    replicas = spec.get("replicas", 1)
    return bool(
        status.get("observedGeneration", 0) >= deployment["metadata"]["generation"]
        and status.get("updatedReplicas", 0) == replicas
        and status.get("replicas", 0) == replicas
        and status.get("availableReplicas", 0) == replicas
    )
