"""`kubectl canary status [APP]`: where each app's traffic goes, read from the live objects."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from typing import TYPE_CHECKING, TextIO

from kubectl_canary.commands import Command
from kubectl_canary.errors import CanaryError, ForbiddenError, NotServedError, UsageError
from kubectl_canary.gitops.gitops_owner import gitops_notes
from kubectl_canary.kube.permissions import needs
from kubectl_canary.model.durations import parse_duration
from kubectl_canary.model.events import describe
from kubectl_canary.model.json_text import indented
from kubectl_canary.model.resources import (
    DEPLOYMENTS,
    HTTP_ROUTES,
    NAMESPACES,
    ROUTE_TABLES,
    SERVICES,
    UPSTREAMS,
    VIRTUAL_SERVICES,
    Obj,
    Resource,
)
from kubectl_canary.model.rollout import validate_name
from kubectl_canary.model.status_view import (
    AppStatus,
    app_status,
    app_statuses,
    as_dict,
    object_names,
    readiness_index,
    render_table,
)
from kubectl_canary.model.style import style_for
from kubectl_canary.routers import GLOO, ROUTERS, backends_of, router_named
from kubectl_canary.routers.gloo_delegation import delegations_to
from kubectl_canary.routers.seam import Router
from kubectl_canary.workflow.invocation import Invocation

if TYPE_CHECKING:
    import queue

    from kubectl_canary.kube.cluster import Cluster

LONG = """\
Shows, per app: the phase (stable, header, weighted), the primary and canary versions with
ready/desired replicas, the canary's weight and header, the router (gloo, gateway-api) and the
gateway's verdict on the routes (Gloo's state of the RouteTable; the HTTPRoute's Accepted and
ResolvedRefs conditions at its current generation). Exits 1 when a rollout is degraded (a canary
or primary receiving traffic while not ready, the routes rejected, or one of the app's routes not
like the others: another weight, no header route; each named), so scripts can gate on it.
One LIST per kind whatever the number of apps. For one app, a note names the GitOps owner of its
routes (Argo CD, Flux: read from their annotations and labels), whose next sync reverts changes made
on the cluster, and says when the live routes differ from what that owner declares.

