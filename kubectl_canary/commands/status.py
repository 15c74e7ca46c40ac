"""`kubectl canary status [APP]`: where each app's traffic goes, read from the live objects."""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import yaml

from kubectl_canary.cluster import (
    DEPLOYMENTS,
    HTTP_ROUTES,
    NAMESPACES,
    ROUTE_TABLES,
    SERVICES,
    UPSTREAMS,
    VIRTUAL_SERVICES,
    Resource,
)
from kubectl_canary.commands import Command
from kubectl_canary.durations import parse_duration
from kubectl_canary.errors import CanaryError, NotServedError, UsageError
from kubectl_canary.gitops_owner import gitops_notes
from kubectl_canary.history import describe
from kubectl_canary.invocation import Invocation
from kubectl_canary.permissions import needs
from kubectl_canary.rollout import validate_name
from kubectl_canary.routers import ROUTERS, Router, backends_of, router_named
from kubectl_canary.status import AppStatus, app_status, app_statuses, as_dict, readiness_index, render_table
from kubectl_canary.style import style_for

if TYPE_CHECKING:
    import queue

LONG = """\
Shows, per app: the phase (stable, header, weighted), the primary and canary versions with
ready/desired replicas, the canary's weight and header, the router (gloo, gateway-api) and the
gateway's verdict on the routes (Gloo's state of the RouteTable; the HTTPRoute's Accepted and
ResolvedRefs conditions at its current generation). Exits 1 when a rollout is degraded (a canary
or primary receiving traffic while not ready, the routes rejected, or one of the app's routes not
like the others: another weight, no header route; each named), so scripts can gate on it.
One LIST per kind whatever the number of apps. For one app, a note names the GitOps owner of its
routes (Argo CD, Flux: read from their annotations and labels), whose next sync reverts changes made
on the cluster, and says when the live routes differ from what that owner declares."""

