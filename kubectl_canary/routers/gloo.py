"""Gloo Edge routes <-> rollout state. Pure functions of data, no I/O.

`parse_routes` finds the app's two routes in a RouteTable's `spec.routes` (by name, or by shape
for tables written by the seed's Helm chart) and reads them into a `RolloutState`;
`render_routes` writes a state back, touching only those two routes. Every other route is kept
as it is and where it is: `spec.routes` is an atomic list under server-side apply, so whoever
writes it writes all of it.

Two rules keep a render from sending anyone where they did not go before:
- only narrow: the header route matches exactly what the primary route matches (every matcher,
  every field: path, methods, query parameters, its own headers) plus the canary headers;
- only the version changes: every destination written is the primary's live destination with
  another `version` in its subset (other subset keys, other fields and per-destination options
  are kept), and weights that already give the desired share are left as they are.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from kubectl_canary.errors import CanaryError
from kubectl_canary.model.rollout import (
    HeaderMatch,
    RolloutState,
    Shadow,
    UnreadableRoutes,
    added_headers,
    integer_weights,
    read_state,
)

Route = dict[str, Any]
SUBSET_KEY = "version"


class RouteTableError(CanaryError):
    """The routes cannot be read as a rollout; nothing is written."""


class UnversionedRoute(RouteTableError):
    """The app's primary route sends to its upstream without a `version` subset: `adopt` makes it one."""


def route_table_name(app: str) -> str:
    return f"{app}-routes"


def app_of_route_table(name: str) -> str | None:
    """The app whose RouteTable is named `name` (`APP-routes`), if any."""
    app = name.removesuffix("-routes")
    return app if app and app != name else None


def primary_route_name(app: str) -> str:
    return f"{app}-primary"


def header_route_name(app: str) -> str:
    return f"{app}-canary-header"


def shadow_upstream_name(app: str, version: str) -> str:
    return f"{app}-shadow-{version}"


@dataclass(frozen=True)
class UpstreamRef:
    name: str
    namespace: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "namespace": self.namespace}


@dataclass(frozen=True)
class ParsedRoutes:
    """A RolloutState plus where its routes sit in the list, so a render can keep the rest."""

    state: RolloutState
    upstream: UpstreamRef
    primary_index: int
    header_index: int | None


def stable_routes(app: str, version: str, upstream: UpstreamRef, prefix: str) -> list[Route]:
    """The single route of a freshly initialised app."""
    return [
        {
            "name": primary_route_name(app),
            "matchers": [{"prefix": prefix}],
            "routeAction": {"single": _destination(upstream, version)},
        }
    ]


def _destination(upstream: UpstreamRef, version: str) -> dict[str, Any]:
    return {"upstream": upstream.as_dict(), "subset": {"values": {SUBSET_KEY: version}}}


def _fail(app: str, what: str, table: str | None = None) -> RouteTableError:
    table = table or route_table_name(app)
    return RouteTableError(
        f"cannot read the routes of {app} in RouteTable {table}: {what}; "
        f"fix the RouteTable by hand (kubectl edit routetable {table})"
    )


def _target(destination: Any) -> tuple[UpstreamRef, str] | None:
    """(upstream, version) of a `single` destination or a weighted `destination`, else None."""
    if not isinstance(destination, dict):
        return None
    upstream = destination.get("upstream")
    values = (destination.get("subset") or {}).get("values") or {}
    if not isinstance(upstream, dict) or not upstream.get("name") or SUBSET_KEY not in values:
        return None
    return UpstreamRef(upstream["name"], upstream.get("namespace", "")), str(values[SUBSET_KEY])


def _weighted_targets(route: Route) -> list[tuple[UpstreamRef, str, int]] | None:
    """The destinations of a route, each as (upstream, version, weight); None if any is foreign."""
    action = route.get("routeAction") or {}
    if "single" in action:
        target = _target(action["single"])
        return None if target is None else [(*target, 100)]
    destinations = (action.get("multi") or {}).get("destinations")
    if not isinstance(destinations, list) or not destinations:
        return None
    result = []
    for item in destinations:
        target = _target((item or {}).get("destination"))
        weight = (item or {}).get("weight", 0)
        if target is None or not isinstance(weight, int) or weight < 0:
            return None
        result.append((*target, weight))
    return result


