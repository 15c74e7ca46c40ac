"""Is a Deployment ready to receive traffic? Pure reading of its status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Readiness:
    ready: int
    desired: int
    # False while the Deployment controller has not yet seen the latest spec.
    observed: bool = True

    @property
    def is_ready(self) -> bool:
        return self.observed and self.desired > 0 and self.ready >= self.desired

    def __str__(self) -> str:
        return f"{self.ready}/{self.desired}"


def readiness_of(deployment: dict[str, Any]) -> Readiness:
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    generation = (deployment.get("metadata") or {}).get("generation")
    observed_generation = status.get("observedGeneration")
    observed = generation is None or observed_generation is None or observed_generation >= generation
    desired = spec.get("replicas", 1)
    return Readiness(ready=int(status.get("readyReplicas") or 0), desired=int(desired), observed=observed)
