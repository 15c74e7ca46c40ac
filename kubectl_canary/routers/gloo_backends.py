"""What Gloo Edge needs around the routes (I/O): the Upstream's version subsets, shadow Upstreams, the
VirtualServices that delegate to the RouteTable, and the checks that tell when Gloo would find no
endpoints. Every router's backends module offers the same functions (see routers/__init__.py)."""

from __future__ import annotations

from kubectl_canary.errors import CanaryError, ForbiddenError
from kubectl_canary.kube.cluster import Cluster
from kubectl_canary.model.managed_fields import apply_body
from kubectl_canary.model.manifests import (
    AppSpec,
    discovery_subsets_problem,
    fallback_policy,
    init_manifests,
    service_port_problem,
    shadow_upstream,
    upstream_selects_versions,
    upstream_version_subsets,
)
from kubectl_canary.model.resources import SERVICES, UPSTREAMS, VIRTUAL_SERVICES, Obj
from kubectl_canary.routers.gloo import ParsedRoutes, shadow_upstream_name
from kubectl_canary.routers.gloo_delegation import Delegation, delegation_notes, delegations_to
from kubectl_canary.routers.seam import LiveRollout, Reporter, RouteChange, StatusNotes


def init_objects(spec: AppSpec) -> list[Obj]:
    """In the order they are written: the RouteTable last, so it never routes to nothing."""
    return init_manifests(spec)


def after_init(cluster: Cluster, reporter: Reporter, written: list[Obj]) -> None:
    # Objects kept from an earlier run may not agree: Gloo finds no endpoints for a port the Service lacks.
    by_kind = {obj["kind"]: obj for obj in written}
    if "Upstream" in by_kind and (problem := service_port_problem(by_kind["Upstream"], by_kind.get("Service"))):
        reporter.warn(problem)
    if reporter.dry_run == "none" and (delegations := delegations_or_none(cluster, written[-1])) is not None:
        for note in delegation_notes(written[-1], delegations):
            reporter.warn(note)


def _upstream(cluster: Cluster, namespace: str, parsed: ParsedRoutes) -> Obj:
    ref = parsed.upstream
    upstream = cluster.get(UPSTREAMS, ref.namespace or namespace, ref.name)
    if upstream is None:
        raise CanaryError(
            f"upstream {ref.name} not found in namespace {ref.namespace or namespace}, "
            f"but the routes of {parsed.state.app} send traffic to it"
        )
    return upstream


def prepare_canary(cluster: Cluster, reporter: Reporter, live: LiveRollout, version: str, *, force: bool) -> None:
    """The Upstream must have subsets keyed by `version` for a route to reach the canary's pods."""
    namespace = live.obj["metadata"]["namespace"]
    upstream = _upstream(cluster, namespace, live.parsed)
    kube = upstream["spec"].get("kube") or {}
    if kube:
        service = cluster.get(SERVICES, kube.get("serviceNamespace") or namespace, kube.get("serviceName", ""))
        if (problem := service_port_problem(upstream, service)) is not None:
            reporter.warn(problem)
        if (problem := discovery_subsets_problem(upstream, service)) is not None:
            raise CanaryError(problem)
    if fallback_policy(upstream) != "NO_FALLBACK":
        reporter.warn(
            f"upstream {upstream['metadata']['name']} has fallbackPolicy {fallback_policy(upstream)}: while {version} "
            f"has no ready pods, its requests are silently served by other versions; set "
            f"spec.kube.subsetSpec.fallbackPolicy: NO_FALLBACK to make that fail visibly"
        )
    if not upstream_selects_versions(upstream):
        body = apply_body(
            upstream, cluster.field_manager, {"spec": {"kube": {"subsetSpec": upstream_version_subsets(upstream)}}}
        )
        reporter.report(cluster.apply(body, force=force), "configured")


def prepare_shadow(cluster: Cluster, reporter: Reporter, live: LiveRollout, version: str) -> None:
    """Gloo shadows to an upstream, not to a subset: an Upstream for the pods of `version`."""
    parsed: ParsedRoutes = live.parsed
    main_upstream = cluster.get(UPSTREAMS, parsed.upstream.namespace or live.obj["metadata"]["namespace"],
                                parsed.upstream.name)
    if main_upstream is None:
        raise CanaryError(f"upstream {parsed.upstream.name} not found; the shadow upstream copies its service")
    desired = shadow_upstream(main_upstream, parsed.state.app, version)
    existed = cluster.get(UPSTREAMS, desired["metadata"]["namespace"], desired["metadata"]["name"])
    reporter.report(cluster.apply(desired), "unchanged" if existed else "created")


def retire(cluster: Cluster, reporter: Reporter, live: LiveRollout, change: RouteChange,
           keep: frozenset[str] = frozenset()) -> None:
    """After the routes stopped shadowing to it, the shadow Upstream goes too (versions are subsets of
    the one Upstream: nothing else to retire)."""
    shadow = change.before.shadow
    if shadow is None or change.after.shadow == shadow:
        return
    parsed: ParsedRoutes = live.parsed
    name = shadow_upstream_name(change.after.app, shadow.version)
    namespace = parsed.upstream.namespace or live.obj["metadata"]["namespace"]
    if cluster.delete(UPSTREAMS, namespace, name):
        reporter.report_deleted(UPSTREAMS, name)


def retire_versions(cluster: Cluster, reporter: Reporter, namespace: str, app: str, versions: list[str]) -> None:
    """Versions are subsets of the app's one Upstream: nothing of theirs to delete."""


def delegations_or_none(cluster: Cluster, route_table: Obj) -> list[Delegation] | None:
    """The VirtualServices that route to `route_table`; None when we may not list them (403)."""
    try:
        virtual_services = cluster.list(VIRTUAL_SERVICES, None)
    except ForbiddenError:
        return None
    return delegations_to(route_table, virtual_services)


def status_notes(cluster: Cluster, live: LiveRollout) -> StatusNotes:
    """(problems, notes, delegations) for `status APP`: the Upstream's port, and who delegates to the table."""
    namespace = live.obj["metadata"]["namespace"]
    parsed: ParsedRoutes = live.parsed
    upstream_namespace = parsed.upstream.namespace or namespace
    upstream = cluster.get(UPSTREAMS, upstream_namespace, parsed.upstream.name)
    problems: tuple[str, ...] = ()
    if upstream is None:
        problems = (f"upstream {parsed.upstream.name} not found in namespace {upstream_namespace}",)
    elif kube := (upstream.get("spec") or {}).get("kube") or {}:
        service = cluster.get(SERVICES, kube.get("serviceNamespace") or upstream_namespace, kube.get("serviceName", ""))
        problem = service_port_problem(upstream, service)
        problems = () if problem is None else (problem,)
    delegations = delegations_or_none(cluster, live.obj)
    notes = tuple(delegation_notes(live.obj, delegations)) if delegations is not None else ()
    return StatusNotes(problems, notes, delegations)
