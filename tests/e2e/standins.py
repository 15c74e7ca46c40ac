"""Stand-ins for the controllers a real cluster runs and a bare control plane lacks, acting on the real
API server from background threads (list, then watch): a kubelet that makes pods ready (or holds some
back), Gloo's reporter (RouteTable statuses, written only when the verdict changes) and a Gateway API
implementation (HTTPRoute parent conditions carrying the generation they judged).

They act only in the namespaces a test hands them (`Standins.own`), so they can share a cluster with
other workloads. On a cluster with a scheduler and kubelets, cordon the nodes: pods must stay unbound
for the kubelet stand-in to be the one that decides their readiness.
"""

from __future__ import annotations

import copy
import datetime
import re
import threading
import time
from collections.abc import Iterable
from typing import Any

from tests.e2e.kube import Kube, KubeError, Obj

GLOO_NAMESPACE = "gloo-system"  # the key of Gloo's reports in status.statuses
GATEWAY_CLASS = "kubectl-canary-e2e"
CONTROLLER_NAME = "e2e.kubectl-canary.io/gateway-standin"


def now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Informer:
    """List then watch one resource in every namespace, and hand the objects of owned namespaces to
    `handle`; keeps the latest of each in `cache`. Runs until `stop` is set."""

    def __init__(self, kube: Kube, plural: str, owned: Any, handle: Any, stop: threading.Event) -> None:
        self.kube, self.plural, self.owned, self.handle, self.stop = kube, plural, owned, handle, stop
        self.cache: dict[tuple[str, str], Obj] = {}
        self.lock = threading.RLock()
        self.synced = threading.Event()
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._run, name=f"informer-{plural}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def objects(self, namespace: str) -> list[Obj]:
        with self.lock:
            return [copy.deepcopy(o) for (ns, _), o in self.cache.items() if ns == namespace]

    def remember(self, obj: Obj) -> None:
        meta = obj["metadata"]
        with self.lock:
            key = (meta.get("namespace", ""), meta["name"])
            held = self.cache.get(key)
            if held is None or int(held["metadata"]["resourceVersion"]) <= int(meta["resourceVersion"]):
                self.cache[key] = obj

    def _dispatch(self, kind: str, obj: Obj) -> None:
        meta = obj["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        if kind == "DELETED":
            with self.lock:
                self.cache.pop(key, None)
        else:
            self.remember(obj)
        if self.owned(key[0]):
            try:
                self.handle(kind, obj)
            except KubeError as error:  # e.g. the object went away meanwhile; the next event retries
                if error.status not in (404, 409):
                    self.errors.append(str(error))
            except Exception as error:  # a stand-in bug must show, not kill the thread
                self.errors.append(f"{type(error).__name__}: {error}")

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                listed = self.kube.list(self.plural)
                with self.lock:
                    self.cache = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o
                                  for o in listed["items"]}
                for obj in listed["items"]:
                    self._dispatch("ADDED", obj)
                self.synced.set()
                version = listed["metadata"]["resourceVersion"]
                while not self.stop.is_set():
                    for kind, obj in self.kube.watch(self.plural, resource_version=version, timeout_seconds=30,
                                                     stop=self.stop):
                        version = obj["metadata"]["resourceVersion"]
                        if kind != "BOOKMARK":
                            self._dispatch(kind, obj)
            except Exception:  # too old a version (410), a lost connection, a server going down: list again
                if not self.stop.is_set():
                    time.sleep(0.2)


