"""Gateway API HTTPRoute rules <-> rollout state. Pure functions of data, no I/O.

An app's rules are every rule of its HTTPRoute `APP` that sends to its version Services `APP-VERSION`: the
rule `APP-primary` (matches -> backendRef Service `APP-VERSION`), or several (`APP-primary-N`, or named by
the team), each with, during a rollout, its header rule right before it (`APP-canary-header`,
`APP-canary-header-N`). `parse_rules` reads each into a `RolloutState`, and the app's one state from theirs;
`render_rules` writes a state back onto each, touching only those rules: `spec.rules` is an atomic list, so
whoever writes it writes all of it, and every other rule is kept as it is and where it is.

The same rules as for Gloo keep a render from sending anyone where they did not go before:
- only narrow: the header rule's matches are the primary's matches, each with the canary headers added.
  The Gateway API picks a rule by precedence (exact path, longest prefix, method, most headers, most
  query parameters), not by list order, so a narrower rule can also outrank another team's rule that
  used to win: `render_rules` refuses when the header rule would take requests another rule now serves;
- only the version changes: a backendRef written for a version is the primary's live backendRef
  (namespace, port, filters) with the Service `APP-VERSION` of that version; weights that already give
  the desired share stay as they are.
The API server fills defaults (weight 1, header type Exact, path type PathPrefix, group "" and kind
Service); rules rendered here carry them explicitly, so a re-run reads back exactly what it wrote.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, replace
from typing import Any

from kubectl_canary.errors import CanaryError, UsageError
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

Rule = dict[str, Any]
Match = dict[str, Any]
MAX_RULES = 16
MAX_MATCHES = 128
_DEFAULT_MATCH: Match = {"path": {"type": "PathPrefix", "value": "/"}}


class HTTPRouteError(CanaryError):
    """The rules cannot be read or written as a rollout; nothing is written."""


def route_name(app: str) -> str:
    return app


def primary_rule_name(app: str) -> str:
    return f"{app}-primary"


def header_rule_name(app: str) -> str:
    return f"{app}-canary-header"


def service_name(app: str, version: str) -> str:
    return f"{app}-{version}"


def backend_ref(app: str, version: str, port: int = 80, weight: int = 1) -> dict[str, Any]:
    """A backendRef with the defaults the API server would fill, so a re-read finds no change."""
    return {"group": "", "kind": "Service", "name": service_name(app, version), "port": port, "weight": weight}


def stable_rules(app: str, version: str, prefix: str) -> list[Rule]:
    """The one rule of a freshly initialised app."""
    return [{
        "name": primary_rule_name(app),
        "matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
        "backendRefs": [backend_ref(app, version)],
    }]


@dataclass(frozen=True)
class AppRule:
    """One primary rule of the app: where it and its header rule sit, and the rollout it describes alone."""

    primary_index: int
    header_index: int | None
    state: RolloutState


@dataclass(frozen=True)
class ParsedRules:
    """The app's RolloutState plus where its rules sit in the list, so a render can keep the rest;
    `disagreements` names the rules whose own state differs from the app's (a degraded app)."""

    state: RolloutState
    routes: tuple[AppRule, ...]
    disagreements: tuple[str, ...] = ()

    @property
    def primary_index(self) -> int:
        """The first rule's (the only one's, for an app of one rule)."""
        return self.routes[0].primary_index

    @property
    def header_index(self) -> int | None:
        return self.routes[0].header_index

    @property
    def route_states(self) -> tuple[RolloutState, ...]:
        return tuple(rule.state for rule in self.routes)


def _fail(app: str, what: str) -> HTTPRouteError:
    return HTTPRouteError(
        f"cannot read the rules of {app} in HTTPRoute {route_name(app)}: {what}; "
        f"fix the HTTPRoute by hand (kubectl edit httproute {route_name(app)})"
    )


def _version_of(app: str, ref: Any) -> str | None:
    """The version a backendRef sends to: Service `APP-VERSION`, else None."""
    if not isinstance(ref, dict) or ref.get("group", "") != "" or ref.get("kind", "Service") != "Service":
        return None
    name = str(ref.get("name") or "")
    prefix = service_name(app, "")
    return name[len(prefix):] if name.startswith(prefix) and len(name) > len(prefix) else None


