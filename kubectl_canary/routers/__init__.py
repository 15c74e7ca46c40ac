"""The seam between the rollout and the gateway that carries it: one module per router behind `Router`.

A router knows where an app's routes live (one object: a Gloo RouteTable, a Gateway API HTTPRoute, whose
route list is atomic: the plugin writes it whole), how to read them into a `RolloutState` and render a
state back (pure: routers/gloo.py, routers/gateway_api.py), how the gateway reports its verdict, and which
objects a version needs before it can take traffic and which may go once it takes none (the I/O of
routers/gloo_backends.py and routers/gateway_api_backends.py). The commands and the rollout core never
know which router they drive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from kubectl_canary.app_names import RECORD_SELECTOR, AppNames, recorded_apps, recorded_names
from kubectl_canary.cluster import HTTP_ROUTES, ROUTE_TABLES, Resource
from kubectl_canary.errors import NotServedError, UsageError
from kubectl_canary.rollout import RolloutState
from kubectl_canary.routers import gateway_api, gloo
from kubectl_canary.routers.gloo_delegation import Delegation

if TYPE_CHECKING:
    from kubectl_canary.cluster import Cluster, Obj
    from kubectl_canary.invocation import Invocation
    from kubectl_canary.manifests import AppSpec
    from kubectl_canary.route_updates import LiveRollout, RouteChange


class Parsed(Protocol):
    """A router's reading of the app's routes: the state, plus where the routes sit (router-specific)."""

    @property
    def state(self) -> RolloutState: ...

    @property
    def route_states(self) -> tuple[RolloutState, ...]:
        """Each route's own state (an app may have several routes); all equal to `state` unless degraded."""

    @property
    def disagreements(self) -> tuple[str, ...]:
        """The routes whose own state differs from the app's, each named: the app is degraded."""


@dataclass(frozen=True)
class Verdict:
    """The gateway's judgement of the route object: `state` None while it has reported nothing."""

    state: str | None
    reason: str = ""


NO_VERDICT = Verdict(None)


@dataclass(frozen=True)
class StatusNotes:
    """What `status APP` adds beyond the routes: problems (degrade the rollout) and notes."""

    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    delegations: list[Delegation] | None = None  # Gloo: the VirtualServices that reach the RouteTable


@dataclass(frozen=True)
class Router:
    name: str  # the value of --router
    gateway: str  # who judges the routes, in messages
    resource: Resource  # the kind of the object holding the app's routes
    list_field: str  # spec.<list_field>: the atomic list of routes the plugin writes whole
    object_name: Callable[[str], str]
    app_of: Callable[[str], str | None]  # the app whose route object has this name, if any
    parse: Callable[[str, list[Any], AppNames], Parsed]  # names: where the app's routes are (Gloo)
    # (the whole route list, the router's own Parsed of it, the desired state) -> the whole route list
    render: Callable[[list[Any], Any, RolloutState], list[Any]]
    holds_app: Callable[[str, list[Any]], bool]  # whether a route object carries routes of the app
    verdict: Callable[[Obj], Verdict]
    # Whether `written` carries the gateway's verdict on itself (vs. the `before` the command read).
    reported: Callable[[Obj, Obj], bool]
    # True when the verdict says which generation it judged (so waiting for it has an exact end).
    exact_verdict: bool

    def routes_of(self, obj: Obj) -> list[Any]:
        return list((obj.get("spec") or {}).get(self.list_field) or [])

    def read(self, app: str, obj: Obj, names: AppNames | None = None) -> Parsed:
        """The app's rollout in `obj`, its routes found by `names` (flags), else as `obj` records them."""
        names = (names or AppNames()).over(recorded_names(obj, app))
        return self.parse(app, self.routes_of(obj), replace(names, route_table=obj["metadata"]["name"]))


def _gloo_verdict(obj: Obj) -> Verdict:
    return Verdict(*gloo.gloo_state(obj))


def _gateway_api_verdict(obj: Obj) -> Verdict:
    verdict = gateway_api.route_verdict(obj)
    return Verdict(verdict.state if (obj.get("status") or {}).get("parents") else None, verdict.reason)


GLOO = Router(
    name="gloo",
    gateway="Gloo",
    resource=ROUTE_TABLES,
    list_field="routes",
    object_name=gloo.route_table_name,
    app_of=gloo.app_of_route_table,
    parse=lambda app, routes, names: gloo.parse_routes(
        app, routes, route_names=names.limited_to, upstream=names.upstream, table=names.route_table
    ),
    render=gloo.render_routes,
    holds_app=gloo.is_rollout_table,
    verdict=_gloo_verdict,
    # Gloo rewrites its status only when the verdict changes, and it has no observedGeneration.
    reported=lambda before, written: (written.get("status") or {}) != (before.get("status") or {}),
    exact_verdict=False,
)

