"""A Gloo Edge app's live rollout, expressed on the Gateway API (`kubectl canary migrate`). Pure, no I/O.

The HTTPRoute is rendered by the Gateway API router itself: its stable rules are built from the matchers of
the app's Gloo routes (one rule per route), then moved to the Gloo rollout's state (header, exact weights,
shadowing) with `render_rules`, so both gateways serve the same split while DNS or the load balancer moves.
What the Gateway API cannot express the same way is refused (a header's absence, a query parameter's mere
presence) or said as a warning (Gloo's prefix is a string prefix, the Gateway API's PathPrefix matches whole
path elements).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubectl_canary.errors import CanaryError
from kubectl_canary.routers import gateway_api
from kubectl_canary.routers.gateway_api import GatewayRef
from kubectl_canary.routers.gloo import parse_routes

Manifest = dict[str, Any]


class MigrationError(CanaryError):
    """The Gloo routes use something the Gateway API cannot express; nothing is created."""


@dataclass(frozen=True)
class Migration:
    """The objects that carry an app's Gloo routes over to the Gateway API, and what could not be."""

    objects: list[Manifest]  # in the order to create them: the Services, then the HTTPRoute
    warnings: list[str]


def _value_condition(app: str, kind: str, condition: dict[str, Any]) -> dict[str, Any]:
    name = str(condition.get("name", ""))
    if condition.get("invertMatch") or condition.get("value") in (None, ""):
        raise MigrationError(
            f"the Gloo routes of {app} match the {kind} {name!r} by presence or absence, which the Gateway "
            "API cannot express; change that matcher to NAME=VALUE first"
        )
    return {"name": name.lower() if kind == "header" else name,
            "type": "RegularExpression" if condition.get("regex") else "Exact", "value": str(condition["value"])}


def http_matches(app: str, matchers: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Gloo matchers -> Gateway API matches (a matcher's methods become one match each), with warnings."""
    matches: list[dict[str, Any]] = []
    warnings: list[str] = []
    for matcher in matchers or [{}]:
        if "exact" in matcher:
            path = {"type": "Exact", "value": matcher["exact"]}
        elif "regex" in matcher:
            path = {"type": "RegularExpression", "value": matcher["regex"]}
        else:
            prefix = matcher.get("prefix", "/")
            path = {"type": "PathPrefix", "value": prefix}
            if prefix != "/" and not prefix.endswith("/"):
                warnings.append(f"Gloo's prefix {prefix} also matches {prefix}x...; the Gateway API's PathPrefix "
                                f"{prefix} matches {prefix} and {prefix}/... only")
        base: dict[str, Any] = {"path": path}
        headers = [_value_condition(app, "header", h) for h in matcher.get("headers") or []]
        if headers:
            base["headers"] = headers
        query = [_value_condition(app, "query parameter", q) for q in matcher.get("queryParameters") or []]
        if query:
            base["queryParams"] = query
        for method in matcher.get("methods") or [None]:
            matches.append({**base, "method": method} if method else dict(base))
    return matches, warnings


def to_gateway_api(app: str, namespace: str, route_table: Manifest, upstream: Manifest | None,
                   service: Manifest | None, gateway: GatewayRef) -> Migration:
    """The Services (one per version in use) and the HTTPRoute that serve what the Gloo routes serve now."""
    routes = (route_table.get("spec") or {}).get("routes") or []
    parsed = parse_routes(app, routes)
    state = parsed.state
    if parsed.disagreements:
        raise MigrationError(f"the routes of {app} disagree ({'; '.join(parsed.disagreements)}); set them alike "
                             f"first (kubectl canary weight|header {app} ...), then migrate")
    # One rule per Gloo route of the app, in their order (an app of several routes: APP-primary-N).
    stable: list[Manifest] = []
    warnings: list[str] = []
    for number, route in enumerate(parsed.routes, 1):
        matches, route_warnings = http_matches(app, routes[route.primary_index].get("matchers") or [])
        if len(matches) > 64:
            raise MigrationError(f"the primary route of {app} has {len(matches)} matches on the Gateway API, more "
                                 "than the 64 a rule may have")
        rule = gateway_api.stable_rules(app, state.primary, "/")[0]
        rule["matches"] = matches
        if len(parsed.routes) > 1:
            rule["name"] = f"{gateway_api.primary_rule_name(app)}-{number}"
        stable.append(rule)
        warnings += [w for w in route_warnings if w not in warnings]
    rules = gateway_api.render_rules(stable, gateway_api.parse_rules(app, stable), state)
    target_port = _target_port(upstream, service)
    versions = [state.primary, *([state.canary] if state.canary else []),
                *([state.shadow.version] if state.shadow else [])]
    objects = [gateway_api.version_service(app, version, namespace, target_port) for version in dict.fromkeys(versions)]
    objects.append(gateway_api.httproute(app, namespace, gateway, rules))
    return Migration(objects, warnings)


def _target_port(upstream: Manifest | None, service: Manifest | None) -> int | str:
    """The container port behind the Gloo Upstream's servicePort, read from its Service."""
    service_port = (((upstream or {}).get("spec") or {}).get("kube") or {}).get("servicePort", 80)
    for port in ((service or {}).get("spec") or {}).get("ports") or []:
        if port.get("port") == service_port:
            target: int | str = port.get("targetPort", service_port)
            return target
    return int(service_port)
