"""What `status` shows: built from live objects first, then rendered. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

from kubectl_canary.errors import CanaryError
from kubectl_canary.model.app_names import AppNames, recorded_apps, recorded_names
from kubectl_canary.model.readiness import Readiness, readiness_of, serving_problem
from kubectl_canary.model.rollout import HeaderMatch, RolloutState, format_percent, traffic_shares
from kubectl_canary.model.style import Style, format_columns
from kubectl_canary.request_routing.app_requests import problems_of
from kubectl_canary.routers.gloo_delegation import Delegation
from kubectl_canary.routers.seam import Router


@dataclass(frozen=True)
class AppStatus:
    """One app's row of `status`: its phase, its versions' readiness and the gateway's verdict."""

    app: str
    namespace: str
    route_object: str  # the name of the RouteTable or HTTPRoute
    state: RolloutState | None
    primary: Readiness | None
    canary: Readiness | None
    verdict: str | None  # the gateway's verdict on the routes; None while unreported
    verdict_reason: str = ""
    router: str = "gloo"
    route_kind: str = "RouteTable"
    gateway: str = "Gloo"
    error: str = ""
    # None when not looked up (status -A, or no permission to list VirtualServices).
    delegations: list[Delegation] | None = None
    notes: tuple[str, ...] = ()
    # Found outside the routes (one app only): e.g. an Upstream port the Service does not have.
    upstream_problems: tuple[str, ...] = ()
    route_ref: str = ""  # the route object as `kubectl get -o name` prints it: routetable.gateway.solo.io/NAME
    backends: tuple[str, ...] = ()  # what the routes send to: Upstreams (NS/NAME) or Services
    parents: tuple[str, ...] | None = None  # the object's parents, where it names them (Gateway API)
    # The app's routes that disagree with its other routes (another weight, no header route).
    route_problems: tuple[str, ...] = ()
    # Where requests go (app_requests.py): canary requests another route takes, shares that differ by path.
    routing_problems: tuple[str, ...] = ()

    @property
    def phase(self) -> str:
        return self.state.phase.value if self.state else "unknown"

    @cached_property
    def problems(self) -> list[str]:
        """Why the rollout is degraded; empty when it is healthy. (Kept: the table and the exit code ask.)"""
        found = []
        if self.error:
            found.append(self.error)
        found.extend(self.upstream_problems)
        found.extend(self.route_problems)
        found.extend(self.routing_problems)
        if self.verdict in ("Rejected", "Degraded"):
            found.append(f"{self.gateway} reports {self.route_kind} {self.route_object} {self.verdict}: "
                         f"{self.verdict_reason or 'no reason given'}")
        if self.state:
            # Any share, however small (0.1% is 1 request in 1000), to a version that does not serve it well:
            # judged as the guards judge traffic moving back to it (readiness.serving_problem).
            readiness = {self.state.primary: self.primary, self.state.canary: self.canary}
            for version, share in traffic_shares(self.state).items():
                role = "primary" if version == self.state.primary else "canary"
                problem = serving_problem(readiness.get(version))
                if problem is not None:
                    found.append(f"{role} {version} receives {format_percent(share)}% of the traffic but is {problem}")
        return found


def readiness_index(deployments: Iterable[dict[str, Any]]) -> dict[tuple[str, str], Readiness]:
    """(namespace, name) -> readiness: built once, so status of N apps costs O(N), not O(N x Deployments)."""
    return {(d["metadata"].get("namespace", ""), d["metadata"]["name"]): readiness_of(d) for d in deployments}


def app_statuses(router: Router, route_object: dict[str, Any], readiness: dict[tuple[str, str], Readiness]
                 ) -> list[AppStatus]:
    """The status of every app in a route object: the one its name derives from, and those it records."""
    apps = dict.fromkeys([router.app_of(route_object["metadata"]["name"]), *recorded_apps(route_object)])
    found = (app_status(router, route_object, readiness, app) for app in apps if app)
    return [status for status in found if status is not None]