def _weighted_versions(app: str, rule: Rule) -> list[tuple[str, int]] | None:
    """(version, weight) of each backendRef; None if any is not one of the app's version Services."""
    refs = rule.get("backendRefs")
    if not isinstance(refs, list) or not refs:
        return None
    result = []
    for ref in refs:
        version = _version_of(app, ref)
        weight = ref.get("weight", 1)
        if version is None or not isinstance(weight, int) or weight < 0:
            return None
        result.append((version, weight))
    return result


def _header_of(condition: dict[str, Any]) -> HeaderMatch:
    return HeaderMatch(
        name=str(condition.get("name", "")).lower(),
        value=condition.get("value"),
        regex=condition.get("type", "Exact") == "RegularExpression",
    )


def _match_headers(match: Match) -> tuple[HeaderMatch, ...]:
    return tuple(_header_of(h) for h in match.get("headers") or [])


def _headers_of(rule: Rule) -> tuple[HeaderMatch, ...]:
    return _match_headers((rule.get("matches") or [_DEFAULT_MATCH])[0])


def _label(index: int, rule: Rule) -> str:
    """A rule in messages that compare the app's rules: its name, else its place and first path."""
    if rule.get("name"):
        return repr(rule["name"])
    path = ((rule.get("matches") or [_DEFAULT_MATCH])[0].get("path") or _DEFAULT_MATCH["path"])
    return f"#{index + 1} ({path.get('type', 'PathPrefix')} {path.get('value', '/')})"


def _narrows(app: str, header: Rule, primary: Rule) -> bool:
    """Whether `header` has the shape of a header rule of `primary`: every match of the primary, each with
    the same headers added, to one version's Service that is not the primary's only one."""
    header_matches, primary_matches = header.get("matches") or [_DEFAULT_MATCH], primary.get("matches") or [
        _DEFAULT_MATCH]
    if len(header_matches) != len(primary_matches):
        return False
    added: tuple[HeaderMatch, ...] | None = None
    for narrow, wide in zip(header_matches, primary_matches):
        if {k: v for k, v in narrow.items() if k != "headers"} != {k: v for k, v in wide.items() if k != "headers"}:
            return False
        own, wide_own = _match_headers(narrow), _match_headers(wide)
        extra = added_headers(own, wide_own)
        if not extra or len(own) - len(extra) != len(wide_own) or added not in (None, extra):
            return False
        added = extra
    targets, primary_targets = _weighted_versions(app, header), _weighted_versions(app, primary)
    if targets is None or len(targets) != 1:
        return False
    return not (primary_targets is not None and len(primary_targets) == 1 and primary_targets[0][0] == targets[0][0])


def _is_app_rule_name(app: str, name: Any) -> bool:
    number = str(name or "").removeprefix(f"{app}-primary-")
    return name == primary_rule_name(app) or (number != name and number.isdigit())


def _find_rules(app: str, rules: list[Rule], rule_names: tuple[str, ...] = ()) -> list[tuple[int, int | None]]:
    """(primary index, header index) of each of the app's rules, in order: the rules named as the plugin
    names them and every rule to the app's version Services; `rule_names` (--route-name) limits them."""
    names = [r.get("name") for r in rules]
    for rule_name in rule_names:
        if rule_name not in names:
            raise _fail(app, f"no rule is named {rule_name!r} (the --route-name given)")
    named = [names.index(n) for n in rule_names]
    candidates = sorted({*named, *(i for i, r in enumerate(rules) if _weighted_versions(app, r) is not None
                                  or _is_app_rule_name(app, r.get("name")))})
    primary_names = {str(names[i]) for i in candidates if names[i]}
    candidates = sorted({*candidates, *(i for i, n in enumerate(names)
                                        if header_route_target(app, n, primary_names) is not None)})
    if not candidates:
        raise _fail(app, f"no rule sends traffic to the Services {service_name(app, 'VERSION')}; name the primary "
                         f"rule {primary_rule_name(app)!r}")
    try:
        pairs = pair_routes(app, names, candidates, lambda h, p: _narrows(app, rules[h], rules[p]),
                            lambda i: _label(i, rules[i]))
    except UnreadableRoutes as error:
        raise _fail(app, str(error)) from None
    if rule_names:
        headers = {h for _, h in pairs if h is not None}
        for index in named:
            if index in headers:
                raise _fail(app, f"rule {names[index]!r} is a header rule; give --route-name the name of the rule "
                                 "it narrows")
        pairs = [(p, h) for p, h in pairs if p in named]
    return pairs


