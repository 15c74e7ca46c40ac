"""`kubectl canary route APP`: where a request goes on the app's live routes, and why; before or after a change."""

from __future__ import annotations

import argparse
import copy
import io
import json
import re
import shlex
import sys
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from kubectl_canary.commands import Command
from kubectl_canary.errors import CanaryError, ForbiddenError, NotServedError, UsageError
from kubectl_canary.kube.permissions import needs
from kubectl_canary.model.resources import (
    DEPLOYMENTS,
    GATEWAYS,
    HTTP_ROUTES,
    NAMESPACES,
    ROUTE_TABLES,
    SERVICES,
    UPSTREAMS,
    VIRTUAL_SERVICES,
    Obj,
)
from kubectl_canary.model.rollout import RolloutState, validate_name
from kubectl_canary.model.style import format_columns
from kubectl_canary.model.verb_plans import PLANS
from kubectl_canary.request_routing.app_requests import Answer, AppRoutes, GlooRoutes, of_route_object
from kubectl_canary.request_routing.requests import Decision, Request
from kubectl_canary.routers.seam import LiveRollout
from kubectl_canary.workflow.invocation import Invocation

LONG = """\
Reads the app's live RouteTable (Gloo) or HTTPRoute (Gateway API), and where it can, the
VirtualService that delegates to the table or the Gateway the route attaches to, then answers with
the gateway's own routing rules (Gloo: the first route that matches, in order; the Gateway API: the
match of highest precedence): for the request given by --path, --method and -H, the route or rule
that takes it, the versions it goes to and their shares, and every route it passed over and why.
Without a request: for each of the app's paths, where a plain request and a request with the canary
header go. A `!` line names what `status` reports as degraded (a header route that canary requests
do not reach, a canary share that differs between paths).

--after 'VERB ARGS' answers for the routes that routing verb (header, weight, finish, abort, shadow)
would write, writing nothing: the verb runs in client dry-run mode, with its own checks (a verb
that would be refused is an error). --local -f PATH and --helm-values FILE read the routes from
manifests or the seed chart's values instead of the cluster."""

EXAMPLES = """\
  # Where a plain request and a canary request go, for each of echo's paths
  kubectl canary route echo -n echo

  # One request, with every route it passed over
  kubectl canary route echo --path /echo/api -H stage=canary

  # The same after the weight moved to 30%, nothing written (a review of the change)
  kubectl canary route echo --after 'weight 30'

  # From the manifests in Git, as they would be after finish
  kubectl canary route echo --local -f deploy/ --after finish"""

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
ROUTING_VERBS = tuple(PLANS)  # the verbs whose plan changes the routes: header, weight, finish, abort, shadow
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP")
    request = parser.add_argument_group("the request (default: a plain and a canary request for each of the app's "
                                        "paths)")
    request.add_argument("--path", metavar="PATH", help="the request's path, with a query string if any "
                         "(/echo/api?debug=1); default: the app's first path")
    request.add_argument("--method", type=str.upper, choices=METHODS, help="the request's method (default GET)")
    request.add_argument("-H", "--request-header", dest="request_headers", action="append", default=[],
                         metavar="NAME=VALUE", help="a header the request carries (repeatable)")
    parser.add_argument("--after", metavar="'VERB ARGS'",
                        help="answer for the routes a routing verb would write, e.g. 'weight 30', 'header v2', "
                        "'finish' (nothing is written)")
    parser.add_argument("-o", "--output", choices=("text", "json"), default="text")
    offline = parser.add_argument_group("offline (GitOps: read the manifests, not the cluster)")
    # Own names: the CLI's offline mode would write the files back; this command only reads them.
    offline.add_argument("--local", dest="route_local", action="store_true",
                         help="read the manifests -f names instead of the cluster")
    offline.add_argument("-f", "--filename", dest="route_filename", metavar="PATH",
                         help="with --local: a manifest file, a directory of them, or a kustomization directory")
    offline.add_argument("--helm-values", dest="route_helm_values", metavar="FILE",
                         help="read the values file of the seed's Helm chart instead of the cluster")
    offline.add_argument("--check-live", dest="route_check_live", action="store_true",
                         help="offline, with --after: check readiness against the cluster")


