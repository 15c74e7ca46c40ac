"""Gloo Edge routes <-> rollout state. Pure functions of data, no I/O.

An app's routes are every route of its RouteTable that sends to its Upstream (by name: `APP-primary`,
`APP-primary-N`, the header routes; or by the upstream, for tables written by the seed's Helm charts,
which render one unnamed route per path). `parse_routes` reads each of them, with the header route right
before it, into a `RolloutState`, and the app's one state from theirs; `render_routes` writes a state back
onto each of them, touching only those. Every other route is kept as it is and where it is: `spec.routes`
is an atomic list under server-side apply, so whoever writes it writes all of it.

Two rules keep a render from sending anyone where they did not go before:
- only narrow: a header route matches exactly what its primary route matches (every matcher, every
  field: path, methods, query parameters, its own headers) plus the canary headers;
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
    combine_states,
    header_route_name_of,
    header_route_target,
    integer_weights,
    pair_routes,
    primary_route_names,
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
    """A Gloo Upstream, by name and namespace, as a destination names it."""

    name: str
    namespace: str

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "namespace": self.namespace}


@dataclass(frozen=True)
class AppRoute:
    """One route of the app: where it and its header route sit, and the rollout it describes on its own."""

    primary_index: int
    header_index: int | None
    state: RolloutState


@dataclass(frozen=True)
class ParsedRoutes:
    """The app's RolloutState plus where its routes sit in the list, so a render can keep the rest.

    `disagreements` names the routes whose own state differs from the app's (a degraded app: another
    weight, no header route); a render sets every route to one state.
    """

    state: RolloutState
    upstream: UpstreamRef
    routes: tuple[AppRoute, ...]
    disagreements: tuple[str, ...] = ()

    @property
    def primary_index(self) -> int:
        """The first route's (the only one's, for an app of one route)."""
        return self.routes[0].primary_index

    @property
    def header_index(self) -> int | None:
        return self.routes[0].header_index

    @property
    def route_states(self) -> tuple[RolloutState, ...]:
        return tuple(route.state for route in self.routes)


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


def _matcher_headers(matcher: dict[str, Any]) -> tuple[HeaderMatch, ...]:
    return tuple(
        HeaderMatch(
            name=h.get("name", ""),
            value=h.get("value"),
            regex=bool(h.get("regex", False)),
            invert_match=bool(h.get("invertMatch", False)),
        )
        for h in (matcher.get("headers") or [])
    )


def _headers_of(route: Route) -> tuple[HeaderMatch, ...]:
    return _matcher_headers((route.get("matchers") or [{}])[0])


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


def _label(index: int, route: Route) -> str:
    """A route in messages that compare the app's routes: its name, else its place and first path."""
    if route.get("name"):
        return repr(route["name"])
    matcher = (route.get("matchers") or [{}])[0]
    path = next((f"{k} {matcher[k]}" for k in ("prefix", "exact", "regex") if k in matcher), "prefix /")
    return f"#{index + 1} ({path})"


def _narrows(header: Route, primary: Route) -> bool:
    """Whether `header` has the shape of a header route of `primary`: every matcher of the primary, each
    with the same headers added, to one version that is not the primary's only one."""
    header_matchers, primary_matchers = header.get("matchers") or [{}], primary.get("matchers") or [{}]
    if len(header_matchers) != len(primary_matchers):
        return False
    added: tuple[HeaderMatch, ...] | None = None
    for narrow, wide in zip(header_matchers, primary_matchers):
        if {k: v for k, v in narrow.items() if k != "headers"} != {k: v for k, v in wide.items() if k != "headers"}:
            return False
        own, wide_own = _matcher_headers(narrow), _matcher_headers(wide)
        extra = added_headers(own, wide_own)
        if not extra or len(own) - len(extra) != len(wide_own) or added not in (None, extra):
            return False
        added = extra
    targets, primary_targets = _weighted_targets(header), _weighted_targets(primary)
    if targets is None or len(targets) != 1:
        return False
    return not (primary_targets is not None and len(primary_targets) == 1 and primary_targets[0][1] == targets[0][1])


def _is_app_route_name(app: str, name: Any) -> bool:
    """`APP-primary` or `APP-primary-N`: the names the plugin gives the app's routes."""
    number = str(name or "").removeprefix(f"{app}-primary-")
    return name == primary_route_name(app) or (number != name and number.isdigit())


