"""Field ownership (`metadata.managedFields`) in the real FieldsV1 format, and server-side-apply conflicts.

A field is a path of map keys. Maps are recursed into; a list, a scalar or an empty map is a leaf
(atomic), which is how the API server treats the Gloo CRDs (they carry no `x-kubernetes-list-type`).
The identity of a manager is (name, operation): like the real server, a manager's Apply entry and its
Update entry are different owners, and an Apply conflicts with the same name's Update entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .json_values import JsonObject, same_json
from .status import ApiError

FieldPath = tuple[str, ...]

_MISSING = object()
_UNTRACKED_METADATA = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "selfLink",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    }
)
_UNTRACKED_TOP_LEVEL = frozenset({"apiVersion", "kind", "status"})


def format_path(path: FieldPath) -> str:
    return "." + ".".join(path)


def leaf_paths(obj: JsonObject) -> dict[FieldPath, Any]:
    """The tracked leaves of an object and their values (status and server-set metadata excluded)."""
    leaves: dict[FieldPath, Any] = {}

    def walk(value: Any, path: FieldPath) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                if item is not None:
                    walk(item, (*path, key))
        else:
            leaves[path] = value

    for key, value in obj.items():
        if key in _UNTRACKED_TOP_LEVEL or value is None:
            continue
        if key == "metadata" and isinstance(value, dict):
            for meta_key, meta_value in value.items():
                if meta_key not in _UNTRACKED_METADATA and meta_value is not None:
                    walk(meta_value, ("metadata", meta_key))
        else:
            walk(value, (key,))
    return leaves


def value_at(obj: Any, path: FieldPath) -> Any:
    """The value at a path, or the module's missing sentinel."""
    current = obj
    for key in path:
        if not isinstance(current, dict) or key not in current:
            return _MISSING
        current = current[key]
    return current


def _related(left: FieldPath, right: FieldPath) -> bool:
    """Equal, or one is an ancestor of the other."""
    shorter = min(len(left), len(right))
    return left[:shorter] == right[:shorter]


def _overwrites(owned: FieldPath, path: FieldPath, live: JsonObject) -> bool:
    """Whether setting `path` changes the field `owned`: the same field, a field inside it, or an atomic
    (non-map) ancestor that would become a map. A map ancestor (`.spec` owned as `{}`) is not changed."""
    if owned[:len(path)] == path:
        return True
    return path[:len(owned)] == owned and not isinstance(value_at(live, owned), dict)


def to_fields_v1(paths: set[FieldPath]) -> JsonObject:
    root: JsonObject = {}
    for path in sorted(paths):
        node = root
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return root


def from_fields_v1(tree: Any) -> set[FieldPath]:
    paths: set[FieldPath] = set()

    def walk(node: Any, path: FieldPath) -> None:
        children = [key for key in node if key.startswith("f:")] if isinstance(node, dict) else []
        if not children:
            if path:
                paths.add(path)
            return
        for key in children:
            walk(node[key], (*path, key[2:]))

    walk(tree, ())
    return paths


@dataclass
class ManagerEntry:
    manager: str
    operation: str  # "Apply" | "Update"
    api_version: str
    time: str
    fields: set[FieldPath] = field(default_factory=set)

    @property
    def identity(self) -> tuple[str, str]:
        return (self.manager, self.operation)

    def describe(self) -> str:
        """The manager as the real server prints it in conflict messages."""
        if self.operation == "Update":
            return f"{json.dumps(self.manager)} using {self.api_version} at {self.time}"
        return json.dumps(self.manager)

    def to_json(self) -> JsonObject:
        return {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": to_fields_v1(self.fields),
        }


def read_entries(obj: JsonObject) -> list[ManagerEntry]:
    entries = []
    for raw in (obj.get("metadata") or {}).get("managedFields") or []:
        if isinstance(raw, dict) and isinstance(raw.get("manager"), str):
            entries.append(
                ManagerEntry(
                    raw["manager"],
                    str(raw.get("operation", "Update")),
                    str(raw.get("apiVersion", "")),
                    str(raw.get("time", "")),
                    from_fields_v1(raw.get("fieldsV1") or {}),
                )
            )
    return entries


def write_entries(obj: JsonObject, entries: list[ManagerEntry]) -> None:
    metadata = obj.setdefault("metadata", {})
    kept = [entry.to_json() for entry in entries if entry.fields]
    if kept:
        metadata["managedFields"] = kept
    else:
        metadata.pop("managedFields", None)


