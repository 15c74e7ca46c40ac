"""Read the live rollout, compute the next one, write the route object: the loop every verb shares.

Live objects -> RolloutState -> desired routes -> conditional apply, through the app's router (a Gloo
RouteTable or a Gateway API HTTPRoute). The apply carries the resourceVersion the routes were computed
from; when someone else wrote in between (409), the whole computation runs again on the new object, a
bounded number of times.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from kubectl_canary.errors import ApiError, CanaryError
from kubectl_canary.gitops.gitops_owner import owner_of as gitops_owner
from kubectl_canary.kube.cluster import Cluster
from kubectl_canary.model.app_names import APPS_ANNOTATION, RECORD_LABEL, AppNames, record
from kubectl_canary.model.managed_fields import KUBECTL_ONE_OFF, apply_body, is_one_off_edit, owner_entries, owners_of
from kubectl_canary.model.readiness import judge
from kubectl_canary.model.resources import DEPLOYMENTS, Obj
from kubectl_canary.model.rollout import Direction, Judgement, RolloutState, check_moves, moves
from kubectl_canary.routers import read_rollout
from kubectl_canary.routers.seam import NO_VERDICT, LiveRollout, RouteChange, Verdict

ATTEMPTS = 5
# Helm's trace on the objects of a release: its next upgrade puts the routes back, whoever edited them since.
HELM_RELEASE = "meta.helm.sh/release-name"
# Written with every route change: which command made it. A finish or abort whose deletion step
# lost its answer is recognised on a re-run by it, and ends with exit 0 instead of "no canary".
LAST_TRANSITION = "kubectl-canary.io/last-transition"


class Deployments(Protocol):
    """Where the guards read a Deployment as it runs: a Cluster (the files' objects, taken as available, when
    offline: manifest_cluster.py), or for --helm-values the cluster with --check-live, else nothing that runs."""

    def live_deployment(self, namespace: str, name: str) -> Obj | None: ...


def require_ready(deployments: Deployments, namespace: str, app: str, version: str, *, force: bool,
                  names: AppNames | None = None) -> None:
    """Refuse to send users to a version whose Deployment is missing (whatever --force says), or that cannot
    take traffic moving toward it (readiness.judge)."""
    name = (names or AppNames()).deployment_of(app, version)
    judgement = judge(name, version, deployments.live_deployment(namespace, name), Direction.TOWARD)
    if judgement.missing:
        raise CanaryError(
            f"deployment {name} not found in namespace {namespace}, so {version} has no pods to serve traffic; "
            f"recreate it with: kubectl canary header {app} {version}"
        )
    if judgement.refusal and not force:
        raise CanaryError(judgement.refusal)


def update_routes(
    cluster: Cluster,
    namespace: str,
    app: str,
    plan: Callable[[RolloutState], RolloutState],
    *,
    force_conflicts: bool = False,
    first_read: LiveRollout | None = None,
    router: str | None = None,
    gloo_timeout: float = 0,
    transition: str = "",
    force: bool = False,
    starting: frozenset[str] = frozenset(),
    names: AppNames | None = None,
) -> RouteChange:
    """Move the app's routes to `plan(live state)`; no write when they are already there.

    `plan` runs again after every conflict, so its checks see the object that is actually written
    over. Every change passes the guards by direction (`check_moves`): traffic moves only toward
    Deployments that exist and (unless `force`) are available. `starting` names versions the
    command itself has just created (or, in a dry run, would have): they count as existing but not
    yet available, without another GET. `first_read` saves the first
    GET when the caller has just read.

    Gloo's verdict is awaited only when asked (`gloo_timeout` > 0): Gloo rewrites its status only
    when the verdict changes and the status has no observedGeneration, so after a write that stays
    Accepted nothing ever arrives and a wait would last its whole timeout. Without a wait, a
    rejection is still seen: by the next command (the verdict it reads before writing) and by
    `status`, which exits 1.
    """
    live: LiveRollout | None = None
    for _ in range(ATTEMPTS):
        live = first_read or read_rollout(cluster, namespace, app, router, names)
        router = live.router.name  # a re-read after a conflict stays on the same gateway
        names = live.names  # ... and on the same route table
        first_read = None
        desired = plan(live.state)
        live_routes = live.router.routes_of(live.obj)
        routes = live.render(desired)
        earlier = live.router.verdict(live.obj)
        recorded = _record(live, desired)
        if routes == live_routes and recorded is None:
            return RouteChange(live.state, desired, live.obj, False, live.router, earlier=earlier)
        check_route_owners(live, cluster.field_manager, force_conflicts=force_conflicts)
        warnings: list[str] = []
        for before in dict.fromkeys(live.parsed.route_states):  # a degraded app's routes each move their own way
            warnings += guard_moves(cluster, namespace, before, desired, force=force, starting=starting,
                                    names=live.names)
        changes: Obj = {"spec": {live.router.list_field: routes}}
        annotations = {LAST_TRANSITION: transition} if transition else {}
        if recorded is not None:
            annotations[APPS_ANNOTATION] = recorded
        if annotations:
            changes["metadata"] = {"annotations": annotations}
        if recorded is not None:
            changes["metadata"]["labels"] = {RECORD_LABEL: "true"}
        body = apply_body(live.obj, cluster.field_manager, changes)
        try:
            written = cluster.apply(body, force=force_conflicts)
        except ApiError as error:
            if error.is_stale_write:
                continue
            if error.conflicting_managers:
                raise _owned_elsewhere(live, error.conflicting_managers) from None
            raise
        verdict = await_verdict(cluster, live, written, gloo_timeout)
        if verdict.state == "Rejected":
            kind, name = live.router.resource.kind, written["metadata"]["name"]
            raise CanaryError(
                f"{live.router.gateway} rejected {kind} {name}: {verdict.reason or 'no reason given'}; the routes "
                f"were written, so fix the cause or return to the stable routes with: kubectl canary abort {app}"
            )
        return RouteChange(live.state, desired, written, True, live.router, verdict, earlier,
                           tuple(dict.fromkeys(warnings)))  # once each, however many routes it concerns
    assert live is not None
    raise CanaryError(
        f"{live.router.resource.kind} {live.obj['metadata']['name']} changed {ATTEMPTS} times while it was being "
        f"updated; find out who else writes it, then run the command again"
    )


def _record(live: LiveRollout, desired: RolloutState) -> str | None:
    """The new value of the route object's record of app names, when it changes."""
    route_name, route_names = None, live.names.route_names
    if live.router.name == "gloo" and not route_names and len(live.parsed.routes) == 1:
        # An app of one route keeps to it by name; one of several routes is found by its upstream, so a
        # route added to that upstream later is the app's too. Gloo finds routes by name or upstream.
        name = live.router.routes_of(live.obj)[live.parsed.primary_index].get("name")
        route_name = None if name in (None, f"{desired.app}-primary") else str(name)
    versions = tuple(v for v in (desired.primary, desired.canary) if v)
    return record(live.obj, desired.app, live.names, route_name, versions, live.router.object_name(desired.app),
                  route_names)


