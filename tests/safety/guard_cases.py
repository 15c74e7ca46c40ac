"""The guards by direction, command by command: the cases of docs/guard-table.md.

Every command that moves traffic (header v2, weight up, weight down, finish, abort) runs on a fresh
fake API server after its setup, on each router (a Gloo RouteTable, a Gateway API HTTPRoute), with the
primary's and the canary's Deployments each missing, unavailable (0 available replicas) or available
(2 x 5 x 9 = 90 cases), then with one of them in a partial state as the Deployment controller reports
it, the other available (2 x 5 x 3 x 2 = 60 cases): 1 of 2 replicas ready (below the minimum
availability of 2: maxUnavailable 25% of 2 rounds down to 0), a rollout in progress (one new pod
starting, the two old ones serving: Available), and a rollout past its progress deadline (the same,
ProgressDeadlineExceeded). Each outcome is the exit code, the first line of stderr (the first warning
when it succeeds), and where the traffic went. Invariant: no command moves traffic (a larger share, or
the header requests) toward a version whose Deployment is missing. Moving traffic away from a missing
version is allowed: it shrinks an outage (weight 10 with the canary gone keeps 10% there).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from kubectl_canary.model.manifests import canary_deployment
from kubectl_canary.model.rollout import RolloutState, format_percent, traffic_shares, versions_gaining
from kubectl_canary.routers import GATEWAY_API, GLOO
from kubectl_canary.routers.seam import Router
from tests.fake_apiserver import FakeApiServer
from tests.safety.fault_cases import APP, HEADER, INIT, NAMESPACE, Scenario, prepared, run_plugin

TABLE_PATH = Path(__file__).resolve().parents[2] / "docs" / "guard-table.md"
STATES = ("missing", "unavailable", "available")
ONE_OF_TWO, ROLLING, STUCK = "1 of 2 ready", "rollout in progress", "ProgressDeadlineExceeded"
PARTIAL_STATES = (ONE_OF_TWO, ROLLING, STUCK)
WEIGHT_50 = ("weight", APP, "50")
# init on the Gateway API router: attached to a Gateway the guards do not need (only its name).
INITS = {GLOO: INIT, GATEWAY_API: (*INIT, "--router", "gateway-api", "--gateway", "infra/public")}


def commands(init: tuple[str, ...]) -> tuple[tuple[str, tuple[tuple[str, ...], ...], tuple[str, ...]], ...]:
    """(what the row says, setup, command) of the five commands that move traffic."""
    return (
        ("header v2", (init,), HEADER),
        ("weight 50 (up, from the header phase)", (init, HEADER), WEIGHT_50),
        ("weight 10 (down, from 50%)", (init, HEADER, WEIGHT_50), ("weight", APP, "10")),
        ("finish (from 50%)", (init, HEADER, WEIGHT_50), ("finish", APP)),
        ("abort (from 50%)", (init, HEADER, WEIGHT_50), ("abort", APP)),
    )


@dataclass(frozen=True)
class GuardOutcome:
    router: str
    command: str
    primary: str
    canary: str
    code: int
    message: str
    warning: str
    before: str
    after: str
    violations: tuple[str, ...]

    @property
    def moved(self) -> bool:
        return self.before != self.after


def _where(state: RolloutState) -> str:
    split = ", ".join(f"{format_percent(s)}% {v}" for v, s in traffic_shares(state).items())
    header = f"; header to {state.canary}" if state.canary and state.headers else ""
    return split + header


def _routes(api: FakeApiServer, router: Router) -> RolloutState:
    route_object = api.get(router.resource.plural, NAMESPACE, router.object_name(APP))
    assert route_object is not None
    return router.read(APP, route_object).state


def _set(api: FakeApiServer, version: str, state: str) -> None:
    name = f"{APP}-{version}"
    live = api.get("deployments", NAMESPACE, name)
    if state == "missing":
        if live is not None:
            api.delete("deployments", NAMESPACE, name)
        return
    if live is None:  # a canary the setup did not create yet (header): as if deployed beforehand
        primary = api.get("deployments", NAMESPACE, f"{APP}-v1")
        assert primary is not None
        live = api.create(canary_deployment(primary, APP, version, None), manager="kubectl-canary")
    if state in PARTIAL_STATES:  # two replicas, scaled by hand
        live["spec"]["replicas"] = 2
        api.replace({k: v for k, v in live.items() if k != "status"}, manager="kubectl-scale")
    if state == ONE_OF_TWO:
        api.set_deployment_status(NAMESPACE, name, ready=1)
    elif state in (ROLLING, STUCK):  # one pod of the new template starting, the two old ones serving
        api.set_deployment_status(NAMESPACE, name, updated=1, ready=0, old=2, stuck=state == STUCK)
    else:
        api.set_deployment_ready(NAMESPACE, name, 0 if state == "unavailable" else None)


def run_case(
    router: Router, command: str, setup: tuple[tuple[str, ...], ...], args: tuple[str, ...], primary: str,
    canary: str,
) -> GuardOutcome:
    scenario = Scenario(command, setup, args, (), ())
    with prepared(scenario) as (api, kubeconfig):
        api.auto_ready = False  # from here on, readiness is what the case says
        _set(api, "v2", canary)  # first: a canary made up for `header` is cloned from the primary
        _set(api, "v1", primary)
        before = _routes(api, router)
        result = run_plugin(kubeconfig, args)
        after = _routes(api, router)
        existing = {d["metadata"]["name"] for d in api.list("deployments", NAMESPACE)}
    violations = [
        f"moves traffic to {version}, whose Deployment is missing"
        for version in versions_gaining(before, after)
        if f"{APP}-{version}" not in existing
    ]
    message = result.err.strip().splitlines()[0] if result.code else ""
    warning = next((line for line in result.err.splitlines() if line.startswith("warning: ")), "")
    return GuardOutcome(
        router.name, command, primary, canary, result.code, message, warning, _where(before), _where(after),
        tuple(violations),
    )


def _states() -> list[tuple[str, str]]:
    """(primary, canary): every pair of the three plain states, then each partial state beside an available one."""
    return [*itertools.product(STATES, STATES),
            *((partial, "available") for partial in PARTIAL_STATES),
            *(("available", partial) for partial in PARTIAL_STATES)]


def run_all() -> list[GuardOutcome]:
    return [
        run_case(router, command, setup, args, primary, canary)
        for router, init in INITS.items()
        for (command, setup, args), (primary, canary) in itertools.product(commands(init), _states())
    ]


def render_table(outcomes: list[GuardOutcome]) -> str:
    lines = [
        "# Guards by direction",
        "",
        "Generated by `scripts/guard_table.py` from `tests/safety/guard_cases.py`; `tests/safety/test_guard_table.py`",
        "fails when it is stale. Each command runs on a fresh fake API server after its setup, on each router",
        "(gloo: a RouteTable; gateway-api: an HTTPRoute, the same guards through the same code), with the",
        "Deployments of the primary (v1) and the canary (v2) missing, unavailable (0 of 1 available replicas) or",
        "available, and then one of them in a partial state as the Deployment controller reports it, the other",
        f"available: `{ONE_OF_TWO}` (2 replicas, 1 available: below the minimum availability of 2, as",
        "maxUnavailable 25% of 2 rounds down to 0), `" + ROLLING + "` (a new pod template: 1 pod of it starting,",
        "the 2 old pods serving, so the Deployment is Available), `" + STUCK + "` (the same rollout past its",
        "progress deadline).",
        "",
        "Traffic without the header moves *toward* a version (weight up, finish) only when its Deployment is",
        "Available at its current generation, with no rollout in progress or stuck; it moves *back* to the primary",
        "(weight down, abort) when the primary has at least one available replica, with a warning below its",
        "minimum availability. `--force` overrides availability, never existence; the header route may point",
        "at a canary still starting, never at a missing one. No row moves traffic toward a missing Deployment;",
        "moving it away from one (weight down with the canary gone) is allowed, as it shrinks the outage.",
        "",
        "| router | command | primary v1 | canary v2 | outcome | traffic before | traffic after |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        outcome = "moved" if o.code == 0 and o.moved else ("unchanged" if o.code == 0 else f"refused: `{o.message}`")
        if o.code == 0 and o.warning:
            outcome += f", `{o.warning}`"
        lines.append(f"| {o.router} | {o.command} | {o.primary} | {o.canary} | {outcome} | {o.before} | {o.after} |")
    return "\n".join(lines) + "\n"
