"""Can a Deployment take traffic? Its spec and status read as the Deployment controller judges them. Pure.

The controller says a Deployment is `Available` when at least `replicas - maxUnavailable` pods (maxUnavailable
25% rounded down by default) have been ready for minReadySeconds, and `Progressing` False with reason
ProgressDeadlineExceeded when a rollout is stuck. The guards ask more or less of it by direction:

- traffic *toward* a version (weight up, finish, a new primary): Available at the current generation (the
  controller has seen the latest spec), and no rollout in progress or stuck. Stricter than the controller on
  rollouts: while one runs, the pods still serving are those of the previous spec, so more traffic would
  judge (and gates would measure) a version that is being replaced. Less strict than `kubectl rollout status`
  on availability: it also wants every replica available, which a single restarting pod or an autoscaler's
  scale-up breaks while the controller still calls the Deployment available;
- traffic *back* (abort, weight down, a failed gate's --on-failure): at least one available replica, and a
  warning below the minimum availability: mid-incident the ready pods of the primary are exactly where the
  traffic must go, however few;
- the header route: opt-in requests, which may reach a version still starting (only existence counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_canary.model.rollout import Direction, Judgement


@dataclass(frozen=True)
class Readiness:
    """A Deployment's status as the guards and `status` read it. `ready` counts the available replicas (ready
    for minReadySeconds), the number shown to users as `ready/desired`."""

    ready: int
    desired: int
    # False while the Deployment controller has not yet seen the latest spec (observedGeneration < generation).
    observed: bool = True
    # Replicas running the latest pod template, and all replicas (old ones included).
    updated: int | None = None
    total: int | None = None
    # replicas - maxUnavailable: the fewest available pods the controller still calls Available (None: desired).
    minimum: int | None = None
    # The controller's Available condition (None: not reported; then judged from the counts as it would).
    available: bool | None = None
    # Progressing False with reason ProgressDeadlineExceeded: the rollout is stuck.
    stuck: bool = False

    @property
    def min_available(self) -> int:
        return self.desired if self.minimum is None else self.minimum

    @property
    def below_minimum(self) -> bool:
        """Fewer pods available than the controller needs to call the Deployment available (none counts too)."""
        return self.ready < self.min_available

    @property
    def is_available(self) -> bool:
        """Available at the current generation. Zero available pods serve nothing, whatever the condition says
        (a Deployment scaled to 0 is Available)."""
        reported = self.available if self.available is not None else not self.below_minimum
        return self.observed and reported and self.ready > 0

    @property
    def rolling_out(self) -> bool:
        """Pods of an earlier template are still running, or not every replica runs the latest one yet."""
        updated = self.desired if self.updated is None else self.updated
        total = updated if self.total is None else self.total
        return updated < self.desired or total > updated

    @property
    def takes_new_traffic(self) -> bool:
        """Traffic may move toward it: available at the current generation, no rollout in progress or stuck."""
        return self.is_available and not self.stuck and not self.rolling_out

    def __str__(self) -> str:
        return f"{self.ready}/{self.desired}"


def _scaled(value: Any, total: int, *, round_up: bool) -> int:
    """An int or a percentage of `total` ("25%"), rounded as the Deployment controller rounds it."""
    if isinstance(value, int):
        return value
    percent = int(str(value).strip().rstrip("%"))
    return -(-percent * total // 100) if round_up else percent * total // 100


def max_unavailable(spec: dict[str, Any]) -> int:
    """How many replicas may be unavailable (the controller's deploymentutil.MaxUnavailable): none for the
    Recreate strategy or zero replicas; else maxUnavailable (default 25%, rounded down) resolved with maxSurge
    (default 25%, rounded up): when both come to 0 the controller allows 1; never more than the replicas."""
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate" or replicas <= 0:
        return 0
    rolling = strategy.get("rollingUpdate") or {}
    try:
        surge = _scaled(rolling.get("maxSurge", "25%"), replicas, round_up=True)
        unavailable = _scaled(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    except ValueError:  # the API server validates both; a manifest file might not
        return 0
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return max(0, min(unavailable, replicas))


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), {})


def readiness_of(deployment: dict[str, Any]) -> Readiness:
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    generation = (deployment.get("metadata") or {}).get("generation")
    observed_generation = status.get("observedGeneration")
    observed = generation is None or (observed_generation is not None and observed_generation >= generation)
    desired = int(spec.get("replicas", 1))
    available = _condition(status, "Available").get("status")
    progressing = _condition(status, "Progressing")
    return Readiness(
        ready=int(status.get("availableReplicas") or 0),
        desired=desired,
        observed=observed,
        updated=int(status.get("updatedReplicas") or 0),
        total=int(status.get("replicas") or 0),
        minimum=desired - max_unavailable(spec),
        available=None if available is None else available == "True",
        stuck=progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded",
    )


def serving_problem(readiness: Readiness | None) -> str | None:
    """Why a version that receives traffic is not serving it well (None: it is): what makes `status` degraded,
    judged as the guards judge traffic moving back to it, and a stuck rollout."""
    if readiness is None:
        return "missing"
    if readiness.ready == 0:
        return "not ready"
    if readiness.below_minimum:
        return f"below its minimum availability ({readiness} ready, its Deployment needs {readiness.min_available})"
    if readiness.stuck:
        return "stuck: its rollout exceeded its progress deadline (ProgressDeadlineExceeded)"
    return None


def judge(name: str, version: str, deployment: dict[str, Any] | None, direction: Direction) -> Judgement:
    """Deployment `name` of `version`, judged for the traffic a move in `direction` would send it."""
    if deployment is None:
        return Judgement(name, missing=True)
    if direction is Direction.HEADER:
        return Judgement(name)
    readiness = readiness_of(deployment)
    has = f"deployment {name} has {readiness} ready replicas"
    wait = f"wait (kubectl rollout status deployment/{name}) or pass --force"
    if direction is Direction.BACK:
        if readiness.ready == 0:
            return Judgement(name, refusal=f"{has}, so {version} cannot serve traffic yet; {wait}")
        if readiness.below_minimum:
            return Judgement(name, warning=(
                f"{has}, fewer than the {readiness.min_available} its Deployment needs to be available; the "
                f"traffic goes back to {version} anyway (its ready pods serve): check them with kubectl rollout "
                f"status deployment/{name}"))
        return Judgement(name)
    if readiness.stuck:
        return Judgement(name, refusal=(
            f"{has} and its rollout exceeded its progress deadline (ProgressDeadlineExceeded), so {version} cannot "
            f"take more traffic; find out why (kubectl describe deployment/{name}) or pass --force"))
    if not readiness.is_available:
        if readiness.ready and readiness.below_minimum:
            has += f" (its Deployment needs {readiness.min_available} to be available)"
        elif readiness.ready and not readiness.observed:
            has += ", but the Deployment controller has not yet seen its latest spec"
        return Judgement(name, refusal=f"{has}, so {version} cannot serve traffic yet; {wait}")
    if readiness.rolling_out:
        updated = readiness.desired if readiness.updated is None else readiness.updated
        old = max((readiness.total or 0) - updated, 0)
        return Judgement(name, refusal=(
            f"{has}, but its rollout is in progress ({updated} of {readiness.desired} replicas updated"
            f"{f', {old} old still running' if old else ''}), so more traffic would reach pods of its previous "
            f"spec; {wait}"))
    return Judgement(name)


def taken_as_available(deployment: dict[str, Any]) -> dict[str, Any]:
    """A Deployment as offline mode takes it when nothing runs to say otherwise: every replica available."""
    replicas = (deployment.get("spec") or {}).get("replicas", 1)
    return {**deployment, "status": {"replicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas}}
