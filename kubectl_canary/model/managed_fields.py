"""Server-side apply bookkeeping, read from `metadata.managedFields`. Pure functions.

Under server-side apply a field manager owns exactly the fields of its last applied body, and a
field it stops applying is *removed* when nobody else owns it. So an apply must carry every field
the plugin owns, not only the one it changes: `apply_body` rebuilds that set from the live object.
"""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]


def _owned_subtree(live: Any, fields: dict[str, Any]) -> Any:
    """The part of `live` named by a FieldsV1 set; lists and scalars are taken whole."""
    if not isinstance(live, dict):
        return copy.deepcopy(live)
    children = {k[2:]: v for k, v in fields.items() if k.startswith("f:")}
    if not children:
        return copy.deepcopy(live)
    return {key: _owned_subtree(live[key], sub) for key, sub in children.items() if key in live}


def _merge(base: Obj, overlay: Obj) -> Obj:
    result = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def apply_body(live: Obj, manager: str, changes: Obj) -> Obj:
    """An apply body for `live` that keeps what `manager` applied before and sets `changes`.

    Carries the live `resourceVersion`, so the write fails with 409 if the object changed since.
    """
    owned: Obj = {}
    for entry in live.get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            owned = _owned_subtree(live, entry.get("fieldsV1") or {})
    metadata = live["metadata"]
    identity = {
        "apiVersion": live["apiVersion"],
        "kind": live["kind"],
        "metadata": {
            "name": metadata["name"],
            "namespace": metadata["namespace"],
        },
    }
    if "resourceVersion" in metadata:  # objects read from files (offline) have none
        identity["metadata"]["resourceVersion"] = metadata["resourceVersion"]
    owned.pop("status", None)
    return _merge(_merge(owned, identity), changes)


# Field managers of one-off edits by hand (kubectl edit/patch/label/replace/scale...): nothing reconciles
# them back, unlike a GitOps controller or Helm, so taking the fields over once is safe.
_ONE_OFF_MANAGERS = (
    "kubectl-edit",
    "kubectl-patch",
    "kubectl-label",
    "kubectl-annotate",
    "kubectl-replace",
    "kubectl-scale",
    "kubectl-set",
    "kubectl-client-side-apply",
    "kubectl",
)


def is_one_off_edit(manager: str) -> bool:
    """Whether a field manager is a person's one-off kubectl edit rather than a tool that reconciles."""
    return manager in _ONE_OFF_MANAGERS


# The field managers (and operations) kubectl's own one-off commands write with: a person's edit, which
# nothing reconciles back. `adopt` takes routes over from these without --force-conflicts.
KUBECTL_ONE_OFF = {
    ("kubectl-client-side-apply", "Update"): "kubectl apply",
    ("kubectl", "Apply"): "kubectl apply --server-side",
    ("kubectl-edit", "Update"): "kubectl edit",
    ("kubectl-patch", "Update"): "kubectl patch",
    ("kubectl-replace", "Update"): "kubectl replace",
    ("kubectl-create", "Update"): "kubectl create",
}


def owner_entries(live: Obj, path: tuple[str, ...]) -> list[tuple[str, str]]:
    """(manager, operation) of every managedFields entry that owns `path` or a field inside it."""
    entries = []
    for entry in live.get("metadata", {}).get("managedFields") or []:
        fields: Any = entry.get("fieldsV1") or {}
        for key in path:
            fields = fields.get(f"f:{key}") if isinstance(fields, dict) else None
            if fields is None:
                break
        owner = (str(entry.get("manager")), str(entry.get("operation")))
        if fields is not None and owner not in entries:
            entries.append(owner)
    return entries


def owners_of(live: Obj, path: tuple[str, ...]) -> list[str]:
    """The managers that own `path` (e.g. ("spec", "routes")) or a field inside it, in managedFields' order."""
    return list(dict.fromkeys(manager for manager, _ in owner_entries(live, path)))
