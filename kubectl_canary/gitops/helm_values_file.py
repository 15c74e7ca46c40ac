"""`--helm-values FILE` (I/O): run a verb on a chart's values (the seed's, or the series' next) instead of the
cluster.

The file is read with the round-trip reader of manifest_files.py, the phase is read from it (helm_values.py)
and moved by the verb's plan, the one the cluster commands run (model/verb_plans.py), past the same guard
(workflow/route_updates.py: guard_moves, require_ready), and the changed values are written back by the same
writer as the manifests: only the lines whose values change move. Nothing is sent to a cluster, unless
--check-live asks for its Deployments' readiness.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kubectl_canary.errors import CanaryError, UsageError
from kubectl_canary.gitops.helm_values import NEXT, Values, dialect_of, state_of, values_for
from kubectl_canary.gitops.manifest_files import ManifestFile, changes_of, plain, read_file, write
from kubectl_canary.kube.cluster import connect
from kubectl_canary.model.events import describe
from kubectl_canary.model.manifests import deployment_name
from kubectl_canary.model.readiness import Readiness, readiness_of, taken_as_available
from kubectl_canary.model.resources import DEPLOYMENTS, Obj
from kubectl_canary.model.rollout import RolloutState, validate_name
from kubectl_canary.model.verb_plans import PLANS, VerbPlan
from kubectl_canary.workflow.invocation import Invocation
from kubectl_canary.workflow.route_updates import Deployments, guard_moves, require_ready

SKIPPED = "(needs the cluster; --check-live checks it there)"


def read_values(path: Path) -> ManifestFile:
    if not path.is_file():
        raise CanaryError(f"{path} not found; --helm-values names the values file of the seed's chart")
    values = read_file(path)
    if len([d for d in values.documents if d.node is not None]) != 1:
        raise CanaryError(f"{path}: a values file holds one YAML document")
    return values


def plan_of(args: argparse.Namespace) -> VerbPlan:
    """The verb's plan (model/verb_plans.py), as on the cluster and offline."""
    if args.command not in PLANS:
        raise UsageError(f"{args.command} does not work on Helm values (header, weight, finish, abort, shadow and "
                         "status do)")
    return PLANS[args.command](args)


class _NothingRuns:
    """Without --check-live no Deployment runs to ask: each one the guard asks for is taken as available, and
    the check is named as skipped."""

    def __init__(self) -> None:
        self.skipped: list[str] = []

    def live_deployment(self, namespace: str, name: str) -> Obj | None:
        self.skipped.append(f"deployment {name} is available")
        return taken_as_available({"apiVersion": "apps/v1", "kind": "Deployment",
                                   "metadata": {"name": name, "namespace": namespace}, "spec": {}})


def transition(plan: VerbPlan, invocation: Invocation, path: Path, values: Values, *, check_live: bool
               ) -> tuple[RolloutState, RolloutState, Values, list[str]]:
    """The verb's plan run on the values at `path`: the state before and after, the values that say it, and the
    checks skipped. The cluster commands' guard judges the Deployments (on the cluster with --check-live)."""
    before = state_of(values, plan.app, path)
    if plan.image and dialect_of(values, path) != NEXT:
        raise UsageError("--image has no place in the seed chart's values: set the image in the chart")
    after = plan.move(before)
    desired = values_for(values, before, after, keep=plan.kept(before), image=plan.image)
    shadowed = after.shadow.version if after.shadow and after.shadow != before.shadow else None
    declared = values.get("deployment")
    if shadowed is not None and isinstance(declared, dict) and shadowed not in declared:
        # Shadowing copies requests to a version the chart must already run, as `shadow` on a cluster asks.
        raise CanaryError(f"deployment.{shadowed} is not in the values, so {shadowed} has no pods to shadow to; "
                          f"add it first")
    offline = _NothingRuns()
    deployments: Deployments = offline
    namespace = invocation.namespace_flag or "default"
    if check_live:
        deployments, context_namespace = connect(invocation.connection, field_manager=invocation.field_manager,
                                                 dry_run="none")
        namespace = invocation.namespace_flag or context_namespace
    # The chart creates the canary's Deployment from these values (header): it counts as starting, as the one
    # `header` creates on a cluster.
    for warning in guard_moves(deployments, namespace, before, after, force=plan.force, starting=plan.starting):
        invocation.warn(warning)
    if shadowed is not None:
        require_ready(deployments, namespace, plan.app, shadowed, force=plan.force)
    return before, after, desired, offline.skipped