class Kubelet:
    """Marks pods Ready through the status subresource, as a kubelet would once their containers run.

    A Deployment may be held back: `hold(ns, name, ready)` lets at most `ready` of its pods be ready (0:
    never ready, e.g. an image that never starts; 1 of 2: a half-broken primary); pods beyond it are made
    not ready again. `release` lifts the hold. The hold is looked up by the pod's Deployment name, so it
    may be set before the Deployment exists."""

    def __init__(self, kube: Kube, owned: Any, stop: threading.Event) -> None:
        self.kube = kube
        self.holds: dict[tuple[str, str], int] = {}
        self.lock = threading.RLock()
        self.pods = Informer(kube, "pods", owned, self._handle, stop)

    @staticmethod
    def deployment_of(pod: Obj) -> str | None:
        owners = [o for o in pod["metadata"].get("ownerReferences") or [] if o.get("kind") == "ReplicaSet"]
        template_hash = (pod["metadata"].get("labels") or {}).get("pod-template-hash")
        if not owners or not template_hash or not owners[0]["name"].endswith(f"-{template_hash}"):
            return None
        return str(owners[0]["name"][: -len(template_hash) - 1])

    @staticmethod
    def is_ready(pod: Obj) -> bool:
        conditions = (pod.get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    def hold(self, namespace: str, deployment: str, ready: int) -> None:
        with self.lock:
            self.holds[(namespace, deployment)] = ready
            self._settle(namespace, deployment)

    def release(self, namespace: str, deployment: str) -> None:
        with self.lock:
            self.holds.pop((namespace, deployment), None)
            self._settle(namespace, deployment)

    def forget(self, namespace: str) -> None:
        with self.lock:
            for key in [k for k in self.holds if k[0] == namespace]:
                del self.holds[key]

    def _handle(self, kind: str, pod: Obj) -> None:
        deployment = self.deployment_of(pod)
        if kind != "DELETED" and deployment:
            with self.lock:
                self._settle(pod["metadata"]["namespace"], deployment)

    def _settle(self, namespace: str, deployment: str) -> None:
        """Bring the Deployment's live pods to what its hold allows (all ready without one)."""
        limit = self.holds.get((namespace, deployment))
        pods = sorted((p for p in self.pods.objects(namespace)
                       if self.deployment_of(p) == deployment and not p["metadata"].get("deletionTimestamp")),
                      key=lambda p: (not self.is_ready(p), p["metadata"]["creationTimestamp"], p["metadata"]["name"]))
        for index, pod in enumerate(pods):
            want = limit is None or index < limit
            if want != self.is_ready(pod):
                self._set_ready(pod, want)

    def _set_ready(self, pod: Obj, ready: bool) -> None:
        flag = "True" if ready else "False"
        containers = pod["spec"]["containers"]
        status = {
            "phase": "Running",
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": now()},
                {"type": "Ready", "status": flag, "lastTransitionTime": now()},
                {"type": "ContainersReady", "status": flag, "lastTransitionTime": now()},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": now()},
            ],
            "containerStatuses": [
                {"name": c["name"], "image": c["image"], "imageID": "", "ready": ready, "restartCount": 0,
                 "started": True, "state": {"running": {"startedAt": now()}}}
                for c in containers
            ],
        }
        meta = pod["metadata"]
        written = self.kube.merge_patch("pods", meta["namespace"], meta["name"], {"status": status}, sub="status")
        self.pods.remember(written)


def gloo_verdict(route_table: Obj) -> dict[str, str]:
    """What Gloo's translator would say of a RouteTable, for what the suite writes: weights summing to zero
    break a route (DESIGN.md section 1), and so does a regex matcher that does not compile; anything else
    is accepted."""
    for route in (route_table.get("spec") or {}).get("routes") or []:
        name = route.get("name") or "unnamed"
        multi = (route.get("routeAction") or {}).get("multi")
        if multi is not None and sum(d.get("weight") or 0 for d in multi.get("destinations") or []) == 0:
            return {"state": "Rejected", "reason": f"route {name}: all destination weights are zero"}
        for matcher in route.get("matchers") or []:
            try:
                re.compile(matcher.get("regex") or "")
            except re.error as error:
                return {"state": "Rejected", "reason": f"route {name}: invalid regex {matcher['regex']!r}: {error}"}
    return {"state": "Accepted"}