def is_rollout_route(app: str, rules: list[Rule]) -> bool:
    """Whether an HTTPRoute carries rules of `app` at all."""
    return any(_is_app_rule_name(app, r.get("name")) or _weighted_versions(app, r) is not None for r in rules)


def parse_rules(app: str, rules: list[Rule], rule_names: tuple[str, ...] = ()) -> ParsedRules:
    """Read the app's rollout from an HTTPRoute's `spec.rules`: each of its rules, then the app's one state."""
    pairs = _find_rules(app, rules, rule_names)
    own = []
    for primary_index, header_index in pairs:
        which = "" if len(pairs) == 1 else f"rule {_label(primary_index, rules[primary_index])}: "
        own.append(AppRule(primary_index, header_index, _rule_state(app, rules, primary_index, header_index, which)))
    try:
        state, disagreements = combine_states(app, [(_label(r.primary_index, rules[r.primary_index]), r.state)
                                                    for r in own], noun="rule")
    except UnreadableRoutes as error:
        raise _fail(app, str(error)) from None
    return ParsedRules(state, tuple(own), disagreements)


def _rule_state(app: str, rules: list[Rule], primary_index: int, header_index: int | None, which: str
                ) -> RolloutState:
    targets = _weighted_versions(app, rules[primary_index])
    if targets is None or not 1 <= len(targets) <= 2:
        raise _fail(app, f"{which}the primary rule is not one or two backendRefs to the Services "
                         f"{service_name(app, 'VERSION')}")
    header = None
    if header_index is not None:
        header_targets = _weighted_versions(app, rules[header_index])
        if header_targets is None or len(header_targets) != 1:
            raise _fail(app, f"{which}the header rule is not one backendRef to a version's Service")
        canary_headers = added_headers(_headers_of(rules[header_index]), _headers_of(rules[primary_index]))
        header = (header_targets[0][0], canary_headers)
    try:
        state = read_state(app, targets, header)
    except UnreadableRoutes as error:
        raise _fail(app, f"{which}{error}") from None
    shadow = _shadow_of(app, rules[primary_index], state.primary)
    if shadow is not None:
        state = replace(state, shadow=shadow)
    return state


def backends(parsed: ParsedRules, namespace: str) -> tuple[str, ...]:
    """The Services the app's rules send (and mirror) to, primary first (status -o wide)."""
    state = parsed.state
    versions = [v for v in (state.primary, state.canary, state.shadow.version if state.shadow else None) if v]
    return tuple(dict.fromkeys(service_name(state.app, v) for v in versions))


def parents(route: dict[str, Any]) -> tuple[str, ...]:
    """The route's parentRefs as `NS/NAME[:SECTION]` (Gateways), or `KIND/NS/NAME` for other kinds."""
    namespace = (route.get("metadata") or {}).get("namespace", "")
    found = []
    for ref in (route.get("spec") or {}).get("parentRefs") or []:
        where = f"{ref.get('namespace') or namespace}/{ref.get('name', '')}"
        where += f":{ref['sectionName']}" if ref.get("sectionName") else ""
        where += f" port {ref['port']}" if ref.get("port") else ""
        kind = ref.get("kind", "Gateway")
        found.append(where if kind == "Gateway" else f"{kind}/{where}")
    return tuple(found)