GATEWAY_API = Router(
    name="gateway-api",
    gateway="the gateway",
    resource=HTTP_ROUTES,
    list_field="rules",
    object_name=gateway_api.route_name,
    app_of=lambda name: name,
    parse=lambda app, rules, names: gateway_api.parse_rules(app, rules, names.limited_to),
    render=gateway_api.render_rules,
    holds_app=gateway_api.is_rollout_route,
    verdict=_gateway_api_verdict,
    # Every condition carries the generation it judged: processed means judged at the current one.
    reported=lambda before, written: gateway_api.route_verdict(written).processed,
    exact_verdict=True,
)

ROUTERS = {router.name: router for router in (GLOO, GATEWAY_API)}
DEFAULT = GLOO


class RouterBackends(Protocol):
    """The I/O a router needs around its routes (routers/gloo_backends.py, routers/gateway_api_backends.py)."""

    def init_objects(self, spec: AppSpec) -> list[Obj]: ...
    def after_init(self, cluster: Cluster, invocation: Invocation, written: list[Obj]) -> None: ...
    def prepare_canary(self, cluster: Cluster, invocation: Invocation, live: LiveRollout, version: str, *,
                       force: bool) -> None: ...
    def prepare_shadow(self, cluster: Cluster, invocation: Invocation, live: LiveRollout, version: str) -> None: ...
    def retire(self, cluster: Cluster, invocation: Invocation, live: LiveRollout, change: RouteChange,
               keep: frozenset[str] = frozenset()) -> None: ...
    def retire_versions(self, cluster: Cluster, invocation: Invocation, namespace: str, app: str,
                        versions: list[str]) -> None: ...
    def status_notes(self, cluster: Cluster, live: LiveRollout) -> StatusNotes: ...


def backends_of(router: Router) -> RouterBackends:
    """The router's I/O module, imported only when a command needs it."""
    if router is GATEWAY_API:
        from kubectl_canary.routers import gateway_api_backends

        return gateway_api_backends
    from kubectl_canary.routers import gloo_backends

    return gloo_backends


def router_named(name: str) -> Router:
    return ROUTERS[name]


def find_app(cluster: Cluster, namespace: str, app: str, choice: str | None, *,
             required: Router | None = None, route_table: str | None = None, route: str | None = None
             ) -> tuple[Router, Obj] | None:
    """The router whose route object of `app` exists, and that object; None when none does.

    With `choice` (--router) only that router is asked. Without it every router is, and an app whose
    routes exist on two gateways at once (during a migration) must be told which one to move. A router
    whose API the cluster does not serve holds no app, unless it is the chosen or `required` one.
    `route_table` (--route-table) names the Gloo RouteTable, `route` (--route) the HTTPRoute; without them,
    an app none of the derived names finds is looked for in the route objects that record it (app_names.py).
    """
    if route_table:
        if choice and choice != GLOO.name:
            raise UsageError(f"--route-table names a Gloo RouteTable; it does not go with --router {choice}")
        table = cluster.get(ROUTE_TABLES, namespace, route_table)
        return None if table is None else (GLOO, table)
    if route:
        if choice and choice != GATEWAY_API.name:
            raise UsageError(f"--route names an HTTPRoute; it does not go with --router {choice}")
        http_route = cluster.get(HTTP_ROUTES, namespace, route)
        return None if http_route is None else (GATEWAY_API, http_route)

    found: list[tuple[Router, Obj]] = []
    order = [required, *(r for r in ROUTERS.values() if r is not required)] if required else ROUTERS.values()
    for router in [ROUTERS[choice]] if choice else order:
        try:
            obj = cluster.get(router.resource, namespace, router.object_name(app))
        except NotServedError:
            if choice or router is required:
                raise
            continue  # that gateway's API is not installed: the app cannot live there
        if obj is not None:
            found.append((router, obj))
    if len(found) > 1:
        names = " and ".join(f"{r.resource.kind} {obj['metadata']['name']}" for r, obj in found)
        raise UsageError(
            f"app {app} has routes on two gateways ({names}); choose which to change with "
            f"--router {'|'.join(r.name for r, _ in found)}"
        )
    if not found:
        return recorded_table(cluster, namespace, app, [ROUTERS[choice]] if choice else list(ROUTERS.values()))
    return found[0]


def recorded_table(cluster: Cluster, namespace: str, app: str, routers: list[Router] | None = None
                   ) -> tuple[Router, Obj] | None:
    """The route object of the namespace whose record names `app` (one shared by several apps): RouteTables
    first, then HTTPRoutes; one LIST per router asked."""
    from kubectl_canary.errors import ForbiddenError, NotServedError, UsageError

    for router in routers or [GLOO]:
        try:
            objs = [o for o in cluster.list(router.resource, namespace, RECORD_SELECTOR) if app in recorded_apps(o)]
        except (NotServedError, ForbiddenError):
            continue  # not served, or no right to list them: no recorded app to find there
        if len(objs) > 1:
            names = ", ".join(o["metadata"]["name"] for o in objs)
            flag = "--route-table" if router is GLOO else "--route"
            raise UsageError(f"app {app} is recorded on several {router.resource.kind}s ({names}); pick one with "
                             f"{flag} NAME")
        if objs:
            return router, objs[0]
    return None
