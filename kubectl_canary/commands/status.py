"""`kubectl canary status [APP]`: where each app's traffic goes, read from the live objects."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import yaml

from kubectl_canary.cluster import DEPLOYMENTS, NAMESPACES, ROUTE_TABLES, VIRTUAL_SERVICES
from kubectl_canary.commands import Command
from kubectl_canary.errors import CanaryError
from kubectl_canary.gloo import route_table_name
from kubectl_canary.gloo_delegation import delegation_notes
from kubectl_canary.invocation import Invocation
from kubectl_canary.permissions import needs
from kubectl_canary.rollout import validate_name
from kubectl_canary.route_updates import delegations_or_none, read_rollout
from kubectl_canary.status import AppStatus, app_status, as_dict, render_table

LONG = """\
Shows, per app: the phase (stable, header, weighted), the primary and canary versions with
ready/desired replicas, the canary's weight and header, and Gloo's verdict on the RouteTable.
Exits 1 when a rollout is degraded (a canary or primary receiving traffic while not ready, or
the RouteTable rejected by Gloo), so scripts can gate on it. Two requests whatever the number
of apps."""

EXAMPLES = """\
  kubectl canary status echo -n echo
  kubectl canary status -A
  kubectl canary status echo -o json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP", nargs="?", help="one app (default: every app in the namespace)")
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="every app in every namespace")
    parser.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")


def collect(args: argparse.Namespace, invocation: Invocation) -> list[AppStatus]:
    cluster = invocation.cluster()
    if args.app:
        app = validate_name(args.app, "app name")
        namespace = invocation.namespace
        route_table, _ = read_rollout(cluster, namespace, app)  # a clear error if it is not an app
        deployments = cluster.list(DEPLOYMENTS, namespace, f"app={app}")
        status = app_status(route_table, deployments)
        if status is None:
            raise CanaryError(f"RouteTable {route_table_name(app)} has no routes of {app}")
        delegations = delegations_or_none(cluster, route_table)
        if delegations is not None:
            notes = tuple(delegation_notes(route_table, delegations))
            status = replace(status, delegations=delegations, notes=notes)
        return [status]
    scope = None if args.all_namespaces else invocation.namespace
    route_tables = cluster.list(ROUTE_TABLES, scope)
    deployments = cluster.list(DEPLOYMENTS, scope)
    found = (app_status(rt, deployments) for rt in route_tables)
    return sorted((s for s in found if s is not None), key=lambda s: (s.namespace, s.app))


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    if args.app and args.all_namespaces:
        raise CanaryError("give either APP or -A, not both")
    statuses = collect(args, invocation)
    if args.output == "table":
        if statuses:
            print(render_table(statuses, all_namespaces=args.all_namespaces), file=invocation.out)
        else:
            where = "any namespace" if args.all_namespaces else f"namespace {invocation.namespace}"
            print(f"No canary apps found in {where}.", file=invocation.out)
    else:
        items = [as_dict(s) for s in statuses]
        body = items[0] if args.app else {"items": items}
        text = json.dumps(body, indent=2) if args.output == "json" else yaml.safe_dump(body, sort_keys=False)
        print(text.rstrip(), file=invocation.out)
    return 1 if any(s.problems for s in statuses) else 0


COMMAND = Command(
    name="status",
    short="Show phase, versions, readiness, weight and Gloo state of canary rollouts",
    long=LONG,
    examples=EXAMPLES,
    mutating=False,
    add_arguments=add_arguments,
    run=run,
    permissions=(
        needs(ROUTE_TABLES, "get", "list"),
        needs(DEPLOYMENTS, "list"),
        needs(NAMESPACES, "get", cluster_wide=True),
        needs(VIRTUAL_SERVICES, "list", cluster_wide=True),
    ),
)