def _mirror_index(app: str, rule: Rule, primary: str) -> int | None:
    """Our RequestMirror filter: one that mirrors to another version's Service of the app."""
    for index, item in enumerate(rule.get("filters") or []):
        mirror = item.get("requestMirror") if item.get("type") == "RequestMirror" else None
        version = _version_of(app, (mirror or {}).get("backendRef"))
        if version is not None and version != primary:
            return index
    return None


def _shadow_of(app: str, rule: Rule, primary: str) -> Shadow | None:
    index = _mirror_index(app, rule, primary)
    if index is None:
        return None
    mirror = rule["filters"][index]["requestMirror"]
    version = _version_of(app, mirror["backendRef"])
    assert version is not None
    if "fraction" in mirror:
        fraction = mirror["fraction"]
        percent = 100 * fraction.get("numerator", 0) / (fraction.get("denominator") or 100)
    else:
        percent = float(mirror.get("percent", 100))
    return Shadow(version, percent)


# --- rendering --------------------------------------------------------------------------------------------


def _header_dict(app: str, header: HeaderMatch) -> dict[str, Any]:
    if header.value is None or header.invert_match:
        raise HTTPRouteError(
            f"the Gateway API matches a header by its value only: give --header NAME=VALUE for {app} "
            f"(not {header})"
        )
    kind = "RegularExpression" if header.regex else "Exact"
    return {"name": header.name, "type": kind, "value": header.value}


def _version_ref(app: str, primary: Rule, version: str) -> dict[str, Any]:
    """The primary's first live backendRef, sending to `version`: only the Service's name changes."""
    ref: dict[str, Any] = copy.deepcopy(primary["backendRefs"][0])
    ref["name"] = service_name(app, version)
    return ref


def _live_ref(app: str, primary: Rule, version: str) -> dict[str, Any] | None:
    return next((copy.deepcopy(r) for r in primary["backendRefs"] if _version_of(app, r) == version), None)


def _primary_refs(app: str, primary: Rule, live: RolloutState, desired: RolloutState) -> list[dict[str, Any]]:
    if desired.canary is None or desired.weight is None:
        ref = _live_ref(app, primary, desired.primary) or _version_ref(app, primary, desired.primary)
        if len(primary["backendRefs"]) != 1 or not ref.get("weight", 1):
            ref["weight"] = 1
        return [ref]
    same_pair = live.weight is not None and {live.primary, live.canary} == {desired.primary, desired.canary}
    if same_pair and live.canary == desired.canary and live.weight == desired.weight:
        return copy.deepcopy(primary["backendRefs"])  # the split does not change: 999/1 stays 999/1
    weights = dict(zip((desired.primary, desired.canary), integer_weights(desired.weight)))
    order = [_version_of(app, r) for r in primary["backendRefs"]] if same_pair else [desired.primary, desired.canary]
    refs = []
    for version in order:
        assert version is not None
        ref = _live_ref(app, primary, version) or _version_ref(app, primary, version)
        ref["weight"] = weights[version]
        refs.append(ref)
    return refs


def _set_mirror(app: str, rule: Rule, parsed: ParsedRules, desired: RolloutState) -> None:
    """Our RequestMirror on the primary rule `rule` as `desired` says; anyone else's filters kept."""
    filters = copy.deepcopy(rule.get("filters") or [])
    index = _mirror_index(app, rule, parsed.state.primary)
    if index is not None:
        filters.pop(index)
    if desired.shadow is not None:
        target = {k: v for k, v in _version_ref(app, rule, desired.shadow.version).items() if k != "weight"}
        percent = desired.shadow.percent
        mirror: dict[str, Any] = {"backendRef": target}
        if float(percent).is_integer():
            mirror["percent"] = int(percent)
        else:
            mirror["fraction"] = {"numerator": round(percent * 1000), "denominator": 100_000}
        filters.insert(index if index is not None else len(filters), {"type": "RequestMirror", "requestMirror": mirror})
    if filters:
        rule["filters"] = filters
    else:
        rule.pop("filters", None)


