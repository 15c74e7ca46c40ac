"""`kubectl canary init APP`: the four objects of a new app, routed to its first version."""

from __future__ import annotations

import argparse

from kubectl_canary.cluster import (
    DEPLOYMENTS,
    EVENTS,
    NAMESPACES,
    ROUTE_TABLES,
    SERVICES,
    UPSTREAMS,
    VIRTUAL_SERVICES,
    Cluster,
    Obj,
    resource_of,
)
from kubectl_canary.commands import Command
from kubectl_canary.errors import CanaryError, UsageError
from kubectl_canary.gloo import route_table_name
from kubectl_canary.gloo_delegation import delegation_notes
from kubectl_canary.history import transition_message
from kubectl_canary.invocation import Invocation
from kubectl_canary.manifests import DEFAULT_IMAGE, AppSpec, init_manifests, service_port_problem
from kubectl_canary.permissions import needs
from kubectl_canary.rollout import RolloutState, validate_name, validate_version
from kubectl_canary.route_updates import delegations_or_none, namespace_exists

LONG = """\
Creates, in the namespace: Deployment APP-VERSION (pod labels app and version), Service APP,
Upstream APP (subsets keyed by `version`, no fallback to other versions) and RouteTable
APP-routes (label apiGroup, so the platform's VirtualService delegates to it) with one route
sending PREFIX to VERSION. The RouteTable is written last, so it never routes to nothing.
Re-running init on an existing app changes nothing."""

EXAMPLES = """\
  # See what would be created, without a cluster
  kubectl canary init echo --dry-run=client -o yaml

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
    return AppSpec(app, namespace, version, args.image, args.port, args.replicas, args.api_group, args.prefix)


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    _spec(args, "default")  # every argument is checked before the first request
    namespace = invocation.namespace
    spec = _spec(args, namespace)
    if invocation.dry_run == "client":
        for manifest in init_manifests(spec):
            invocation.report(manifest, "created")
        invocation.print_written()
        return 0

    cluster = invocation.cluster()
    if cluster.get(ROUTE_TABLES, namespace, route_table_name(spec.app)) is not None:
        invocation.say(
            f"{spec.app} is already initialised in namespace {namespace} "
            f"(RouteTable {route_table_name(spec.app)} exists); nothing changed"
        )
        return 0
    _ensure_namespace(cluster, namespace, create=args.create_namespace, invocation=invocation)
    for manifest in init_manifests(spec):
        _create(cluster, manifest, invocation)
    route_table = invocation.written[-1]
    # Objects kept from an earlier run may not agree: Gloo finds no endpoints for a port the Service lacks.
    by_kind = {obj["kind"]: obj for obj in invocation.written}
    if "Upstream" in by_kind and (problem := service_port_problem(by_kind["Upstream"], by_kind.get("Service"))):
        invocation.warn(problem)
    invocation.record(route_table, "CanaryInit", transition_message(None, RolloutState(spec.app, spec.version)))
    delegations = delegations_or_none(cluster, route_table) if invocation.dry_run == "none" else None
    for note in delegation_notes(route_table, delegations) if delegations is not None else []:
        invocation.warn(note)
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
        needs(ROUTE_TABLES, "get", "create", "patch"),
        needs(DEPLOYMENTS, "get", "create", "patch"),
        needs(SERVICES, "get", "create", "patch"),
        needs(UPSTREAMS, "get", "create", "patch"),
        needs(NAMESPACES, "get", "create", "patch", cluster_wide=True),
        needs(VIRTUAL_SERVICES, "list", cluster_wide=True),
    ),
)
