"""`kubectl canary finish APP`: the canary becomes the only version; the old one is removed."""

from __future__ import annotations

import argparse

from kubectl_canary.cluster import DEPLOYMENTS, EVENTS, HTTP_ROUTES, NAMESPACES, ROUTE_TABLES, SERVICES, UPSTREAMS
from kubectl_canary.commands import Command
from kubectl_canary.invocation import Invocation
from kubectl_canary.manifests import deployment_name
from kubectl_canary.permissions import needs
from kubectl_canary.rollout import promote, validate_name
from kubectl_canary.route_updates import complete_earlier_run
from kubectl_canary.routers import backends_of

LONG = """\
Routes all traffic to the canary (each of the app's routes, subset kept for the next rollout),
removes the header routes, then deletes the old primary's Deployment (kept with --keep-old). The route
changes before anything is deleted, so a failure half-way never routes to a missing
Deployment; running finish again completes the deletion. Refused while the canary is not
ready, unless --force."""

EXAMPLES = """\
  # Make v2 (the canary) the only version of echo and delete echo-v1
  kubectl canary finish echo -n echo

  # Keep echo-v1 around for a quick manual rollback
  kubectl canary finish echo --keep-old"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP")
    parser.add_argument("--keep-old", action="store_true", help="keep the old primary's Deployment")
    parser.add_argument("--force", action="store_true", help="finish even if the canary is not ready")


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    app = validate_name(args.app, "app name")
    namespace = invocation.namespace
    cluster = invocation.cluster()

    first_read = invocation.read_rollout(app)
    done = complete_earlier_run(cluster, namespace, first_read, "finish", delete=not args.keep_old)
    if done is not None:
        for name in done:
            invocation.report_deleted(DEPLOYMENTS, name)
        versions = [name.removeprefix(f"{app}-") for name in done]
        backends_of(first_read.router).retire_versions(cluster, invocation, namespace, app, versions)
        invocation.say(f"{app} is already finished: all traffic goes to {first_read.state.primary}")
        return 0

    change = invocation.change_routes(app, promote, transition="finish", first_read=first_read, force=args.force)
    old = change.before.primary
    keep = frozenset({old}) if args.keep_old else frozenset()
    backends_of(first_read.router).retire(cluster, invocation, first_read, change, keep)
    if first_read.deployment_of(old) != deployment_name(app, old) and not args.keep_old:
        # A Deployment the team brought (--deployment) is theirs, often in Git or a Helm release: they retire it.
        name = first_read.names.deployments[old]
        invocation.warn(f"deployment {name} of {old} takes no traffic from the routes now; kubectl canary did not "
                        f"create it, so it is left: delete it where it is defined, or kubectl delete deployment "
                        f"{name} -n {namespace}")
    elif not args.keep_old and cluster.delete(DEPLOYMENTS, namespace, deployment_name(app, old)):
        invocation.report_deleted(DEPLOYMENTS, deployment_name(app, old))
    invocation.say(f"{app}: all traffic goes to {change.after.primary}")
    invocation.print_written()
    return 0


COMMAND = Command(
    name="finish",
    short="Make the canary the only version and delete the old one",
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
