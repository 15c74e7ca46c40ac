"""Waiting for the cluster to reach a state, with the watch API (no busy polling)."""

from __future__ import annotations

import time
from collections.abc import Callable

from kubectl_canary.errors import CanaryError
from kubectl_canary.kube.cluster import Cluster
from kubectl_canary.model.readiness import Readiness, readiness_of
from kubectl_canary.model.resources import DEPLOYMENTS, Obj


def wait_until_ready(
    cluster: Cluster,
    namespace: str,
    name: str,
    timeout: float,
    progress: Callable[[Readiness, float], None],
) -> Readiness:
    """Return once Deployment `name` can take traffic (readiness.py: available at the current generation, no
    rollout in progress); CanaryError after `timeout` seconds, or at once when its rollout is stuck."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        # (Re)start from a fresh read: at the beginning, and whenever a watch ends (timeout, 410 Gone).
        deployment = _get(cluster, namespace, name)
        readiness = _report(deployment, started, progress)
        if _done(readiness, name, namespace):
            return readiness
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CanaryError(
                f"deployment {name} is not ready after {timeout:g}s ({readiness} ready replicas); "
                f"check its pods (kubectl describe deployment/{name} -n {namespace}), then run the command again"
            )
        version = deployment["metadata"]["resourceVersion"]
        for event_type, obj in cluster.watch(DEPLOYMENTS, namespace, name, version, remaining):
            if event_type == "DELETED":
                raise CanaryError(f"deployment {name} was deleted while waiting for it")
            readiness = _report(obj, started, progress)
            if _done(readiness, name, namespace):
                return readiness


def _done(readiness: Readiness, name: str, namespace: str) -> bool:
    if readiness.stuck:
        raise CanaryError(f"deployment {name} exceeded its progress deadline ({readiness} ready replicas); check its "
                          f"pods (kubectl describe deployment/{name} -n {namespace}), then run the command again")
    return readiness.takes_new_traffic


def _report(deployment: Obj, started: float, progress: Callable[[Readiness, float], None]) -> Readiness:
    readiness = readiness_of(deployment)
    progress(readiness, time.monotonic() - started)
    return readiness


def _get(cluster: Cluster, namespace: str, name: str) -> Obj:
    deployment = cluster.get(DEPLOYMENTS, namespace, name)
    if deployment is None:
        raise CanaryError(f"deployment {name} not found in namespace {namespace}")
    return deployment