def guard_moves(
    deployments: Deployments,
    namespace: str,
    before: RolloutState,
    after: RolloutState,
    *,
    force: bool,
    starting: frozenset[str] = frozenset(),
    names: AppNames | None = None,
) -> list[str]:
    """Read the Deployments of the versions that would gain traffic (only those), judge each for the way the
    traffic moves (readiness.judge), then `check_moves`; the warnings to show."""
    judgements: dict[str, Judgement] = {}
    for version, direction in moves(before, after).items():
        name = (names or AppNames()).deployment_of(after.app, version)
        if version in starting:  # just created by this command: it exists, and is not available yet
            refusal = "" if direction is Direction.HEADER else (
                f"deployment {name} was just created, so {version} cannot serve traffic yet")
            judgements[version] = Judgement(name, refusal=refusal)
            continue
        judgements[version] = judge(name, version, deployments.live_deployment(namespace, name), direction)
    return check_moves(before, after, judgements, force=force)


def await_verdict(cluster: Cluster, live: LiveRollout, written: Obj, timeout: float) -> Verdict:
    """The gateway's verdict once it has reported on `written`; only when asked (`timeout` > 0).

    Gloo: only when it reported on the table before (so it watches it); it rewrites the status only
    when the verdict changes, so no news within `timeout` means the previous verdict stands. The
    Gateway API: its conditions carry the generation they judged, so the wait ends exactly when the
    gateway has processed the change.
    """
    router = live.router
    before = router.verdict(live.obj)
    if timeout <= 0 or cluster.dry_run != "none" or (not router.exact_verdict and before.state is None):
        return NO_VERDICT
    if router.reported(live.obj, written):
        return router.verdict(written)
    meta = written["metadata"]
    for _, obj in cluster.watch(router.resource, meta["namespace"], meta["name"], meta["resourceVersion"], timeout):
        if router.reported(live.obj, obj):
            return router.verdict(obj)
    return Verdict("Pending", f"not processed within {timeout:g}s") if router.exact_verdict else before