# --- arguments ----------------------------------------------------------------------------------------


def request_of(args: argparse.Namespace) -> Request | None:
    """The request the flags describe; None without --path, --method and -H. Checked before anything is sent."""
    if args.path is None and args.method is None and not args.request_headers:
        return None
    headers: dict[str, str] = {}
    for text in args.request_headers:
        name, sep, value = text.partition("=")
        if not sep or not _HEADER_NAME.fullmatch(name.strip()):
            raise UsageError(f"invalid -H {text!r}: use NAME=VALUE (for example stage=canary)")
        headers[name.strip().lower()] = value
    path, query = "", {}
    if args.path is not None:
        if not args.path.startswith("/"):
            raise UsageError(f"invalid --path {args.path!r}: a path starts with / (for example /echo/api)")
        path, _, query_string = args.path.partition("?")
        for item in filter(None, query_string.split("&")):
            key, _, value = item.partition("=")
            query[key] = value
    return Request(path, args.method or "GET", headers, query)


def after_args(text: str | None, app: str, invocation: Invocation) -> argparse.Namespace | None:
    """The routing verb --after names, parsed by that verb's own parser (so its arguments are its own)."""
    if text is None:
        return None
    try:
        words = shlex.split(text)
    except ValueError as error:
        raise UsageError(f"invalid --after {text!r}: {error}") from None
    if not words or words[0] not in ROUTING_VERBS:
        raise UsageError(f"--after takes a routing verb and its arguments ({', '.join(ROUTING_VERBS)}), "
                         f"e.g. --after 'weight 30'; not {text!r}")
    verb, rest = words[0], words[1:]
    if rest[:1] == [app]:
        rest = rest[1:]  # `weight echo 30` as well as `weight 30`
    assert invocation.parse_verb is not None, "the command line hands its parser down"
    try:
        parsed = invocation.parse_verb([verb, app, *rest])
    except UsageError as error:
        raise UsageError(f"invalid --after {text!r}: {error}") from None
    if getattr(parsed, "step", None) is not None or getattr(parsed, "steps", None) is not None:
        raise UsageError("--after answers for one change: give the final weight, without --step/--steps")
    parsed.after_text = " ".join([verb, *rest])
    return parsed


# --- reading ------------------------------------------------------------------------------------------


