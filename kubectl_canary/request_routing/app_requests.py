"""Where an app's requests go on its routes, per router: the app's paths, an example request for each
(plain, and with the canary header), the models' answer, and the problems `status` flags. Pure.

The app's routes are found by what they send to, not by name: on Gloo every route whose destinations are
all version subsets of the app's Upstream, on the Gateway API every rule whose backendRefs are all the
app's version Services (`APP-VERSION`). Among them, a header route carries the canary headers in every
matcher; the others are the app's paths. So a second path of the app that no command manages (a route
another team added to the app's Upstream, a path of the seed chart's table) counts too: a weight that
moved on one path but not on another is exactly what `status` should see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from kubectl_canary.model.rollout import DEFAULT_HEADER, HeaderMatch, RolloutState, format_percent
from kubectl_canary.request_routing import examples
from kubectl_canary.request_routing import gateway_api as gateway_api_model
from kubectl_canary.request_routing import gloo as gloo_model
from kubectl_canary.request_routing.requests import Decision, Request

Obj = dict[str, Any]


@dataclass(frozen=True)
class Target:
    """A destination as users read it: the app's version, else the backend as named."""

    version: str | None
    label: str  # the version, else the backend
    share: Fraction
    backend: str = ""  # the backend as its route names it: `upstream echo/echo (version=v1)`, `Service echo-v1`

    def __str__(self) -> str:
        return f"{self.label} {format_percent(self.share * 100)}%"


@dataclass(frozen=True)
class Answer:
    """The models' decision for a request, read against the app's routes."""

    decision: Decision
    targets: tuple[Target, ...]
    app_route: bool  # the route that takes the request is one of the app's
    header_route: bool  # ... one of its header routes
    where: str  # the object holding that route: `RouteTable echo/echo-routes`, `VirtualService ...`

    def share_of(self, version: str | None) -> Fraction:
        return sum((t.share for t in self.targets if version is not None and t.version == version), Fraction(0))

    @property
    def goes_to(self) -> str:
        return ", ".join(map(str, self.targets)) or self.decision.answer or "nothing"


@dataclass(frozen=True)
class Landed:
    """Where a request lands, without the explanation: the route's label, whether it is the app's (a
    header route), and each version's share (None: a backend that is not one of the app's versions)."""

    label: str
    app: bool
    header: bool
    weights: tuple[tuple[str | None, int], ...]

    def share_of(self, version: str) -> Fraction:
        total = sum(w for _, w in self.weights)
        return Fraction(sum(w for v, w in self.weights if v == version), total) if total else Fraction(0)


NOWHERE = Landed("-", False, False, ())


@dataclass(frozen=True)
class AppPath:
    """One matcher of one of the app's (non-header) routes, with the smallest request it takes."""

    route: str
    match: str
    example: Request | None


@dataclass(frozen=True)
class PathAnswers:
    """Where a request on one of the app's paths goes, without and with the canary header."""

    path: AppPath
    plain: Answer | None
    canary: Answer | None
    canary_request: Request | None = None


