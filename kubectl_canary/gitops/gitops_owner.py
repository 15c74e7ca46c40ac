"""Who declares a route object in Git, read from the traces GitOps controllers leave on it. Pure functions.

What is read (and nothing else: a guess would send users to the wrong tool):
- Argo CD: the annotation `argocd.argoproj.io/tracking-id` (`<application>:<group>/<kind>:<ns>/<name>`,
  annotation tracking) or the label `argocd.argoproj.io/instance` (label tracking configured with that key).
  Not `app.kubernetes.io/instance`: Helm sets it too. Argo CD syncs with client-side apply, which leaves
  `kubectl.kubernetes.io/last-applied-configuration`: the object as Git declared it at the last sync.
- Flux: the labels `kustomize.toolkit.fluxcd.io/name` and `/namespace` (kustomize-controller) or
  `helm.toolkit.fluxcd.io/name` and `/namespace` (helm-controller). Flux applies server-side, so
  `metadata.managedFields` says whether its controller still owns the routes or someone wrote over them.

Who writes route objects, and how managedFields shows it: docs/design.md section 7. From those traces,
`gitops_notes` says who owns the object, that changes made on the cluster are reverted, and,
when it can tell, that the live routes differ from what the owner declares.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubectl_canary.errors import CanaryError
from kubectl_canary.model.managed_fields import owners_of

Obj = dict[str, Any]

ARGO_TRACKING_ID = "argocd.argoproj.io/tracking-id"
ARGO_INSTANCE = "argocd.argoproj.io/instance"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
FLUX_KUSTOMIZE = "kustomize.toolkit.fluxcd.io"
FLUX_HELM = "helm.toolkit.fluxcd.io"
# The field managers Flux's controllers apply with.
FLUX_MANAGERS = {FLUX_KUSTOMIZE: "kustomize-controller", FLUX_HELM: "helm-controller"}


@dataclass(frozen=True)
class GitOpsOwner:
    """The GitOps tool that reconciles an object, and what on the object says so."""

    tool: str  # "Argo CD" or "Flux"
    owner: str  # e.g. "application shop" or "Kustomization flux-system/apps"
    trace: str  # what was read, e.g. "annotation argocd.argoproj.io/tracking-id"
    manager: str | None = None  # the field manager it applies with, when known


def owner_of(obj: Obj) -> GitOpsOwner | None:
    meta = obj.get("metadata") or {}
    annotations, labels = meta.get("annotations") or {}, meta.get("labels") or {}
    if tracking := annotations.get(ARGO_TRACKING_ID):
        return GitOpsOwner("Argo CD", f"application {str(tracking).split(':', 1)[0]}", f"annotation {ARGO_TRACKING_ID}")
    if instance := labels.get(ARGO_INSTANCE):
        return GitOpsOwner("Argo CD", f"application {instance}", f"label {ARGO_INSTANCE}")
    for group, kind in ((FLUX_KUSTOMIZE, "Kustomization"), (FLUX_HELM, "HelmRelease")):
        if name := labels.get(f"{group}/name"):
            namespace = labels.get(f"{group}/namespace")
            where = f"{namespace}/{name}" if namespace else name
            return GitOpsOwner("Flux", f"{kind} {where}", f"labels {group}/name and /namespace",
                               FLUX_MANAGERS[group])
    return None


def _declared(obj: Obj) -> Obj | None:
    text = ((obj.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
    try:
        declared = json.loads(text) if text else None
    except ValueError:
        return None
    return declared if isinstance(declared, dict) else None


def gitops_notes(obj: Obj, list_field: str, describe_routes: Callable[[list[Any]], str]) -> tuple[str, ...]:
    """Notes for `status`: the owner, and whether the live routes differ from what it declares.

    `describe_routes(routes)` says where a route list sends the traffic (raises CanaryError when it
    cannot read it); `list_field` is the route list under `spec` (routes, rules). Routes that send the
    traffic alike do not differ: the API server fills defaults (Gateway API) into the live ones only.
    """
    owner = owner_of(obj)
    if owner is None:
        return ()
    what = f"{obj.get('kind')} {obj['metadata']['name']}"
    notes = [f"{what} is managed by {owner.tool} ({owner.owner}; read from the {owner.trace}): changes made on "
             f"the cluster will be reverted at its next sync; change the manifests in Git (--local -f PATH)"]
    live_routes = (obj.get("spec") or {}).get(list_field) or []
    declared = _declared(obj)
    if owner.tool == "Argo CD" and declared is not None:
        routes = (declared.get("spec") or {}).get(list_field) or []
        git, live = _phrase(describe_routes, routes), _phrase(describe_routes, live_routes)
        if routes != live_routes and (git != live or git.endswith(_UNREADABLE)):
            notes.append(f"the live {list_field} differ from what {owner.tool} last applied (annotation "
                         f"{LAST_APPLIED}): Git declares {git}, the cluster has {live}")
    elif owner.manager is not None:
        writers = [m for m in owners_of(obj, ("spec", list_field)) if m != owner.manager]
        if writers:
            notes.append(f"the live {list_field} were written by {', '.join(writers)}, not by {owner.tool}'s "
                         f"{owner.manager} (metadata.managedFields): they differ from what {owner.tool} applies")
    return tuple(notes)


_UNREADABLE = "the plugin cannot read"


def _phrase(describe_routes: Callable[[list[Any]], str], routes: list[Any]) -> str:
    try:
        return describe_routes(routes)
    except CanaryError:
        return f"{len(routes)} route(s) {_UNREADABLE}"

