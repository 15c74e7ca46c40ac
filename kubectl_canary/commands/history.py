"""`kubectl canary history APP`: every transition of the app's rollout, from its route object's Events."""

from __future__ import annotations

import argparse
import json

from kubectl_canary.commands import Command
from kubectl_canary.kube.permissions import needs
from kubectl_canary.model.events import APP_LABEL, history_rows
from kubectl_canary.model.resources import EVENTS, HTTP_ROUTES, ROUTE_TABLES
from kubectl_canary.model.rollout import validate_name
from kubectl_canary.routers import GLOO, ROUTERS, recorded_table, router_named
from kubectl_canary.routers.seam import Router
from kubectl_canary.workflow.invocation import Invocation

LONG = """\
Lists the Events kubectl canary recorded on the app's RouteTable or HTTPRoute, oldest first: reason
(CanaryInit, CanaryHeader, CanaryWeight, CanaryFinish, CanaryAbort, CanaryGateFailed,
CanaryShadow) and a message with the old and new routing and who changed it. Kubernetes
keeps Events for a limited time (one hour by default), so this is recent history."""

EXAMPLES = """\
  # Who moved echo's traffic, and when
  kubectl canary history echo -n echo

  # The same as JSON
  kubectl canary history echo -o json"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP")
    parser.add_argument("-o", "--output", choices=("table", "json"), default="table")


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    app = validate_name(args.app, "app name")
    namespace = invocation.namespace
    rows: list[dict[str, str]] = []
    # The Events are on the app's route object; no read of it: a LIST of Events per router, until one has some.
    routers = [router_named(invocation.router)] if invocation.router else list(ROUTERS.values())
    names = invocation.names
    for router in routers:
        name = names.route_table if router is GLOO else names.route
        rows = _rows(invocation, router, name or router.object_name(app), app)
        if rows:
            break
    if not rows and not (names.route_table or names.route):
        # An app recorded on a shared route object (app_names.py): its Events are on that object.
        found = recorded_table(invocation.cluster(), namespace, app, routers)
        rows = _rows(invocation, found[0], found[1]["metadata"]["name"], app) if found else []
    if args.output == "json":
        print(json.dumps({"app": app, "namespace": namespace, "items": rows}, indent=2), file=invocation.out)
    elif rows:
        from tabulate import tabulate  # ~30 ms: only when a table is printed

        table = [[r["time"], r["reason"], r["message"]] for r in rows]
        print(tabulate(table, headers=["TIME", "REASON", "MESSAGE"], tablefmt="plain"), file=invocation.out)
    else:
        print(f"No history for {app} in namespace {namespace}.", file=invocation.out)
    return 0


def _rows(invocation: Invocation, router: Router, name: str, app: str) -> list[dict[str, str]]:
    """The history on route object `name`; on a table shared by several apps, only the Events of `app`."""
    selector = f"involvedObject.kind={router.resource.kind},involvedObject.name={name}"
    events = invocation.cluster().list(EVENTS, invocation.namespace, field_selector=selector)
    if name not in (app, router.object_name(app)):
        events = [e for e in events if ((e.get("metadata") or {}).get("labels") or {}).get(APP_LABEL) == app]
    return history_rows(events)


COMMAND = Command(
    name="history",
    short="List the recorded transitions of an app's rollout",
    long=LONG,
    examples=EXAMPLES,
    mutating=False,
    add_arguments=add_arguments,
    run=run,
    permissions=(needs(EVENTS, "list"), needs(ROUTE_TABLES, "list"), needs(HTTP_ROUTES, "list")),
)
