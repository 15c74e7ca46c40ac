"""The one place that talks to the API server: typed resources, raw REST, errors as ApiError.

The generated API classes of the `kubernetes` package are not used: they cost hundreds of
milliseconds to load and hide the content types we need (see transports.py for the wire).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from kubectl_canary.errors import ApiError, CanaryError
from kubectl_canary.kubeconfig import KubeconfigError, NeedsKubernetesClient, load_credentials
from kubectl_canary.transports import Send, kubernetes_transport, stdlib_transport

Obj = dict[str, Any]
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
DRY_RUN_MODES = ("none", "client", "server")


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`routetables.gateway.solo.io`, as kubectl names a resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def display(self) -> str:
        """`routetable.gateway.solo.io`, as kubectl prints a written object."""
        singular = self.kind.lower()
        return f"{singular}.{self.group}" if self.group else singular

    def path(self, namespace: str | None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        return base + (f"/{quote(name, safe='')}" if name else "")


NAMESPACES = Resource("", "v1", "namespaces", "Namespace", namespaced=False)
SERVICES = Resource("", "v1", "services", "Service")
DEPLOYMENTS = Resource("apps", "v1", "deployments", "Deployment")
UPSTREAMS = Resource("gloo.solo.io", "v1", "upstreams", "Upstream")
ROUTE_TABLES = Resource("gateway.solo.io", "v1", "routetables", "RouteTable")
VIRTUAL_SERVICES = Resource("gateway.solo.io", "v1", "virtualservices", "VirtualService")
RESOURCES = (NAMESPACES, SERVICES, DEPLOYMENTS, UPSTREAMS, ROUTE_TABLES, VIRTUAL_SERVICES)


def resource_of(obj: Obj) -> Resource:
    for resource in RESOURCES:
        if resource.kind == obj.get("kind") and resource.api_version == obj.get("apiVersion"):
            return resource
    raise CanaryError(f"unsupported object kind {obj.get('apiVersion')}/{obj.get('kind')}")


class Cluster:
    """Reads and writes objects. In client dry-run mode, writes are computed but never sent."""

    def __init__(
        self,
        server: str,
        send: Send,
        *,
        field_manager: str = "kubectl-canary",
        dry_run: str = "none",
    ) -> None:
        self.server = server
        self._send = send
        self.field_manager = field_manager
        self.dry_run = dry_run

    def _request(
        self,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: Obj | None = None,
        content_type: str = "application/json",
    ) -> Any:
        url = path + ("?" + urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        status, payload = self._send(method, url, data, headers)
        try:
            decoded = json.loads(payload) if payload else {}
        except ValueError:
            decoded = {"message": payload[:200].decode(errors="replace")}
        if status >= 400:
            raise ApiError(
                code=status,
                reason=str(decoded.get("reason") or "Unknown"),
                message=str(decoded.get("message") or f"HTTP {status} from {method} {path}"),
                causes=list((decoded.get("details") or {}).get("causes") or []),
            )
        return decoded

    def _write_query(self, **extra: str) -> dict[str, str]:
        query = dict(extra)
        if self.dry_run == "server":
            query["dryRun"] = "All"
        return query

    def get(self, resource: Resource, namespace: str | None, name: str) -> Obj | None:
        """The object, or None when it does not exist."""
        try:
            result: Obj = self._request("GET", resource.path(namespace, name))
        except ApiError as error:
            if error.code == 404:
                return None
            raise
        return result

    def list(self, resource: Resource, namespace: str | None, label_selector: str | None = None) -> list[Obj]:
        """All objects in `namespace` (None: every namespace), in one request."""
        query = {"labelSelector": label_selector} if label_selector else None
        items: list[Obj] = self._request("GET", resource.path(namespace), query).get("items") or []
        for item in items:  # LIST items carry no kind; callers may print them.
            item.setdefault("apiVersion", resource.api_version)
            item.setdefault("kind", resource.kind)
        return items

    def apply(self, obj: Obj, *, force: bool = False) -> Obj:
        """Server-side apply (creates the object if absent). A body with a resourceVersion is conditional."""
        if self.dry_run == "client":
            return obj
        resource = resource_of(obj)
        query = self._write_query(fieldManager=self.field_manager, **({"force": "true"} if force else {}))
        path = resource.path(obj["metadata"].get("namespace"), obj["metadata"]["name"])
        result: Obj = self._request("PATCH", path, query, obj, APPLY_CONTENT_TYPE)
        return result

    def delete(self, resource: Resource, namespace: str, name: str) -> bool:
        """Delete with foreground-free defaults; False when it was already gone."""
        if self.dry_run == "client":
            return True
        try:
            self._request("DELETE", resource.path(namespace, name), self._write_query())
        except ApiError as error:
            if error.code == 404:
                return False
            raise
        return True


@dataclass(frozen=True)
class ConnectionOptions:
    kubeconfig: str | None = None
    context: str | None = None
    request_timeout: float = 30.0


def connect(options: ConnectionOptions, *, field_manager: str, dry_run: str) -> tuple[Cluster, str]:
    """A Cluster for the kubeconfig context (or in-cluster config), and that context's namespace."""
    try:
        credentials = load_credentials(options.kubeconfig, options.context)
    except NeedsKubernetesClient:
        server, namespace, send = kubernetes_transport(options.kubeconfig, options.context, options.request_timeout)
    except KubeconfigError as error:
        raise CanaryError(f"cannot load kubeconfig: {error}") from None
    else:
        server, namespace = credentials.server, credentials.namespace
        send = stdlib_transport(credentials, options.request_timeout)
    return Cluster(server, send, field_manager=field_manager, dry_run=dry_run), namespace
