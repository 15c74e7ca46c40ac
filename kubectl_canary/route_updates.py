"""Read the live rollout, compute the next one, write the RouteTable: the loop every verb shares.

Live objects -> RolloutState -> desired routes -> conditional apply. The apply carries the
resourceVersion the routes were computed from; when someone else wrote in between (409), the
whole computation runs again on the new object, a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kubectl_canary.cluster import DEPLOYMENTS, NAMESPACES, ROUTE_TABLES, UPSTREAMS, VIRTUAL_SERVICES, Cluster, Obj
from kubectl_canary.errors import ApiError, CanaryError, ForbiddenError
from kubectl_canary.gloo import (
    ParsedRoutes,
    gloo_state,
    parse_routes,
    render_routes,
    route_table_name,
    shadow_upstream_name,
)
from kubectl_canary.gloo_delegation import Delegation, delegations_to
from kubectl_canary.managed_fields import apply_body, is_one_off_edit, owners_of
from kubectl_canary.manifests import deployment_name
from kubectl_canary.readiness import availability_of, readiness_of
from kubectl_canary.rollout import Availability, RolloutState, check_moves, versions_gaining

ATTEMPTS = 5
# Written with every route change: which command made it. A finish or abort whose deletion step
# lost its answer is recognised on a re-run by it, and ends with exit 0 instead of "no canary".
LAST_TRANSITION = "kubectl-canary.io/last-transition"


@dataclass(frozen=True)
class RouteChange:
    before: RolloutState
    after: RolloutState
    route_table: Obj
    changed: bool
    # Gloo's verdict on the written routes, when waited for (--gloo-timeout) and reported in time.
    gloo_state: str | None = None
    gloo_reason: str = ""
    # Gloo's verdict as it stood before the command: on the routes someone wrote earlier.
    earlier_gloo_state: str | None = None
    earlier_gloo_reason: str = ""


def read_rollout(cluster: Cluster, namespace: str, app: str) -> tuple[Obj, ParsedRoutes]:
    """The live RouteTable of `app` and the rollout read from it."""
    name = route_table_name(app)
    route_table = cluster.get(ROUTE_TABLES, namespace, name)
    if route_table is None:
        if not namespace_exists(cluster, namespace):
            raise CanaryError(f"namespace {namespace} not found; pick one with -n NAMESPACE")
        raise CanaryError(
            f"app {app} not found in namespace {namespace} (no RouteTable {name}); "
            f"create it with: kubectl canary init {app} -n {namespace}"
        )
    return route_table, parse_routes(app, (route_table.get("spec") or {}).get("routes") or [])


def namespace_exists(cluster: Cluster, namespace: str) -> bool:
    """Namespaces are cluster-scoped: a namespaced Role cannot read them, so 403 counts as "exists"."""
    try:
        return cluster.get(NAMESPACES, None, namespace) is not None
    except ForbiddenError:
        return True


def delegations_or_none(cluster: Cluster, route_table: Obj) -> list[Delegation] | None:
    """The VirtualServices that route to `route_table`; None when we may not list them (403)."""
    try:
        virtual_services = cluster.list(VIRTUAL_SERVICES, None)
    except ForbiddenError:
        return None
    return delegations_to(route_table, virtual_services)


def require_ready(cluster: Cluster, namespace: str, app: str, version: str, *, force: bool) -> None:
    """Refuse to send users to a version whose Deployment is missing (whatever --force says) or not ready."""
    name = deployment_name(app, version)
    deployment = cluster.get(DEPLOYMENTS, namespace, name)
    if deployment is None:
        raise CanaryError(
            f"deployment {name} not found in namespace {namespace}, so {version} has no pods to serve traffic; "
            f"recreate it with: kubectl canary header {app} {version}"
        )
    readiness = readiness_of(deployment)
    if not readiness.is_ready and not force:
        raise CanaryError(
            f"deployment {name} has {readiness} ready replicas, so {version} cannot serve traffic yet; "
            f"wait (kubectl rollout status deployment/{name} -n {namespace}) or pass --force"
        )


def update_routes(
    cluster: Cluster,
    namespace: str,
    app: str,
    plan: Callable[[RolloutState], RolloutState],
    *,
    force_conflicts: bool = False,
    first_read: tuple[Obj, ParsedRoutes] | None = None,
    gloo_timeout: float = 0,
    transition: str = "",
    force: bool = False,
    starting: frozenset[str] = frozenset(),
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
    for _ in range(ATTEMPTS):
        route_table, parsed = first_read or read_rollout(cluster, namespace, app)
        first_read = None
        desired = plan(parsed.state)
        live_routes = route_table["spec"]["routes"]
        routes = render_routes(live_routes, parsed, desired)
        earlier = gloo_state(route_table)
        if routes == live_routes:
            return RouteChange(parsed.state, desired, route_table, False, None, "", *earlier)
        check_route_owners(route_table, cluster.field_manager, force_conflicts=force_conflicts)
        guard_moves(cluster, namespace, parsed.state, desired, force=force, starting=starting)
        changes: Obj = {"spec": {"routes": routes}}
        if transition:
            changes["metadata"] = {"annotations": {LAST_TRANSITION: transition}}
        body = apply_body(route_table, cluster.field_manager, changes)
        try:
            written = cluster.apply(body, force=force_conflicts)
        except ApiError as error:
            if error.is_stale_write:
                continue
            if error.conflicting_managers:
                raise _owned_elsewhere(route_table_name(app), error.conflicting_managers) from None
            raise
        state, reason = await_gloo_verdict(cluster, route_table, written, gloo_timeout)
        if state == "Rejected":
            raise CanaryError(
                f"Gloo rejected RouteTable {route_table_name(app)}: {reason or 'no reason given'}; the routes were "
                f"written, so fix the cause or return to the stable routes with: kubectl canary abort {app}"
            )
        return RouteChange(parsed.state, desired, written, True, state, reason, *earlier)
    raise CanaryError(
        f"RouteTable {route_table_name(app)} changed {ATTEMPTS} times while it was being updated; "
        f"find out who else writes it, then run the command again"
    )


def guard_moves(
    cluster: Cluster,
    namespace: str,
    before: RolloutState,
    after: RolloutState,
    *,
    force: bool,
    starting: frozenset[str] = frozenset(),
) -> None:
    """Read the Deployments of the versions that would gain traffic (only those), then `check_moves`."""
    availability: dict[str, Availability] = {}
    detail: dict[str, str] = {}
    for version in versions_gaining(before, after):
        if version in starting:
            availability[version] = Availability.UNAVAILABLE
            continue
        deployment = cluster.get(DEPLOYMENTS, namespace, deployment_name(after.app, version))
        availability[version] = availability_of(deployment)
        if deployment is not None:
            detail[version] = str(readiness_of(deployment))
    check_moves(before, after, availability, force=force, detail=detail)


def await_gloo_verdict(cluster: Cluster, before: Obj, written: Obj, timeout: float) -> tuple[str | None, str]:
    """Gloo's state of the RouteTable once it has reported on `written`.

    Only when asked and when Gloo reported on the table before (so it watches it). Gloo rewrites
    the status only when the verdict changes, so no news within `timeout` means the previous
    verdict stands.
    """
    verdict = gloo_state(before)
    if verdict[0] is None or timeout <= 0 or cluster.dry_run != "none":
        return None, ""
    meta = written["metadata"]
    for _, obj in cluster.watch(ROUTE_TABLES, meta["namespace"], meta["name"], meta["resourceVersion"], timeout):
        if (obj.get("status") or {}) != (before.get("status") or {}):
            return gloo_state(obj)
    return verdict


def check_route_owners(route_table: Obj, manager: str, *, force_conflicts: bool) -> None:
    """Refuse before any write when another field manager owns the routes: the apply would conflict."""
    others = [m for m in owners_of(route_table, ("spec", "routes")) if m != manager]
    if others and not force_conflicts:
        raise _owned_elsewhere(route_table["metadata"]["name"], others)


def _owned_elsewhere(name: str, managers: list[str]) -> CanaryError:
    who = ", ".join(f'"{m}"' for m in managers)
    if all(is_one_off_edit(m) for m in managers):
        return CanaryError(
            f"the routes of RouteTable {name} were last changed by {who}, a one-off edit (no tool will revert "
            f"it); take them over once with --force-conflicts"
        )
    return CanaryError(
        f"the routes of RouteTable {name} are managed by {who}, which will undo changes made here "
        f"(GitOps tools and Helm revert them); change them there, or take them over with --force-conflicts"
    )


def remove_leftovers(cluster: Cluster, namespace: str, app: str, keep: str) -> list[str]:
    """Delete the app's Deployments (ours, by label) of versions other than `keep`.

    What a finish or abort that failed after its route change left behind: re-running the command
    finishes the job.
    """
    selector = f"app={app},app.kubernetes.io/managed-by=kubectl-canary"
    removed = []
    for deployment in cluster.list(DEPLOYMENTS, namespace, selector):
        name = deployment["metadata"]["name"]
        if name != deployment_name(app, keep) and cluster.delete(DEPLOYMENTS, namespace, name):
            removed.append(name)
    return removed


def remove_shadow_upstream(cluster: Cluster, change: RouteChange, namespace: str) -> str | None:
    """After the routes stopped shadowing to it, the shadow Upstream goes too; its name if deleted."""
    shadow = change.before.shadow
    if shadow is None or change.after.shadow == shadow:
        return None
    name = shadow_upstream_name(change.after.app, shadow.version)
    return name if cluster.delete(UPSTREAMS, namespace, name) else None


def last_transition(route_table: Obj) -> str:
    return str(((route_table.get("metadata") or {}).get("annotations") or {}).get(LAST_TRANSITION) or "")


def complete_earlier_run(
    cluster: Cluster, namespace: str, first_read: tuple[Obj, ParsedRoutes], verb: str, *, delete: bool
) -> list[str] | None:
    """Re-running a finish or abort whose route change is done: delete what is left, if anything.

    None when the routes do not show that `verb` already happened (then the command runs normally
    and refuses a stable app with no canary).
    """
    route_table, parsed = first_read
    if parsed.state.canary is not None or last_transition(route_table) != verb:
        return None
    return remove_leftovers(cluster, namespace, parsed.state.app, keep=parsed.state.primary) if delete else []
