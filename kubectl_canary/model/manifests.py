"""The Kubernetes objects the plugin creates, as plain dicts. Pure functions, no I/O."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from kubectl_canary.routers.gateway_api import GatewayRef
from kubectl_canary.routers.gloo import SUBSET_KEY, UpstreamRef, route_table_name, shadow_upstream_name, stable_routes

Manifest = dict[str, Any]

DEFAULT_IMAGE = "hashicorp/http-echo"
# The Service listens on 80 and forwards to the container port. Gloo's EDS matches an Upstream's
# servicePort against the Service's `port` (not its targetPort), so the Upstream names 80 too
# (docs/design.md section 3).
SERVICE_PORT = 80
MANAGED_BY = {"app.kubernetes.io/managed-by": "kubectl-canary"}
# The Deployment annotations that describe one Deployment's own history, not its template.
_PER_DEPLOYMENT_ANNOTATIONS = ("deployment.kubernetes.io/revision", "kubectl.kubernetes.io/last-applied-configuration")
# Ownership marks of Helm, Argo CD and Flux: copied onto the canary, they would make the tool prune it
# (not in its source) or adopt it. Exact keys, and prefixes ending in "/" or ".".
_OWNERSHIP_KEYS = ("app.kubernetes.io/instance",)
_OWNERSHIP_PREFIXES = ("helm.sh/", "meta.helm.sh/", "argocd.argoproj.io/", "kustomize.toolkit.fluxcd.io/")
# How the primary rolls out; the canary rolls out the same way.
_ROLLOUT_SETTINGS = ("strategy", "minReadySeconds", "progressDeadlineSeconds", "revisionHistoryLimit")


def _owned_by_a_tool(key: str) -> bool:
    return key in _OWNERSHIP_KEYS or key.startswith(_OWNERSHIP_PREFIXES)


@dataclass(frozen=True)
class AppSpec:
    """What `init` was asked for."""

    app: str
    namespace: str
    version: str = "v1"
    image: str = DEFAULT_IMAGE
    port: int = 8080
    replicas: int = 1
    api_group: str = "example"
    prefix: str = ""
    gateway: GatewayRef | None = None  # the Gateway API router's parent Gateway

    @property
    def route_prefix(self) -> str:
        return self.prefix or f"/{self.app}"


def deployment_name(app: str, version: str) -> str:
    return f"{app}-{version}"


def _metadata(name: str, namespace: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": labels}


def deployment(spec: AppSpec) -> Manifest:
    container: dict[str, Any] = {
        "name": spec.app,
        "image": spec.image,
        # The answer follows the pod's own `version` label, so a cloned Deployment answers with its version.
        "env": [{"name": "VERSION", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['version']"}}}],
        "ports": [{"name": "http", "containerPort": spec.port}],
    }
    if spec.image == DEFAULT_IMAGE:
        container["args"] = [f"-listen=:{spec.port}", f"-text=version:{spec.app}-$(VERSION)"]
    pod_labels = {"app": spec.app, SUBSET_KEY: spec.version}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(deployment_name(spec.app, spec.version), spec.namespace, {**pod_labels, **MANAGED_BY}),
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": dict(pod_labels)},
            "template": {"metadata": {"labels": dict(pod_labels)}, "spec": {"containers": [container]}},
        },
    }


def service(spec: AppSpec) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(spec.app, spec.namespace, {"app": spec.app, **MANAGED_BY}),
        "spec": {
            "selector": {"app": spec.app},
            "ports": [{"name": "http", "port": SERVICE_PORT, "targetPort": spec.port}],
        },
    }


def upstream(spec: AppSpec) -> Manifest:
    return {
        "apiVersion": "gloo.solo.io/v1",
        "kind": "Upstream",
        "metadata": _metadata(spec.app, spec.namespace, {"app": spec.app, **MANAGED_BY}),
        "spec": {
            "kube": {
                "selector": {"app": spec.app},
                "serviceName": spec.app,
                "serviceNamespace": spec.namespace,
                "servicePort": SERVICE_PORT,
                "subsetSpec": subset_spec(),
            }
        },
    }


def subset_spec() -> dict[str, Any]:
    # NO_FALLBACK: a route to a version with no pods fails visibly instead of being served by every pod
    # (docs/design.md section 3).
    return {"selectors": [{"keys": [SUBSET_KEY]}], "fallbackPolicy": "NO_FALLBACK"}


def route_table(spec: AppSpec) -> Manifest:
    return {
        "apiVersion": "gateway.solo.io/v1",
        "kind": "RouteTable",
        "metadata": _metadata(route_table_name(spec.app), spec.namespace, {"apiGroup": spec.api_group, **MANAGED_BY}),
        "spec": {
            "routes": stable_routes(spec.app, spec.version, UpstreamRef(spec.app, spec.namespace), spec.route_prefix)
        },
    }


def init_manifests(spec: AppSpec) -> list[Manifest]:
    """In the order they are written: the RouteTable last, so it never routes to nothing."""
    return [deployment(spec), service(spec), upstream(spec), route_table(spec)]


def canary_deployment(primary: Manifest, app: str, version: str, image: str | None) -> Manifest:
    """A Deployment for `version` cloned from the primary's: same pod template, new `version` label, the
    same rollout settings; without the ownership marks of Helm, Argo CD or Flux (the canary is ours)."""
    template = copy.deepcopy(primary["spec"]["template"])
    template.setdefault("metadata", {}).setdefault("labels", {})[SUBSET_KEY] = version
    if image:
        containers = template["spec"]["containers"]
        target = next((c for c in containers if c.get("name") == app), containers[0])
        target["image"] = image
    source_meta = primary.get("metadata", {})
    annotations = {
        k: v
        for k, v in (source_meta.get("annotations") or {}).items()
        if k not in _PER_DEPLOYMENT_ANNOTATIONS and not _owned_by_a_tool(k)
    }
    labels = {k: v for k, v in (source_meta.get("labels") or {}).items() if not _owned_by_a_tool(k)}
    metadata = _metadata(
        deployment_name(app, version), source_meta["namespace"], {**labels, SUBSET_KEY: version, **MANAGED_BY}
    )
    if annotations:
        metadata["annotations"] = annotations
    selector = copy.deepcopy(primary["spec"].get("selector") or {"matchLabels": {"app": app}})
    selector.setdefault("matchLabels", {})[SUBSET_KEY] = version
    spec = {"replicas": primary["spec"].get("replicas", 1), "selector": selector, "template": template}
    spec.update({k: copy.deepcopy(primary["spec"][k]) for k in _ROLLOUT_SETTINGS if k in primary["spec"]})
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata, "spec": spec}


def selects_every_version(deployment_obj: Manifest) -> bool:
    """Whether a Deployment's selector ignores the `version` label (so it selects every version's pods)."""
    selector = (deployment_obj.get("spec") or {}).get("selector") or {}
    keys = {*(selector.get("matchLabels") or {}), *(e.get("key") for e in selector.get("matchExpressions") or [])}
    return SUBSET_KEY not in keys


def upstream_selects_versions(upstream_obj: Manifest) -> bool:
    """True when the Upstream defines subsets keyed by `version`."""
    selectors = (((upstream_obj.get("spec") or {}).get("kube") or {}).get("subsetSpec") or {}).get("selectors")
    return any(SUBSET_KEY in (s.get("keys") or []) for s in selectors or [])


_FALLBACK_POLICIES = {0: "ANY_ENDPOINT", 1: "DEFAULT_SUBSET", 2: "NO_FALLBACK"}


def fallback_policy(upstream_obj: Manifest) -> str:
    """The Upstream's subset fallback policy; Gloo's default is ANY_ENDPOINT."""
    subset = (((upstream_obj.get("spec") or {}).get("kube") or {}).get("subsetSpec")) or {}
    policy = subset.get("fallbackPolicy", 0)
    return _FALLBACK_POLICIES.get(policy, str(policy)) if isinstance(policy, int) else str(policy)


def upstream_version_subsets(upstream_obj: Manifest) -> dict[str, Any]:
    """The Upstream's `subsetSpec` with the `version` subset key added."""
    live_subset = copy.deepcopy(upstream_obj["spec"]["kube"].get("subsetSpec") or {})
    live_subset["selectors"] = [*(live_subset.get("selectors") or []), {"keys": [SUBSET_KEY]}]
    return live_subset