def _header_rule(app: str, live: Rule | None, primary: Rule, parsed: ParsedRules, desired: RolloutState,
                 name: str) -> Rule:
    assert desired.canary is not None
    kept = ("name", "matches", "backendRefs")
    if live is not None:
        rest = {k: copy.deepcopy(v) for k, v in live.items() if k not in kept}
    else:
        # A new header rule serves its requests like the primary does (filters, timeouts), without our mirror.
        rest = {k: copy.deepcopy(v) for k, v in primary.items() if k not in kept}
        mirror = _mirror_index(app, primary, parsed.state.primary)
        filters = [f for i, f in enumerate(rest.pop("filters", None) or []) if i != mirror]
        if filters:
            rest["filters"] = filters
    canary_headers = [_header_dict(app, h) for h in desired.headers]
    # Only narrow: every match of the primary, each with the canary headers added to its own.
    matches = [{**m, "headers": [*(m.get("headers") or []), *copy.deepcopy(canary_headers)]}
               for m in copy.deepcopy(primary.get("matches") or [_DEFAULT_MATCH])]
    ref = _live_ref(app, live, desired.canary) if live is not None else None
    return {"name": name, "matches": matches, **rest,
            "backendRefs": [ref or {**_version_ref(app, primary, desired.canary), "weight": 1}]}


def render_rules(rules: list[Rule], parsed: ParsedRules, desired: RolloutState) -> list[Rule]:
    """The full `spec.rules` with each of the app's rules set to `desired`, all other rules untouched.

    Raises HTTPRouteError when the result would break the API server's limits or widen: a header rule
    that would take requests another rule of the route now serves.
    """
    app = desired.app
    taken = {str(r["name"]) for r in rules if r.get("name")}
    names = primary_route_names(app, [rules[r.primary_index].get("name") for r in parsed.routes], taken)
    headers = {r.header_index for r in parsed.routes if r.header_index is not None}
    rendered: dict[int, list[Rule]] = {}
    for own, name in zip(parsed.routes, names):
        live_primary = rules[own.primary_index]
        primary = copy.deepcopy(live_primary)
        primary["name"] = name  # a rule the team named keeps its name; an unnamed one gets ours
        primary["backendRefs"] = _primary_refs(app, live_primary, own.state, desired)
        _set_mirror(app, primary, parsed, desired)
        primary = {"name": primary.pop("name"), **primary}
        pair = [primary]
        if desired.canary is not None and desired.headers:
            live_header = None if own.header_index is None else rules[own.header_index]
            header_name = header_route_name_of(app, name, len(parsed.routes))
            pair.insert(0, _header_rule(app, live_header, live_primary, parsed, desired, header_name))
        rendered[own.primary_index] = pair
    result: list[Rule] = []
    for index, kept in enumerate(rules):
        if index not in headers:
            result.extend(rendered.get(index, [kept]))
    check_limits(app, result)
    # The app's own rules may outrank one another: they all send where the phase says.
    place = {id(rule): i for i, rule in enumerate(result)}
    own_indices = frozenset(place[id(rule)] for pair in rendered.values() for rule in pair)
    for pair in rendered.values():
        if len(pair) == 2:
            check_narrow(app, result, place[id(pair[0])], place[id(pair[1])], own_indices)
    return result


# --- what the API server and the spec's precedence allow ---------------------------------------------------


def check_limits(app: str, rules: list[Rule]) -> None:
    """The schema's and CEL's limits (16 rules; 128 matches in all), checked before any write."""
    if len(rules) > MAX_RULES:
        raise HTTPRouteError(
            f"HTTPRoute {route_name(app)} would have {len(rules)} rules, more than the Gateway API's "
            f"{MAX_RULES}: move other rules to another HTTPRoute first"
        )
    matches = sum(len(r.get("matches") or [_DEFAULT_MATCH]) for r in rules)
    if matches > MAX_MATCHES:
        raise HTTPRouteError(
            f"HTTPRoute {route_name(app)} would have {matches} matches in all, more than the Gateway API's "
            f"{MAX_MATCHES}: the header rule repeats every match of the primary rule; move other rules to "
            "another HTTPRoute first"
        )


