"""A stand-in for the kubelet and the Deployment controller: Deployments become available after a delay.

A Deployment whose spec (generation) changed is seen by the controller at once (observedGeneration,
0 available), and its pods are ready `delay` seconds later, as on a cluster pulling and starting an
image; a Deployment running any image of `broken_images` is observed but never becomes available
(CrashLoopBackOff). The readiness, waiting and guard paths then run as on a cluster.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from tests.fake_apiserver.controllers import ControllerLoop
from tests.fake_apiserver.server import FakeApiServer


class Kubelet(ControllerLoop):
    def __init__(self, api: FakeApiServer, *, delay: float = 0.3, broken_images: Iterable[str] = (),
                 interval: float = 0.02) -> None:
        super().__init__(interval)
        self.api = api
        self.delay = delay
        self.broken_images = frozenset(broken_images)
        self._seen: dict[tuple[str, str, int], float] = {}

    def reconcile(self) -> None:
        now = time.monotonic()
        for deployment in self.api.list("deployments"):
            meta = deployment["metadata"]
            key = (meta["namespace"], meta["name"], int(meta.get("generation", 1)))
            status = deployment.get("status") or {}
            replicas = (deployment.get("spec") or {}).get("replicas", 1)
            observed = status.get("observedGeneration") == key[2]
            if key not in self._seen:
                self._seen[key] = now
                if not observed:
                    self.api.set_deployment_ready(key[0], key[1], 0)  # observed, pods starting
                continue
            images = {c.get("image") for c in deployment["spec"]["template"]["spec"].get("containers", [])}
            if images & self.broken_images or now - self._seen[key] < self.delay:
                continue
            if not observed or status.get("availableReplicas", 0) != replicas:
                self.api.set_deployment_ready(key[0], key[1], None)
