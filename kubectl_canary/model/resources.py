"""The Kubernetes kinds the plugin reads and writes, as data: group, version, plural, kind.

Pure: the cluster (kube/cluster.py) turns a Resource into request paths; the model, the routers and the
RBAC a command declares (kube/permissions.py) name kinds without importing any I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from kubectl_canary.errors import CanaryError

Obj = dict[str, Any]


@dataclass(frozen=True)
class Resource:
    """A kind the plugin reads or writes, and where the API server serves it."""

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
EVENTS = Resource("", "v1", "events", "Event")
HTTP_ROUTES = Resource("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute")
GATEWAYS = Resource("gateway.networking.k8s.io", "v1", "gateways", "Gateway")
RESOURCES = (
    NAMESPACES, SERVICES, DEPLOYMENTS, UPSTREAMS, ROUTE_TABLES, VIRTUAL_SERVICES, EVENTS, HTTP_ROUTES, GATEWAYS,
)


def resource_of(obj: Obj) -> Resource:
    for resource in RESOURCES:
        if resource.kind == obj.get("kind") and resource.api_version == obj.get("apiVersion"):
            return resource
    raise CanaryError(f"unsupported object kind {obj.get('apiVersion')}/{obj.get('kind')}")
