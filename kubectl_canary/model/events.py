"""Rollout history as Kubernetes Events on the RouteTable: built and read here, pure."""

from __future__ import annotations

import getpass
import socket
import time
from typing import Any

from kubectl_canary.model.rollout import Phase, RolloutState, format_percent

Obj = dict[str, Any]
COMPONENT = "kubectl-canary"
REASONS = (
    "CanaryInit",
    "CanaryHeader",
    "CanaryWeight",
    "CanaryFinish",
    "CanaryAbort",
    "CanaryGateFailed",
    "CanaryShadow",
)


def describe(state: RolloutState) -> str:
    """One phrase for where the traffic goes."""
    header = " & ".join(map(str, state.headers))
    if state.phase is Phase.STABLE:
        text = f"stable on {state.primary}"
    elif state.phase is Phase.HEADER:
        text = f"{state.primary}, header {header or '(none)'} to {state.canary}"
    else:
        weight = state.weight or 0
        text = f"{state.primary} {format_percent(100 - weight)}% / {state.canary} {format_percent(weight)}%"
        text += f", header {header}" if header else ""
    if state.shadow:
        text += f", shadow {state.shadow.percent:g}% to {state.shadow.version}"
    return text


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def transition_message(before: RolloutState | None, after: RolloutState) -> str:
    start = "(new)" if before is None else describe(before)
    return f"{start} -> {describe(after)} by {who()}"


# On an Event about a route object shared by several apps (a RouteTable of a team): which app's it is.
APP_LABEL = "kubectl-canary.io/app"


def event(route_object: Obj, reason: str, message: str, *, warning: bool = False, app: str | None = None) -> Obj:
    """An Event on the app's route object (RouteTable or HTTPRoute); labelled with the app when the object's
    name is not the app's own (a shared table)."""
    meta = route_object["metadata"]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # datetime costs a command 1 ms to import
    metadata: Obj = {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]}
    if app and meta["name"] not in (app, f"{app}-routes"):
        metadata["labels"] = {APP_LABEL: app}
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": metadata,
        "involvedObject": {
            "apiVersion": route_object.get("apiVersion", "gateway.solo.io/v1"),
            "kind": route_object.get("kind", "RouteTable"),
            "name": meta["name"],
            "namespace": meta["namespace"],
            **({"uid": meta["uid"]} if meta.get("uid") else {}),
        },
        "reason": reason,
        "message": message,
        "type": "Warning" if warning else "Normal",
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": socket.gethostname(),
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    }


def history_rows(events: list[Obj]) -> list[dict[str, str]]:
    """The plugin's events, oldest first."""

    def when(e: Obj) -> tuple[str, int]:
        # Timestamps have one-second resolution; within a second, the order of writes (etcd's
        # resourceVersions grow) tells which came first.
        stamp = str(e.get("lastTimestamp") or e.get("eventTime") or e["metadata"].get("creationTimestamp") or "")
        version = str(e["metadata"].get("resourceVersion") or "0")
        return stamp, int(version) if version.isdigit() else 0

    ours = sorted((e for e in events if e.get("reason") in REASONS), key=when)
    return [
        {
            "time": when(e)[0],
            "reason": str(e.get("reason")),
            "type": str(e.get("type") or "Normal"),
            "message": str(e.get("message") or ""),
        }
        for e in ours
    ]