def _headers_of(route: Route) -> tuple[HeaderMatch, ...]:
    matchers = route.get("matchers") or [{}]
    return tuple(
        HeaderMatch(
            name=h.get("name", ""),
            value=h.get("value"),
            regex=bool(h.get("regex", False)),
            invert_match=bool(h.get("invertMatch", False)),
        )
        for h in (matchers[0].get("headers") or [])
    )


def _upstreams_of(route: Route) -> list[UpstreamRef]:
    """Every upstream a route sends to, with or without a subset; [] for a route that is not to upstreams."""
    action = route.get("routeAction") or {}
    destinations = [action["single"]] if "single" in action else [
        (item or {}).get("destination") for item in (action.get("multi") or {}).get("destinations") or []
    ]
    refs = []
    for destination in destinations:
        upstream = (destination or {}).get("upstream") if isinstance(destination, dict) else None
        if not isinstance(upstream, dict) or not upstream.get("name"):
            return []
        refs.append(UpstreamRef(str(upstream["name"]), str(upstream.get("namespace") or "")))
    return refs


def _sends_to(route: Route, app: str, upstream: tuple[str, str] | None) -> bool:
    """Whether every destination of the route is the app's upstream (--upstream, else the one named APP)."""
    refs = _upstreams_of(route)
    namespace, name = upstream or ("", app)
    return bool(refs) and all(r.name == name and (not namespace or r.namespace in ("", namespace)) for r in refs)


def _targets_app(route: Route, app: str) -> bool:
    targets = _weighted_targets(route)
    return targets is not None and all(upstream.name == app for upstream, _, _ in targets)


def _describe(index: int, route: Route) -> str:
    return repr(route["name"]) if route.get("name") else f"#{index + 1} (unnamed)"


def _find_routes(app: str, routes: list[Route], route_name: str | None = None,
                 upstream: tuple[str, str] | None = None, table: str | None = None) -> tuple[int, int | None]:
    """(primary index, header index). By name first (--route-name, else APP-primary); then the routes that
    send to the app's upstream (--upstream, else the one named APP), where the seed chart's unnamed pair
    (the header route has more header conditions) is told apart by shape."""
    names = [r.get("name") for r in routes]
    header = names.index(header_route_name(app)) if header_route_name(app) in names else None
    if route_name:
        if route_name not in names:
            raise _fail(app, f"no route is named {route_name!r} (the --route-name given or recorded)", table)
        return names.index(route_name), header
    if primary_route_name(app) in names:
        return names.index(primary_route_name(app)), header
    candidates = [i for i, r in enumerate(routes) if i != header and _sends_to(r, app, upstream)]
    target = f"upstream {'/'.join(upstream) if upstream and upstream[0] else (upstream or ('', app))[1]}"
    if not candidates:
        sent_to = sorted({"/".join(filter(None, (u.namespace, u.name))) for r in routes for u in _upstreams_of(r)})
        raise _fail(
            app,
            f"no route sends traffic to {target} (the routes send to: {', '.join(sent_to) or 'no upstream'}); "
            f"name the app's upstream with --upstream NAMESPACE/NAME or its route with --route-name NAME",
            table,
        )
    # Routes to version subsets are the rollout's; one to the bare upstream (a catch-all, another team's
    # route) is the app's only when no route uses the subsets yet: then `adopt` makes it the primary.
    versioned = [i for i in candidates if _weighted_targets(routes[i]) is not None]
    candidates = versioned or candidates
    if upstream is None:
        # Upstream APP: the seed chart's tables, whose app routes are unnamed; a named route there is
        # someone else's (an admin route to the same pods). Only a table without them names its routes.
        candidates = [i for i in candidates if not names[i]] or candidates
    if len(candidates) == 1:
        return candidates[0], header
    # Seed Helm chart: unnamed routes; the header route is the one with more header conditions (the
    # primary may have its own, the header route has those and more).
    fewest = min(len(_headers_of(routes[i])) for i in candidates)
    without = [i for i in candidates if len(_headers_of(routes[i])) == fewest]
    with_headers = [i for i in candidates if i not in without]
    if header is None and len(without) == 1 and len(with_headers) == 1 and not any(names[i] for i in candidates):
        return without[0], with_headers[0]
    raise AmbiguousRoutes(
        f"which route of RouteTable {table or route_table_name(app)} is the primary route of {app} is ambiguous: "
        f"{len(candidates)} send traffic to {target} ({', '.join(_describe(i, routes[i]) for i in candidates)}); "
        f"pick one with --route-name NAME (name an unnamed route first)"
    )