class GlooReporter:
    """Gloo's status reporter: writes `status.statuses.gloo-system` with a JSON merge patch (the Gloo CRDs
    have no status subresource) only when the verdict differs from the one stored, as solo-kit's reporter
    does: a write that leaves the verdict Accepted gets no new status."""

    def __init__(self, kube: Kube, owned: Any, stop: threading.Event) -> None:
        self.kube = kube
        self.reports = 0
        self.tables = Informer(kube, "routetables", owned, self._handle, stop)

    def _handle(self, kind: str, table: Obj) -> None:
        if kind == "DELETED":
            return
        verdict = {**gloo_verdict(table), "reportedBy": "gateway"}
        stored = ((table.get("status") or {}).get("statuses") or {}).get(GLOO_NAMESPACE)
        if stored == verdict:
            return
        meta = table["metadata"]
        patch = {"status": {"statuses": {GLOO_NAMESPACE: {"state": verdict["state"], "reportedBy": "gateway",
                                                         "reason": verdict.get("reason")}}}}
        self.tables.remember(self.kube.merge_patch("routetables", meta["namespace"], meta["name"], patch,
                                                   manager="gloo"))
        self.reports += 1


class GatewayController:
    """A Gateway API implementation's status loop for Gateways of class kubectl-canary-e2e: per parent,
    `Accepted` (the listener exists and admits the route) and `ResolvedRefs` (every backend Service exists;
    a cross-namespace one needs a ReferenceGrant), each carrying the generation it judged. A Service that
    appears or goes away has the routes of its namespace judged again."""

    def __init__(self, kube: Kube, owned: Any, stop: threading.Event) -> None:
        self.kube = kube
        self.lock = threading.RLock()
        self.routes = Informer(kube, "httproutes", owned, self._handle_route, stop)
        self.services = Informer(kube, "services", owned, self._handle_service, stop)

    def informers(self) -> list[Informer]:
        return [self.routes, self.services]

    def _handle_service(self, kind: str, service: Obj) -> None:
        if kind in ("ADDED", "DELETED"):
            for route in self.routes.objects(service["metadata"]["namespace"]):
                self._handle_route("MODIFIED", route)

    def _handle_route(self, kind: str, route: Obj) -> None:
        if kind == "DELETED":
            return
        with self.lock:
            self._judge(route)

    def _service_exists(self, namespace: str, name: str) -> bool:
        return self.kube.get("services", namespace, name) is not None

    def _granted(self, route_namespace: str, namespace: str, name: str) -> bool:
        for grant in self.kube.list("referencegrants", namespace)["items"]:
            spec = grant["spec"]
            if any(f.get("kind") == "HTTPRoute" and f.get("namespace") == route_namespace for f in spec["from"]) and \
                    any(t.get("kind") == "Service" and t.get("name") in (None, name) for t in spec["to"]):
                return True
        return False

    def _unresolved(self, route: Obj) -> str | None:
        namespace = route["metadata"]["namespace"]
        refs: list[Obj] = []
        for rule in route["spec"].get("rules") or []:
            refs += rule.get("backendRefs") or []
            for f in rule.get("filters") or []:
                if f.get("type") == "RequestMirror":
                    refs.append(f["requestMirror"]["backendRef"])
        for ref in refs:
            if ref.get("kind", "Service") != "Service" or ref.get("group", "") != "":
                return f"unsupported backend kind {ref.get('kind')}"
            target = ref.get("namespace") or namespace
            if target != namespace and not self._granted(namespace, target, ref["name"]):
                return f"backend {target}/{ref['name']} is in another namespace and no ReferenceGrant allows it"
            if not self._service_exists(target, ref["name"]):
                return f"service {target}/{ref['name']} not found"
        return None

    def _judge(self, route: Obj) -> None:
        meta = route["metadata"]
        generation = meta["generation"]
        stored = (route.get("status") or {}).get("parents") or []
        others = [p for p in stored if p.get("controllerName") != CONTROLLER_NAME]
        ours = []
        unresolved: str | None = None
        resolved_judged = False  # the backends are looked up once, and only when a parent is ours
        for ref in route["spec"].get("parentRefs") or []:
            if ref.get("kind", "Gateway") != "Gateway":
                continue
            gateway = self.kube.get("gateways", ref.get("namespace") or meta["namespace"], ref["name"])
            if gateway is None or gateway["spec"].get("gatewayClassName") != GATEWAY_CLASS:
                continue  # not ours to judge
            listeners = [lst for lst in gateway["spec"]["listeners"]
                         if ref.get("sectionName") in (None, lst["name"])]
            if not listeners:
                accepted = ("False", "NoMatchingParent", f"no listener {ref.get('sectionName')}")
            elif not any(self._admits(lst, gateway, meta["namespace"]) for lst in listeners):
                accepted = ("False", "NotAllowedByListeners", "the listener does not admit routes from here")
            else:
                accepted = ("True", "Accepted", "accepted by the e2e gateway stand-in")
            if not resolved_judged:
                unresolved, resolved_judged = self._unresolved(route), True
            resolved = ("False", "BackendNotFound", unresolved) if unresolved else ("True", "ResolvedRefs",
                                                                                   "all references resolved")
            previous: Obj = next((p for p in stored if p.get("controllerName") == CONTROLLER_NAME
                             and p.get("parentRef") == ref), {})
            ours.append({"parentRef": ref, "controllerName": CONTROLLER_NAME,
                         "conditions": [self._condition(previous, kind, value, generation)
                                        for kind, value in (("Accepted", accepted), ("ResolvedRefs", resolved))]})
        mine = [p for p in stored if p.get("controllerName") == CONTROLLER_NAME]
        if self._same(mine, ours):
            return
        written = self.kube.merge_patch("httproutes", meta["namespace"], meta["name"],
                                        {"status": {"parents": others + ours}}, sub="status",
                                        manager="gateway-standin")
        self.routes.remember(written)

    @staticmethod
    def _admits(listener: Obj, gateway: Obj, namespace: str) -> bool:
        allowed = ((listener.get("allowedRoutes") or {}).get("namespaces") or {}).get("from", "Same")
        return allowed == "All" or (allowed == "Same" and gateway["metadata"]["namespace"] == namespace)

    @staticmethod
    def _condition(previous: Obj, kind: str, value: tuple[str, str, str | None], generation: int) -> Obj:
        status, reason, message = value
        old = next((c for c in previous.get("conditions") or [] if c["type"] == kind), None)
        since = old["lastTransitionTime"] if old and old["status"] == status else now()
        return {"type": kind, "status": status, "reason": reason, "message": message or "",
                "observedGeneration": generation, "lastTransitionTime": since}

    @staticmethod
    def _same(stored: list[Obj], computed: list[Obj]) -> bool:
        def key(parents: list[Obj]) -> list[Any]:
            return [(p["parentRef"], [(c["type"], c["status"], c["reason"], c.get("observedGeneration"))
                                      for c in p.get("conditions") or []]) for p in parents]
        return key(stored) == key(computed)


