"""A stand-in for a Gateway API implementation's controller (kgateway, Envoy Gateway, Istio, ...).

What the plugin depends on, as the Gateway API specifies it: for every parentRef of an HTTPRoute that
names a Gateway of this controller's class, the controller writes `status.parents[]` with the conditions
`Accepted` and `ResolvedRefs`, each carrying the `observedGeneration` of the route it judged, so a client
knows exactly whether its change has been processed. Parents it does not manage (a missing Gateway, one of
another class) get no entry, as real controllers only report their own.

    with GatewayController(api, delay=0.2):   # judges every change ~0.2 s after it lands
        ...

`parent_statuses` is the pure verdict; the controller thread polls the store and writes a route's status
(through the status subresource, field manager = controller name) only when the verdict changes, which
includes a new generation.
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime, timezone

from .controllers import ControllerLoop
from .json_values import JsonObject, deep_copy
from .server import FakeApiServer
from .status import ApiError

CONTROLLER_NAME = "example.com/fake-gateway-controller"
GATEWAY_CLASS = "fake"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(kind: str, ok: bool, reason: str, message: str, generation: int) -> JsonObject:
    return {"type": kind, "status": "True" if ok else "False", "reason": reason, "message": message,
            "observedGeneration": generation, "lastTransitionTime": ""}


def _service_ref_problem(route: JsonObject, ref: JsonObject, services: set[tuple[str, str]],
                         grants: list[JsonObject]) -> tuple[str, str] | None:
    """(reason, message) when a backendRef does not resolve, else None."""
    namespace = route["metadata"]["namespace"]
    if ref.get("group", "") != "" or ref.get("kind", "Service") != "Service":
        return "InvalidKind", f"{ref.get('group')}/{ref.get('kind')} is not a supported backend kind"
    target_namespace = ref.get("namespace") or namespace
    if target_namespace != namespace and not any(
        _grant_allows(grant, namespace, ref["name"]) for grant in grants
        if grant["metadata"]["namespace"] == target_namespace
    ):
        return "RefNotPermitted", (f"backendRef {target_namespace}/{ref['name']} needs a ReferenceGrant in "
                                   f"namespace {target_namespace}")
    if (target_namespace, ref["name"]) not in services:
        return "BackendNotFound", f"Service {target_namespace}/{ref['name']} not found"
    return None


def _grant_allows(grant: JsonObject, from_namespace: str, service: str) -> bool:
    spec = grant.get("spec") or {}
    allowed_from = any(item.get("group") == "gateway.networking.k8s.io" and item.get("kind") == "HTTPRoute"
                       and item.get("namespace") == from_namespace for item in spec.get("from") or [])
    allowed_to = any(item.get("group", "") == "" and item.get("kind") == "Service"
                     and item.get("name") in (None, "", service) for item in spec.get("to") or [])
    return allowed_from and allowed_to


def _backend_refs(route: JsonObject) -> list[JsonObject]:
    refs: list[JsonObject] = []
    for rule in (route.get("spec") or {}).get("rules") or []:
        refs += rule.get("backendRefs") or []
        for item in rule.get("filters") or []:
            mirror = item.get("requestMirror")
            if item.get("type") == "RequestMirror" and mirror:
                refs.append(mirror["backendRef"])
    return refs


def parent_statuses(route: JsonObject, gateways: list[JsonObject], services: set[tuple[str, str]],
                    grants: list[JsonObject], controller_name: str = CONTROLLER_NAME,
                    gateway_class: str = GATEWAY_CLASS) -> list[JsonObject]:
    """The `status.parents` this controller writes for `route` (without lastTransitionTime)."""
    namespace = route["metadata"]["namespace"]
    generation = route["metadata"].get("generation", 1)
    problems = [problem for ref in _backend_refs(route)
                if (problem := _service_ref_problem(route, ref, services, grants)) is not None]
    resolved = _condition("ResolvedRefs", not problems, problems[0][0] if problems else "ResolvedRefs",
                          problems[0][1] if problems else "all references resolved", generation)
    by_name = {(g["metadata"]["namespace"], g["metadata"]["name"]): g for g in gateways
               if (g.get("spec") or {}).get("gatewayClassName") == gateway_class}
    parents: list[JsonObject] = []
    for parent in (route.get("spec") or {}).get("parentRefs") or []:
        if parent.get("group", "gateway.networking.k8s.io") != "gateway.networking.k8s.io" or \
                parent.get("kind", "Gateway") != "Gateway":
            continue
        gateway = by_name.get((parent.get("namespace") or namespace, parent["name"]))
        if gateway is None:
            continue
        listeners = (gateway.get("spec") or {}).get("listeners") or []
        section = parent.get("sectionName")
        matching = [item for item in listeners if section in (None, item.get("name"))]
        allowed = [item for item in matching if _listener_allows(item, gateway, namespace)]
        if not matching:
            accepted = _condition("Accepted", False, "NoMatchingParent", f"no listener named {section}", generation)
        elif not allowed:
            accepted = _condition("Accepted", False, "NotAllowedByListeners",
                                  f"no listener allows routes from namespace {namespace}", generation)
        else:
            accepted = _condition("Accepted", True, "Accepted", "route accepted", generation)
        parents.append({"parentRef": deep_copy(parent), "controllerName": controller_name,
                        "conditions": [accepted, deep_copy(resolved)]})
    return parents


def _listener_allows(listener: JsonObject, gateway: JsonObject, route_namespace: str) -> bool:
    namespaces = ((listener.get("allowedRoutes") or {}).get("namespaces") or {}).get("from", "Same")
    if namespaces == "All":
        return True
    if namespaces == "Same":
        return bool(gateway["metadata"]["namespace"] == route_namespace)
    return False  # Selector: namespace labels are not modelled here


def _same_verdict(live: list[JsonObject], wanted: list[JsonObject]) -> bool:
    def strip(parents: list[JsonObject]) -> list[JsonObject]:
        return [{**p, "conditions": [{k: v for k, v in c.items() if k != "lastTransitionTime"}
                                     for c in p.get("conditions") or []]} for p in parents]
    return strip(live) == strip(wanted)


def _with_transition_times(live: list[JsonObject], wanted: list[JsonObject]) -> list[JsonObject]:
    """A condition keeps its lastTransitionTime while its status stays; a changed one gets now."""
    before = {(str(p.get("parentRef")), c["type"]): c for p in live for c in p.get("conditions") or []}
    for parent in wanted:
        for condition in parent["conditions"]:
            old = before.get((str(parent["parentRef"]), condition["type"]))
            same = old is not None and old.get("status") == condition["status"]
            condition["lastTransitionTime"] = old["lastTransitionTime"] if same and old else _now()
    return wanted


class GatewayController(ControllerLoop):
    """Polls the fake's store and writes each HTTPRoute's parent status `delay` seconds after a change."""

    def __init__(self, api: FakeApiServer, *, delay: float = 0.0, controller_name: str = CONTROLLER_NAME,
                 gateway_class: str = GATEWAY_CLASS, interval: float = 0.02) -> None:
        super().__init__(interval)
        self.api = api
        self.delay = delay
        self.controller_name = controller_name
        self.gateway_class = gateway_class
        # (namespace, name, resourceVersion) -> when this controller first saw it
        self._seen: dict[tuple[str, str, str], float] = {}

    def reconcile(self) -> None:
        """One pass: write the status of every route whose verdict changed and whose change is `delay` old."""
        gateways = self.api.list("gateways")
        services = {(s["metadata"]["namespace"], s["metadata"]["name"]) for s in self.api.list("services")}
        grants = self.api.list("referencegrants")
        now = time.monotonic()
        for route in self.api.list("httproutes"):
            metadata = route["metadata"]
            key = (metadata["namespace"], metadata["name"], metadata["resourceVersion"])
            if now - self._seen.setdefault(key, now) < self.delay:
                continue
            live = (route.get("status") or {}).get("parents") or []
            ours = [p for p in live if p.get("controllerName") == self.controller_name]
            wanted = parent_statuses(route, gateways, services, grants, self.controller_name, self.gateway_class)
            if _same_verdict(ours, wanted):
                continue
            others = [p for p in live if p.get("controllerName") != self.controller_name]
            updated = deep_copy(route)
            updated["status"] = {"parents": others + _with_transition_times(ours, wanted)}
            with contextlib.suppress(ApiError):  # the route changed under us: the next pass judges it
                self.api.replace(updated, manager=self.controller_name)
