"""The objects of docs/design.md: the routes of every phase (section 2, app echo, namespace echo,
verbatim) and the platform team's VirtualService (section 1).

Unnamed, the routes are also what the seed's Helm chart writes; `named` adds the names the plugin gives.
"""

from __future__ import annotations

import copy

import yaml

# docs/design.md section 2, verbatim: these are also the shapes the seed's Helm chart writes (no names).
STABLE = yaml.safe_load("""
routes:
  - matchers: [{prefix: /echo}]
    routeAction:
      single:
        upstream: {name: echo, namespace: echo}
        subset: {values: {version: v1}}
""")["routes"]

PHASE1 = yaml.safe_load("""
routes:
  - matchers: [{prefix: /echo, headers: [{name: stage, value: canary}]}]
    routeAction:
      single:
        upstream: {name: echo, namespace: echo}
        subset: {values: {version: v2}}
  - matchers: [{prefix: /echo}]
    routeAction:
      single:
        upstream: {name: echo, namespace: echo}
        subset: {values: {version: v1}}
""")["routes"]


def phase2(n: int) -> list[dict]:
    weighted = yaml.safe_load(f"""
  - matchers: [{{prefix: /echo}}]
    routeAction:
      multi:
        destinations:
          - destination: {{upstream: {{name: echo, namespace: echo}}, subset: {{values: {{version: v1}}}}}}
            weight: {100 - n}
          - destination: {{upstream: {{name: echo, namespace: echo}}, subset: {{values: {{version: v2}}}}}}
            weight: {n}
""")
    return [copy.deepcopy(PHASE1[0]), *weighted]


FINISHED = yaml.safe_load("""
routes:
  - matchers: [{prefix: /echo}]
    routeAction:
      single:
        upstream: {name: echo, namespace: echo}
        subset: {values: {version: v2}}
""")["routes"]


def named(routes: list[dict]) -> list[dict]:
    """The same routes with the names the plugin gives them."""
    result = copy.deepcopy(routes)
    for route in result:
        route["name"] = "echo-canary-header" if route["matchers"][0].get("headers") else "echo-primary"
    return result


# Owned by the platform team: `/` delegated to every RouteTable labelled apiGroup=example.
PLATFORM_VIRTUAL_SERVICE = {
    "apiVersion": "gateway.solo.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "default", "namespace": "gloo-system"},
    "spec": {
        "virtualHost": {
            "domains": ["*"],
            "routes": [
                {
                    "matchers": [{"prefix": "/"}],
                    "delegateAction": {"selector": {"labels": {"apiGroup": "example"}, "namespaces": ["*"]}},
                }
            ],
        }
    },
}
