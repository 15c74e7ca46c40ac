"""`kubectl canary adopt APP VERSION`: an app the team already runs becomes one the plugin can roll out."""

from __future__ import annotations

import argparse

from kubectl_canary.commands import Command
from kubectl_canary.errors import ApiError, CanaryError
from kubectl_canary.kube.cluster import Cluster
from kubectl_canary.kube.permissions import needs
from kubectl_canary.model.app_names import APPS_ANNOTATION, RECORD_LABEL, AppNames, record, recorded_names
from kubectl_canary.model.durations import parse_duration
from kubectl_canary.model.managed_fields import apply_body
from kubectl_canary.model.manifests import (
    canary_deployment,
    discovery_subsets_problem,
    selects_every_version,
    upstream_selects_versions,
    upstream_version_subsets,
)
from kubectl_canary.model.readiness import readiness_of
from kubectl_canary.model.resources import DEPLOYMENTS, NAMESPACES, ROUTE_TABLES, SERVICES, UPSTREAMS, Obj
from kubectl_canary.model.rollout import validate_name, validate_version
from kubectl_canary.routers import GLOO, find_app, namespace_exists
from kubectl_canary.routers.gloo import SUBSET_KEY, adopt_routes, primary_route_name
from kubectl_canary.routers.seam import LiveRollout
from kubectl_canary.workflow.invocation import Invocation
from kubectl_canary.workflow.route_updates import ATTEMPTS, take_over

LONG = """\
For an app that `init` did not make: a RouteTable shared with other apps (--route-table), the
Upstream Gloo's discovery made (--upstream NS/NAME), a Deployment named freely (--deployment,
default APP-VERSION, else APP) whose pods may lack the `version` label. It is the take-over:
routes last changed by hand (kubectl apply, client-side or --server-side, kubectl edit or patch)
are written over, naming that edit in a note; routes something reconciles (Helm, Argo CD, Flux,
another server-side apply manager, or the object's GitOps or Helm traces) are refused, naming the
owner, unless --force-conflicts (change them in Git with --local -f PATH instead). Once, in this
order, each step only when needed (an ambiguous route, a missing Deployment, routes owned by a
tool that reconciles are refused before any write):
  1. the Upstream gets subsets keyed by `version` (Gloo's discovery keeps a subsetSpec it did not
     write; refused when the Service's gloo.solo.io/upstream_config sets one without `version`,
     which discovery would write over it);
  2. Deployment APP-VERSION, cloned from --deployment with the label version=VERSION on its pods and
     in its selector, when that Deployment's selector ignores `version` (it would also select the
     pods of every later version: two Deployments fighting over pods);
  3. only once the version's Deployment is ready (--wait waits, --force skips the check): the app's
     primary route sends to the subset version=VERSION of the same upstream, every other route of the
     table as it was; the names are recorded on the RouteTable (annotation kubectl-canary.io/apps),
     so later commands, `status` and `status -A` need no flags.
The Deployment it was cloned from is left running: delete it where it is defined once APP-VERSION
serves (`header` refuses to start a canary while it exists). Re-running adopt finishes what is left.
With --dry-run, prints every object it would touch and writes nothing."""

