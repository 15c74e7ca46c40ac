"""Is a Deployment available to receive traffic? Pure reading of its status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_canary.model.rollout import Availability


@dataclass(frozen=True)
class Readiness:
    """A Deployment's rollout as `kubectl rollout status` judges it.

    `ready` counts the available replicas (ready for minReadySeconds), the number shown to users.
    """

    ready: int
    desired: int
    # False while the Deployment controller has not yet seen the latest spec.
    observed: bool = True
    # Replicas running the latest pod template, and all replicas (old ones included).
    updated: int | None = None
    total: int | None = None

    @property
    def is_ready(self) -> bool:
        """Rolled out: observed, every desired replica updated and available, no old replica left.
        Zero desired replicas serve nothing, so they are not ready for traffic."""
        updated = self.desired if self.updated is None else self.updated
        total = updated if self.total is None else self.total
        return (
            self.observed
            and self.desired > 0
            and updated >= self.desired
            and self.ready >= self.desired
            and total <= updated
        )

    def __str__(self) -> str:
        return f"{self.ready}/{self.desired}"


def readiness_of(deployment: dict[str, Any]) -> Readiness:
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    generation = (deployment.get("metadata") or {}).get("generation")
    observed_generation = status.get("observedGeneration")
    observed = generation is None or (observed_generation is not None and observed_generation >= generation)
    desired = spec.get("replicas", 1)
    return Readiness(
        ready=int(status.get("availableReplicas") or 0),
        desired=int(desired),
        observed=observed,
        updated=int(status.get("updatedReplicas") or 0),
        total=int(status.get("replicas") or 0),
    )


def availability_of(deployment: dict[str, Any] | None) -> Availability:
    if deployment is None:
        return Availability.MISSING
    return Availability.AVAILABLE if readiness_of(deployment).is_ready else Availability.UNAVAILABLE