def same_ownership(left: list[ManagerEntry], right: list[ManagerEntry]) -> bool:
    """Equal apart from timestamps (a no-op write keeps the old entries)."""

    def key(entries: list[ManagerEntry]) -> list[tuple[str, str, str, frozenset[FieldPath]]]:
        return [(e.manager, e.operation, e.api_version, frozenset(e.fields)) for e in entries if e.fields]

    return key(left) == key(right)


def _entry(entries: list[ManagerEntry], manager: str, operation: str, api_version: str, now: str) -> ManagerEntry:
    for entry in entries:
        if entry.identity == (manager, operation):
            entry.api_version, entry.time = api_version, now
            return entry
    entry = ManagerEntry(manager, operation, api_version, now)
    entries.append(entry)
    return entry


def record_update(
    entries: list[ManagerEntry], old: JsonObject, new: JsonObject, manager: str, api_version: str, now: str
) -> list[ManagerEntry]:
    """An Update takes the leaves it changed; leaves it changed or removed leave every other owner."""
    result = [ManagerEntry(e.manager, e.operation, e.api_version, e.time, set(e.fields)) for e in entries]
    old_leaves, new_leaves = leaf_paths(old), leaf_paths(new)
    changed = {
        path for path, value in new_leaves.items() if path not in old_leaves or not same_json(old_leaves[path], value)
    }
    removed = set(old_leaves) - set(new_leaves)
    if not changed and not removed:
        return result
    for entry in result:
        entry.fields -= changed | removed
    if changed:
        _entry(result, manager, "Update", api_version, now).fields |= changed
    return result


@dataclass(frozen=True)
class Conflict:
    entry: ManagerEntry
    path: FieldPath


def apply_conflicts(entries: list[ManagerEntry], live: JsonObject, applied: JsonObject, manager: str) -> list[Conflict]:
    """The fields an Apply by `manager` would change that another manager owns."""
    conflicts: list[Conflict] = []
    seen: set[tuple[tuple[str, str], FieldPath]] = set()
    for path, value in leaf_paths(applied).items():
        if same_json(value_at(live, path), value):
            continue
        for entry in entries:
            if entry.identity == (manager, "Apply"):
                continue
            for owned in sorted(entry.fields):
                if _overwrites(owned, path, live) and (entry.identity, owned) not in seen:
                    seen.add((entry.identity, owned))
                    conflicts.append(Conflict(entry, owned))
    return conflicts


def conflict_error(conflicts: list[Conflict]) -> ApiError:
    """409 Conflict worded like the real server (internal/conflict.go)."""
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {c.entry.describe()}",
               "field": format_path(c.path)} for c in conflicts]
    if len(conflicts) == 1:
        only = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {only.entry.describe()}: {format_path(only.path)}"
    else:
        by_manager: dict[str, list[str]] = {}
        for c in conflicts:
            by_manager.setdefault(c.entry.describe(), []).append(format_path(c.path))
        lines = []
        for described in sorted(by_manager):
            lines.append(f"conflicts with {described}:")
            lines.extend(f"- {path}" for path in by_manager[described])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, {"causes": causes})


def record_apply(
    entries: list[ManagerEntry],
    conflicts: list[Conflict],
    applied: JsonObject,
    manager: str,
    api_version: str,
    now: str,
) -> tuple[list[ManagerEntry], set[FieldPath]]:
    """Ownership after a (forced, if there were conflicts) Apply, and the fields the manager stopped
    applying that nobody else owns (to be removed from the object)."""
    result = [ManagerEntry(e.manager, e.operation, e.api_version, e.time, set(e.fields)) for e in entries]
    taken = {(c.entry.identity, c.path) for c in conflicts}
    for entry in result:
        entry.fields = {path for path in entry.fields if (entry.identity, path) not in taken}
    applied_paths = set(leaf_paths(applied))
    own = _entry(result, manager, "Apply", api_version, now)
    dropped = own.fields - applied_paths
    own.fields = applied_paths
    others = [entry for entry in result if entry is not own]
    orphaned = {
        path
        for path in dropped
        if not any(_related(path, applied_path) for applied_path in applied_paths)
        and not any(_related(path, owned) for entry in others for owned in entry.fields)
    }
    return result, orphaned


def remove_paths(obj: JsonObject, paths: set[FieldPath]) -> None:
    """Remove fields, and the maps they leave empty."""
    for path in sorted(paths, key=len, reverse=True):
        parents: list[tuple[JsonObject, str]] = []
        current: Any = obj
        for key in path[:-1]:
            if not isinstance(current, dict) or not isinstance(current.get(key), dict):
                break
            parents.append((current, key))
            current = current[key]
        else:
            if isinstance(current, dict):
                current.pop(path[-1], None)
            for parent, key in reversed(parents):
                if parent[key] or (parent is obj and key == "metadata"):
                    break
                del parent[key]
