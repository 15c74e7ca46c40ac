"""A stepped rollout: apply each weight, wait, check the gates, go on or fall back."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from kubectl_canary.errors import CanaryError
from kubectl_canary.model.durations import format_duration
from kubectl_canary.model.events import who
from kubectl_canary.model.rollout import RolloutState, format_percent, rollback
from kubectl_canary.model.verb_plans import to_weight
from kubectl_canary.routers import backends_of, read_rollout
from kubectl_canary.routers.seam import LiveRollout, RouteChange
from kubectl_canary.workflow.gates import Gate, GateContext
from kubectl_canary.workflow.invocation import Invocation


class Interrupted(CanaryError):
    exit_code = 130


@dataclass
class SteppedRollout:
    """`weight --step`: the weights one after another, with gates judged between them."""

    invocation: Invocation
    namespace: str
    app: str
    gates: list[Gate]
    interval: float
    on_failure: str = "abort"
    force: bool = False
    applied: list[Fraction] = field(default_factory=list)
    start: Fraction = Fraction(0)

    def _apply(
        self,
        transition: Callable[[RolloutState], RolloutState],
        first_read: LiveRollout | None = None,
        transition_name: str = "weight",
    ) -> RouteChange:
        # The guards by direction run on every change: up toward a canary that is not ready is refused
        # (unless --force), back toward an available primary always goes.
        return self.invocation.change_routes(
            self.app, transition, transition=transition_name, first_read=first_read, force=self.force
        )

    def _where(self) -> str:
        """Where the routes were left, read back from the server when it answers: an interrupt can land
        between a write and the bookkeeping of it."""
        try:
            live = read_rollout(
                self.invocation.cluster(), self.namespace, self.app, self.invocation.router, self.invocation.names
            ).state
            weight: Fraction | None = live.weight or Fraction(0)
        except (CanaryError, KeyboardInterrupt):
            weight = self.applied[-1] if self.applied else None
        if weight is None or (not self.applied and weight == self.start):
            return f"{self.app} was not changed"
        return f"{self.app} is at {format_percent(weight)}% (the last applied step)"

    def run(self, weights: list[Fraction], first_read: LiveRollout) -> RouteChange:
        """Apply `weights` in order (at least one); return the last change, or raise after falling back."""
        last_good = self.start = first_read.state.weight or Fraction(0)
        self.first_read = first_read
        change: RouteChange | None = None
        try:
            for number, weight in enumerate(weights, 1):
                change = self._apply(to_weight(weight), first_read if number == 1 else None)
                self.applied.append(weight)
                if len(weights) > 1:
                    self.invocation.say(
                        f"step {number}/{len(weights)}: {format_percent(weight)}% to {change.after.canary}"
                    )
                # Between steps: wait, then the gates decide (a dry run only shows the steps).
                if number < len(weights) and self.invocation.dry_run == "none":
                    self._wait(change.after, weight)
                    failures = self._check(change, weight)
                    if failures:
                        self._fall_back(change, weight, last_good, "; ".join(failures))
                last_good = weight
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted: {self._where()}; run the same command again to resume") from None
        except CanaryError as error:
            if isinstance(error, (Interrupted, GateFailed)) or not self.applied:
                raise
            raise CanaryError(f"{error}; {self._where()}; run the same command again to resume") from None
        assert change is not None
        return change

    def _wait(self, state: RolloutState, weight: Fraction) -> None:
        deadline = time.monotonic() + self.interval
        what = f"at {format_percent(weight)}% to {state.canary}: waiting {format_duration(self.interval)}"
        what += " before checking the gates" if self.gates else " before the next step"
        while (remaining := deadline - time.monotonic()) > 0:
            self.invocation.progress(what, f"{format_duration(remaining)} left")
            time.sleep(min(1.0, remaining))
        self.invocation.end_progress()

    def _check(self, change: RouteChange, weight: Fraction) -> list[str]:
        state = change.after
        # Gloo: the Upstream, whose Envoy cluster the metrics name; the Gateway API: the canary's Service.
        parsed = change.router.read(self.app, change.route_object)
        upstream = getattr(parsed, "upstream", None)
        name = upstream.name if upstream is not None else f"{self.app}-{state.canary}"
        upstream_namespace = (upstream.namespace if upstream is not None else "") or self.namespace
        context = GateContext(
            app=self.app,
            namespace=self.namespace,
            primary=state.primary,
            canary=state.canary or "",
            weight=weight,
            upstream=name,
            upstream_namespace=upstream_namespace,
            window=f"{max(60, int(self.interval))}s",
        )
        failures = []
        for gate in self.gates:
            passed, detail = gate.check(context)
            self.invocation.say(f"  {'ok' if passed else 'FAILED'}: {detail}")
            if not passed:
                failures.append(detail)
        return failures

    def _fall_back(self, change: RouteChange, weight: Fraction, last_good: Fraction, reason: str) -> None:
        canary = change.after.canary
        message = f"gate failed at {format_percent(weight)}%: {reason}"
        self.invocation.record(change.route_object, "CanaryGateFailed", f"{message} by {who()}", warning=True,
                               app=self.app)
        if self.on_failure == "pause":
            self._apply(to_weight(last_good))
            self.applied.append(last_good)
            raise GateFailed(
                f"{message}; paused at {format_percent(last_good)}% (the last good step): fix the cause and run "
                f"the command again, or send everything back with: kubectl canary abort {self.app}"
            )
        back = self._apply(rollback, transition_name="abort")
        # The canary's Deployment is kept for inspection, and so is what the gateway needs to reach it.
        keep = frozenset({canary}) if canary else frozenset()
        backends_of(back.router).retire(self.invocation.cluster(), self.invocation, self.first_read, back, keep)
        raise GateFailed(
            f"{message}; all traffic is back on {back.after.primary}; deployment {self.app}-{canary} is kept "
            f"for inspection (delete it with: kubectl canary abort {self.app})"
        )


class GateFailed(CanaryError):
    """A gate stopped the rollout; the routes were already moved back."""