class AmbiguousRoutes(RouteTableError):
    """Several routes may be the app's primary route: the command refuses and lists them."""


def is_rollout_table(app: str, routes: list[Route]) -> bool:
    """Whether a RouteTable carries routes of `app` at all (else it is someone else's table)."""
    return any(r.get("name") == primary_route_name(app) or _targets_app(r, app) for r in routes)


_STATE_NAMES = {0: "Pending", 1: "Accepted", 2: "Rejected", 3: "Warning"}
_STATE_SEVERITY = ("Accepted", "Pending", "Warning", "Rejected")


def gloo_state(route_table: dict[str, Any]) -> tuple[str | None, str]:
    """Gloo's verdict on a RouteTable (the worst over its reporters) and its reason; None if unreported."""
    reported = []
    for status in ((route_table.get("status") or {}).get("statuses") or {}).values():
        raw = (status or {}).get("state")
        state = _STATE_NAMES.get(raw, "Pending") if isinstance(raw, int) else str(raw or "Pending")
        rank = _STATE_SEVERITY.index(state) if state in _STATE_SEVERITY else 1
        reported.append((rank, state, str((status or {}).get("reason") or "")))
    if not reported:
        return None, ""
    _, state, reason = max(reported, key=lambda r: r[0])
    return state, reason


def parse_routes(app: str, routes: list[Route], *, route_name: str | None = None,
                 upstream: tuple[str, str] | None = None, table: str | None = None) -> ParsedRoutes:
    """Read the app's rollout from a RouteTable's `spec.routes` (its routes found as `_find_routes` says)."""
    primary_index, header_index = _find_routes(app, routes, route_name, upstream, table)
    targets = _weighted_targets(routes[primary_index])
    if targets is None and _upstreams_of(routes[primary_index]):
        raise UnversionedRoute(
            f"route {_describe(primary_index, routes[primary_index])} of {app} sends traffic to upstream "
            f"{_upstreams_of(routes[primary_index])[0].name} without a version subset, so no version can be told "
            f"apart; adopt the app first: kubectl canary adopt {app} v1 (see its --help)"
        )
    if targets is None or not 1 <= len(targets) <= 2:
        raise _fail(app, "the primary route is not a single or two-way weighted route to version subsets", table)
    live_upstream = targets[0][0]
    if any(t[0] != live_upstream for t in targets):
        raise _fail(app, "the primary route's destinations use different upstreams", table)

    header = None
    if header_index is not None:
        header_targets = _weighted_targets(routes[header_index])
        if header_targets is None or len(header_targets) != 1:
            raise _fail(app, "the header route is not a single route to a version subset", table)
        canary_headers = added_headers(_headers_of(routes[header_index]), _headers_of(routes[primary_index]))
        header = (header_targets[0][1], canary_headers)
    try:
        state = read_state(app, [(version, weight) for _, version, weight in targets], header)
    except UnreadableRoutes as error:
        raise _fail(app, str(error), table) from None
    shadow = _shadow_of(app, routes[primary_index])
    if shadow is not None:
        state = replace(state, shadow=shadow)
    return ParsedRoutes(state, live_upstream, primary_index, header_index)


def backends(parsed: ParsedRoutes, namespace: str) -> tuple[str, ...]:
    """`NS/NAME` of the Upstream the app's routes send to, then of its shadow Upstream (status -o wide)."""
    upstream_namespace = parsed.upstream.namespace or namespace
    found = [f"{upstream_namespace}/{parsed.upstream.name}"]
    if parsed.state.shadow is not None:
        found.append(f"{upstream_namespace}/{shadow_upstream_name(parsed.state.app, parsed.state.shadow.version)}")
    return tuple(found)