class Standins:
    """The three stand-ins, started together for the session."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self.stop = threading.Event()
        self.namespaces: set[str] = set()
        self.lock = threading.Lock()
        self.kubelet = Kubelet(kube, self.owns, self.stop)
        self.gloo = GlooReporter(kube, self.owns, self.stop)
        self.gateway = GatewayController(kube, self.owns, self.stop)

    def informers(self) -> list[Informer]:
        return [self.kubelet.pods, self.gloo.tables, *self.gateway.informers()]

    def owns(self, namespace: str) -> bool:
        with self.lock:
            return namespace in self.namespaces

    def own(self, namespaces: Iterable[str]) -> None:
        with self.lock:
            self.namespaces.update(namespaces)

    def disown(self, namespaces: Iterable[str]) -> None:
        with self.lock:
            self.namespaces.difference_update(namespaces)
        for namespace in namespaces:
            self.kubelet.forget(namespace)

    def start(self) -> None:
        for informer in self.informers():
            informer.start()
        for informer in self.informers():
            if not informer.synced.wait(30):
                raise AssertionError(f"the {informer.plural} stand-in could not list: {informer.errors}")

    def close(self) -> None:
        self.stop.set()

    def errors(self) -> list[str]:
        return [f"{i.plural}: {e}" for i in self.informers() for e in i.errors]
