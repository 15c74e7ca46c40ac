"""The seam between the rollout and the gateway that carries it: one module per router behind `Router`.

A router knows where an app's routes live (one object: a Gloo RouteTable, a Gateway API HTTPRoute, whose
route list is atomic: the plugin writes it whole), how to read them into a `RolloutState` and render a
state back (pure: routers/gloo.py, routers/gateway_api.py), how the gateway reports its verdict, and which
objects a version needs before it can take traffic and which may go once it takes none (the I/O of
routers/gloo_backends.py and routers/gateway_api_backends.py). The commands and the rollout core never
know which router they drive. The seam's types are in routers/seam.py; here are the two routers, and
finding an app's route object and reading its rollout through a Cluster the caller passes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from kubectl_canary.errors import CanaryError, ForbiddenError, NotServedError, UsageError
from kubectl_canary.model.app_names import RECORD_SELECTOR, AppNames, recorded_apps, recorded_names
from kubectl_canary.model.resources import HTTP_ROUTES, NAMESPACES, ROUTE_TABLES
from kubectl_canary.routers import gateway_api, gloo
from kubectl_canary.routers.seam import LiveRollout, Reporter, RouteChange, Router, StatusNotes, Verdict

if TYPE_CHECKING:
    from kubectl_canary.kube.cluster import Cluster
    from kubectl_canary.model.manifests import AppSpec
    from kubectl_canary.model.resources import Obj


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
    backends=gloo.backends,
    parents=lambda obj: None,
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
    backends=gateway_api.backends,
    parents=gateway_api.parents,
)

ROUTERS = {router.name: router for router in (GLOO, GATEWAY_API)}
DEFAULT = GLOO


class RouterBackends(Protocol):
    """The I/O a router needs around its routes (routers/gloo_backends.py, routers/gateway_api_backends.py)."""

    def init_objects(self, spec: AppSpec) -> list[Obj]: ...
    def after_init(self, cluster: Cluster, reporter: Reporter, written: list[Obj]) -> None: ...
    def prepare_canary(self, cluster: Cluster, reporter: Reporter, live: LiveRollout, version: str, *,
                       force: bool) -> None: ...
    def prepare_shadow(self, cluster: Cluster, reporter: Reporter, live: LiveRollout, version: str) -> None: ...
    def retire(self, cluster: Cluster, reporter: Reporter, live: LiveRollout, change: RouteChange,
               keep: frozenset[str] = frozenset()) -> None: ...
    def retire_versions(self, cluster: Cluster, reporter: Reporter, namespace: str, app: str,
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
    whose API the cluster does not serve, or that the user may not read (403: a Role naming only the other
    gateway's kinds), holds no app, unless it is the chosen or `required` one, or the app is found on no
    router that could be read (then it may be on the unreadable one: the 403 stays). `route_table`
    (--route-table) names the Gloo RouteTable, `route` (--route) the HTTPRoute; without them, an app none
    of the derived names finds is looked for in the route objects that record it (app_names.py).
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
    forbidden: list[ForbiddenError] = []
    order = [required, *(r for r in ROUTERS.values() if r is not required)] if required else ROUTERS.values()
    for router in [ROUTERS[choice]] if choice else order:
        try:
            obj = cluster.get(router.resource, namespace, router.object_name(app))
        except (NotServedError, ForbiddenError) as error:
            if choice or router is required:
                raise
            if isinstance(error, ForbiddenError):
                forbidden.append(error)
            continue  # that gateway's API is not installed, or not ours to read: the app is not there
        if obj is not None:
            found.append((router, obj))
    if len(found) > 1:  # only where both kinds could be read
        names = " and ".join(f"{r.resource.kind} {obj['metadata']['name']}" for r, obj in found)
        raise UsageError(
            f"app {app} has routes on two gateways ({names}); choose which to change with "
            f"--router {'|'.join(r.name for r, _ in found)}"
        )
    if not found:
        recorded = recorded_table(cluster, namespace, app, [ROUTERS[choice]] if choice else list(ROUTERS.values()))
        if recorded is None and forbidden and required is None:
            # Not on any router we may read: it may well be on the one we may not, so that stays an error.
            raise forbidden[0]
        return recorded
    return found[0]


def recorded_table(cluster: Cluster, namespace: str, app: str, routers: list[Router] | None = None
                   ) -> tuple[Router, Obj] | None:
    """The route object of the namespace whose record names `app` (one shared by several apps): RouteTables
    first, then HTTPRoutes; one LIST per router asked."""
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


def read_rollout(cluster: Cluster, namespace: str, app: str, router: str | None = None,
                 names: AppNames | None = None, *, files: str | None = None) -> LiveRollout:
    """The live route object of `app` (on the router `--router` names, else wherever it is) and its rollout.

    `names`: the names flags give (--route-table, --route, --route-name, ...), over those recorded on the
    route object. `files`: offline (`--local -f`), the manifests whose objects `cluster` holds
    (gitops/manifest_cluster.py): they are read the same way, and an app not found is named there.
    """
    names = names or AppNames()
    found = find_app(cluster, namespace, app, router, route_table=names.route_table, route=names.route)
    if found is None:
        raise _not_found(cluster, namespace, app, router, names, files)
    found_router, obj = found
    names = names.over(recorded_names(obj, app))
    parsed = found_router.read(app, obj, names)
    return LiveRollout(obj, parsed, found_router, names.with_primary(parsed.state.primary))


def _not_found(cluster: Cluster, namespace: str, app: str, router: str | None, names: AppNames,
               files: str | None) -> CanaryError:
    if files is None and not namespace_exists(cluster, namespace):
        return CanaryError(f"namespace {namespace} not found; pick one with -n NAMESPACE")
    if names.route_table or names.route:
        kind, name = ("RouteTable", names.route_table) if names.route_table else ("HTTPRoute", names.route)
        if files is not None:
            return CanaryError(f"{kind} {name} not found in {files} (namespace {namespace})")
        return CanaryError(f"{kind} {name} not found in namespace {namespace}")
    routers = [router_named(router)] if router else list(ROUTERS.values())
    where = " or ".join(f"{r.resource.kind} {r.object_name(app)}" for r in routers)
    if files is not None:
        return CanaryError(f"app {app} not found in {files}: no {where} in namespace {namespace}")
    return CanaryError(
        f"app {app} not found in namespace {namespace} (no {where}); "
        f"create it with: kubectl canary init {app} -n {namespace}"
    )


def namespace_exists(cluster: Cluster, namespace: str) -> bool:
    """Namespaces are cluster-scoped: a namespaced Role cannot read them, so 403 counts as "exists"."""
    try:
        return cluster.get(NAMESPACES, None, namespace) is not None
    except ForbiddenError:
        return True