def adopt_routes(app: str, routes: list[Route], version: str, *, route_name: str | None = None,
                 upstream: tuple[str, str] | None = None, table: str | None = None) -> tuple[list[Route], int]:
    """`spec.routes` with the app's primary route sending to the `version` subset of its upstream, and
    where that route is.

    Only that route changes, and only its destinations' subsets: the requests it matches keep going to
    the same upstream, now only to the pods labelled version=VERSION. A route already on version
    subsets is left as it is.
    """
    primary_index, header_index = _find_routes(app, routes, route_name, upstream, table)
    if header_index is not None or _weighted_targets(routes[primary_index]) is not None:
        return routes, primary_index
    if len(_upstreams_of(routes[primary_index])) != 1:
        raise _fail(app, "the primary route is not a single route to one upstream, so it cannot be adopted", table)
    route = copy.deepcopy(routes[primary_index])
    action = route["routeAction"]
    destination = action["single"] if "single" in action else action["multi"]["destinations"][0]["destination"]
    subset = destination.setdefault("subset", {})
    subset["values"] = {**(subset.get("values") or {}), SUBSET_KEY: version}
    return [route if i == primary_index else r for i, r in enumerate(routes)], primary_index


def _shadow_of(app: str, route: Route) -> Shadow | None:
    """Our shadowing on the primary route (upstream `<app>-shadow-<version>`); foreign shadowing is not ours."""
    shadowing = (route.get("options") or {}).get("shadowing") or {}
    name = str((shadowing.get("upstream") or {}).get("name") or "")
    prefix = shadow_upstream_name(app, "")
    if not name.startswith(prefix) or len(name) == len(prefix):
        return None
    return Shadow(name[len(prefix) :], float(shadowing.get("percentage") or 0))


def _header_route(app: str, live: Route | None, primary: Route, parsed: ParsedRoutes, desired: RolloutState) -> Route:
    assert desired.canary is not None
    if live is not None:
        route = copy.deepcopy(live)
    else:
        # A new header route serves its requests like the primary route does (timeouts, rewrites,
        # auth...): it starts as a copy of the primary's options, without our shadowing.
        route = {k: copy.deepcopy(v) for k, v in primary.items() if k not in ("name", "matchers", "routeAction")}
        options = {k: v for k, v in (route.get("options") or {}).items() if k != "shadowing"}
        route.pop("options", None)
        if options:
            route["options"] = options
    route["name"] = header_route_name(app)
    # Only narrow: every matcher of the primary, each with the canary headers added to its own.
    header_dicts = [_header_dict(h) for h in desired.headers]
    route["matchers"] = [
        {**m, "headers": [*(m.get("headers") or []), *copy.deepcopy(header_dicts)]}
        for m in copy.deepcopy(primary.get("matchers") or [{}])
    ]
    item = _version_item(primary, parsed, desired.canary)
    if item.get("options"):
        # The primary's per-destination options exist only on weighted destinations: one, weighted.
        route["routeAction"] = {"multi": {"destinations": [{**item, "weight": 1}]}}
    else:
        route["routeAction"] = {"single": item["destination"]}
    return {"name": route.pop("name"), "matchers": route.pop("matchers"), **route}


def _header_dict(header: HeaderMatch) -> dict[str, Any]:
    result: dict[str, Any] = {"name": header.name}
    if header.value is not None:
        result["value"] = header.value
    if header.regex:
        result["regex"] = True
    if header.invert_match:
        result["invertMatch"] = True
    return result


def _version_of(destination: Any) -> str | None:
    target = _target(destination)
    return None if target is None else target[1]


def _live_items(primary: Route) -> list[dict[str, Any]]:
    """The primary route's destinations as weighted items (a `single` is one item without weight)."""
    action = primary.get("routeAction") or {}
    if "single" in action:
        return [{"destination": action["single"]}]
    return list((action.get("multi") or {}).get("destinations") or [])


