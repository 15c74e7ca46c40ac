"""`kubectl canary abort APP`: all traffic back to the primary; the canary is removed."""

from __future__ import annotations

import argparse

from kubectl_canary.cluster import DEPLOYMENTS, EVENTS, HTTP_ROUTES, NAMESPACES, ROUTE_TABLES, SERVICES, UPSTREAMS
from kubectl_canary.commands import Command
from kubectl_canary.invocation import Invocation
from kubectl_canary.manifests import deployment_name
from kubectl_canary.permissions import needs
from kubectl_canary.rollout import rollback, validate_name
from kubectl_canary.route_updates import complete_earlier_run
from kubectl_canary.routers import backends_of

LONG = """\
Returns the app to its stable routes: everything to the primary on each route, no header routes.
Then deletes the canary's Deployment (kept with --keep-canary, for inspection). The route
changes before anything is deleted; running abort again completes the deletion.
Moving traffic back needs no --force while the primary is available; toward a primary that
is not ready it needs --force, and toward a primary whose Deployment is missing it is refused
(recreate the primary, or make the canary the only version with `kubectl canary finish`)."""

EXAMPLES = """\
  # Send all of echo's traffic back to the primary and delete the canary
  kubectl canary abort echo -n echo

  # Keep echo-v2's pods to look at their logs
  kubectl canary abort echo --keep-canary"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP")
    parser.add_argument("--keep-canary", action="store_true", help="keep the canary's Deployment")
    parser.add_argument(
        "--force", action="store_true", help="send the traffic back even if the primary is not ready (never if missing)"
    )


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    app = validate_name(args.app, "app name")
    namespace = invocation.namespace
    cluster = invocation.cluster()

    first_read = invocation.read_rollout(app)
    done = complete_earlier_run(cluster, namespace, first_read, "abort", delete=not args.keep_canary)
    if done is not None:
        for name in done:
            invocation.report_deleted(DEPLOYMENTS, name)
        versions = [name.removeprefix(f"{app}-") for name in done]
        backends_of(first_read.router).retire_versions(cluster, invocation, namespace, app, versions)
        invocation.say(f"{app} is already aborted: all traffic goes to {first_read.state.primary}")
        return 0

    change = invocation.change_routes(app, rollback, transition="abort", first_read=first_read, force=args.force)
    canary = change.before.canary
    keep = frozenset({canary}) if canary and args.keep_canary else frozenset()
    backends_of(first_read.router).retire(cluster, invocation, first_read, change, keep)
    if canary and not args.keep_canary and cluster.delete(DEPLOYMENTS, namespace, deployment_name(app, canary)):
        invocation.report_deleted(DEPLOYMENTS, deployment_name(app, canary))
    invocation.say(f"{app}: all traffic goes to {change.after.primary}")
    invocation.print_written()
    return 0


COMMAND = Command(
    name="abort",
    short="Send all traffic back to the primary and delete the canary",
    long=LONG,
    examples=EXAMPLES,
    mutating=True,
    add_arguments=add_arguments,
    run=run,
    permissions=(
        needs(EVENTS, "create"),
        needs(ROUTE_TABLES, "get", "list", "patch", "watch"),  # list: an app recorded on a shared table
        needs(HTTP_ROUTES, "get", "list", "patch", "watch"),
        needs(SERVICES, "get", "delete"),  # the Gateway API: the Service of the version that takes no traffic
        needs(DEPLOYMENTS, "get", "list", "delete"),
        needs(UPSTREAMS, "delete"),
        needs(NAMESPACES, "get", cluster_wide=True),
    ),
)