def shadow_upstream(main_upstream: Manifest, app: str, version: str) -> Manifest:
    """An Upstream for the pods of one version: Gloo shadows requests to an upstream, not to a subset."""
    kube = copy.deepcopy(main_upstream["spec"]["kube"])
    kube.pop("subsetSpec", None)
    kube["selector"] = {**(kube.get("selector") or {"app": app}), SUBSET_KEY: version}
    meta = main_upstream["metadata"]
    return {
        "apiVersion": "gloo.solo.io/v1",
        "kind": "Upstream",
        "metadata": _metadata(shadow_upstream_name(app, version), meta["namespace"], {"app": app, **MANAGED_BY}),
        "spec": {"kube": kube},
    }


# A Service's annotation that Gloo's discovery merges into the Upstream it derives from the Service.
UPSTREAM_CONFIG = "gloo.solo.io/upstream_config"


def _subset_spec_in(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in ("subset_spec", "subsetSpec") and isinstance(inner, dict):
                return inner
            if (found := _subset_spec_in(inner)) is not None:
                return found
    return None


def discovery_subsets_problem(upstream_obj: Manifest, service_obj: Manifest | None) -> str | None:
    """Why Gloo's discovery would take the `version` subsets from an Upstream it made; None when it keeps them.

    On every resync the Kubernetes discovery plugin keeps the stored `subsetSpec` when the one it derives
    is empty (solo-io/gloo utils.UpdateUpstream); it derives one only from the Service's annotation
    gloo.solo.io/upstream_config. A subsetSpec there without `version` replaces ours: routes to a version
    would find no pods.
    """
    labels = (upstream_obj.get("metadata") or {}).get("labels") or {}
    if labels.get("discovered_by") != "kubernetesplugin" or service_obj is None:
        return None
    raw = ((service_obj.get("metadata") or {}).get("annotations") or {}).get(UPSTREAM_CONFIG)
    try:
        subsets = _subset_spec_in(json.loads(raw)) if raw else None
    except ValueError:
        return None
    keys = [k for s in (subsets or {}).get("selectors") or [] if isinstance(s, dict) for k in s.get("keys") or []]
    if subsets is None or SUBSET_KEY in keys:
        return None
    service = service_obj["metadata"]["name"]
    return (
        f"Service {service} sets a subsetSpec without the {SUBSET_KEY} key in its annotation {UPSTREAM_CONFIG}, "
        f"and Gloo's discovery writes that subsetSpec over upstream {upstream_obj['metadata']['name']} on every "
        f"resync, so routes to a version would find no pods; add {SUBSET_KEY!r} to the subset keys there first"
    )


def service_port_problem(upstream_obj: Manifest, service_obj: Manifest | None) -> str | None:
    """Why Gloo finds no endpoints for a kube Upstream's Service port, with the fix; None when it does.

    Gloo's EDS matches `spec.kube.servicePort` against the Service's `ports[].port` (not targetPort) and
    has no endpoints when none matches: every route to the Upstream then fails.
    """
    kube = (upstream_obj.get("spec") or {}).get("kube") or {}
    if not kube:
        return None  # not a kube Upstream
    name = upstream_obj["metadata"]["name"]
    namespace = upstream_obj["metadata"].get("namespace", "")
    service = kube.get("serviceName", "")
    if service_obj is None:
        return f"upstream {name} points at Service {service}, which does not exist, so Gloo routes it to no endpoints"
    ports = [p.get("port") for p in (service_obj.get("spec") or {}).get("ports") or []]
    if kube.get("servicePort") in ports:
        return None
    fix = json.dumps({"spec": {"kube": {"servicePort": ports[0] if ports else 80}}}, separators=(",", ":"))
    return (
        f"upstream {name} has servicePort {kube.get('servicePort')}, but Service {service} listens on "
        f"{', '.join(map(str, ports)) or 'no port'}, so Gloo routes it to no endpoints; fix it with: "
        f"kubectl patch upstream {name} -n {namespace} --type merge -p '{fix}'"
    )