def _version_item(primary: Route, parsed: ParsedRoutes, version: str) -> dict[str, Any]:
    """The live weighted item of `version` on the primary route, else the primary version's item with only
    the subset's version changed (other subset keys, destination fields and item options kept)."""
    items = _live_items(primary)
    for item in items:
        if _version_of(item.get("destination")) == version:
            return copy.deepcopy(item)
    template = next((i for i in items if _version_of(i.get("destination")) == parsed.state.primary), None)
    if template is None:  # cannot happen for a parsed route; a plain destination is the safe answer
        return {"destination": _destination(parsed.upstream, version)}
    item = copy.deepcopy(template)
    item["destination"]["subset"]["values"][SUBSET_KEY] = version
    return item


def _share(items: list[dict[str, Any]], version: str) -> Fraction | None:
    total = sum(int(i.get("weight") or 0) for i in items)
    mine = sum(int(i.get("weight") or 0) for i in items if _version_of(i.get("destination")) == version)
    return Fraction(100 * mine, total) if total else None


def _primary_action(primary: Route, parsed: ParsedRoutes, desired: RolloutState) -> dict[str, Any]:
    live_action = primary.get("routeAction") or {}
    action = {k: v for k, v in live_action.items() if k not in ("single", "multi")}
    if desired.canary is None or desired.weight is None:
        item = _version_item(primary, parsed, desired.primary)
        if "multi" in live_action and item.get("options"):
            # Per-destination options exist only on weighted destinations: one destination, kept weighted.
            item["weight"] = item.get("weight") or 1
            action["multi"] = {**live_action["multi"], "destinations": [item]}
        else:
            action["single"] = item["destination"]
        return action
    items = _live_items(primary)
    live_versions = [_version_of(i.get("destination")) for i in items]
    same_pair = "multi" in live_action and sorted(map(str, live_versions)) == sorted([desired.primary, desired.canary])
    if same_pair and _share(items, desired.canary) == desired.weight:
        # The split does not change: the live weights stay as written (999/1 stays 999/1).
        action["multi"] = copy.deepcopy(live_action["multi"])
        return action
    weights = dict(zip((desired.primary, desired.canary), integer_weights(desired.weight)))
    order = [str(v) for v in live_versions] if same_pair else [desired.primary, desired.canary]
    destinations = []
    for version in order:
        item = _version_item(primary, parsed, version)
        item["weight"] = weights[version]
        destinations.append(item)
    action["multi"] = {**(live_action.get("multi") or {}), "destinations": destinations}
    return action


def _set_shadowing(route: Route, app: str, parsed: ParsedRoutes, desired: RolloutState) -> None:
    options = dict(route.get("options") or {})
    if desired.shadow is not None:
        upstream = UpstreamRef(shadow_upstream_name(app, desired.shadow.version), parsed.upstream.namespace)
        percent = desired.shadow.percent
        options["shadowing"] = {
            "upstream": upstream.as_dict(),
            "percentage": int(percent) if percent.is_integer() else percent,
        }
    elif parsed.state.shadow is not None:
        options.pop("shadowing", None)  # ours: remove; someone else's shadowing is left alone
    if options:
        route["options"] = options
    else:
        route.pop("options", None)


def render_routes(routes: list[Route], parsed: ParsedRoutes, desired: RolloutState) -> list[Route]:
    """The full `spec.routes` with the app's routes set to `desired`, all other routes untouched.

    The header route always sits right before the primary route: behind the catch-all it would
    never match (gloo#9830).
    """
    app = desired.app
    live_primary = routes[parsed.primary_index]
    primary = copy.deepcopy(live_primary)
    # A route the team named keeps its name (their tools may refer to it); an unnamed one gets ours.
    primary["name"] = live_primary.get("name") or primary_route_name(app)
    primary["routeAction"] = _primary_action(live_primary, parsed, desired)
    _set_shadowing(primary, app, parsed, desired)
    primary = {"name": primary.pop("name"), **primary}

    live_header = None if parsed.header_index is None else routes[parsed.header_index]
    result: list[Route] = []
    for index, route in enumerate(routes):
        if index == parsed.header_index:
            continue
        if index == parsed.primary_index:
            if desired.canary is not None and desired.headers:
                result.append(_header_route(app, live_header, live_primary, parsed, desired))
            result.append(primary)
        else:
            result.append(route)
    return result