EXAMPLES = """\
  # See every object adopting echo would touch
  kubectl canary adopt echo v1 -n team-a --route-table team-a \\
      --upstream gloo-system/team-a-echo-80 --deployment echo --dry-run=client -o yaml

  # Adopt it, waiting until echo-v1 is ready before moving the route
  kubectl canary adopt echo v1 -n team-a --route-table team-a \\
      --upstream gloo-system/team-a-echo-80 --deployment echo --wait"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP")
    parser.add_argument("adopt_version", metavar="VERSION", help="the version the running pods become, e.g. v1")
    parser.add_argument("--wait", action="store_true", help="wait until VERSION's Deployment is ready, then move")
    parser.add_argument("--timeout", default="5m", help="how long --wait waits (default 5m)")
    parser.add_argument("--force", action="store_true", help="move the route even if the Deployment is not ready")


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    app = validate_name(args.app, "app name")
    version = validate_version(app, args.adopt_version)
    timeout = parse_duration(args.timeout, "--timeout")
    namespace = invocation.namespace
    cluster = invocation.cluster()
    table = _route_table(cluster, namespace, app, invocation.names)
    names = invocation.names.over(recorded_names(table, app))
    # Every refusal before the first write: which route, which Deployment, who owns the routes.
    routes, index = adopt_routes(app, GLOO.routes_of(table), version, route_name=names.route_name,
                             upstream=names.upstream, table=table["metadata"]["name"])
    # Routes last changed by hand are taken over; routes something reconciles are refused, before any write.
    take_over(LiveRollout(table, None, GLOO), cluster.field_manager, force_conflicts=invocation.force_conflicts)
    named = names.deployment or names.deployments.get(version)
    source = None
    for source_name in [named] if named else [f"{app}-{version}", app]:
        if (source := cluster.get(DEPLOYMENTS, namespace, source_name)) is not None:
            break
    if source is None:
        raise CanaryError(f"deployment {source_name} not found in namespace {namespace}; name the Deployment that "
                          f"serves {app} with --deployment NAME")
    # The subsets first: its refusals (discovery would take them away) come before any write, and a
    # subsetSpec without fallbackPolicy still serves routes without a subset from every pod.
    _version_subsets(cluster, invocation, namespace, routes[index])
    if selects_every_version(source) or _pod_version(source) != version:
        target = canary_deployment(source, app, version, None)
        names = AppNames(names.route_table, names.route_name, names.upstream, {version: target["metadata"]["name"]},
                         adopted_from=source_name)
        _write_deployment(cluster, invocation, target)
    else:
        target = source  # already one Deployment per version: it is the primary as it is
        names = AppNames(names.route_table, names.route_name, names.upstream, {version: source_name})

    target_name = target["metadata"]["name"]
    if invocation.dry_run == "none" and routes != GLOO.routes_of(table):
        _ready(cluster, invocation, namespace, target_name, wait=args.wait, timeout=timeout, force=args.force)
    written, changed, previous = _write_routes(cluster, invocation, namespace, app, version, names)
    invocation.report(written, "configured" if changed else "unchanged")
    if changed and previous:
        invocation.note(f"the routes of RouteTable {written['metadata']['name']} were last changed by "
                        f"{', '.join(previous)}, a one-off edit: adopt takes them over (kubectl canary is their "
                        f"field manager from now on; applying the old manifest again would put its routes back)")
    invocation.say(f"{app}: its route sends to {version} (deployment {target_name}); roll out the next version "
                   f"with: kubectl canary header {app} VERSION -n {namespace}")
    if names.adopted_from:
        invocation.warn(f"deployment {source_name} still runs and selects the pods of every version; once "
                        f"{target_name} serves, delete it where it is defined (or kubectl delete deployment "
                        f"{source_name} -n {namespace})")
    invocation.print_written()
    return 0


def _route_table(cluster: Cluster, namespace: str, app: str, names: AppNames) -> Obj:
    found = find_app(cluster, namespace, app, GLOO.name, route_table=names.route_table)
    if found is None:
        if not namespace_exists(cluster, namespace):
            raise CanaryError(f"namespace {namespace} not found; pick one with -n NAMESPACE")
        table = names.route_table or GLOO.object_name(app)
        raise CanaryError(f"RouteTable {table} not found in namespace {namespace}; name the one holding the routes "
                          f"of {app} with --route-table NAME")
    return found[1]


def _pod_version(deployment: Obj) -> str | None:
    labels = ((deployment["spec"].get("template") or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(SUBSET_KEY)


def _write_deployment(cluster: Cluster, invocation: Invocation, desired: Obj) -> None:
    meta = desired["metadata"]
    live = cluster.get(DEPLOYMENTS, meta["namespace"], meta["name"])
    if live is None:
        invocation.report(cluster.apply(desired, force=invocation.force_conflicts), "created")
    else:
        invocation.report(live, "unchanged")


def _version_subsets(cluster: Cluster, invocation: Invocation, namespace: str, primary: Obj) -> None:
    """The Upstream of the app's primary route gets subsets keyed by `version`, unless it has them."""
    action = primary["routeAction"]
    destination = action["single"] if "single" in action else action["multi"]["destinations"][0]["destination"]
    ref = destination["upstream"]
    upstream = cluster.get(UPSTREAMS, ref.get("namespace") or namespace, ref["name"])
    if upstream is None:
        raise CanaryError(f"upstream {ref['name']} not found in namespace {ref.get('namespace') or namespace}, but "
                          f"the route of the app sends traffic to it")
    kube = (upstream.get("spec") or {}).get("kube")
    if not kube:
        raise CanaryError(f"upstream {ref['name']} is not a Kubernetes Upstream, so it has no pod subsets")
    service = cluster.get(SERVICES, kube.get("serviceNamespace") or namespace, kube.get("serviceName", ""))
    if (problem := discovery_subsets_problem(upstream, service)) is not None:
        raise CanaryError(problem)
    if upstream_selects_versions(upstream):
        return
    subsets = {"spec": {"kube": {"subsetSpec": upstream_version_subsets(upstream)}}}
    body = apply_body(upstream, cluster.field_manager, subsets)
    invocation.report(cluster.apply(body, force=invocation.force_conflicts), "configured")


