"""Where an app that `init` did not make lives: the names given by flags, or recorded on its route table.

An app made by `init` (or the seed's chart) is found by derived names: RouteTable APP-routes, route
APP-primary, Upstream APP, Deployments APP-VERSION. An app a team already runs has its own names:
`--route-table`, `--route-name`, `--upstream NS/NAME`, `--deployment` (the primary's Deployment). The
first command that writes the routes records them on the route table, in the annotation
`kubectl-canary.io/apps` (JSON: app -> names), in the same apply as the routes, so later commands,
`status` and `status -A` find the app without flags. Pure: no I/O.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from kubectl_canary.errors import UsageError

APPS_ANNOTATION = "kubectl-canary.io/apps"
# On every route object that carries the record: commands looking for a recorded app LIST only those.
RECORD_LABEL = "kubectl-canary.io/records-apps"
RECORD_SELECTOR = f"{RECORD_LABEL}=true"


@dataclass(frozen=True)
class AppNames:
    """The names of an app's objects; None (or empty) where the derived name applies."""

    route_table: str | None = None  # Gloo: the RouteTable
    route_name: str | None = None
    upstream: tuple[str, str] | None = None  # (namespace, name); namespace "" when not given
    # version -> Deployment name, for versions whose Deployment is not APP-VERSION (the primary's, given
    # by --deployment). A canary's Deployment is always APP-VERSION: the plugin creates it.
    deployments: dict[str, str] = field(default_factory=dict)
    deployment: str | None = None  # --deployment: the primary's, whatever its version
    # The Deployment `adopt` copied into APP-VERSION: its selector selects every version's pods, so no
    # canary starts while it exists.
    adopted_from: str | None = None
    route: str | None = None  # the Gateway API router: the HTTPRoute (--route)
    # --route-name given several times (or recorded so): the command is limited to the routes so named.
    route_names: tuple[str, ...] = ()

    def deployment_of(self, app: str, version: str) -> str:
        return self.deployments.get(version) or f"{app}-{version}"

    def with_primary(self, primary: str | None) -> AppNames:
        """--deployment resolved: it names the Deployment of the version that is primary now."""
        if self.deployment is None or primary is None:
            return self
        return replace(self, deployments={**self.deployments, primary: self.deployment}, deployment=None)

    @property
    def limited_to(self) -> tuple[str, ...]:
        """The routes a command is limited to (--route-name, once or several times); () for all the app's."""
        return self.route_names or ((self.route_name,) if self.route_name else ())

    def over(self, recorded: AppNames) -> AppNames:
        """These names (flags) where given, else the recorded ones."""
        routes = self if self.limited_to else recorded
        return AppNames(
            route_table=self.route_table or recorded.route_table,
            route_name=routes.route_name,
            route_names=routes.route_names,
            upstream=self.upstream or recorded.upstream,
            deployments={**recorded.deployments, **self.deployments},
            deployment=self.deployment,
            adopted_from=self.adopted_from or recorded.adopted_from,
            route=self.route or recorded.route,
        )



def parse_upstream(text: str) -> tuple[str, str]:
    """--upstream NS/NAME (or NAME: the route's own namespace is not checked)."""
    namespace, _, name = text.rpartition("/")
    if not name or "/" in namespace:
        raise UsageError(f"--upstream {text!r} is not NAMESPACE/NAME")
    return namespace, name


def recorded_apps(route_object: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The annotation's apps; an unreadable annotation counts as none (it is rewritten on the next change)."""
    raw = ((route_object.get("metadata") or {}).get("annotations") or {}).get(APPS_ANNOTATION)
    try:
        apps = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return {str(k): v for k, v in apps.items() if isinstance(v, dict)} if isinstance(apps, dict) else {}


def recorded_names(route_object: dict[str, Any], app: str) -> AppNames:
    entry = recorded_apps(route_object).get(app) or {}
    upstream = entry.get("upstream")
    try:
        upstream_ref = parse_upstream(upstream) if isinstance(upstream, str) and upstream else None
    except UsageError:
        upstream_ref = None  # unreadable: found by the derived name, and rewritten on the next change
    name = (route_object.get("metadata") or {}).get("name") if app in recorded_apps(route_object) else None
    http_route = route_object.get("kind") == "HTTPRoute"
    return AppNames(
        route_table=None if http_route else name,
        route=name if http_route else None,
        route_name=entry.get("routeName") or None,
        route_names=tuple(str(n) for n in entry.get("routeNames") or () if n),
        upstream=upstream_ref,
        deployments={str(k): str(v) for k, v in (entry.get("deployments") or {}).items()},
        adopted_from=entry.get("adoptedFrom") or None,
    )


def record(route_object: dict[str, Any], app: str, names: AppNames, route_name: str | None,
           versions: tuple[str, ...], own_name: str | None = None, route_names: tuple[str, ...] = ()) -> str | None:
    """The annotation's new value with `app`'s names, or None when it need not change.

    An app in a route object not named as the app's own (`own_name`: RouteTable APP-routes, HTTPRoute APP)
    is recorded even when every other name is derived: the record is how later commands find it.
    Only versions still in the routes keep their Deployment name, so the record shrinks as a rollout ends.
    """
    apps = recorded_apps(route_object)
    deployments = {v: d for v, d in names.deployments.items() if v in versions and d and d != f"{app}-{v}"}
    entry: dict[str, Any] = {}
    if route_name:
        entry["routeName"] = route_name
    if route_names:
        entry["routeNames"] = list(route_names)
    if names.upstream:
        entry["upstream"] = "/".join(names.upstream) if names.upstream[0] else names.upstream[1]
    if deployments:
        entry["deployments"] = deployments
    if names.adopted_from:
        entry["adoptedFrom"] = names.adopted_from
    shared = (route_object.get("metadata") or {}).get("name") != (own_name or f"{app}-routes")
    if apps.get(app) == entry or (not entry and not shared and app not in apps):
        return None
    if entry or shared:
        apps[app] = entry
    else:
        apps.pop(app, None)
    return json.dumps(apps, sort_keys=True, separators=(",", ":"))
