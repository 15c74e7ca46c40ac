"""`kubectl canary shadow APP VERSION --percent P`: mirror a share of the primary route's requests."""

from __future__ import annotations

import argparse

from kubectl_canary.commands import Command
from kubectl_canary.kube.cluster import Cluster
from kubectl_canary.kube.permissions import needs
from kubectl_canary.model.resources import (
    DEPLOYMENTS,
    EVENTS,
    HTTP_ROUTES,
    NAMESPACES,
    ROUTE_TABLES,
    SERVICES,
    UPSTREAMS,
)
from kubectl_canary.model.verb_plans import VerbPlan, shadow
from kubectl_canary.routers import backends_of
from kubectl_canary.routers.seam import LiveRollout
from kubectl_canary.workflow.invocation import Invocation
from kubectl_canary.workflow.route_updates import require_ready

LONG = """\
Creates Upstream APP-shadow-VERSION selecting the pods of VERSION (Gloo shadows to an
upstream, not to a subset) and sets options.shadowing on each of the app's routes: PERCENT of their
requests are copied to VERSION and the copies' answers are dropped. Works alongside the
header and weight phases; finish and abort end it. --off removes the shadowing, then the
Upstream. Refused while VERSION's Deployment is not ready, unless --force."""

EXAMPLES = """\
  # Mirror 10% of the traffic to v3 while v2 is the canary
  kubectl canary shadow echo v3 --percent 10

  # Stop shadowing and delete the shadow Upstream
  kubectl canary shadow echo --off"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP")
    parser.add_argument("shadow_version", metavar="VERSION", nargs="?", help="the version that gets the copies")
    parser.add_argument("--percent", default="100", help="share of the primary route's requests to copy (default 100)")
    parser.add_argument("--off", action="store_true", help="stop shadowing and delete the shadow Upstream")
    parser.add_argument("--force", action="store_true", help="shadow even if VERSION is not ready")


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    plan = shadow(args)
    app, version = plan.app, plan.version
    namespace = invocation.namespace
    cluster = invocation.cluster()
    first_read = invocation.read_rollout(app)
    if version is None:
        return _off(plan, invocation, cluster, first_read)

    first_read.render(plan.move(first_read.state))  # refuse before the first write
    require_ready(cluster, namespace, app, version, force=plan.force, names=first_read.names)
    # Gloo shadows to an Upstream of the version's pods; the Gateway API mirrors to its Service.
    backends_of(first_read.router).prepare_shadow(cluster, invocation, first_read, version)

    change = invocation.change_routes(app, plan.move, transition="shadow", first_read=first_read)
    percent = change.after.shadow.percent if change.after.shadow else 0
    invocation.say(f"{percent:g}% of the requests to {change.after.primary} are copied to {version}")
    invocation.print_written()
    return 0


def _off(plan: VerbPlan, invocation: Invocation, cluster: Cluster, first_read: LiveRollout) -> int:
    change = invocation.change_routes(plan.app, plan.move, transition="shadow", first_read=first_read)
    backends_of(first_read.router).retire(cluster, invocation, first_read, change)
    invocation.print_written()
    return 0


COMMAND = Command(
    name="shadow",
    short="Copy a share of the primary route's requests to another version",
    long=LONG,
    examples=EXAMPLES,
    mutating=True,
    add_arguments=add_arguments,
    run=run,
    permissions=(
        needs(EVENTS, "create"),
        needs(ROUTE_TABLES, "get", "list", "patch", "watch"),  # list: an app recorded on a shared table
        needs(HTTP_ROUTES, "get", "list", "patch", "watch"),
        needs(SERVICES, "get", "create", "patch", "delete"),  # the Gateway API mirrors to a version's Service
        needs(UPSTREAMS, "get", "create", "patch", "delete"),
        needs(DEPLOYMENTS, "get"),
        needs(NAMESPACES, "get", cluster_wide=True),
    ),
)
