"""Gloo Edge routes <-> rollout state. Pure functions of data, no I/O.

`parse_routes` finds the app's two routes in a RouteTable's `spec.routes` (by name, or by shape
for tables written by the seed's Helm chart) and reads them into a `RolloutState`;
`render_routes` writes a state back, touching only those two routes. Every other route is kept
as it is and where it is: `spec.routes` is an atomic list under server-side apply, so whoever
writes it writes all of it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any

from kubectl_canary.errors import CanaryError
from kubectl_canary.rollout import HeaderMatch, RolloutState, Shadow

Route = dict[str, Any]
SUBSET_KEY = "version"


class RouteTableError(CanaryError):
    """The routes cannot be read as a rollout; nothing is written."""


def route_table_name(app: str) -> str:
    return f"{app}-routes"


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


def _fail(app: str, what: str) -> RouteTableError:
    return RouteTableError(
        f"cannot read the routes of {app} in RouteTable {route_table_name(app)}: {what}; "
        f"fix the RouteTable by hand (kubectl edit routetable {route_table_name(app)})"
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


def _targets_app(route: Route, app: str) -> bool:
    targets = _weighted_targets(route)
    return targets is not None and all(upstream.name == app for upstream, _, _ in targets)


def _find_routes(app: str, routes: list[Route]) -> tuple[int, int | None]:
    """(primary index, header index). Named routes win; otherwise the Helm chart's shapes."""
    names = [r.get("name") for r in routes]
    if primary_route_name(app) in names:
        primary = names.index(primary_route_name(app))
        header = names.index(header_route_name(app)) if header_route_name(app) in names else None
        return primary, header
    # Seed Helm chart: unnamed routes to upstream <app>; the header route is the one with headers.
    candidates = [i for i, r in enumerate(routes) if not r.get("name") and _targets_app(r, app)]
    with_headers = [i for i in candidates if _headers_of(routes[i])]
    without = [i for i in candidates if i not in with_headers]
    if not without:
        raise _fail(app, f"no route sends traffic to upstream {app}")
    if len(without) > 1 or len(with_headers) > 1:
        raise _fail(
            app,
            f"{len(candidates)} unnamed routes send traffic to upstream {app}, so which one is the "
            f"primary is ambiguous; name the primary route {primary_route_name(app)!r}",
        )
    return without[0], (with_headers[0] if with_headers else None)


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


def parse_routes(app: str, routes: list[Route]) -> ParsedRoutes:
    """Read the app's rollout from a RouteTable's `spec.routes`."""
    primary_index, header_index = _find_routes(app, routes)
    targets = _weighted_targets(routes[primary_index])
    if targets is None or not 1 <= len(targets) <= 2:
        raise _fail(app, "the primary route is not a single or two-way weighted route to version subsets")
    upstream = targets[0][0]
    if any(t[0] != upstream for t in targets):
        raise _fail(app, "the primary route's destinations use different upstreams")

    header_version = None
    headers: tuple[HeaderMatch, ...] = ()
    if header_index is not None:
        header = routes[header_index]
        header_targets = _weighted_targets(header)
        action = header.get("routeAction") or {}
        if header_targets is None or "single" not in action:
            raise _fail(app, "the header route is not a single route to a version subset")
        header_version = header_targets[0][1]
        headers = _headers_of(header)
        if not headers:
            raise _fail(app, "the header route has no header matcher")

    if len(targets) == 1:
        primary = targets[0][1]
        if header_version == primary:
            raise _fail(app, f"the header route and the primary route both go to {primary}")
        state = RolloutState(app=app, primary=primary, canary=header_version, headers=headers)
    else:
        (_, first, first_weight), (_, second, second_weight) = targets
        if first == second:
            raise _fail(app, f"both weighted destinations go to {first}")
        if first_weight + second_weight == 0:
            raise _fail(app, "all weights are zero, which breaks the route in Gloo")
        if header_version not in (None, first, second):
            raise _fail(app, f"the header route goes to {header_version}, not to a weighted version")
        # The canary is the header route's version, else the second destination (our order).
        if header_version == first:
            primary, canary, canary_weight = second, first, first_weight
        else:
            primary, canary, canary_weight = first, second, second_weight
        weight = round(100 * canary_weight / (first_weight + second_weight))
        state = RolloutState(app=app, primary=primary, canary=canary, weight=weight, headers=headers)
    shadow = _shadow_of(app, routes[primary_index])
    if shadow is not None:
        state = replace(state, shadow=shadow)
    return ParsedRoutes(state, upstream, primary_index, header_index)


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
    if live is None or _headers_of(live) != desired.headers:
        header_dicts = [_header_dict(h) for h in desired.headers]
        base = live.get("matchers") if live is not None else primary.get("matchers")
        route["matchers"] = [{**m, "headers": header_dicts} for m in copy.deepcopy(base or [{}])]
    else:
        route["matchers"] = copy.deepcopy(live["matchers"])
    route["routeAction"] = {"single": _destination(parsed.upstream, desired.canary)}
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


def _primary_action(live_action: dict[str, Any], upstream: UpstreamRef, desired: RolloutState) -> dict[str, Any]:
    action = {k: v for k, v in live_action.items() if k not in ("single", "multi")}
    if desired.canary is None or desired.weight is None:
        action["single"] = _destination(upstream, desired.primary)
    else:
        # Weights sum to 100, so they can never be all zero.
        action["multi"] = {
            "destinations": [
                {"destination": _destination(upstream, desired.primary), "weight": 100 - desired.weight},
                {"destination": _destination(upstream, desired.canary), "weight": desired.weight},
            ]
        }
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
    primary["name"] = primary_route_name(app)
    primary["routeAction"] = _primary_action(live_primary.get("routeAction") or {}, parsed.upstream, desired)
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