EXAMPLES = """\
  # Where echo's traffic goes
  kubectl canary status echo -n echo

  # Every app in every namespace
  kubectl canary status -A

  # For scripts: JSON, and exit code 1 while the rollout is degraded
  kubectl canary status echo -o json

  # Follow a rollout; redraws when the routes or pods change
  kubectl canary status echo --watch"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP", nargs="?", help="one app (default: every app in the namespace)")
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="every app in every namespace")
    parser.add_argument("-o", "--output", choices=("table", "json", "yaml"), default="table")
    parser.add_argument("-w", "--watch", action="store_true", help="redraw whenever the routes or Deployments change")
    parser.add_argument("--timeout", help="with --watch: stop after this long (default: until Ctrl-C)")
    parser.add_argument("--no-color", action="store_true", help="plain text even on a terminal")


def collect(args: argparse.Namespace, invocation: Invocation) -> list[AppStatus]:
    cluster = invocation.cluster()
    if args.app:
        app = validate_name(args.app, "app name")
        namespace = invocation.namespace
        live = invocation.read_rollout(app)  # a clear error if it is not an app
        # Every Deployment of the namespace, found by name (APP-VERSION) as for many apps: a label
        # selector would miss Deployments without an `app` label (the seed's Helm chart writes none).
        readiness = readiness_index(cluster.list(DEPLOYMENTS, namespace))
        status = app_status(live.router, live.obj, readiness, app, live.names)
        if status is None:
            raise CanaryError(f"{live.router.resource.kind} {live.obj['metadata']['name']} has no routes of {app}")
        notes = backends_of(live.router).status_notes(cluster, live)
        owner = gitops_notes(live.obj, live.router.list_field,
                             lambda routes: describe(live.router.parse(app, routes, live.names).state))
        return [replace(status, upstream_problems=notes.problems, notes=notes.notes + owner,
                        delegations=notes.delegations)]
    scope = None if args.all_namespaces else invocation.namespace
    # Deployments first, each reduced to its readiness as it is decoded, then the route objects one by
    # one: at thousands of apps, holding the full objects would be most of the memory.
    readiness = readiness_index(cluster.iter_list(DEPLOYMENTS, scope))
    found = []
    for router in _routers(invocation):
        try:
            for obj in cluster.iter_list(router.resource, scope):
                found += app_statuses(router, obj, readiness)
        except NotServedError:
            if invocation.router:
                raise
    return sorted((s for s in found if s is not None), key=lambda s: (s.namespace, s.app, s.router))


def _routers(invocation: Invocation) -> list[Router]:
    return [router_named(invocation.router)] if invocation.router else list(ROUTERS.values())


def render(args: argparse.Namespace, invocation: Invocation, statuses: list[AppStatus]) -> str:
    if args.output == "table":
        if statuses:
            style = style_for(invocation.out, no_color=args.no_color)
            return render_table(statuses, all_namespaces=args.all_namespaces, style=style)
        where = "any namespace" if args.all_namespaces else f"namespace {invocation.namespace}"
        return f"No canary apps found in {where}."
    items = [as_dict(s) for s in statuses]
    body = items[0] if args.app else {"items": items}
    return (json.dumps(body, indent=2) if args.output == "json" else yaml.safe_dump(body, sort_keys=False)).rstrip()


def show(args: argparse.Namespace, invocation: Invocation) -> int:
    """Print the status once; the exit code says whether a rollout is degraded."""
    statuses = collect(args, invocation)
    print(render(args, invocation, statuses), file=invocation.out, flush=True)
    return 1 if any(s.problems for s in statuses) else 0


def watch(args: argparse.Namespace, invocation: Invocation) -> int:
    """Redraw on every change of the RouteTables or Deployments (watch API), until Ctrl-C or --timeout."""
    import queue
    import threading

    timeout = parse_duration(args.timeout, "--timeout") if args.timeout else None
    deadline = time.monotonic() + timeout if timeout else math.inf
    cluster = invocation.cluster()
    scope = None if args.all_namespaces else invocation.namespace
    changes: queue.Queue[CanaryError | None] = queue.Queue()

    def follow(resource: Resource, name: str | None, selector: str | None) -> None:
        try:
            while (remaining := deadline - time.monotonic()) > 0:
                for _ in cluster.watch(resource, scope, name, None, min(remaining, 300), selector):
                    changes.put(None)
        except CanaryError as error:
            changes.put(error)

    app = validate_name(args.app, "app name") if args.app else None
    if app:
        live = invocation.read_rollout(app)
        follows = [(live.router.resource, live.obj["metadata"]["name"])]
    else:
        follows = [(router.resource, None) for router in _routers(invocation)]
    for resource, name, selector in [*((r, n, None) for r, n in follows), (DEPLOYMENTS, None, None)]:
        threading.Thread(target=follow, args=(resource, name, selector), daemon=True).start()
    terminal = invocation.out.isatty()
    code = 0
    try:
        while True:
            statuses = collect(args, invocation)
            code = 1 if any(s.problems for s in statuses) else 0
            text = render(args, invocation, statuses)
            if terminal:
                stamp = time.strftime("%H:%M:%S")
                text = f"\x1b[H\x1b[2J{text}\n\nwatching since {stamp}; Ctrl-C to stop"
            print(text + ("" if terminal else "\n"), file=invocation.out, flush=True)
            if not _next_change(changes, deadline):
                return code
    except KeyboardInterrupt:
        return code


def _next_change(changes: queue.Queue[CanaryError | None], deadline: float) -> bool:
    """Wait for a change (then let a burst settle); False at the deadline."""
    import queue  # the annotation above is for type checkers only

    try:
        item = changes.get(timeout=max(0.0, deadline - time.monotonic()) if deadline != math.inf else None)
    except queue.Empty:
        return False
    if item is not None:
        raise item
    settle = time.monotonic() + 0.2
    while (left := settle - time.monotonic()) > 0:
        try:
            if (item := changes.get(timeout=left)) is not None:
                raise item
        except queue.Empty:
            break
    return True


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    if args.app and args.all_namespaces:
        raise CanaryError("give either APP or -A, not both")
    if args.timeout and not args.watch:
        raise UsageError("--timeout goes with --watch")
    return watch(args, invocation) if args.watch else show(args, invocation)


COMMAND = Command(
    name="status",
    short="Show phase, versions, readiness, weight and Gloo state of canary rollouts",
    long=LONG,
    examples=EXAMPLES,
    mutating=False,
    add_arguments=add_arguments,
    run=run,
    permissions=(
        needs(ROUTE_TABLES, "get", "list", "watch"),
        needs(HTTP_ROUTES, "get", "list", "watch"),
        needs(DEPLOYMENTS, "list", "watch"),
        needs(UPSTREAMS, "get"),
        needs(SERVICES, "get"),
        needs(NAMESPACES, "get", cluster_wide=True),
        needs(VIRTUAL_SERVICES, "list", cluster_wide=True),
    ),
)