@dataclass
class AppRoutes:
    """An app's routes as one router lays them out; `answer` routes a request through all of them."""

    app: str
    state: RolloutState
    router: str = ""
    kind: str = ""  # RouteTable, HTTPRoute
    object_name: str = ""  # namespace/name
    notes: list[str] = field(default_factory=list)

    def answer(self, request: Request) -> Answer:
        raise NotImplementedError

    def paths(self) -> list[AppPath]:
        raise NotImplementedError

    def header_labels(self) -> list[str]:
        raise NotImplementedError

    def canary_headers(self) -> tuple[HeaderMatch, ...]:
        """The canary's headers; in the stable phase the default one, to show where it would go today."""
        return self.state.headers or (DEFAULT_HEADER,)

    def answers(self) -> list[PathAnswers]:
        """For each of the app's paths: where its plain request and its canary request go."""
        rows = []
        for path in self.paths():
            if path.example is None:
                rows.append(PathAnswers(path, None, None))
                continue
            canary_request = examples.with_headers(path.example, self.canary_headers())
            rows.append(PathAnswers(path, self.answer(path.example),
                                    None if canary_request is None else self.answer(canary_request), canary_request))
        return rows

    def problems(self) -> list[str]:
        """What makes the rollout degraded: canary requests that an earlier (or higher-precedence) route
        takes away from the header route, and a canary share that differs between the app's paths.

        `status` asks this of every app (-A: thousands): only where requests land is computed, cheaply
        (`_locate`); the explained decision only for a problem's message."""
        canary = self.state.canary
        if canary is None:
            return []
        found: list[str] = []
        plain: dict[tuple[str, str], Fraction] = {}
        with_header: dict[tuple[str, str], Fraction] = {}
        paths = self.paths()
        for path in paths:
            if path.example is None:
                continue
            canary_request = examples.with_headers(path.example, self.state.headers) if self.state.headers else None
            if canary_request is not None:
                landed = self._locate(canary_request)
                if not landed.header and self._header_for(canary_request) is not None:
                    # A header route matches the canary request but another route (a catch-all of another
                    # team, a higher-precedence rule) takes it first: on every path of the app, served or not.
                    found.append(self._unreached(PathAnswers(path, None, self.answer(canary_request),
                                                             canary_request)))
            if len(paths) < 2:
                continue  # one path: no share to compare
            landed_plain = self._locate(path.example)
            if not landed_plain.app:
                continue
            plain[(path.match, path.route)] = landed_plain.share_of(canary)
            if canary_request is not None and landed.app:
                with_header[(path.match, landed.label)] = landed.share_of(canary)
        if len(set(plain.values())) > 1:
            found.append(f"canary {canary} gets a different share on each of {self.app}'s paths: "
                         f"{self._listed(plain)}")
        if len(set(with_header.values())) > 1:
            headers = " and ".join(map(str, self.state.headers))
            found.append(f"requests with header {headers} reach canary {canary} on some of "
                         f"{self.app}'s paths only: {self._listed(with_header)}")
        return found

    def _locate(self, request: Request) -> Landed:
        raise NotImplementedError

    @staticmethod
    def _listed(shares: dict[tuple[str, str], Fraction]) -> str:
        return ", ".join(f"{format_percent(share * 100)}% for {match} (route {route})"
                         for (match, route), share in shares.items())

    def _unreached(self, row: PathAnswers) -> str:
        assert row.canary is not None
        decision = row.canary.decision
        headers = " and ".join(map(str, self.state.headers))
        header = self._header_for(row.canary_request) if row.canary_request is not None else None
        unit = "rule" if self.router == "gateway-api" else "route"
        target = f"header {unit} {header}" if header else f"any header {unit}"
        return (f"requests for {row.path.match} with header {headers} do not reach {target}: "
                f"{self._taken(decision, header)} (e.g. {decision.request})")

    def _header_for(self, request: Request) -> str | None:
        raise NotImplementedError

    def _taken(self, decision: Decision, header: str | None) -> str:
        raise NotImplementedError


# --- Gloo ----------------------------------------------------------------------------------------------


def _gloo_version(item: Mapping[str, Any], upstream: tuple[str, str]) -> str | None:
    """The version of a destination item, when it is a version subset of the app's Upstream."""
    destination = item.get("destination") or {}
    ref = destination.get("upstream") if isinstance(destination, dict) else None
    values = ((destination.get("subset") or {}).get("values") or {}) if isinstance(destination, dict) else {}
    if not isinstance(ref, dict) or "version" not in values:
        return None
    name, namespace = upstream
    if ref.get("name") != name or (namespace and ref.get("namespace", "") not in ("", namespace)):
        return None
    return str(values["version"])


def _gloo_label(item: Mapping[str, Any]) -> str:
    destination = item.get("destination") or {}
    ref = destination.get("upstream") or {}
    values = (destination.get("subset") or {}).get("values") or {}
    subset = ",".join(f"{k}={v}" for k, v in values.items())
    name = "/".join(filter(None, (str(ref.get("namespace") or ""), str(ref.get("name") or "?"))))
    return f"upstream {name}" + (f" ({subset})" if subset else "")


def _carries(conditions: Sequence[Mapping[str, Any]], headers: tuple[HeaderMatch, ...], *, gloo: bool) -> bool:
    """Whether a matcher's header conditions include every canary header."""
    def key(condition: Mapping[str, Any]) -> tuple[str, Any, bool, bool]:
        if gloo:
            return (str(condition.get("name", "")).lower(), condition.get("value"), bool(condition.get("regex")),
                    bool(condition.get("invertMatch")))
        return (str(condition.get("name", "")).lower(), condition.get("value"),
                condition.get("type", "Exact") == "RegularExpression", False)
    present = {key(c) for c in conditions}
    return bool(headers) and all((h.name.lower(), h.value, h.regex, h.invert_match) in present for h in headers)