def _front(invocation: Invocation, live: LiveRollout, notes: list[str]
           ) -> tuple[tuple[str, list[Obj], list[bool]] | None, bool]:
    """Gloo: the VirtualService that delegates to the table (its routes stand before and after the table's),
    and whether by a label selector; the Gateway API: notes on the Gateway. Unreadable (403, not served): a
    note, never an error."""
    from kubectl_canary.routers.gloo_delegation import delegations_to

    cluster = invocation.cluster()
    meta = live.obj["metadata"]
    if live.router.name != "gloo":
        for parent in (live.obj.get("spec") or {}).get("parentRefs") or []:
            where = f"{parent.get('namespace') or meta['namespace']}/{parent.get('name')}"
            try:
                gateway = cluster.get(GATEWAYS, parent.get("namespace") or meta["namespace"], str(parent.get("name")))
            except (ForbiddenError, NotServedError):
                if invocation.manifests is None:  # offline the skipped check says so
                    notes.append(f"Gateway {where} not readable: where it listens is not shown")
                continue
            if gateway is None:
                notes.append(f"Gateway {where} not found: no gateway serves HTTPRoute {meta['name']}")
                continue
            listener = f" (listener {parent['sectionName']})" if parent.get("sectionName") else ""
            notes.append(f"HTTPRoute {meta['name']} attaches to Gateway {where}{listener}; other HTTPRoutes attached "
                         f"there also compete for these requests and are not read")
        return None, False
    try:
        virtual_services = sorted(cluster.list(VIRTUAL_SERVICES, None),
                                  key=lambda v: (v["metadata"].get("namespace", ""), v["metadata"]["name"]))
    except (ForbiddenError, NotServedError):
        if invocation.manifests is None:  # offline the skipped check says so
            notes.append(f"VirtualServices not readable: only the routes of RouteTable {meta['name']} are shown")
        return None, False
    delegating = [vs for vs in virtual_services if delegations_to(live.obj, [vs])]
    if not delegating:
        notes.append(f"no VirtualService delegates to RouteTable {meta['name']}: requests do not reach it "
                     f"(the table's routes are shown alone)")
        return None, False
    vs = delegating[0]
    name = f"{vs['metadata']['namespace']}/{vs['metadata']['name']}"
    routes = list(((vs.get("spec") or {}).get("virtualHost") or {}).get("routes") or [])

    def delegates_here(route: Obj) -> bool:
        single = {**vs, "spec": {"virtualHost": {"routes": [route]}}}
        return bool(delegations_to(live.obj, [single]))

    if len(delegating) > 1:
        others = ", ".join(f"{v['metadata']['namespace']}/{v['metadata']['name']}" for v in delegating[1:])
        notes.append(f"VirtualServices {others} also delegate to RouteTable {meta['name']} (for their own domains); "
                     f"shown: through {name}")
    by_selector = any(d.by == "selector" for d in delegations_to(live.obj, [vs]))
    return (name, routes, [delegates_here(r) for r in routes]), by_selector


def _written_by(verb_args: argparse.Namespace, invocation: Invocation, live: LiveRollout) -> Obj:
    """The route object as the verb would leave it: the verb runs in client dry-run mode (its reads and its
    checks as always, no write), and the route object it would apply is taken from what it reports."""
    cluster = invocation.cluster()
    dry = cluster if invocation.manifests is not None else copy.copy(cluster)
    dry.dry_run = "client" if invocation.manifests is None else dry.dry_run
    quiet = replace(invocation, dry_run="client", output="json", out=io.StringIO(), written=[], gloo_timeout=0.0,
                    force_conflicts=bool(getattr(verb_args, "force_conflicts", False)), _cluster=dry)
    try:
        verb_args.run(verb_args, quiet)
    except ForbiddenError:
        raise
    except UsageError as error:
        raise UsageError(f"invalid --after {verb_args.after_text!r}: {error}") from None
    except CanaryError as error:
        refused = CanaryError(f"{verb_args.after_text} would be refused: {error}")
        refused.exit_code = error.exit_code
        raise refused from None
    meta = live.obj["metadata"]
    after = copy.deepcopy(live.obj)
    for obj in quiet.written:
        if obj.get("kind") == live.router.resource.kind and obj["metadata"]["name"] == meta["name"]:
            after["spec"][live.router.list_field] = copy.deepcopy(obj["spec"][live.router.list_field])
    return after


