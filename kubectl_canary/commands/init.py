"""`kubectl canary init APP`: the four objects of a new app, routed to its first version."""

from __future__ import annotations

import argparse

from kubectl_canary.commands import Command
from kubectl_canary.errors import CanaryError, UsageError
from kubectl_canary.kube.cluster import Cluster
from kubectl_canary.kube.permissions import needs
from kubectl_canary.model.events import transition_message
from kubectl_canary.model.manifests import DEFAULT_IMAGE, AppSpec
from kubectl_canary.model.resources import (
    DEPLOYMENTS,
    EVENTS,
    GATEWAYS,
    HTTP_ROUTES,
    NAMESPACES,
    ROUTE_TABLES,
    SERVICES,
    UPSTREAMS,
    VIRTUAL_SERVICES,
    Obj,
    resource_of,
)
from kubectl_canary.model.rollout import RolloutState, validate_name, validate_version
from kubectl_canary.routers import DEFAULT, backends_of, find_app, namespace_exists, router_named
from kubectl_canary.routers.gateway_api import parse_gateway
from kubectl_canary.workflow.invocation import Invocation

LONG = """\
Creates, in the namespace, Deployment APP-VERSION (pod labels app and version) and, on Gloo Edge
(the default router): Service APP, Upstream APP (subsets keyed by `version`, no fallback to other
versions) and RouteTable APP-routes (label apiGroup, so the platform's VirtualService delegates to
it) with one route sending PREFIX to VERSION. With --router gateway-api: Service APP-VERSION
(selector app and version, port 80) and HTTPRoute APP attached to --gateway, with one rule
APP-primary sending PREFIX to that Service. The route object is written last, so it never routes
to nothing. Re-running init on an existing app changes nothing."""

EXAMPLES = """\
  # See what would be created, without a cluster
  kubectl canary init echo --dry-run=client -o yaml

  # On the Gateway API, attached to listener http of Gateway infra/public
  kubectl canary init echo --router gateway-api --gateway infra/public:http

  # Create the app echo in namespace echo
  kubectl canary init echo -n echo --create-namespace"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP", help="app name (a DNS-1123 label)")
    parser.add_argument("--version", dest="app_version", default="v1", help="first version (default v1)")
    parser.add_argument("--image", default=DEFAULT_IMAGE, help=f"container image (default {DEFAULT_IMAGE})")
    parser.add_argument("--port", type=int, default=8080, help="container port (default 8080)")
    parser.add_argument("--replicas", type=int, default=1, help="replicas of the Deployment (default 1)")
    parser.add_argument(
        "--api-group",
        default="example",
        help="value of the RouteTable's apiGroup label the VirtualService selects (default example)",
    )
    parser.add_argument("--prefix", default="", help="path prefix of the route (default /APP)")
    parser.add_argument("--create-namespace", action="store_true", help="create the namespace if it is missing")
    parser.add_argument(
        "--gateway",
        metavar="NS/NAME[:LISTENER]",
        help="with --router gateway-api: the Gateway (and listener) the HTTPRoute attaches to",
    )


def _spec(args: argparse.Namespace, namespace: str) -> AppSpec:
    app = validate_name(args.app, "app name")
    version = validate_version(app, args.app_version)
    if not 1 <= args.port <= 65535:
        raise UsageError(f"invalid --port {args.port}: use 1..65535")
    if args.replicas < 1:
        raise UsageError(f"invalid --replicas {args.replicas}: use at least 1")
    if args.prefix and not args.prefix.startswith("/"):
        raise UsageError(f"invalid --prefix {args.prefix!r}: it must start with '/'")
    validate_name(args.api_group, "--api-group")
    router = router_named(getattr(args, "router", None) or DEFAULT.name)
    gateway = parse_gateway(args.gateway, namespace) if args.gateway else None
    if gateway is not None and router is DEFAULT:
        raise UsageError("--gateway goes with --router gateway-api")
    if gateway is None and router is not DEFAULT:
        raise UsageError("--router gateway-api needs --gateway NAMESPACE/NAME[:LISTENER], the Gateway to attach to")
    return AppSpec(
        app, namespace, version, args.image, args.port, args.replicas, args.api_group, args.prefix, gateway
    )


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    _spec(args, "default")  # every argument is checked before the first request
    namespace = invocation.namespace
    spec = _spec(args, namespace)
    router = router_named(invocation.router or DEFAULT.name)
    backends = backends_of(router)
    manifests = backends.init_objects(spec)
    if invocation.dry_run == "client":
        for manifest in manifests:
            invocation.report(manifest, "created")
        invocation.print_written()
        return 0

    cluster = invocation.cluster()
    # An app lives on one gateway: its routes found on any refuse (the chosen one's API must be served).
    found = find_app(cluster, namespace, spec.app, None, required=router)
    if found is not None:
        existing, obj = found
        invocation.say(
            f"{spec.app} is already initialised in namespace {namespace} "
            f"({existing.resource.kind} {obj['metadata']['name']} exists); nothing changed"
        )
        return 0
    _ensure_namespace(cluster, namespace, create=args.create_namespace, invocation=invocation)
    for manifest in manifests:
        _create(cluster, manifest, invocation)
    route_object = invocation.written[-1]
    backends.after_init(cluster, invocation, invocation.written)
    invocation.record(route_object, "CanaryInit", transition_message(None, RolloutState(spec.app, spec.version)))
    invocation.print_written()
    return 0


def _ensure_namespace(cluster: Cluster, namespace: str, *, create: bool, invocation: Invocation) -> None:
    if namespace_exists(cluster, namespace):
        return
    if not create:
        raise CanaryError(f"namespace {namespace} not found; create it or pass --create-namespace")
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    invocation.report(cluster.apply(body), "created")


def _create(cluster: Cluster, manifest: Obj, invocation: Invocation) -> None:
    # After a half-finished init, the objects already there are kept as they are.
    meta = manifest["metadata"]
    live = cluster.get(resource_of(manifest), meta["namespace"], meta["name"])
    if live is not None:
        invocation.report(live, "unchanged")
    else:
        invocation.report(cluster.apply(manifest), "created")


COMMAND = Command(
    name="init",
    short="Create the objects of a new app, routed to its first version",
    long=LONG,
    examples=EXAMPLES,
    mutating=True,
    add_arguments=add_arguments,
    run=run,
    permissions=(
        needs(EVENTS, "create"),
        needs(ROUTE_TABLES, "get", "list", "create", "patch"),  # list: an app recorded on a shared table
        needs(HTTP_ROUTES, "get", "list", "create", "patch"),
        needs(GATEWAYS, "get"),
        needs(DEPLOYMENTS, "get", "create", "patch"),
        needs(SERVICES, "get", "create", "patch"),
        needs(UPSTREAMS, "get", "create", "patch"),
        needs(NAMESPACES, "get", "create", "patch", cluster_wide=True),
        needs(VIRTUAL_SERVICES, "list", cluster_wide=True),
    ),
)