def _find_routes(app: str, routes: list[Route], route_names: tuple[str, ...] = (),
                 upstream: tuple[str, str] | None = None, table: str | None = None) -> list[tuple[int, int | None]]:
    """(primary index, header index) of each of the app's routes, in order: the routes named as the plugin
    names them, and every route to the app's upstream (--upstream, else the one named APP; those to version
    subsets, when any is). `route_names` (--route-name) limits them to the routes so named."""
    names = [r.get("name") for r in routes]
    for route_name in route_names:
        if route_name not in names:
            raise _fail(app, f"no route is named {route_name!r} (the --route-name given or recorded)", table)
    named = [names.index(n) for n in route_names]
    targets = [upstream or ("", app), *(("", u.name) if not u.namespace else (u.namespace, u.name)
                                          for i in named for u in _upstreams_of(routes[i]))]
    found = [i for i, r in enumerate(routes) if any(_sends_to(r, app, target) for target in targets)]
    # Routes to version subsets are the rollout's; one to the bare upstream (a catch-all, another team's
    # route) is the app's only when no route uses the subsets yet: then `adopt` gives it one.
    found = [i for i in found if _weighted_targets(routes[i]) is not None] or found
    candidates = sorted({*found, *named, *(i for i, n in enumerate(names) if _is_app_route_name(app, n))})
    primary_names = {str(names[i]) for i in candidates if names[i]}
    # Header routes are found by their names wherever they send (a header route someone edited is still ours).
    candidates = sorted({*candidates, *(i for i, n in enumerate(names) if header_route_target(app, n, primary_names)
                                         is not None)})
    target = f"upstream {'/'.join(upstream) if upstream and upstream[0] else (upstream or ('', app))[1]}"
    if not candidates:
        sent_to = sorted({"/".join(filter(None, (u.namespace, u.name))) for r in routes for u in _upstreams_of(r)})
        raise _fail(
            app,
            f"no route sends traffic to {target} (the routes send to: {', '.join(sent_to) or 'no upstream'}); "
            f"name the app's upstream with --upstream NAMESPACE/NAME or its route with --route-name NAME",
            table,
        )
    try:
        pairs = pair_routes(app, names, candidates, lambda h, p: _narrows(routes[h], routes[p]),
                            lambda i: _label(i, routes[i]))
    except UnreadableRoutes as error:
        raise _fail(app, str(error), table) from None
    if route_names:
        headers = {h for _, h in pairs if h is not None}
        for index in named:
            if index in headers:
                raise _fail(app, f"route {_describe(index, routes[index])} is a header route; give --route-name the "
                                 "name of the route it narrows", table)
        pairs = [(p, h) for p, h in pairs if p in named]
    if not pairs:
        raise _fail(app, f"every route that sends traffic to {target} is a header route", table)
    return pairs


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
                 upstream: tuple[str, str] | None = None, table: str | None = None,
                 route_names: tuple[str, ...] = ()) -> ParsedRoutes:
    """Read the app's rollout from a RouteTable's `spec.routes` (its routes found as `_find_routes` says):
    each route on its own, then the app's one state from theirs (`combine_states`)."""
    limit = route_names or ((route_name,) if route_name else ())
    pairs = _find_routes(app, routes, limit, upstream, table)
    own: list[AppRoute] = []
    upstreams: list[UpstreamRef] = []
    for primary_index, header_index in pairs:
        label = _label(primary_index, routes[primary_index]) if len(pairs) > 1 else None
        state, live_upstream = _route_state(app, routes, primary_index, header_index, table, label)
        own.append(AppRoute(primary_index, header_index, state))
        upstreams.append(live_upstream)
    if len(set(upstreams)) > 1:
        where = ", ".join(f"{_label(r.primary_index, routes[r.primary_index])} to {u.namespace}/{u.name}"
                          for r, u in zip(own, upstreams))
        raise _fail(app, f"its routes send traffic to different upstreams: {where}", table)
    try:
        state, disagreements = combine_states(app, [(_label(r.primary_index, routes[r.primary_index]), r.state)
                                                    for r in own])
    except UnreadableRoutes as error:
        raise _fail(app, str(error), table) from None
    return ParsedRoutes(state, upstreams[0], tuple(own), disagreements)