def run(args: argparse.Namespace, invocation: Invocation, path: Path, *, diff_only: bool, check_live: bool) -> int:
    """Run the verb `args.command` on the values file at `path`; write it (not with --diff or a dry run)."""
    app = validate_name(args.app, "app name") if args.app else None
    if app is None:
        raise UsageError("--helm-values needs APP: the values file does not name its app")
    values = read_values(path)
    document = next(d for d in values.documents if d.node is not None)
    if args.command == "status":
        before = state_of(plain(document.node), app, path)
        return _status(args, invocation, path, plain(document.node), before, check_live=check_live)
    plan = plan_of(args)
    _, after, desired, skipped = transition(plan, invocation, path, plain(document.node), check_live=check_live)
    if desired != plain(document.node):
        document.changed = desired
    changes = changes_of([values])
    for change in changes:
        invocation.out.write(change.diff(path.parent))
    invocation.say(f"{app}: {describe(after)}")
    if diff_only or invocation.dry_run != "none":
        invocation.say(f"{len(changes)} file(s) would change; nothing written")
    else:
        write(changes)
        invocation.say(f"{len(changes)} file(s) changed" if changes else "no file changed")
    for check in skipped:
        print(f"skipped: {check} {SKIPPED}", file=sys.stderr)
    return 0


def _status(args: argparse.Namespace, invocation: Invocation, path: Path, values: dict[str, object],
            state: RolloutState, *, check_live: bool) -> int:
    from kubectl_canary.commands.status import print_status
    from kubectl_canary.model.resources import ROUTE_TABLES
    from kubectl_canary.model.status_view import AppStatus
    from kubectl_canary.routers.gloo import route_table_name

    if args.watch:
        raise UsageError("--watch follows a cluster; a values file changes by commits")
    readiness: dict[str, Readiness | None] = {}
    deployments = values.get("deployment")
    declared = deployments if isinstance(deployments, dict) else {}
    live = None
    namespace = invocation.namespace_flag or "default"
    if check_live:
        live, context_namespace = connect(invocation.connection, field_manager=invocation.field_manager,
                                          dry_run="none")
        namespace = invocation.namespace_flag or context_namespace
    for version in [v for v in (state.primary, state.canary) if v]:
        name = deployment_name(state.app, version)
        if live is not None:
            deployment = live.get(DEPLOYMENTS, namespace, name)
            readiness[version] = None if deployment is None else readiness_of(deployment)
        elif version in declared:
            replicas = (declared[version] or {}).get("replicas", 1) if isinstance(declared[version], dict) else 1
            replicas = replicas if isinstance(replicas, int) else 1
            readiness[version] = Readiness(replicas, replicas)
            print(f"skipped: deployment {name} is available {SKIPPED}", file=sys.stderr)
        else:
            readiness[version] = None
    # The chart renders RouteTable RELEASE-routes to Upstream RELEASE (and shadow-VERSION) in the release's
    # namespace: the release is the app.
    backends = [f"{namespace}/{state.app}"] + ([f"{namespace}/shadow-{state.shadow.version}"] if state.shadow else [])
    status = AppStatus(state.app, namespace, path.name, state, readiness[state.primary],
                       readiness.get(state.canary or ""), None, router="helm-values", route_kind="values",
                       gateway="Helm", route_ref=f"{ROUTE_TABLES.display}/{route_table_name(state.app)}",
                       backends=tuple(backends))
    print_status(args, invocation, [status])
    return 1 if status.problems else 0
