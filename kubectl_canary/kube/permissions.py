"""The RBAC permissions each command needs, as data: for 403 errors and for `kubectl canary rbac`."""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_canary.model.resources import (
    GATEWAYS,
    HTTP_ROUTES,
    ROUTE_TABLES,
    SERVICES,
    UPSTREAMS,
    VIRTUAL_SERVICES,
    Resource,
)

# What only one router needs (`rbac --router` leaves out the other's): its kinds, and the verbs of a shared
# kind that only it uses (a Gloo app has one Service that the plugin never deletes; the Gateway API deletes
# the Service of a version that takes no traffic).
_ROUTER_KINDS = {ROUTE_TABLES: "gloo", UPSTREAMS: "gloo", VIRTUAL_SERVICES: "gloo", HTTP_ROUTES: "gateway-api",
                 GATEWAYS: "gateway-api"}
_ROUTER_VERBS = {(SERVICES, "delete"): "gateway-api"}


@dataclass(frozen=True)
class Permission:
    """Verbs a command needs on a resource, for `rbac` and for messages after a 403."""

    resource: Resource
    verbs: tuple[str, ...]
    # Reads across namespaces (namespaces, VirtualServices of the platform team): a ClusterRole.
    # Without them the commands still work; they only give clearer messages and warnings.
    cluster_wide: bool = False

    def __str__(self) -> str:
        return f"{'/'.join(self.verbs)} {self.resource.qualified}"


def needs(resource: Resource, *verbs: str, cluster_wide: bool = False) -> Permission:
    return Permission(resource, verbs, cluster_wide)


def describe(permissions: tuple[Permission, ...]) -> str:
    return "; ".join(str(p) for p in permissions)


def merged(groups: list[tuple[Permission, ...]]) -> list[Permission]:
    """One Permission per resource, with the union of verbs, in a stable order."""
    order = ("get", "list", "watch", "create", "patch", "update", "delete")
    verbs: dict[tuple[Resource, bool], set[str]] = {}
    for group in groups:
        for permission in group:
            verbs.setdefault((permission.resource, permission.cluster_wide), set()).update(permission.verbs)
    return [Permission(r, tuple(sorted(v, key=order.index)), wide) for (r, wide), v in verbs.items()]


def for_routers(permissions: list[Permission], routers: set[str]) -> list[Permission]:
    """Only what the commands need on apps of `routers` (names of routers.ROUTERS)."""
    kept = []
    for permission in permissions:
        router = _ROUTER_KINDS.get(permission.resource)
        if router is not None and router not in routers:
            continue
        verbs = tuple(v for v in permission.verbs if _ROUTER_VERBS.get((permission.resource, v)) in (None, *routers))
        if verbs:
            kept.append(Permission(permission.resource, verbs, permission.cluster_wide))
    return kept