def _helm_routes(args: argparse.Namespace, invocation: Invocation, app: str,
                 verb_args: argparse.Namespace | None) -> tuple[Obj, Any, list[str]]:
    """The RouteTable the seed chart renders from the values (after the verb, with --after)."""
    from kubectl_canary.gitops import helm_values_file
    from kubectl_canary.gitops.helm_values import NEXT, dialect_of, state_of
    from kubectl_canary.gitops.manifest_files import plain
    from kubectl_canary.routers.gloo import UpstreamRef, parse_routes, render_routes, stable_routes

    path = Path(args.route_helm_values)
    values = helm_values_file.read_values(path)
    document = plain(next(d for d in values.documents if d.node is not None).node)
    dialect = dialect_of(document, path)
    if dialect == NEXT:
        raise UsageError(f"{path}: route --helm-values knows the routes of the seed's chart only; for the next "
                         f"chart, render it (helm template) and ask route --local -f with the output")
    state = before = state_of(document, app, path)
    if verb_args is not None:
        # The verb's plan and guard as --helm-values runs them; what the chart's values cannot say is refused.
        _, state, _, skipped = helm_values_file.transition(helm_values_file.plan_of(verb_args), invocation, path,
                                                           document, check_live=args.route_check_live)
        for check in skipped:
            print(f"skipped: {check} {helm_values_file.SKIPPED}", file=sys.stderr)
    namespace = invocation.namespace_flag or "default"
    prefix = f"/{app}"
    stable = stable_routes(app, before.primary, UpstreamRef(app, namespace), prefix)
    rendered = render_routes(stable, parse_routes(app, stable), state)
    routes = [{k: v for k, v in r.items() if k != "name"} for r in rendered]  # the chart names no route
    obj = {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
           "metadata": {"name": f"{app}-routes", "namespace": namespace}, "spec": {"routes": routes}}
    notes = [f"the routes the seed's chart renders from {path.name} for prefix {prefix}"]
    return obj, parse_routes(app, routes), notes


# --- output ---------------------------------------------------------------------------------------------


def _number(share: Fraction) -> int | float:
    percent = share * 100
    return int(percent) if percent.denominator == 1 else float(percent)


def _answer_dict(answer: Answer) -> dict[str, Any]:
    decision = answer.decision
    return {
        "request": decision.request.as_dict(),
        "route": decision.route,
        "in": answer.where if decision.route else None,
        "matchedBy": decision.matched or None,
        **({"precedence": decision.precedence} if decision.precedence else {}),
        "destinations": [{"version": t.version, "backend": t.backend, "percent": _number(t.share)}
                         for t in answer.targets],
        **({"answer": decision.answer} if decision.answer else {}),
        "passedOver": [{"route": p.route, "reason": p.reason} for p in decision.passed_over],
    }


def _route_cell(decision: Decision) -> str:
    return decision.route or "-"


def render_request(view: AppRoutes, answer: Answer) -> list[str]:
    decision = answer.decision
    rows = [("request", str(decision.request))]
    if decision.route is None:
        rows.append(("route", f"none ({decision.answer})"))
    else:
        rows += [("route", f"{decision.route} ({answer.where})"), ("matched by", decision.matched)]
        if decision.precedence:
            rows.append(("precedence", decision.precedence))
        rows.append(("goes to", answer.goes_to))
    passed = [f"{p.route}: {p.reason}" for p in decision.passed_over] or ["-"]
    rows += [("passed over", passed[0]), *(("", line) for line in passed[1:])]
    width = max(len(key) for key, _ in rows)
    return [f"{key.ljust(width)}  {value}".rstrip() for key, value in rows]


def render_paths(view: AppRoutes) -> list[str]:
    rows = []
    for row in view.answers():
        for answer, request in ((row.plain, row.path.example), (row.canary, row.canary_request)):
            if request is None or answer is None:
                rows.append([row.path.match, "(no example request)", "-", "-"])
                break
            rows.append([row.path.match, str(request), _route_cell(answer.decision), answer.goes_to])
    return format_columns(["MATCH", "REQUEST", "ROUTE", "GOES TO"], rows).splitlines()


def _sorting_note(view: AppRoutes, requests: list[Request], by_selector: bool) -> list[str]:
    """Selector delegation: the requests Gloo's sort of same-weight tables would send elsewhere."""
    if not isinstance(view, GlooRoutes) or not by_selector:
        return []
    moved = []
    for request in requests:
        other = view.sorted_answer(request)
        if other is not None:
            moved.append(f"{request} to {other.decision.route or 'no route'}")
    if not moved:
        return []
    return [f"if Gloo sorts these routes by path (when the selector also picks a table of the same weight): "
            f"{'; '.join(moved)}"]


