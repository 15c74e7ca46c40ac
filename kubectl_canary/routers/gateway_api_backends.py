"""What the Gateway API needs around the routes (I/O): one Service per version (`APP-VERSION`, the
backendRefs' target), created before a version takes traffic and deleted once it takes none. The same
functions as every router's backends module (see routers/__init__.py)."""

from __future__ import annotations

from kubectl_canary.errors import CanaryError, ForbiddenError, UsageError
from kubectl_canary.kube.cluster import Cluster
from kubectl_canary.model.manifests import MANAGED_BY, AppSpec, deployment
from kubectl_canary.model.resources import GATEWAYS, SERVICES, Obj
from kubectl_canary.model.rollout import routed_versions
from kubectl_canary.routers.gateway_api import canary_service, httproute, service_name, stable_rules, version_service
from kubectl_canary.routers.seam import LiveRollout, Reporter, RouteChange, StatusNotes


def init_objects(spec: AppSpec) -> list[Obj]:
    """Deployment APP-VERSION, Service APP-VERSION, then the HTTPRoute: it never routes to nothing."""
    if spec.gateway is None:
        raise UsageError("the Gateway API router needs the Gateway to attach to: --gateway NAMESPACE/NAME[:LISTENER]")
    return [
        deployment(spec),
        version_service(spec.app, spec.version, spec.namespace, spec.port, MANAGED_BY),
        httproute(spec.app, spec.namespace, spec.gateway, stable_rules(spec.app, spec.version, spec.route_prefix),
                  MANAGED_BY),
    ]


def after_init(cluster: Cluster, reporter: Reporter, written: list[Obj]) -> None:
    """Warn when the Gateway the route attaches to is not there (the route is then served by nothing)."""
    if reporter.dry_run != "none":
        return
    for parent in written[-1]["spec"]["parentRefs"]:
        try:
            gateway = cluster.get(GATEWAYS, parent.get("namespace") or written[-1]["metadata"]["namespace"],
                                  parent["name"])
        except ForbiddenError:
            return
        if gateway is None:
            reporter.warn(f"Gateway {parent.get('namespace')}/{parent['name']} not found: no gateway serves "
                          f"HTTPRoute {written[-1]['metadata']['name']} until it exists")


def _ensure_service(cluster: Cluster, reporter: Reporter, live: LiveRollout, version: str, *,
                    force: bool = False) -> None:
    namespace = live.obj["metadata"]["namespace"]
    app = live.state.app
    if cluster.get(SERVICES, namespace, service_name(app, version)) is not None:
        return
    primary = cluster.get(SERVICES, namespace, service_name(app, live.state.primary))
    if primary is None:
        raise CanaryError(
            f"service {service_name(app, live.state.primary)} of the primary version not found in namespace "
            f"{namespace}; the Service of {version} is cloned from it"
        )
    reporter.report(cluster.apply(canary_service(primary, app, version), force=force), "created")


def prepare_canary(cluster: Cluster, reporter: Reporter, live: LiveRollout, version: str, *, force: bool) -> None:
    """The Gateway API routes to Services: the canary's, cloned from the primary's, before any rule names it."""
    _ensure_service(cluster, reporter, live, version, force=force)


def prepare_shadow(cluster: Cluster, reporter: Reporter, live: LiveRollout, version: str) -> None:
    _ensure_service(cluster, reporter, live, version)


def retire(cluster: Cluster, reporter: Reporter, live: LiveRollout, change: RouteChange,
           keep: frozenset[str] = frozenset()) -> None:
    """Delete our Services of the versions the routes no longer send to (their Deployments go too)."""
    gone = routed_versions(change.before) - routed_versions(change.after) - keep
    retire_versions(cluster, reporter, live.obj["metadata"]["namespace"], change.after.app, sorted(gone))


def retire_versions(cluster: Cluster, reporter: Reporter, namespace: str, app: str, versions: list[str]) -> None:
    """Delete the Services of `versions` that the plugin made (a Service someone else made is theirs)."""
    for version in versions:
        name = service_name(app, version)
        service = cluster.get(SERVICES, namespace, name)
        labels = ((service or {}).get("metadata") or {}).get("labels") or {}
        if service is not None and labels.get("app.kubernetes.io/managed-by") == "kubectl-canary" \
                and cluster.delete(SERVICES, namespace, name):
            reporter.report_deleted(SERVICES, name)


def status_notes(cluster: Cluster, live: LiveRollout) -> StatusNotes:
    """Nothing beyond the route's own conditions, which the verdict reads (ResolvedRefs names a missing Service)."""
    return StatusNotes()