@dataclass
class GlooRoutes(AppRoutes):
    """A RouteTable's routes, behind the VirtualService routes that lead to it when they were read."""

    routes: list[Obj] = field(default_factory=list)
    upstream: tuple[str, str] = ("", "")  # the app's Upstream: (name, namespace or "")
    # The VirtualService in front: its name, its routes, and which of them delegate to this table.
    front: tuple[str, list[Obj], list[bool]] | None = None

    def __post_init__(self) -> None:
        self.router, self.kind = "gloo", "RouteTable"
        self._app_indices = [i for i, r in enumerate(self.routes) if self._sends_to_app(r)]
        self._header_indices = {i for i in self._app_indices
                                if self.state.headers and all(_carries(m.get("headers") or [], self.state.headers,
                                                                       gloo=True)
                                                              for m in gloo_model.matchers_of(self.routes[i]))}
        labels = [gloo_model.route_label(i, r) for i, r in enumerate(self.routes)]
        if self.front is None:
            self._flat: list[tuple[Obj, int | None]] = [(r, i) for i, r in enumerate(self.routes)]
            self._labels = labels
        else:
            name, front_routes, delegates = self.front
            self._flat = gloo_model.flatten(front_routes, delegates, self.routes)
            front_labels = [f"{gloo_model.route_label(i, r)} of VirtualService {name}"
                            for i, r in enumerate(front_routes)]
            self._labels = []
            front_index = 0
            for _, table_index in self._flat:
                if table_index is None:
                    while delegates[front_index]:
                        front_index += 1
                    self._labels.append(front_labels[front_index])
                    front_index += 1
                else:
                    self._labels.append(labels[table_index])
        self._flat_routes = [route for route, _ in self._flat]

    def _sends_to(self, route: Obj) -> list[str | None] | None:
        items = gloo_model.destinations_of(route)
        return None if not items else [_gloo_version(item, self.upstream) for item, _ in items]

    def _sends_to_app(self, route: Obj) -> bool:
        versions = self._sends_to(route)
        return versions is not None and all(v is not None for v in versions)

    def answer(self, request: Request) -> Answer:
        decision = gloo_model.explain(self._flat_routes, request, self._labels)
        table_index = None if decision.index is None else self._flat[decision.index][1]
        targets = tuple(Target(_gloo_version(item, self.upstream), _gloo_version(item, self.upstream)
                               or _gloo_label(item), share, _gloo_label(item)) for item, share in decision.destinations)
        where = (f"{self.kind} {self.object_name}" if table_index is not None or decision.index is None
                 else f"VirtualService {self.front[0] if self.front else ''}")
        return Answer(decision, targets, table_index in self._app_indices,
                      table_index in self._header_indices, where)

    def _locate(self, request: Request) -> Landed:
        flat_index = gloo_model.first_match(self._flat_routes, request)
        if flat_index is None:
            return NOWHERE
        route, table_index = self._flat[flat_index]
        weights = tuple((_gloo_version(item, self.upstream), w) for item, w in gloo_model.destinations_of(route) or [])
        return Landed(self._labels[flat_index], table_index in self._app_indices,
                      table_index in self._header_indices, weights)

    def paths(self) -> list[AppPath]:
        return [AppPath(gloo_model.route_label(i, self.routes[i]), gloo_model.describe_matcher(m),
                        examples.gloo_example(m))
                for i in self._app_indices if i not in self._header_indices
                for m in gloo_model.matchers_of(self.routes[i])]

    def header_labels(self) -> list[str]:
        return [gloo_model.route_label(i, self.routes[i]) for i in sorted(self._header_indices)]

    def _header_for(self, request: Request) -> str | None:
        return next((gloo_model.route_label(i, self.routes[i]) for i in sorted(self._header_indices)
                     if gloo_model.route_matches(self.routes[i], request)), None)

    def _taken(self, decision: Decision, header: str | None) -> str:
        if decision.route is None:
            return "no route takes them"
        return f"route {decision.route}, before it, takes them" if header else f"route {decision.route} takes them"

    def sorted_answer(self, request: Request) -> Answer | None:
        """Where the request would go if Gloo sorted the table's routes by path (same-weight tables a
        selector merges); None when that changes nothing."""
        ordered = gloo_model.sorted_by_path(self.routes)
        if ordered == self.routes:
            return None
        other = GlooRoutes(self.app, self.state, object_name=self.object_name, routes=ordered, upstream=self.upstream)
        answer = other.answer(request)
        mine = self.answer(request)
        return None if answer.decision.outcome == mine.decision.outcome else answer


# --- Gateway API ---------------------------------------------------------------------------------------


def _service_version(app: str, ref: Mapping[str, Any]) -> str | None:
    """The version of a backendRef to Service `APP-VERSION` (the Gateway API router's naming)."""
    name = str(ref.get("name") or "")
    if ref.get("group", "") != "" or ref.get("kind", "Service") != "Service" or not name.startswith(f"{app}-"):
        return None
    return name[len(app) + 1:] or None


