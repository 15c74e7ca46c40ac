"""The RBAC permissions each command needs, as data: for 403 errors and for `kubectl canary rbac`."""

from __future__ import annotations

from dataclasses import dataclass

from kubectl_canary.model.resources import Resource


@dataclass(frozen=True)
class Permission:
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
