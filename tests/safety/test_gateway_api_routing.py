"""Property tests of the Gateway API router against the spec's routing model (request_routing/gateway_api.py).

Generated HTTPRoutes (other teams' rules before, between and after the app's; the app's 1 to 4 primary rules,
each with 1 to 3 matches of any shape, named `echo-primary`, `echo-primary-N` or not at all, backendRefs with
their own namespace and port) go through generated command sequences; after each command that is not
refused, for every request of a grid:
- a request the app's rules did not serve before is served exactly as before (never widen);
- a request the app's rules serve goes where the phase says, whichever of the app's rules takes it: the
  canary for requests with the canary header while header rules exist, else the primary and canary by the
  exact weights.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kubectl_canary.model.rollout import HeaderMatch, RolloutState, promote, rollback, shift_weight, start_canary
from kubectl_canary.request_routing.gateway_api import best_rule, outcome_of
from kubectl_canary.request_routing.requests import Request
from kubectl_canary.routers.gateway_api import HTTPRouteError, parse_rules, render_rules

APP = "echo"
PATHS = ["/", "/echo", "/echo/api", "/other"]
HEADERS = [("stage", "canary"), ("stage", "beta"), ("x-tenant", "a"), ("x-tenant", "b"), ("x-debug", "1")]
REQUESTS = [
    Request(path, method, dict(headers))
    for path in ("/echo", "/echo/api/x", "/other", "/echoes")
    for method in ("GET", "POST")
    for headers in itertools.chain.from_iterable(itertools.combinations(HEADERS, n) for n in range(3))
    if len({name for name, _ in headers}) == len(headers)
]


def _match(draw: Any) -> dict[str, Any]:
    match: dict[str, Any] = {"path": {"type": draw(st.sampled_from(["PathPrefix", "PathPrefix", "Exact"])),
                                      "value": draw(st.sampled_from(PATHS))}}
    if draw(st.booleans()):
        match["method"] = draw(st.sampled_from(["GET", "POST"]))
    headers = draw(st.lists(st.sampled_from(HEADERS), max_size=2, unique_by=lambda h: h[0]))
    if headers:
        match["headers"] = [{"name": n, "type": "Exact", "value": v} for n, v in headers]
    return match


@st.composite
def routes(draw: Any) -> list[dict[str, Any]]:
    def foreign(index: str) -> dict[str, Any]:
        return {"name": f"team-{index}", "matches": [_match(draw) for _ in range(draw(st.integers(1, 2)))],
                "backendRefs": [{"group": "", "kind": "Service", "name": f"team-{index}", "port": 80, "weight": 1}]}
    count = draw(st.integers(1, 4))
    naming = draw(st.sampled_from(["plugin", "unnamed"]))
    rules = []
    for number in range(1, count + 1):
        primary_matches = [_match(draw) for _ in range(draw(st.integers(1, 3)))]
        for match in primary_matches:  # the app's own rules are not about the canary header
            match["headers"] = [h for h in match.get("headers", []) if h["name"] != "stage"] or None
            if match["headers"] is None:
                del match["headers"]
        primary: dict[str, Any] = {"matches": primary_matches,
                                   "backendRefs": [{"group": "", "kind": "Service", "name": f"{APP}-v1",
                                                    "namespace": "apps", "port": 8080, "weight": 1}]}
        if naming == "plugin":
            primary = {"name": f"{APP}-primary" if count == 1 else f"{APP}-primary-{number}", **primary}
        rules.append([foreign(f"{number}-{i}") for i in range(draw(st.integers(0, 1)))] + [primary])
    after = [foreign(f"z-{i}") for i in range(draw(st.integers(0, 2)))]
    return [*(rule for group in rules for rule in group), *after]


COMMANDS = st.lists(st.sampled_from(["header", "weight-10", "weight-0.1", "weight-100", "finish", "abort"]),
                    min_size=1, max_size=4)


def _apply(command: str, state: RolloutState) -> RolloutState:
    if command == "header":
        return start_canary(state, state.canary or "v2", (HeaderMatch("stage", "canary"),))
    if command.startswith("weight-"):
        return shift_weight(state, Fraction(command.removeprefix("weight-")))
    return promote(state) if command == "finish" else rollback(state)


def _served_by_app(route: dict[str, Any], request: Request) -> dict[str, Any] | None:
    """The rule that serves `request`, when it is one of the app's (to its version Services)."""
    found = best_rule([route], request)
    if found is None or not all(str(r["name"]).startswith(f"{APP}-") for r in found[1].get("backendRefs") or [{}]):
        return None
    return found[1]


def _service_shares(rule: dict[str, Any]) -> dict[str, Fraction]:
    refs = rule["backendRefs"]
    total = sum(r["weight"] for r in refs)
    return {r["name"]: Fraction(r["weight"], total) for r in refs if r["weight"]}


def _httproute(rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": APP, "namespace": "apps", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"rules": rules}}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routes(), COMMANDS)
def test_commands_never_widen_and_route_as_the_phase_says(rules: list[dict[str, Any]], commands: list[str]) -> None:
    event(f"{sum(1 for r in rules if not str(r.get('name', '')).startswith('team-'))} rule(s) of the app")
    for command in commands:
        parsed = parse_rules(APP, rules)
        try:
            desired = _apply(command, parsed.state)
            rendered = render_rules(rules, parsed, desired)
        except HTTPRouteError:
            event("a command refused (it would widen, or break a limit)")
            continue  # refused before writing: nothing moves
        except Exception as error:  # a transition that makes no sense in this phase
            if "has no canary" in str(error) or "already" in str(error):
                continue
            raise
        before, after = _httproute(rules), _httproute(rendered)
        for request in REQUESTS:
            app_before, app_after = _served_by_app(before, request), _served_by_app(after, request)
            if app_before is None:
                assert app_after is None, (command, request, rendered)
                served_before, served_after = best_rule([before], request), best_rule([after], request)
                assert (served_after and outcome_of(*served_after)) == (served_before and outcome_of(*served_before))
                continue
            assert app_after is not None, (command, request)
            wants_canary = desired.canary is not None and desired.headers and request.headers.get("stage") == "canary"
            if wants_canary:
                assert _service_shares(app_after) == {f"{APP}-{desired.canary}": 1}, (command, request)
            else:
                expected = {desired.primary: 100 - (desired.weight or 0), desired.canary: desired.weight or 0}
                shares = {f"{APP}-{v}": Fraction(p) / 100 for v, p in expected.items() if v is not None and p}
                assert _service_shares(app_after) == shares, (command, request)
        rules = rendered