@dataclass
class GatewayApiRoutes(AppRoutes):
    """An HTTPRoute's rules, ranked by the spec's precedence."""

    route: Obj = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.router, self.kind = "gateway-api", "HTTPRoute"
        self._rules: list[Obj] = list((self.route.get("spec") or {}).get("rules") or [])
        self._app_indices = [i for i, rule in enumerate(self._rules)
                             if rule.get("backendRefs")
                             and all(_service_version(self.app, ref) is not None for ref in rule["backendRefs"])]
        self._header_indices = {i for i in self._app_indices
                                if self.state.headers and all(_carries(m.get("headers") or [], self.state.headers,
                                                                       gloo=False)
                                                              for m in gateway_api_model.matches_of(self._rules[i]))}

    def answer(self, request: Request) -> Answer:
        decision = gateway_api_model.explain([self.route], request)
        targets = tuple(Target(_service_version(self.app, ref), _service_version(self.app, ref)
                               or f"Service {ref.get('name')}", share, f"Service {ref.get('name')}")
                        for ref, share in decision.destinations)
        return Answer(decision, targets, decision.index in self._app_indices, decision.index in self._header_indices,
                      f"{self.kind} {self.object_name}")

    def _locate(self, request: Request) -> Landed:
        found = gateway_api_model.best_rule([self.route], request) if self._rules else None
        if found is None:
            return NOWHERE
        rule = found[1]
        index = next(i for i, r in enumerate(self._rules) if r is rule)
        weights = tuple((_service_version(self.app, ref), int(ref.get("weight", 1)))
                        for ref in rule.get("backendRefs") or [])
        return Landed(gateway_api_model.rule_label(index, rule), index in self._app_indices,
                      index in self._header_indices, weights)

    def paths(self) -> list[AppPath]:
        return [AppPath(gateway_api_model.rule_label(i, self._rules[i]), gateway_api_model.describe_match(m),
                        examples.gateway_api_example(m))
                for i in self._app_indices if i not in self._header_indices
                for m in gateway_api_model.matches_of(self._rules[i])]

    def header_labels(self) -> list[str]:
        return [gateway_api_model.rule_label(i, self._rules[i]) for i in sorted(self._header_indices)]

    def _header_for(self, request: Request) -> str | None:
        return next((gateway_api_model.rule_label(i, self._rules[i]) for i in sorted(self._header_indices)
                     if any(gateway_api_model.match_matches(m, request)
                            for m in gateway_api_model.matches_of(self._rules[i]))), None)

    def _taken(self, decision: Decision, header: str | None) -> str:
        if decision.route is None:
            return "no rule takes them"
        rank = self._header_rank(header, decision.request)
        if header is None or rank is None:
            return f"rule {decision.route} takes them"
        winner = self._rank_of(decision)
        if winner is None or winner == rank:
            return f"rule {decision.route} ties with it on precedence and comes first, so it takes them"
        return f"rule {decision.route} outranks it on {gateway_api_model.deciding(winner, rank)} and takes them"

    def _rank_of(self, decision: Decision) -> gateway_api_model.Precedence | None:
        if decision.index is None:
            return None
        ranks = [gateway_api_model.precedence(m) for m in gateway_api_model.matches_of(self._rules[decision.index])
                 if gateway_api_model.match_matches(m, decision.request)]
        return max(ranks) if ranks else None

    def _header_rank(self, header: str | None, request: Request) -> gateway_api_model.Precedence | None:
        index = next((i for i in sorted(self._header_indices)
                      if gateway_api_model.rule_label(i, self._rules[i]) == header), None)
        if index is None:
            return None
        ranks = [gateway_api_model.precedence(m) for m in gateway_api_model.matches_of(self._rules[index])
                 if gateway_api_model.match_matches(m, request)]
        return max(ranks) if ranks else None


def of_route_object(router: str, app: str, route_object: Obj, parsed: Any, front: Any = None) -> AppRoutes:
    """The app's routes in its route object, as its router (`gloo`, `gateway-api`) reads them."""
    meta = route_object["metadata"]
    name = f"{meta.get('namespace', '')}/{meta['name']}"
    state: RolloutState = parsed.state
    if router == "gloo":
        upstream = parsed.upstream
        routes = list((route_object.get("spec") or {}).get("routes") or [])
        return GlooRoutes(app, state, object_name=name, routes=routes, upstream=(upstream.name, upstream.namespace),
                          front=front)
    return GatewayApiRoutes(app, state, object_name=name, route=route_object)


def problems_of(router: str, app: str, route_object: Obj, parsed: Any) -> tuple[str, ...]:
    """What `status` adds to an app's problems from where its requests go (the route object alone)."""
    if parsed.state.canary is None:
        return ()  # stable: nothing to compare, no header route (status -A: most apps)
    return tuple(of_route_object(router, app, route_object, parsed).problems())
