"""An app of several rules on the Gateway API (pure, exact YAML): each rule gets its header rule right before
it, the same weights, and finish/abort treat each; rules of several matches repeat every match."""

from __future__ import annotations

import copy

import pytest
import yaml

from kubectl_canary.model.rollout import DEFAULT_HEADER, promote, rollback, shift_weight, start_canary
from kubectl_canary.routers.gateway_api import HTTPRouteError, parse_rules, render_rules

V1 = '{group: "", kind: Service, name: echo-v1, port: 80, weight: 1}'
STABLE = yaml.safe_load(f"""
- matches: [{{path: {{type: PathPrefix, value: /echo/foo}}}}, {{path: {{type: Exact, value: /echo/foo-legacy}}}}]
  backendRefs: [{V1}]
- name: team-other
  matches: [{{path: {{type: PathPrefix, value: /other}}}}]
  backendRefs: [{{group: "", kind: Service, name: other, port: 80, weight: 1}}]
- matches: [{{path: {{type: PathPrefix, value: /echo/bar}}, method: GET}}]
  backendRefs: [{V1}]
""")
HEADER_MATCH = "headers: [{name: stage, type: Exact, value: canary}]"
WEIGHTED_10 = yaml.safe_load(f"""
- name: echo-canary-header-1
  matches:
  - {{path: {{type: PathPrefix, value: /echo/foo}}, {HEADER_MATCH}}}
  - {{path: {{type: Exact, value: /echo/foo-legacy}}, {HEADER_MATCH}}}
  backendRefs: [{{group: "", kind: Service, name: echo-v2, port: 80, weight: 1}}]
- name: echo-primary-1
  matches: [{{path: {{type: PathPrefix, value: /echo/foo}}}}, {{path: {{type: Exact, value: /echo/foo-legacy}}}}]
  backendRefs:
  - {{group: "", kind: Service, name: echo-v1, port: 80, weight: 90}}
  - {{group: "", kind: Service, name: echo-v2, port: 80, weight: 10}}
- name: team-other
  matches: [{{path: {{type: PathPrefix, value: /other}}}}]
  backendRefs: [{{group: "", kind: Service, name: other, port: 80, weight: 1}}]
- name: echo-canary-header-2
  matches: [{{path: {{type: PathPrefix, value: /echo/bar}}, method: GET, {HEADER_MATCH}}}]
  backendRefs: [{{group: "", kind: Service, name: echo-v2, port: 80, weight: 1}}]
- name: echo-primary-2
  matches: [{{path: {{type: PathPrefix, value: /echo/bar}}, method: GET}}]
  backendRefs:
  - {{group: "", kind: Service, name: echo-v1, port: 80, weight: 90}}
  - {{group: "", kind: Service, name: echo-v2, port: 80, weight: 10}}
""")


def step(rules: list[dict], transition) -> list[dict]:
    parsed = parse_rules("echo", rules)
    return render_rules(rules, parsed, transition(parsed.state))


def test_every_rule_of_the_app_moves_in_its_place():
    header = step(STABLE, lambda s: start_canary(s, "v2", (DEFAULT_HEADER,)))
    assert [r["name"] for r in header] == [
        "echo-canary-header-1", "echo-primary-1", "team-other", "echo-canary-header-2", "echo-primary-2"]
    weighted = step(header, lambda s: shift_weight(s, 10))
    assert weighted == WEIGHTED_10
    assert step(weighted, lambda s: shift_weight(s, 10)) == WEIGHTED_10
    finished = step(weighted, promote)
    assert [(r["name"], [b["name"] for b in r["backendRefs"]]) for r in finished] == [
        ("echo-primary-1", ["echo-v2"]), ("team-other", ["other"]), ("echo-primary-2", ["echo-v2"])]
    aborted = step(weighted, rollback)
    assert aborted == [{"name": "echo-primary-1", **STABLE[0]}, STABLE[1], {"name": "echo-primary-2", **STABLE[2]}]


def test_rules_that_disagree_are_named_and_different_phases_are_refused():
    uneven = copy.deepcopy(WEIGHTED_10)
    uneven[4]["backendRefs"][0]["weight"], uneven[4]["backendRefs"][1]["weight"] = 50, 50
    assert parse_rules("echo", uneven).disagreements == (
        "rule 'echo-primary-2' sends 50% to v2, the app's other rules 10%",)
    mixed = [*WEIGHTED_10[:3], {"name": "echo-primary-2", **STABLE[2]}]
    with pytest.raises(HTTPRouteError, match=r"its rules are in different phases: 'echo-primary-1' v1 90% / v2 "
                                             r"10%, header stage=canary; 'echo-primary-2' stable on v1"):
        parse_rules("echo", mixed)


def test_route_name_limits_the_rules():
    named = [{"name": "foo", **STABLE[0]}, STABLE[1], {"name": "bar", **STABLE[2]}]
    parsed = parse_rules("echo", named, ("bar",))
    rendered = render_rules(named, parsed, start_canary(parsed.state, "v2", (DEFAULT_HEADER,)))
    assert [r["name"] for r in rendered] == ["foo", "team-other", "echo-canary-header", "bar"]