def app_status(router: Router, route_object: dict[str, Any], readiness: dict[tuple[str, str], Readiness],
               app: str | None = None, names: AppNames | None = None) -> AppStatus | None:
    """The status of `app` (default: the app whose route object this is); None when the object holds none."""
    meta = route_object["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    app = app or router.app_of(name)
    if app is None or (not router.holds_app(app, router.routes_of(route_object))
                       and app not in recorded_apps(route_object)):
        return None
    names = (names or AppNames()).over(recorded_names(route_object, app))
    verdict = router.verdict(route_object)

    def of(version: str | None) -> Readiness | None:
        return readiness.get((namespace, names.deployment_of(app, version))) if version else None

    def status(state: RolloutState | None = None, *, error: str = "", backends: tuple[str, ...] = (),
               route_problems: tuple[str, ...] = (), routing_problems: tuple[str, ...] = ()) -> AppStatus:
        # One AppStatus per app, not a base and a replace: status -A builds thousands of them.
        return AppStatus(
            app, namespace, name, state, of(state.primary) if state else None, of(state.canary) if state else None,
            verdict.state, verdict.reason, router=router.name, route_kind=router.resource.kind,
            gateway=router.gateway, error=error, route_ref=f"{router.resource.display}/{name}",
            parents=router.parents(route_object), backends=backends, route_problems=route_problems,
            routing_problems=routing_problems,
        )

    try:
        parsed = router.read_named(app, route_object, names)
    except CanaryError as failure:
        return status(error=str(failure))
    return status(parsed.state, backends=router.backends(parsed, namespace), route_problems=parsed.disagreements,
                  routing_problems=problems_of(router.name, app, route_object, parsed))


def _header(headers: tuple[HeaderMatch, ...]) -> dict[str, str | None] | None:
    return {"name": headers[0].name, "value": headers[0].value} if headers else None


def _version(version: str, readiness: Readiness | None) -> dict[str, Any]:
    return {
        "version": version,
        "ready": readiness.ready if readiness else 0,
        "replicas": readiness.desired if readiness else 0,
    }


def _number(percent: Fraction | int) -> int | float:
    """A share as JSON: an integer when whole, else the nearest float (0.1, 12.5)."""
    value = Fraction(percent)
    return int(value) if value.denominator == 1 else float(value)


def as_dict(status: AppStatus) -> dict[str, Any]:
    state = status.state
    canary = None
    if state and state.canary:
        canary = {
            **_version(state.canary, status.canary),
            "weight": _number(state.weight or 0),
            "header": _header(state.headers),
        }
    result: dict[str, Any] = {
        "app": status.app,
        "namespace": status.namespace,
        "phase": status.phase,
        "primary": _version(state.primary, status.primary) if state else None,
        "canary": canary,
        "router": status.router,
        "route": {"kind": status.route_kind, "name": status.route_object, "state": status.verdict},
    }
    if status.router == "gloo":
        result["routeTable"] = {"name": status.route_object, "state": status.verdict}
    if state and state.shadow:
        result["shadow"] = {"version": state.shadow.version, "percent": state.shadow.percent}
    if status.delegations is not None:
        result["delegatedBy"] = [{"virtualService": d.virtual_service, "by": d.by} for d in status.delegations]
    if status.problems:
        result["problems"] = status.problems
    if status.notes:
        result["notes"] = list(status.notes)
    return result


def _cell(version: str | None, readiness: Readiness | None, style: Style) -> str:
    if version is None:
        return "-"
    ready = serving_problem(readiness) is None
    text = f"{version} ({readiness if readiness else 'missing'})"
    return style.mark(ready) + style.paint(text, "green" if ready else "red")


_PHASE_COLOURS = {"stable": "green", "header": "yellow", "weighted": "yellow", "unknown": "red"}
_STATE_COLOURS = {"Accepted": "green", "Warning": "yellow", "Pending": "yellow", "Rejected": "red", "Degraded": "red"}


def _parents(status: AppStatus) -> str:
    """Who sends traffic to the route object: its parentRefs, else the VirtualServices delegating to it."""
    if status.parents is not None:
        return ",".join(status.parents) or "<none>"
    if status.delegations is None:
        return "<unknown>"  # not looked up, or no right to list VirtualServices
    return ",".join(f"{d.virtual_service} ({d.by})" for d in status.delegations) or "<none>"


def render_table(statuses: list[AppStatus], *, all_namespaces: bool, style: Style | None = None,
                 wide: bool = False) -> str:
    """kubectl's table; `wide` adds, as `kubectl get -o wide` does, columns of detail at the end: SHADOW
    (always), ROUTE (the object holding the routes), BACKENDS (Upstreams or Services) and PARENTS."""
    style = style or Style()
    headers = ["APP", "PHASE", "PRIMARY", "CANARY", "WEIGHT", "HEADER", "ROUTER", "VERDICT"]
    if all_namespaces:
        headers.insert(0, "NAMESPACE")
    with_shadow = wide or any(s.state and s.state.shadow for s in statuses)
    if with_shadow:
        headers.append("SHADOW")
    if wide:
        headers += ["ROUTE", "BACKENDS", "PARENTS"]
    rows = []
    for status in statuses:
        state = status.state
        row = [
            style.paint(status.app, "bold"),
            style.paint(status.phase, _PHASE_COLOURS.get(status.phase, "yellow")),
            _cell(state.primary if state else None, status.primary, style),
            _cell(state.canary if state else None, status.canary, style),
            f"{format_percent(state.weight)}%" if state and state.weight is not None else "-",
            " & ".join(map(str, state.headers)) if state and state.headers else "-",
            status.router,
            style.paint(status.verdict or "-", _STATE_COLOURS.get(status.verdict or "", "dim")),
        ]
        if all_namespaces:
            row.insert(0, status.namespace)
        if with_shadow:
            shadow = state.shadow if state else None
            row.append(f"{shadow.percent:g}% to {shadow.version}" if shadow else "-")
        if wide:
            kind, _, name = status.route_ref.partition("/")
            row += [f"{kind.split('.')[0]}/{name}", ",".join(status.backends) or "-", _parents(status)]
        rows.append(row)
    table = format_columns(headers, rows)
    lines = [style.paint(f"! {s.app}: {problem}", "red") for s in statuses for problem in s.problems]
    lines += [style.paint(f"note: {s.app}: {note}", "dim") for s in statuses for note in s.notes]
    return "\n".join([table, *lines])


def object_names(statuses: list[AppStatus]) -> list[str]:
    """`status -o name`: each app's route object as `kubectl get -o name` prints it (KIND.GROUP/NAME), to feed
    back to kubectl. Apps sharing an object print it once; like kubectl's, no namespace, even with -A."""
    return [ref for _, ref in dict.fromkeys((s.namespace, s.route_ref) for s in statuses)]