def precedence(match: Match) -> tuple[int, int, int, int, int]:
    """The spec's order between matches, highest first: exact path, prefix length, method, headers,
    query parameters (a RegularExpression path ranks below all: its precedence is implementation's)."""
    path = match.get("path") or _DEFAULT_MATCH["path"]
    kind = path.get("type", "PathPrefix")
    length = len(str(path.get("value", "/"))) if kind == "PathPrefix" else (-1 if kind != "Exact" else 0)
    return (1 if kind == "Exact" else 0, length, 1 if match.get("method") else 0,
            len(match.get("headers") or []), len(match.get("queryParams") or []))


def _segments(value: str) -> list[str]:
    return [s for s in value.split("/") if s]


def _paths_overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether some request path matches both (regular expressions: assumed to overlap)."""
    kinds = (a.get("type", "PathPrefix"), b.get("type", "PathPrefix"))
    if "RegularExpression" in kinds:
        return True
    first, second = _segments(str(a.get("value", "/"))), _segments(str(b.get("value", "/")))
    if kinds == ("Exact", "Exact"):
        return first == second
    if kinds[0] == "Exact":
        return first[: len(second)] == second
    if kinds[1] == "Exact":
        return second[: len(first)] == first
    shorter = min(len(first), len(second))
    return first[:shorter] == second[:shorter]


def _conditions_overlap(a: list[dict[str, Any]], b: list[dict[str, Any]], fold: bool) -> bool:
    """False only when both ask the same name for two different exact values."""
    def exact(items: list[dict[str, Any]]) -> dict[str, Any]:
        return {(str(i.get("name")).lower() if fold else str(i.get("name"))): i.get("value")
                for i in items if i.get("type", "Exact") == "Exact"}
    left, right = exact(a), exact(b)
    return all(left[name] == right[name] for name in left.keys() & right.keys())


def matches_overlap(a: Match, b: Match) -> bool:
    """Whether one request can match both (conservative: True unless provably disjoint)."""
    if a.get("method") and b.get("method") and a["method"] != b["method"]:
        return False
    return (_paths_overlap(a.get("path") or _DEFAULT_MATCH["path"], b.get("path") or _DEFAULT_MATCH["path"])
            and _conditions_overlap(a.get("headers") or [], b.get("headers") or [], fold=True)
            and _conditions_overlap(a.get("queryParams") or [], b.get("queryParams") or [], fold=False))


def check_narrow(app: str, rules: list[Rule], header_index: int, primary_index: int,
                 own: frozenset[int] = frozenset()) -> None:
    """Refuse a header rule that would outrank a rule which serves some of its requests today.

    A request matching header match H also matches the primary's match P it was made from. Today it goes
    to P unless another rule's match F that also matches it ranks above P (or ties and comes first).
    After the change H competes too: when H outranks F (or ties and comes first), the request would move
    from F to the canary, although the app's routes did not serve it before.
    """
    header, primary = rules[header_index], rules[primary_index]
    for h_match, p_match in zip(header.get("matches") or [], primary.get("matches") or [_DEFAULT_MATCH]):
        for index, rule in enumerate(rules):
            if index in (header_index, primary_index) or index in own:
                continue
            for f_match in rule.get("matches") or [_DEFAULT_MATCH]:
                if not matches_overlap(f_match, h_match):
                    continue
                f_beats_p = precedence(f_match) > precedence(p_match) or (
                    precedence(f_match) == precedence(p_match) and index < primary_index)
                h_beats_f = precedence(h_match) > precedence(f_match) or (
                    precedence(h_match) == precedence(f_match) and header_index < index)
                if f_beats_p and h_beats_f:
                    name = rule.get("name") or f"#{index + 1}"
                    raise HTTPRouteError(
                        f"the canary header rule of {app} would outrank rule {name} of HTTPRoute "
                        f"{route_name(app)}, which serves some requests carrying the canary header today; "
                        "choose another --header, or give that rule more specific matches"
                    )


# --- the gateway's verdict --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """The gateway's judgement of the route: `state` Accepted | Rejected | Degraded | Pending."""

    state: str
    reason: str
    processed: bool  # every parent's conditions carry the route's current generation