def _route_state(app: str, routes: list[Route], primary_index: int, header_index: int | None,
                 table: str | None, label: str | None) -> tuple[RolloutState, UpstreamRef]:
    """The rollout one route of the app (and its header route) describes, and the upstream it sends to;
    `label` names the route in messages when the app has several."""
    which = "" if label is None else f"route {label}: "
    targets = _weighted_targets(routes[primary_index])
    if targets is None and _upstreams_of(routes[primary_index]):
        raise UnversionedRoute(
            f"route {_describe(primary_index, routes[primary_index])} of {app} sends traffic to upstream "
            f"{_upstreams_of(routes[primary_index])[0].name} without a version subset, so no version can be told "
            f"apart; adopt the app first: kubectl canary adopt {app} v1 (see its --help)"
        )
    if targets is None or not 1 <= len(targets) <= 2:
        raise _fail(app, f"{which}the primary route is not a single or two-way weighted route to version subsets",
                    table)
    live_upstream = targets[0][0]
    if any(t[0] != live_upstream for t in targets):
        raise _fail(app, f"{which}the primary route's destinations use different upstreams", table)
    header = None
    if header_index is not None:
        header_targets = _weighted_targets(routes[header_index])
        if header_targets is None or len(header_targets) != 1:
            raise _fail(app, f"{which}the header route is not a single route to a version subset", table)
        canary_headers = added_headers(_headers_of(routes[header_index]), _headers_of(routes[primary_index]))
        header = (header_targets[0][1], canary_headers)
    try:
        state = read_state(app, [(version, weight) for _, version, weight in targets], header)
    except UnreadableRoutes as error:
        raise _fail(app, f"{which}{error}", table) from None
    shadow = _shadow_of(app, routes[primary_index])
    if shadow is not None:
        state = replace(state, shadow=shadow)
    return state, live_upstream


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
    subsets is left as it is. One route at a time: several routes to the bare upstream are refused.
    """
    pairs = _find_routes(app, routes, (route_name,) if route_name else (), upstream, table)
    versioned = [(p, h) for p, h in pairs if h is not None or _weighted_targets(routes[p]) is not None]
    if versioned:
        return routes, versioned[0][0]
    if len(pairs) > 1:
        target = f"upstream {'/'.join(upstream) if upstream and upstream[0] else (upstream or ('', app))[1]}"
        raise AmbiguousRoutes(
            f"which route of RouteTable {table or route_table_name(app)} to adopt for {app} is ambiguous: "
            f"{len(pairs)} send traffic to {target} ({', '.join(_describe(p, routes[p]) for p, _ in pairs)}); "
            f"pick one with --route-name NAME (name an unnamed route first)"
        )
    primary_index = pairs[0][0]
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


def _header_route(app: str, live: Route | None, primary: Route, parsed: ParsedRoutes, desired: RolloutState,
                  name: str) -> Route:
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
    route["name"] = name
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


def _set_shadowing(route: Route, app: str, parsed: ParsedRoutes, live: RolloutState, desired: RolloutState) -> None:
    options = dict(route.get("options") or {})
    if desired.shadow is not None:
        upstream = UpstreamRef(shadow_upstream_name(app, desired.shadow.version), parsed.upstream.namespace)
        percent = desired.shadow.percent
        options["shadowing"] = {
            "upstream": upstream.as_dict(),
            "percentage": int(percent) if percent.is_integer() else percent,
        }
    elif live.shadow is not None:
        options.pop("shadowing", None)  # ours: remove; someone else's shadowing is left alone
    if options:
        route["options"] = options
    else:
        route.pop("options", None)


def render_routes(routes: list[Route], parsed: ParsedRoutes, desired: RolloutState) -> list[Route]:
    """The full `spec.routes` with each of the app's routes set to `desired`, all other routes untouched.

    Each header route sits right before its primary route: behind the catch-all it would never match
    (gloo#9830).
    """
    app = desired.app
    taken = {str(r["name"]) for r in routes if r.get("name")}
    names = primary_route_names(app, [routes[r.primary_index].get("name") for r in parsed.routes], taken)
    headers = {r.header_index for r in parsed.routes if r.header_index is not None}
    rendered: dict[int, list[Route]] = {}
    for route, name in zip(parsed.routes, names):
        live_primary = routes[route.primary_index]
        primary = copy.deepcopy(live_primary)
        primary["name"] = name  # a route the team named keeps its name; an unnamed one gets ours
        primary["routeAction"] = _primary_action(live_primary, parsed, desired)
        _set_shadowing(primary, app, parsed, route.state, desired)
        primary = {"name": primary.pop("name"), **primary}
        pair = [primary]
        if desired.canary is not None and desired.headers:
            live_header = None if route.header_index is None else routes[route.header_index]
            header_name = header_route_name_of(app, name, len(parsed.routes))
            pair.insert(0, _header_route(app, live_header, live_primary, parsed, desired, header_name))
        rendered[route.primary_index] = pair
    result: list[Route] = []
    for index, kept in enumerate(routes):
        if index not in headers:
            result.extend(rendered.get(index, [kept]))
    return result
