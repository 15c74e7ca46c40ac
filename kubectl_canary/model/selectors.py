"""Label and field selectors, matched as the API server matches them. Pure.

Offline (`--local -f`) the objects of manifest files answer the LISTs the commands send (manifest_cluster.py),
so a selector must select there what it selects on a cluster: the recorded apps of a shared route table
(`kubectl-canary.io/records-apps=true`), an app's Deployments (`app=echo,app.kubernetes.io/managed-by=...`).
"""

from __future__ import annotations

import re
from typing import Any

from kubectl_canary.errors import UsageError

# One requirement: `key`, `!key`, `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`.
_SET = re.compile(r"^\s*([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQUALITY = re.compile(r"^\s*([^\s!=(),]+)\s*(==|!=|=)\s*([^\s!=(),]*)\s*$")
_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=(),]+)\s*$")


def _requirements(selector: str) -> list[str]:
    """The comma-separated requirements; commas inside `in (...)` belong to their set."""
    parts, depth, current = [], 0, ""
    for char in selector:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [part for part in parts if part.strip()]


def labels_match(labels: dict[str, str], selector: str | None) -> bool:
    """Whether an object with `labels` is selected by the label selector (None or empty: every object)."""
    for requirement in _requirements(selector or ""):
        if found := _SET.match(requirement):
            key, operator, values = found.groups()
            members = {value.strip() for value in values.split(",")}
            if (labels.get(key) in members) != (operator == "in"):
                return False
        elif found := _EQUALITY.match(requirement):
            key, operator, value = found.groups()
            if (labels.get(key) == value) == (operator == "!="):
                return False
        elif found := _EXISTS.match(requirement):
            negated, key = found.groups()
            if (key in labels) == bool(negated):
                return False
        else:
            raise UsageError(f"invalid label selector {selector!r}: cannot read {requirement.strip()!r}")
    return True


def _field(obj: Any, path: str) -> str:
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return "" if obj is None else str(obj)


def fields_match(obj: dict[str, Any], selector: str | None) -> bool:
    """Whether `obj` is selected by the field selector (`metadata.name=x,involvedObject.kind!=Pod`; None or
    empty: every object). A field the object lacks reads as the empty string, as on the API server."""
    for requirement in _requirements(selector or ""):
        found = _EQUALITY.match(requirement)
        if found is None:
            raise UsageError(f"invalid field selector {selector!r}: cannot read {requirement.strip()!r}")
        path, operator, value = found.groups()
        if (_field(obj, path) == value) == (operator == "!="):
            return False
    return True
