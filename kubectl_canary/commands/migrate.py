"""`kubectl canary migrate APP --to gateway-api --gateway NS/NAME[:LISTENER]`: the same rollout, off Gloo Edge."""

from __future__ import annotations

import argparse

from kubectl_canary.commands import Command
from kubectl_canary.errors import CanaryError, UsageError
from kubectl_canary.kube.permissions import needs
from kubectl_canary.model.events import transition_message
from kubectl_canary.model.migration import to_gateway_api
from kubectl_canary.model.resources import (
    DEPLOYMENTS,
    EVENTS,
    HTTP_ROUTES,
    NAMESPACES,
    ROUTE_TABLES,
    SERVICES,
    UPSTREAMS,
)
from kubectl_canary.model.rollout import traffic_shares, validate_name
from kubectl_canary.routers import GATEWAY_API, GLOO, read_rollout
from kubectl_canary.routers.gateway_api import parse_gateway
from kubectl_canary.routers.gloo import ParsedRoutes
from kubectl_canary.workflow.invocation import Invocation

LONG = """\
Reads the app's live rollout on Gloo Edge (any phase: exact weights, the header route, shadowing) and
creates the same rollout on the Gateway API: one Service per version in use (APP-VERSION, selector app
and version) and HTTPRoute APP attached to --gateway, whose rules send every request where the Gloo
routes send it now. The Gloo objects are not touched, so both gateways serve the same split while DNS
or the load balancer moves; later commands then need --router to say which gateway to drive. What the
Gateway API cannot express (a header's absence, a query parameter's mere presence) is refused; Gloo's
string prefix against the Gateway API's path-element prefix is a warning."""

EXAMPLES = """\
  # What would be created, without writing
  kubectl canary migrate echo --to gateway-api --gateway infra/public:http --dry-run=client -o yaml

  # Create it, then drive the rollout on the Gateway API
  kubectl canary migrate echo --to gateway-api --gateway infra/public:http
  kubectl canary weight echo 50 --router gateway-api"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP")
    parser.add_argument("--to", required=True, choices=(GATEWAY_API.name,), help="the router to move to")
    parser.add_argument("--gateway", required=True, metavar="NS/NAME[:LISTENER]", help="the Gateway to attach to")


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    app = validate_name(args.app, "app name")
    if invocation.router not in (None, GLOO.name):
        raise UsageError("migrate reads the app's Gloo Edge routes: --router gateway-api does not apply")
    namespace = invocation.namespace
    gateway = parse_gateway(args.gateway, namespace)
    cluster = invocation.cluster()
    live = read_rollout(cluster, namespace, app, GLOO.name)
    if cluster.get(HTTP_ROUTES, namespace, GATEWAY_API.object_name(app)) is not None:
        raise CanaryError(
            f"HTTPRoute {GATEWAY_API.object_name(app)} already exists in namespace {namespace}; drive it with "
            f"--router gateway-api, or delete it to migrate again"
        )
    parsed: ParsedRoutes = live.parsed
    upstream = cluster.get(UPSTREAMS, parsed.upstream.namespace or namespace, parsed.upstream.name)
    kube = ((upstream or {}).get("spec") or {}).get("kube") or {}
    service = cluster.get(SERVICES, kube.get("serviceNamespace") or namespace, kube.get("serviceName", "")) \
        if kube.get("serviceName") else None
    migration = to_gateway_api(app, namespace, live.obj, upstream, service, gateway)
    # Never route to nothing: every version that takes traffic must have its Deployment.
    for version in traffic_shares(live.state):
        if cluster.get(DEPLOYMENTS, namespace, f"{app}-{version}") is None:
            raise CanaryError(
                f"deployment {app}-{version} not found in namespace {namespace}, but the Gloo routes send "
                f"traffic to {version}; fix the Gloo rollout first (kubectl canary status {app})"
            )
    for warning in migration.warnings:
        invocation.warn(warning)
    for obj in migration.objects:
        meta = obj["metadata"]
        existing = cluster.get(SERVICES, meta["namespace"], meta["name"]) if obj["kind"] == "Service" else None
        invocation.report(existing or cluster.apply(obj), "unchanged" if existing else "created")
    invocation.record(invocation.written[-1], "CanaryMigrate", transition_message(None, live.state))
    invocation.say(f"{app} on the Gateway API: the same routes as on Gloo Edge, through Gateway {gateway}")
    invocation.print_written()
    return 0


COMMAND = Command(
    name="migrate",
    short="Create the app's live rollout on the Gateway API, leaving Gloo Edge as it is",
    long=LONG,
    examples=EXAMPLES,
    mutating=True,
    add_arguments=add_arguments,
    run=run,
    permissions=(
        needs(EVENTS, "create"),
        needs(ROUTE_TABLES, "get", "list"),
        needs(HTTP_ROUTES, "get", "create", "patch"),
        needs(UPSTREAMS, "get"),
        needs(SERVICES, "get", "create", "patch"),
        needs(DEPLOYMENTS, "get"),
        needs(NAMESPACES, "get", cluster_wide=True),
    ),
)
