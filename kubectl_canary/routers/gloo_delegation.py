"""Which VirtualServices delegate to a RouteTable: by `ref`, or by a label selector. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class Delegation:
    """The VirtualService that delegates to a RouteTable, and how (by ref or by selector)."""

    virtual_service: str  # namespace/name
    by: str  # "ref" or "selector"


def _matches_expression(labels: dict[str, str], expression: Obj) -> bool:
    key, operator = expression.get("key", ""), str(expression.get("operator", "Equals"))
    values = [str(v) for v in expression.get("values") or []]
    value = labels.get(key)
    if operator in ("Equals", "=", "=="):
        return value is not None and value in values
    if operator in ("NotEquals", "!="):
        return value not in values
    if operator == "In":
        return value in values
    if operator == "NotIn":
        return value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    return False  # GreaterThan/LessThan on our labels: not a match we rely on


def _selects(selector: Obj, route_table: Obj, vs_namespace: str) -> bool:
    meta = route_table["metadata"]
    namespaces = selector.get("namespaces") or [vs_namespace]
    if "*" not in namespaces and meta["namespace"] not in namespaces:
        return False
    labels = meta.get("labels") or {}
    wanted = selector.get("labels") or {}
    if any(labels.get(k) != v for k, v in wanted.items()):
        return False
    return all(_matches_expression(labels, e) for e in selector.get("expressions") or [])


def delegations_to(route_table: Obj, virtual_services: list[Obj]) -> list[Delegation]:
    meta = route_table["metadata"]
    found = []
    for vs in virtual_services:
        vs_meta = vs["metadata"]
        vs_name = f"{vs_meta['namespace']}/{vs_meta['name']}"
        for route in ((vs.get("spec") or {}).get("virtualHost") or {}).get("routes") or []:
            action = route.get("delegateAction")
            if not isinstance(action, dict):
                continue
            ref = action.get("ref") or (
                {"name": action["name"], "namespace": action.get("namespace")} if action.get("name") else None
            )
            if (
                ref
                and ref.get("name") == meta["name"]
                and (ref.get("namespace") or vs_meta["namespace"]) == (meta["namespace"])
            ):
                found.append(Delegation(vs_name, "ref"))
            elif action.get("selector") and _selects(action["selector"], route_table, vs_meta["namespace"]):
                found.append(Delegation(vs_name, "selector"))
    return found


def delegation_notes(route_table: Obj, delegations: list[Delegation]) -> list[str]:
    """What a user should know about how traffic reaches the table."""
    name = route_table["metadata"]["name"]
    if not delegations:
        labels = ", ".join(f"{k}={v}" for k, v in (route_table["metadata"].get("labels") or {}).items())
        return [
            f"no VirtualService delegates to RouteTable {name} (by ref, or by a selector matching its labels "
            f"{labels or '(none)'}): traffic will not reach it"
        ]
    by_selector = sorted({d.virtual_service for d in delegations if d.by == "selector"})
    if by_selector:
        return [
            f"VirtualService {', '.join(by_selector)} delegates to RouteTable {name} by label selector: Gloo may "
            f"sort routes across tables by specificity, and the header route only works while it stays before "
            f"the catch-all route (kubectl canary keeps it first within this table)"
        ]
    return []
