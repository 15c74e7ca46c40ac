"""`kubectl canary header APP VERSION`: phase 1, requests with a header go to a new version."""

from __future__ import annotations

import argparse

from kubectl_canary.commands import Command
from kubectl_canary.errors import CanaryError
from kubectl_canary.kube.cluster import Cluster
from kubectl_canary.kube.permissions import needs
from kubectl_canary.model.durations import parse_duration
from kubectl_canary.model.manifests import canary_deployment, deployment_name, selects_every_version
from kubectl_canary.model.resources import (
    DEPLOYMENTS,
    EVENTS,
    HTTP_ROUTES,
    NAMESPACES,
    ROUTE_TABLES,
    SERVICES,
    UPSTREAMS,
    Obj,
)
from kubectl_canary.model.verb_plans import header
from kubectl_canary.routers import backends_of
from kubectl_canary.routers.gloo import SUBSET_KEY
from kubectl_canary.routers.seam import LiveRollout
from kubectl_canary.workflow.invocation import Invocation
from kubectl_canary.workflow.route_updates import check_route_owners

LONG = """\
Creates Deployment APP-VERSION as a copy of the primary's (same pod template, label
version=VERSION, --image replaces the image), makes sure the gateway can reach it (Gloo: the
Upstream has subsets keyed by `version`; Gateway API: Service APP-VERSION, cloned from the
primary's), then puts a route for requests carrying the header (default stage: canary) to
VERSION right before each of the app's routes (every route to its Upstream, or to its version
Services; --route-name limits them). All other requests still go to the primary.
With --wait, the header routes are added only once the canary is available (as the Deployment
controller judges it, with no rollout in progress).
Running it again with another --header changes the header; no traffic without the header
reaches the canary until `kubectl canary weight`."""

EXAMPLES = """\
  # Deploy v2 of echo; curl -H 'stage: canary' reaches it
  kubectl canary header echo v2 -n echo

  # Deploy v2 and route header requests to it only once all its pods are ready
  kubectl canary header echo v2 --wait --timeout 10m

  # v2 with another image, for testers sending x-canary: yes
  kubectl canary header echo v2 --image ghcr.io/acme/echo:2.0 --header x-canary=yes"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP")
    parser.add_argument("canary_version", metavar="VERSION", help="the canary version, e.g. v2")
    parser.add_argument("--image", help="image of the canary (default: the primary's image)")
    parser.add_argument(
        "--wait", action="store_true", help="wait until the canary is ready before routing header requests to it"
    )
    parser.add_argument("--timeout", default="5m", help="how long --wait waits (default 5m)")
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="header the canary requests carry (default stage=canary); repeat to AND several",
    )


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    plan = header(args)
    app, version = plan.app, args.canary_version
    timeout = parse_duration(args.timeout, "--timeout")
    namespace = invocation.namespace
    cluster = invocation.cluster()

    first_read = invocation.read_rollout(app)
    state = first_read.state
    # Refuse before the first write: the transition, and routes the router cannot render (limits, widening).
    first_read.render(plan.move(state))
    check_route_owners(first_read, cluster.field_manager, force_conflicts=args.force_conflicts)
    primary_name = first_read.deployment_of(state.primary)
    primary = cluster.get(DEPLOYMENTS, namespace, primary_name)
    if primary is None:
        raise CanaryError(
            f"deployment {primary_name} of the primary version {state.primary} "
            f"not found in namespace {namespace}; the canary is cloned from it"
        )
    check_selectors(cluster, namespace, first_read, primary)
    # What the gateway needs before a route can name the canary (Gloo: the Upstream's version subsets;
    # the Gateway API: the canary's Service). A refusal here comes before any write.
    backends_of(first_read.router).prepare_canary(cluster, invocation, first_read, version, force=args.force_conflicts)

    _write_canary_deployment(
        cluster,
        invocation,
        canary_deployment(primary, app, version, plan.image),
        new_image=bool(plan.image),
        force=args.force_conflicts,
    )
    if args.wait and invocation.dry_run == "none":
        invocation.wait_until_ready(namespace, deployment_name(app, version), timeout)

    change = invocation.change_routes(
        app,
        plan.move,
        transition="header",
        first_read=first_read,
        # The header route may point at a canary still starting, never at a missing one: this command
        # has just made sure the canary's Deployment exists.
        starting=plan.starting,
    )
    headers = change.after.headers
    invocation.say(f"requests to {app} with header {' and '.join(map(str, headers))} go to {version}")
    invocation.print_written()
    return 0


def check_selectors(cluster: Cluster, namespace: str, live: LiveRollout, primary: Obj) -> None:
    """Refuse a canary whose pods a Deployment of the app already selects: two Deployments would fight
    over them (overlapping selectors, which Kubernetes warns against)."""
    app, name = live.state.app, primary["metadata"]["name"]
    if selects_every_version(primary):
        raise CanaryError(
            f"deployment {name} selects its pods without the {SUBSET_KEY} label, so it would also select the "
            f"canary's pods; give {app} a Deployment per version first: kubectl canary adopt {app} "
            f"{live.state.primary} --deployment {name} --dry-run (shows every object it would touch)"
        )
    old = live.names.adopted_from
    deployment = cluster.get(DEPLOYMENTS, namespace, old) if old else None
    if deployment is not None and selects_every_version(deployment):
        raise CanaryError(
            f"deployment {old}, which {app} was adopted from, still exists and selects the pods of every version; "
            f"once {name} serves, delete it where it is defined (or kubectl delete deployment {old} -n {namespace})"
        )


def _write_canary_deployment(
    cluster: Cluster, invocation: Invocation, desired: Obj, *, new_image: bool, force: bool
) -> None:
    """Create the canary Deployment; an existing one only changes when --image asks for it."""
    meta = desired["metadata"]
    live = cluster.get(DEPLOYMENTS, meta["namespace"], meta["name"])
    if live is None:
        invocation.report(cluster.apply(desired, force=force), "created")
    elif new_image and _images(live) != _images(desired):
        invocation.report(cluster.apply(desired, force=force), "configured")
    else:
        invocation.report(live, "unchanged")


def _images(deployment: Obj) -> list[str]:
    return [c.get("image", "") for c in deployment["spec"]["template"]["spec"].get("containers", [])]


COMMAND = Command(
    name="header",
    short="Phase 1: deploy a canary version and route requests with a header to it",
    long=LONG,
    examples=EXAMPLES,
    mutating=True,
    add_arguments=add_arguments,
    run=run,
    permissions=(
        needs(EVENTS, "create"),
        needs(ROUTE_TABLES, "get", "list", "patch", "watch"),  # list: an app recorded on a shared table
        needs(DEPLOYMENTS, "get", "create", "patch", "watch"),
        needs(UPSTREAMS, "get", "patch"),
        needs(HTTP_ROUTES, "get", "list", "patch", "watch"),
        needs(SERVICES, "get", "create", "patch"),
        needs(NAMESPACES, "get", cluster_wide=True),
    ),
)
