"""The resource types the fake serves, and the discovery documents that describe them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class ResourceType:
    """One REST resource (a plural under a group/version), as discovery would describe it."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # Built-in kinds accept strategic-merge patches; custom resources answer 415.
    builtin: bool = True
    # A status subresource: writes to the main resource keep the stored status, and the
    # generation ignores status changes (Deployment, Service, Namespace, Gateway, HTTPRoute). Custom
    # resources without one (the Gloo CRDs) store status like any other field.
    status_subresource: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """`routetables.gateway.solo.io`, `deployments.apps`, `services`: the name used in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """`RouteTable.gateway.solo.io`, `Service`: the name used in Invalid messages."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    def matches_name(self, name: str) -> bool:
        lowered = name.lower()
        return lowered in (self.plural, self.singular, self.kind.lower(), *self.short_names)


RESOURCE_TYPES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "namespaces", "namespace", "Namespace", False, ("ns",), (), True, True),
    ResourceType("", "v1", "services", "service", "Service", True, ("svc",), ("all",), True, True),
    ResourceType("", "v1", "events", "event", "Event", True, ("ev",)),
    ResourceType("", "v1", "configmaps", "configmap", "ConfigMap", True, ("cm",)),
    ResourceType("apps", "v1", "deployments", "deployment", "Deployment", True, ("deploy",), ("all",), True, True),
    ResourceType(
        "gloo.solo.io", "v1", "upstreams", "upstream", "Upstream", True, ("us", "gus"), ("gloo-gateway",), False
    ),
    ResourceType(
        "gateway.solo.io",
        "v1",
        "routetables",
        "routetable",
        "RouteTable",
        True,
        ("rt", "grt"),
        ("gloo-gateway",),
        False,
    ),
    ResourceType(
        "gateway.solo.io",
        "v1",
        "virtualservices",
        "virtualservice",
        "VirtualService",
        True,
        ("vs", "gvs"),
        ("gloo-gateway",),
        False,
    ),
)

GATEWAY_API = "gateway.networking.k8s.io"
RESOURCE_TYPES += (
    ResourceType(GATEWAY_API, "v1", "gateways", "gateway", "Gateway", True, ("gtw",), ("gateway-api",), False, True),
    ResourceType(GATEWAY_API, "v1", "httproutes", "httproute", "HTTPRoute", True, (), ("gateway-api",), False, True),
    ResourceType(GATEWAY_API, "v1beta1", "referencegrants", "referencegrant", "ReferenceGrant", True, ("refgrant",),
                 ("gateway-api",), False),
)

NAMESPACES = RESOURCE_TYPES[0]
DEPLOYMENTS = next(rt for rt in RESOURCE_TYPES if rt.plural == "deployments")


def find_resource_type(group: str, version: str, plural: str) -> ResourceType | None:
    for resource_type in RESOURCE_TYPES:
        if (resource_type.group, resource_type.version, resource_type.plural) == (group, version, plural):
            return resource_type
    return None


def resource_type_named(name: str) -> ResourceType:
    """The resource type for a plural, singular, kind or short name (`routetables`, `rt`, `RouteTable`)."""
    for resource_type in RESOURCE_TYPES:
        if resource_type.matches_name(name):
            return resource_type
    raise KeyError(f"unknown resource {name!r}")


def resource_type_for_object(obj: dict[str, Any]) -> ResourceType:
    """The resource type of an object, from its apiVersion and kind."""
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    for resource_type in RESOURCE_TYPES:
        if resource_type.api_version == api_version and resource_type.kind == kind:
            return resource_type
    raise KeyError(f"unknown kind {kind!r} in {api_version!r}")


def _groups() -> dict[str, list[str]]:
    versions: dict[str, list[str]] = {}
    for resource_type in RESOURCE_TYPES:
        group_versions = versions.setdefault(resource_type.group, [])
        if resource_type.version not in group_versions:
            group_versions.append(resource_type.version)
    return versions


def api_versions(server_address: str) -> dict[str, Any]:
    """GET /api."""
    return {
        "kind": "APIVersions",
        "versions": _groups()[""],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _api_group(group: str, versions: list[str]) -> dict[str, Any]:
    group_versions = [{"groupVersion": f"{group}/{version}", "version": version} for version in versions]
    return {"name": group, "versions": group_versions, "preferredVersion": group_versions[0]}


def api_group_list(unserved: frozenset[str] = frozenset()) -> dict[str, Any]:
    """GET /apis (without the groups in `unserved`)."""
    groups = [_api_group(group, versions) for group, versions in _groups().items() if group and group not in unserved]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str) -> dict[str, Any] | None:
    """GET /apis/{group}."""
    versions = _groups().get(group)
    if not group or versions is None:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_api_group(group, versions)}


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """GET /api/v1 or /apis/{group}/{version}."""
    resources: list[dict[str, Any]] = []
    for resource_type in RESOURCE_TYPES:
        if (resource_type.group, resource_type.version) != (group, version):
            continue
        entry: dict[str, Any] = {
            "name": resource_type.plural,
            "singularName": resource_type.singular,
            "namespaced": resource_type.namespaced,
            "kind": resource_type.kind,
            "verbs": ALL_VERBS,
        }
        if resource_type.short_names:
            entry["shortNames"] = list(resource_type.short_names)
        if resource_type.categories:
            entry["categories"] = list(resource_type.categories)
        resources.append(entry)
        if resource_type.status_subresource:
            resources.append(
                {
                    "name": f"{resource_type.plural}/status",
                    "singularName": "",
                    "namespaced": resource_type.namespaced,
                    "kind": resource_type.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
    if not resources:
        return None
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


VERSION_INFO: dict[str, str] = {
    "major": "1",
    "minor": "35",
    "gitVersion": "v1.35.0-fake",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}