def _ready(cluster: Cluster, invocation: Invocation, namespace: str, name: str, *, wait: bool, timeout: float,
           force: bool) -> None:
    """The route moves to the version's pods only once they can take traffic, as every move toward a version
    (readiness.py)."""
    if wait:
        invocation.wait_until_ready(namespace, name, timeout)
        return
    deployment = cluster.get(DEPLOYMENTS, namespace, name)
    readiness = readiness_of(deployment) if deployment is not None else None
    if force or (readiness is not None and readiness.takes_new_traffic):
        return
    raise CanaryError(
        f"deployment {name} has {readiness or 'no'} ready replicas, so the route still sends to the pods it had; "
        f"run this command again once it is ready (or with --wait)"
    )


def _write_routes(cluster: Cluster, invocation: Invocation, namespace: str, app: str, version: str,
                  names: AppNames) -> tuple[Obj, bool, list[str]]:
    """The adopted routes and the record, in one apply on the table as read; re-read and redone on a 409.
    Also the one-off edits whose routes it took over: that apply forces (server-side apply would otherwise
    refuse, 409, to write fields another manager owns), exactly then or with --force-conflicts."""
    for _ in range(ATTEMPTS):
        table = _route_table(cluster, namespace, app, names)
        previous = take_over(LiveRollout(table, None, GLOO), cluster.field_manager,
                             force_conflicts=invocation.force_conflicts)
        live_routes = GLOO.routes_of(table)
        routes, index = adopt_routes(app, live_routes, version, route_name=names.route_name,
                                     upstream=names.upstream, table=table["metadata"]["name"])
        name = routes[index].get("name")
        recorded = record(table, app, names, None if name in (None, primary_route_name(app)) else name, (version,))
        if routes == live_routes and recorded is None:
            return table, False, []
        changes: Obj = {"spec": {"routes": routes}}
        if recorded is not None:
            changes["metadata"] = {"annotations": {APPS_ANNOTATION: recorded}, "labels": {RECORD_LABEL: "true"}}
        try:
            written: Obj = cluster.apply(apply_body(table, cluster.field_manager, changes),
                                         force=invocation.force_conflicts or bool(previous))
        except ApiError as error:
            if error.is_stale_write:
                continue  # changed since it was read: read it again, and judge its owners anew
            raise
        return written, True, previous
    table_name = names.route_table or GLOO.object_name(app)
    raise CanaryError(f"RouteTable {table_name} changed {ATTEMPTS} times while it was being updated; run the "
                      f"command again")


COMMAND = Command(
    name="adopt",
    short="Make an app you already run (shared RouteTable, discovered Upstream, any Deployment) ready for canaries",
    long=LONG,
    examples=EXAMPLES,
    mutating=True,
    add_arguments=add_arguments,
    run=run,
    permissions=(
        needs(ROUTE_TABLES, "get", "list", "patch"),
        needs(DEPLOYMENTS, "get", "create", "patch", "watch"),
        needs(UPSTREAMS, "get", "patch"),
        needs(SERVICES, "get"),
        needs(NAMESPACES, "get", cluster_wide=True),
    ),
)