# --- the verb -----------------------------------------------------------------------------------------------


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    app = validate_name(args.app, "app name")
    request = request_of(args)
    verb_args = after_args(args.after, app, invocation)
    if args.route_helm_values and (args.route_local or args.route_filename):
        raise UsageError("--helm-values and --local -f are two offline modes: give one")
    if args.route_filename and not args.route_local:
        raise UsageError("-f works with --local (read manifest files, not the cluster)")
    if args.route_local and not args.route_filename:
        raise UsageError("--local needs -f PATH: the manifests to read")
    notes: list[str] = []
    front, by_selector = None, False
    if args.route_helm_values:
        obj, parsed, notes = _helm_routes(args, invocation, app, verb_args)
        router, namespace = "gloo", obj["metadata"]["namespace"]
    else:
        if args.route_local:
            invocation.use_manifests(args.route_filename, check_live=args.route_check_live)
        live = invocation.read_rollout(app)
        front, by_selector = _front(invocation, live, notes)
        obj = _written_by(verb_args, invocation, live) if verb_args is not None else live.obj
        parsed = live.router.read(app, obj, live.names) if verb_args is not None else live.parsed
        router, namespace = live.router.name, obj["metadata"]["namespace"]
        if invocation.manifests is not None:
            for check in invocation.manifests.skipped:
                print(f"skipped: {check} (needs the cluster; --check-live checks it there)", file=sys.stderr)
    if verb_args is not None:
        print(f"after {verb_args.after_text}: computed, nothing written", file=sys.stderr)
    view = of_route_object(router, app, obj, parsed, front)
    state: RolloutState = parsed.state
    problems = view.problems()
    if request is not None:
        if not request.path:
            first = next((p.example for p in view.paths() if p.example is not None), None)
            request = replace(request, path=first.path if first else "/")
        answer = view.answer(request)
        notes += _sorting_note(view, [request], by_selector)
        body: dict[str, Any] = {"app": app, "namespace": namespace, "router": router, **_answer_dict(answer)}
        lines = render_request(view, answer)
    else:
        rows = view.answers()
        requests = [r for row in rows for r in (row.path.example, row.canary_request) if r is not None]
        notes += _sorting_note(view, requests, by_selector)
        body = {"app": app, "namespace": namespace, "router": router, "paths": [
            {"match": row.path.match, "routeOfPath": row.path.route,
             "plain": row.plain and _answer_dict(row.plain), "canary": row.canary and _answer_dict(row.canary)}
            for row in rows]}
        lines = render_paths(view)
        if state.canary is None and rows:
            notes.append(f"{app} is stable on {state.primary}: the canary request shows where header "
                         f"{' and '.join(map(str, view.canary_headers()))} goes today")
    if args.output == "json":
        body.update({k: v for k, v in (("problems", problems), ("notes", notes)) if v})
        print(json.dumps(body, indent=2), file=invocation.out)
        return 0
    lines += [f"! {app}: {problem}" for problem in problems] + [f"note: {note}" for note in notes]
    print("\n".join(lines), file=invocation.out)
    return 0


COMMAND = Command(
    name="route",
    short="Show where a request goes on the app's routes, and why; before or after a change",
    long=LONG,
    examples=EXAMPLES,
    mutating=False,
    add_arguments=add_arguments,
    run=run,
    permissions=(
        needs(ROUTE_TABLES, "get", "list"),  # list: an app recorded on a shared table
        needs(HTTP_ROUTES, "get", "list"),
        needs(GATEWAYS, "get"),
        # --after: what the routing verb reads in its dry run (readiness guards, the canary's objects).
        needs(DEPLOYMENTS, "get", "list"),
        needs(UPSTREAMS, "get"),
        needs(SERVICES, "get"),
        needs(NAMESPACES, "get", cluster_wide=True),
        needs(VIRTUAL_SERVICES, "list", cluster_wide=True),
    ),
)
