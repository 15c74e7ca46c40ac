"""`--helm-values FILE` (I/O): run a verb on a chart's values (the seed's, or the series' next) instead of the
cluster.

The file is read with the round-trip reader of manifest_files.py, the phase is read from it and moved
with the rollout's pure transitions (helm_values.py, rollout.py), and the changed values are written back
by the same writer as the manifests: only the lines whose values change move. Nothing is sent to a
cluster, unless --check-live asks for its Deployments' readiness.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from kubectl_canary.errors import CanaryError, UsageError
from kubectl_canary.gitops.helm_values import NEXT, dialect_of, state_of, values_for
from kubectl_canary.gitops.manifest_files import ManifestFile, changes_of, plain, read_file, write
from kubectl_canary.kube.cluster import connect
from kubectl_canary.model.events import describe
from kubectl_canary.model.manifests import deployment_name
from kubectl_canary.model.readiness import Readiness, judge, readiness_of
from kubectl_canary.model.resources import DEPLOYMENTS
from kubectl_canary.model.rollout import (
    DEFAULT_HEADER,
    Judgement,
    RolloutState,
    check_moves,
    moves,
    parse_header,
    parse_percent,
    parse_shadow_percent,
    promote,
    rollback,
    shift_weight,
    start_canary,
    start_shadow,
    stop_shadow,
    validate_name,
    validate_version,
    versions_gaining,
)
from kubectl_canary.workflow.invocation import Invocation

SKIPPED = "(needs the cluster; --check-live checks it there)"


def read_values(path: Path) -> ManifestFile:
    if not path.is_file():
        raise CanaryError(f"{path} not found; --helm-values names the values file of the seed's chart")
    values = read_file(path)
    if len([d for d in values.documents if d.node is not None]) != 1:
        raise CanaryError(f"{path}: a values file holds one YAML document")
    return values


def transition_of(args: argparse.Namespace, app: str, dialect: str
                ) -> tuple[Callable[[RolloutState], RolloutState], str | None]:
    """The verb's pure transition, and the new canary's image (--image: the next chart's dialect only)."""
    if args.command == "header":
        version = validate_version(app, args.canary_version)
        if args.image and dialect != NEXT:
            raise UsageError("--image has no place in the seed chart's values: set the image in the chart")
        headers = tuple(parse_header(h) for h in args.header) or (DEFAULT_HEADER,)
        return (lambda state: start_canary(state, version, headers)), args.image
    if args.command == "weight":
        percent = parse_percent(args.percent)
        return (lambda state: shift_weight(state, percent)), None
    if args.command == "finish":
        return promote, None
    if args.command == "abort":
        return rollback, None
    if args.command == "shadow":
        if args.off == bool(args.shadow_version):
            raise UsageError("give either VERSION (to start shadowing) or --off")
        if args.off:
            return stop_shadow, None
        shadow_version = validate_version(app, args.shadow_version)
        shadow_percent = parse_shadow_percent(args.percent)
        return (lambda state: start_shadow(state, shadow_version, shadow_percent)), None
    raise UsageError(f"{args.command} does not work on Helm values (header, weight, finish, abort, shadow and status "
                     "do)")


def _kept(args: argparse.Namespace, before: RolloutState) -> frozenset[str]:
    if args.command == "finish" and args.keep_old:
        return frozenset({before.primary})
    if args.command == "abort" and args.keep_canary and before.canary:
        return frozenset({before.canary})
    return frozenset()


def check_readiness(args: argparse.Namespace, invocation: Invocation, before: RolloutState, after: RolloutState,
           plain_values: dict[str, object], *, check_live: bool) -> list[str]:
    """The readiness guard of the cluster commands, against the cluster with --check-live; else what was skipped."""
    gaining = versions_gaining(before, after)
    shadowed = after.shadow.version if after.shadow and after.shadow != before.shadow else None
    if shadowed is not None:
        # Shadowing copies requests to a version the chart must already run, as `shadow` on a cluster asks.
        declared = plain_values.get("deployment")
        if isinstance(declared, dict) and shadowed not in declared:
            raise CanaryError(f"deployment.{shadowed} is not in the values, so {shadowed} has no pods to shadow to; "
                              f"add it first")
    if not check_live:
        needed = [*gaining, shadowed] if shadowed else gaining
        return [f"deployment {deployment_name(after.app, v)} is available" for v in needed]
    cluster, namespace = connect(invocation.connection, field_manager=invocation.field_manager, dry_run="none")
    namespace = invocation.namespace_flag or namespace
    judgements: dict[str, Judgement] = {}
    for version, direction in moves(before, after).items():
        name = deployment_name(after.app, version)
        deployment = cluster.get(DEPLOYMENTS, namespace, name)
        if deployment is None and args.command == "header":
            # The chart creates the canary's Deployment with these values: header requests may wait for it.
            judgements[version] = Judgement(name)
        else:
            judgements[version] = judge(name, version, deployment, direction)
    for warning in check_moves(before, after, judgements, force=getattr(args, "force", False)):
        invocation.warn(warning)
    if shadowed is not None:
        deployment = cluster.get(DEPLOYMENTS, namespace, deployment_name(after.app, shadowed))
        if deployment is None or (not readiness_of(deployment).takes_new_traffic and not args.force):
            what = "not found" if deployment is None else f"has {readiness_of(deployment)} ready replicas"
            raise CanaryError(f"deployment {deployment_name(after.app, shadowed)} {what}, so {shadowed} cannot take "
                              f"the shadowed requests yet; wait, or pass --force")
    return []


def run(args: argparse.Namespace, invocation: Invocation, path: Path, *, diff_only: bool, check_live: bool) -> int:
    """Run the verb `args.command` on the values file at `path`; write it (not with --diff or a dry run)."""
    app = validate_name(args.app, "app name") if args.app else None
    if app is None:
        raise UsageError("--helm-values needs APP: the values file does not name its app")
    values = read_values(path)
    document = next(d for d in values.documents if d.node is not None)
    before = state_of(plain(document.node), app, path)
    if args.command == "status":
        return _status(args, invocation, path, plain(document.node), before, check_live=check_live)
    plan, image = transition_of(args, app, dialect_of(plain(document.node), path))
    after = plan(before)
    desired = values_for(plain(document.node), before, after, keep=_kept(args, before), image=image)
    skipped = check_readiness(args, invocation, before, after, plain(document.node), check_live=check_live)
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
