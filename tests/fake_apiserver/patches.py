"""The patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902), a simplified strategic merge
patch, and the server-side-apply merge (maps merge, lists and scalars are atomic).

Each function takes the live object and returns a new one; none mutates its arguments.
"""

from __future__ import annotations

from typing import Any

from .json_values import JsonObject, deep_copy, same_json


class PatchFormatError(ValueError):
    """The patch itself is malformed (answered 400 BadRequest)."""


class PatchApplyError(ValueError):
    """The patch is well formed but cannot be applied to this object (answered 422 Invalid)."""


# --- JSON merge patch -------------------------------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return deep_copy(patch)
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- JSON patch -------------------------------------------------------------------------------------------


def _pointer_tokens(pointer: Any) -> list[str]:
    if not isinstance(pointer, str) or (pointer and not pointer.startswith("/")):
        raise PatchFormatError(f"invalid JSON pointer {pointer!r}")
    if pointer == "":
        return []
    return [token.replace("~1", "/").replace("~0", "~") for token in pointer[1:].split("/")]


def _list_index(container: list[Any], token: str, pointer: str, *, for_add: bool) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchApplyError(f"invalid array index {token!r} in {pointer}")
    index = int(token)
    limit = len(container) if for_add else len(container) - 1
    if index > limit:
        raise PatchApplyError(f"array index {index} out of bounds in {pointer}")
    return index


def _parent(document: Any, tokens: list[str], pointer: str) -> Any:
    current = document
    for token in tokens[:-1]:
        if isinstance(current, dict):
            if token not in current:
                raise PatchApplyError(f"doc is missing path: {pointer}: missing value")
            current = current[token]
        elif isinstance(current, list):
            current = current[_list_index(current, token, pointer, for_add=False)]
        else:
            raise PatchApplyError(f"doc is missing path: {pointer}: missing value")
    return current


def _get(document: Any, pointer: str) -> Any:
    tokens = _pointer_tokens(pointer)
    if not tokens:
        return document
    parent = _parent(document, tokens, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchApplyError(f"doc is missing path: {pointer}: missing value")
        return parent[last]
    if isinstance(parent, list):
        return parent[_list_index(parent, last, pointer, for_add=False)]
    raise PatchApplyError(f"doc is missing path: {pointer}: missing value")


def _add(document: Any, pointer: str, value: Any) -> Any:
    tokens = _pointer_tokens(pointer)
    if not tokens:
        return value
    parent = _parent(document, tokens, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_list_index(parent, last, pointer, for_add=True), value)
    else:
        raise PatchApplyError(f"doc is missing path: {pointer}: missing value")
    return document


def _remove(document: Any, pointer: str) -> tuple[Any, Any]:
    tokens = _pointer_tokens(pointer)
    if not tokens:
        raise PatchApplyError("cannot remove the whole document")
    parent = _parent(document, tokens, pointer)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchApplyError(f"Unable to remove nonexistent key: {last}: missing value")
        return document, parent.pop(last)
    if isinstance(parent, list):
        return document, parent.pop(_list_index(parent, last, pointer, for_add=False))
    raise PatchApplyError(f"doc is missing path: {pointer}: missing value")


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902. A failed `test` raises PatchApplyError("testing value ... failed")."""
    if not isinstance(operations, list):
        raise PatchFormatError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    document = deep_copy(target)
    for operation in operations:
        if not isinstance(operation, dict) or not isinstance(operation.get("op"), str):
            raise PatchFormatError(f"invalid JSON patch operation {operation!r}")
        op, path = operation["op"], operation.get("path")
        if not isinstance(path, str):
            raise PatchFormatError(f"operation {op!r} is missing a path")
        if op in ("add", "replace", "test") and "value" not in operation:
            raise PatchFormatError(f"operation {op!r} is missing a value")
        if op == "add":
            document = _add(document, path, deep_copy(operation["value"]))
        elif op == "remove":
            document, _ = _remove(document, path)
        elif op == "replace":
            _get(document, path)
            document, _ = _remove(document, path) if _pointer_tokens(path) else (document, None)
            document = _add(document, path, deep_copy(operation["value"]))
        elif op in ("move", "copy"):
            source = operation.get("from")
            if not isinstance(source, str):
                raise PatchFormatError(f"operation {op!r} is missing from")
            if op == "move":
                document, value = _remove(document, source)
            else:
                value = deep_copy(_get(document, source))
            document = _add(document, path, value)
        elif op == "test":
            try:
                current = _get(document, path)
            except PatchApplyError as error:
                raise PatchApplyError(f"testing value {path} failed: {error}") from error
            if not same_json(current, operation["value"]):
                raise PatchApplyError(f"testing value {path} failed: test failed")
        else:
            raise PatchFormatError(f"Unexpected kind: {op}")
    return document


# --- strategic merge patch (simplified) -------------------------------------------------------------------

# The list fields of Deployments/Services/Pods that merge by key under a strategic-merge patch (their
# `patchMergeKey`). Every other list is replaced whole, as the real server does for lists without a
# `patchStrategy: merge`.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
}


def _merge_key(field: str, live: list[Any], patch: list[Any]) -> str | None:
    if field == "ports":
        items = [item for item in [*live, *patch] if isinstance(item, dict)]
        return "containerPort" if any("containerPort" in item for item in items) else "port"
    return MERGE_KEYS.get(field)


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: _strip_directives(item) for key, item in value.items() if not key.startswith("$") and item is not None
        }
    if isinstance(value, list):
        return [_strip_directives(item) for item in value]
    return value


def _strategic_list(field: str, live: list[Any], patch: list[Any]) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [
            _strip_directives(item)
            for item in patch
            if not (isinstance(item, dict) and item.get("$patch") == "replace")
        ]
    key = _merge_key(field, live, patch)
    if key is None or not all(isinstance(item, dict) for item in [*live, *patch]):
        return [_strip_directives(item) for item in patch]
    result = [deep_copy(item) for item in live]
    for item in patch:
        position = next(
            (index for index, existing in enumerate(result) if key in item and same_json(existing.get(key), item[key])),
            None,
        )
        if item.get("$patch") == "delete":
            if position is not None:
                del result[position]
        elif position is None:
            result.append(_strip_directives(item))
        else:
            result[position] = strategic_merge_patch(result[position], item)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """A simplified strategic merge: maps merge, null deletes, the lists in MERGE_KEYS merge by their key
    (`$patch: delete` removes an item), other lists are replaced; `$patch: replace|delete` on a map is
    honoured; other `$` directives (`$setElementOrder`, `$retainKeys`, ...) are ignored."""
    if not isinstance(patch, dict):
        return deep_copy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip_directives(patch)
    if directive == "delete":
        return None
    result: dict[str, Any] = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge_patch(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _strategic_list(key, result[key], value)
        else:
            result[key] = _strip_directives(value)
    return result


# --- server-side apply ------------------------------------------------------------------------------------


def apply_merge(live: Any, applied: Any) -> Any:
    """The merge of an applied configuration into the live object: maps merge recursively, lists and
    scalars are atomic (the applied value replaces the live one), nulls in the applied body are ignored."""
    if not isinstance(applied, dict) or not isinstance(live, dict):
        return _strip_nulls(applied)
    result: JsonObject = dict(live)
    for key, value in applied.items():
        if value is None:
            continue
        result[key] = apply_merge(result.get(key), value)
    return result


def _strip_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _strip_nulls(item) for key, item in value.items() if item is not None}
    return deep_copy(value)