def check_route_owners(live: LiveRollout, manager: str, *, force_conflicts: bool) -> None:
    """Refuse before any write when another field manager owns the routes: the apply would conflict."""
    others = [m for m in owners_of(live.obj, ("spec", live.router.list_field)) if m != manager]
    if others and not force_conflicts:
        raise _owned_elsewhere(live, others)


def _owned_elsewhere(live: LiveRollout, managers: list[str]) -> CanaryError:
    who = ", ".join(f'"{m}"' for m in managers)
    what = f"{live.router.resource.kind} {live.obj['metadata']['name']}"
    if all(is_one_off_edit(m) for m in managers):
        return CanaryError(
            f"the routes of {what} were last changed by {who}, a one-off edit (no tool will revert "
            f"it); take them over once with --force-conflicts"
        )
    return CanaryError(
        f"the routes of {what} are managed by {who}, which will undo changes made here "
        f"(GitOps tools and Helm revert them); change them there, or take them over with --force-conflicts"
    )


def take_over(live: LiveRollout, manager: str, *, force_conflicts: bool) -> list[str]:
    """`adopt`, the take-over: the one-off edits (kubectl apply, client-side or --server-side, edit, patch, ...)
    whose routes it writes over, as `"manager" (command)`; empty when nobody else owns them.

    Refused before any write (unless `force_conflicts`) when something that reconciles owns the routes:
    Helm, Argo CD, Flux or any other manager, or the object carries a GitOps controller's or Helm's traces
    (whoever last edited it by hand, that owner puts its routes back at its next sync or upgrade).
    """
    entries = [(m, op) for m, op in owner_entries(live.obj, ("spec", live.router.list_field)) if m != manager]
    reconciling = [f'"{m}"' for m, op in entries if (m, op) not in KUBECTL_ONE_OFF]
    if (owner := gitops_owner(live.obj)) is not None:
        reconciling.append(f"{owner.tool} ({owner.owner}; {owner.trace})")
    meta = live.obj.get("metadata") or {}
    if (release := (meta.get("annotations") or {}).get(HELM_RELEASE)) is not None:
        reconciling.append(f"Helm (release {release}; annotation {HELM_RELEASE})")
    if reconciling and not force_conflicts:
        what = f"{live.router.resource.kind} {meta.get('name')}"
        raise CanaryError(
            f"the routes of {what} are managed by {', '.join(reconciling)}, which will undo changes made here; "
            f"adopt takes over only routes last changed by hand (kubectl apply, edit, patch): change them in Git "
            f"instead (--local -f PATH, GitOps mode), or take them over with --force-conflicts"
        )
    return [f'"{m}" ({KUBECTL_ONE_OFF.get((m, op), op)})' for m, op in entries]


def remove_leftovers(cluster: Cluster, namespace: str, app: str, keep: str, names: AppNames | None = None
                     ) -> list[str]:
    """Delete the app's Deployments (ours, by label) of versions other than `keep`.

    What a finish or abort that failed after its route change left behind: re-running the command
    finishes the job.
    """
    selector = f"app={app},app.kubernetes.io/managed-by=kubectl-canary"
    removed = []
    for deployment in cluster.list(DEPLOYMENTS, namespace, selector):
        name = deployment["metadata"]["name"]
        if name != (names or AppNames()).deployment_of(app, keep) and cluster.delete(DEPLOYMENTS, namespace, name):
            removed.append(name)
    return removed


def last_transition(route_object: Obj) -> str:
    return str(((route_object.get("metadata") or {}).get("annotations") or {}).get(LAST_TRANSITION) or "")


def complete_earlier_run(
    cluster: Cluster, namespace: str, first_read: LiveRollout, verb: str, *, delete: bool
) -> list[str] | None:
    """Re-running a finish or abort whose route change is done: delete what is left, if anything.

    None when the routes do not show that `verb` already happened (then the command runs normally
    and refuses a stable app with no canary).
    """
    if first_read.state.canary is not None or last_transition(first_read.obj) != verb:
        return None
    state = first_read.state
    return remove_leftovers(cluster, namespace, state.app, keep=state.primary, names=first_read.names) if delete else []