def route_verdict(route: dict[str, Any]) -> Verdict:
    generation = (route.get("metadata") or {}).get("generation")
    parents = (route.get("status") or {}).get("parents") or []
    if not parents:
        return Verdict("Pending", "no gateway has reported on this route", False)
    processed = True
    worst = ("Accepted", "")
    rank = {"Accepted": 0, "Pending": 1, "Degraded": 2, "Rejected": 3}
    for parent in parents:
        where = (parent.get("parentRef") or {}).get("name", "?")
        conditions = {c.get("type"): c for c in parent.get("conditions") or []}
        for kind in ("Accepted", "ResolvedRefs"):
            condition = conditions.get(kind)
            if condition is None or condition.get("observedGeneration") != generation:
                processed = False
                continue
            if condition.get("status") != "True":
                state = "Rejected" if kind == "Accepted" else "Degraded"
                reason = f"{where}: {kind} {condition.get('reason', '')}: {condition.get('message', '')}".strip()
                if rank[state] > rank[worst[0]]:
                    worst = (state, reason)
    if worst[0] == "Accepted" and not processed:
        return Verdict("Pending", "the gateway has not processed the latest change yet", False)
    return Verdict(worst[0], worst[1], processed)


# --- the objects of an app on the Gateway API ------------------------------------------------------------


@dataclass(frozen=True)
class GatewayRef:
    """`--gateway NS/NAME[:SECTION]`: the Gateway (and listener) the app's HTTPRoute attaches to."""

    namespace: str
    name: str
    section: str | None = None

    def as_parent_ref(self) -> dict[str, Any]:
        ref: dict[str, Any] = {"group": GATEWAY_GROUP, "kind": "Gateway", "namespace": self.namespace,
                               "name": self.name}
        if self.section:
            ref["sectionName"] = self.section
        return ref

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" + (f":{self.section}" if self.section else "")


GATEWAY_GROUP = "gateway.networking.k8s.io"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def parse_gateway(text: str, default_namespace: str) -> GatewayRef:
    """`NS/NAME[:SECTION]` or `NAME[:SECTION]` (the app's namespace)."""
    ref, _, section = text.partition(":")
    namespace, _, name = ref.rpartition("/")
    namespace = namespace or default_namespace
    if not _DNS_LABEL.match(namespace) or not _DNS_SUBDOMAIN.match(name) or (section and not _DNS_LABEL.match(section)):
        raise UsageError(f"invalid --gateway {text!r}: give NAMESPACE/NAME or NAMESPACE/NAME:LISTENER")
    return GatewayRef(namespace, name, section or None)


def version_service(app: str, version: str, namespace: str, target_port: int | str,
                    labels: dict[str, str] | None = None) -> dict[str, Any]:
    """The Service of one version: the Gateway API routes to Services, not to subsets."""
    selector = {"app": app, "version": version}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service_name(app, version), "namespace": namespace,
                     "labels": {**selector, **(labels or {})}},
        "spec": {"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": target_port}]},
    }


def canary_service(primary_service: dict[str, Any], app: str, version: str) -> dict[str, Any]:
    """The canary's Service, cloned from the primary version's: only the version changes."""
    source = primary_service.get("metadata") or {}
    spec = primary_service.get("spec") or {}
    # Made by the plugin, whoever made the primary's: the label is what lets finish/abort delete it.
    labels = {**(source.get("labels") or {}), "version": version, "app.kubernetes.io/managed-by": "kubectl-canary"}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": service_name(app, version), "namespace": source.get("namespace"), "labels": labels},
        "spec": {"selector": {**(spec.get("selector") or {"app": app}), "version": version},
                 "ports": copy.deepcopy(spec.get("ports") or [])},
    }


def httproute(app: str, namespace: str, gateway: GatewayRef, rules: list[Rule],
              labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": f"{GATEWAY_GROUP}/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": route_name(app), "namespace": namespace, "labels": {"app": app, **(labels or {})}},
        "spec": {"parentRefs": [gateway.as_parent_ref()], "rules": rules},
    }