As kubectl get: -o wide adds columns at the end (SHADOW; ROUTE, the object holding the app's routes;
BACKENDS, the Upstreams or Services they send to; PARENTS, the VirtualServices delegating to a
RouteTable, with one more LIST, or an HTTPRoute's parentRefs). -o name prints each app's route object
as `kubectl get -o name` does (KIND.GROUP/NAME, to feed back to kubectl; apps sharing one print it
once; with -A no namespace, as kubectl's); problems and "none found" then go to stderr."""

EXAMPLES = """\
  # Where echo's traffic goes
  kubectl canary status echo -n echo

  # Every app in every namespace
  kubectl canary status -A

  # For scripts: JSON, and exit code 1 while the rollout is degraded
  kubectl canary status echo -o json

  # More columns: shadowing, the route object, its Upstream or Services, who routes to it
  kubectl canary status -o wide

  # The route objects of the namespace's apps, for kubectl
  kubectl get $(kubectl canary status -o name) -o yaml

  # Follow a rollout; redraws when the routes or pods change
  kubectl canary status echo --watch"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP", nargs="?", help="one app (default: every app in the namespace)")
    parser.add_argument("-A", "--all-namespaces", action="store_true", help="every app in every namespace")
    parser.add_argument(
        "-o", "--output", choices=("table", "wide", "name", "json", "yaml"), default="table",
        help="wide: the table plus SHADOW, ROUTE, BACKENDS and PARENTS; name: each app's route object as "
        "kubectl get -o name prints it (routetable.gateway.solo.io/echo-routes)",
    )
    parser.add_argument("-w", "--watch", action="store_true", help="redraw whenever the routes or Deployments change")
    parser.add_argument("--timeout", help="with --watch: stop after this long (default: until Ctrl-C)")
    parser.add_argument("--no-color", action="store_true", help="plain text even on a terminal")


def collect(args: argparse.Namespace, invocation: Invocation) -> tuple[list[AppStatus], tuple[str, ...]]:
    """The statuses, and notes on the listing itself (a kind the user may not list)."""
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
                        delegations=notes.delegations)], ()
    scope = None if args.all_namespaces else invocation.namespace
    # Deployments first, each reduced to its readiness as it is decoded, then the route objects one by
    # one: at thousands of apps, holding the full objects would be most of the memory.
    # The LISTs are read a page ahead (Cluster.read_ahead): the server prepares the next page while this one
    # is decoded, and the route objects' LISTs run beside the Deployments'. The objects' managedFields, half
    # of a Deployment's bytes, are not decoded: the statuses of many apps never read them.
    routers = _routers(invocation)
    deployments, *route_lists = cluster.read_ahead([(DEPLOYMENTS, scope), *((r.resource, scope) for r in routers)],
                                                   managed_fields=False)
    readiness = readiness_index(deployments)
    listed: list[list[Obj] | None] = []  # the VirtualServices once listed (None: we may not list them)
    found = []
    forbidden: list[tuple[Router, ForbiddenError]] = []
    for router, route_objects in zip(routers, route_lists):
        try:
            for obj in route_objects:
                statuses = app_statuses(router, obj, readiness)
                if args.output == "wide" and router is GLOO and statuses:
                    # The PARENTS column: one LIST of VirtualServices (all namespaces) for every table.
                    if not listed:
                        listed.append(_virtual_services(cluster))
                    delegations = None if listed[0] is None else delegations_to(obj, listed[0])
                    statuses = [replace(s, delegations=delegations) for s in statuses]
                found += statuses
        except NotServedError:
            if invocation.router:
                raise
        except ForbiddenError as error:
            # A Role may name one gateway's kinds only: list the apps of the others, and say what is left out.
            if invocation.router or len(forbidden) + 1 == len(routers):
                raise
            forbidden.append((router, error))
    left_out = tuple(f"{str(error).removeprefix('forbidden: ')} (forbidden), so apps on {router.name} are not shown"
                     for router, error in forbidden)
    return sorted((s for s in found if s is not None), key=lambda s: (s.namespace, s.app, s.router)), left_out


def _virtual_services(cluster: Cluster) -> list[Obj] | None:
    try:
        return cluster.list(VIRTUAL_SERVICES, None)
    except ForbiddenError:
        return None
    except NotServedError:
        return []


def _routers(invocation: Invocation) -> list[Router]:
    return [router_named(invocation.router)] if invocation.router else list(ROUTERS.values())


def _none_found(args: argparse.Namespace, invocation: Invocation) -> str:
    where = "any namespace" if args.all_namespaces else f"namespace {invocation.namespace}"
    return f"No canary apps found in {where}."


def render(args: argparse.Namespace, invocation: Invocation, statuses: list[AppStatus],
           notes: tuple[str, ...] = ()) -> str:
    """What goes to stdout (empty: nothing); `notes` on the listing itself (a kind the user may not list)."""
    if args.output in ("table", "wide"):
        style = style_for(invocation.out, no_color=args.no_color)
        lines = [style.paint(f"note: {note}", "dim") for note in notes]
        if statuses:
            table = render_table(statuses, all_namespaces=args.all_namespaces, style=style, wide=args.output == "wide")
            return "\n".join([table, *lines])
        return "\n".join([_none_found(args, invocation), *lines])
    if args.output == "name":
        return "\n".join(object_names(statuses))
    items = [as_dict(s) for s in statuses]
    body = items[0] if args.app else {"items": items, **({"notes": list(notes)} if notes else {})}
    if args.output == "json":
        return json.dumps(body, indent=2)
    import yaml

    return str(yaml.safe_dump(body, sort_keys=False)).rstrip()


def aside(args: argparse.Namespace, invocation: Invocation, statuses: list[AppStatus],
          notes: tuple[str, ...] = ()) -> list[str]:
    """What goes to stderr: with -o name stdout holds names only (as kubectl's, fit to feed back to it), so
    "none found", the notes and why a rollout is degraded (the exit code 1) are said there."""
    if args.output != "name":
        return []
    lines = [f"note: {note}" for note in notes]
    if not statuses:
        return [_none_found(args, invocation), *lines]
    return [*(f"! {s.app}: {problem}" for s in statuses for problem in s.problems), *lines]


def _write_json_list(out: TextIO, statuses: list[AppStatus], notes: tuple[str, ...]) -> None:
    """`render`'s JSON for a listing, byte for byte (json.dumps(body, indent=2)), written as it is made: the
    whole document at once would be some 40 MiB at 10,000 apps; this holds a few hundred items' text."""
    out.write('{\n  "items": ' + ("[\n" if statuses else "[]"))
    last = len(statuses) - 1
    pieces: list[str] = []
    for index, status in enumerate(statuses):
        pieces.append("    " + indented(as_dict(status), "    ") + (",\n" if index < last else "\n  ]"))
        if len(pieces) >= 500:
            out.write("".join(pieces))
            pieces.clear()
    out.write("".join(pieces))
    if notes:
        out.write(',\n  "notes": ' + indented(list(notes), "  "))
    out.write("\n}\n")
    out.flush()


def print_status(args: argparse.Namespace, invocation: Invocation, statuses: list[AppStatus],
                 notes: tuple[str, ...] = ()) -> None:
    if args.output == "json" and not args.app:
        _write_json_list(invocation.out, statuses, notes)
        return
    text = render(args, invocation, statuses, notes)
    if text:
        print(text, file=invocation.out, flush=True)
    for line in aside(args, invocation, statuses, notes):
        print(line, file=sys.stderr, flush=True)


def show(args: argparse.Namespace, invocation: Invocation) -> int:
    """Print the status once; the exit code says whether a rollout is degraded."""
    statuses, notes = collect(args, invocation)
    print_status(args, invocation, statuses, notes)
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
        except (NotServedError, ForbiddenError) as error:
            # Another gateway's kind, not installed or not ours to read: each redraw notes what it left out.
            if name is not None or invocation.router or resource == DEPLOYMENTS:
                changes.put(error)
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
            statuses, notes = collect(args, invocation)
            code = 1 if any(s.problems for s in statuses) else 0
            text = render(args, invocation, statuses, notes)
            if terminal:
                stamp = time.strftime("%H:%M:%S")
                text = f"\x1b[H\x1b[2J{text}\n\nwatching since {stamp}; Ctrl-C to stop"
            print(text + ("" if terminal else "\n"), file=invocation.out, flush=True)
            for line in aside(args, invocation, statuses, notes):
                print(line, file=sys.stderr, flush=True)
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
    short="Show phase, versions, readiness, weight and the gateway's verdict of canary rollouts",
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
