"""What the seed series' Helm charts render from their values (tests only): the RouteTable's routes, the
Deployments and the Upstream, as the charts' templates write them (DESIGN.md sections 2 and 8).

- The seed's chart (`routes:`): one path `/RELEASE`; with `routes.canary` a header route, then the primary
  route `multi` (weights `100 - weight` and `weight`), else `single` to `routes.primary.version`.
- The series' next chart (`routing:`, solo-io/gloo-ref-arch two-phased-canary/part4): for each entry of
  `routing.routes` in order, the same pair for that prefix (`{{ .Release.Name }}` in a prefix is the release);
  both routes carry `options.shadowing` (100% to Upstream `shadow-VERSION`) with `routing.options.shadowing`.

Helm's `sub 100 nil` is 100 and `add 0 nil` is 0: a canary without a weight renders the weights 100 and 0.
Routes are unnamed, as the charts write them.
"""

from __future__ import annotations

from typing import Any


def _destination(release: str, namespace: str, version: str) -> dict[str, Any]:
    return {"upstream": {"name": release, "namespace": namespace}, "subset": {"values": {"version": version}}}


def _pair(release: str, namespace: str, prefix: str, primary: str, canary: dict[str, Any] | None,
          options: dict[str, Any] | None) -> list[dict[str, Any]]:
    routes = []
    if canary:
        headers = [{"name": str(name), "value": str(value)} for name, value in (canary.get("headers") or {}).items()]
        routes.append({"matchers": [{"headers": headers, "prefix": prefix}],
                       "routeAction": {"single": _destination(release, namespace, canary["version"])}})
    if canary:
        weight = canary.get("weight") or 0
        action: dict[str, Any] = {"multi": {"destinations": [
            {"destination": _destination(release, namespace, primary), "weight": 100 - weight},
            {"destination": _destination(release, namespace, canary["version"]), "weight": weight},
        ]}}
    else:
        action = {"single": _destination(release, namespace, primary)}
    routes.append({"matchers": [{"prefix": prefix}], "routeAction": action})
    if options:
        for route in routes:
            route["options"] = dict(options)
    return routes


def chart_routes(values: dict[str, Any], release: str = "echo", namespace: str = "echo") -> list[dict[str, Any]]:
    """`spec.routes` of the RouteTable `RELEASE-routes` that either chart renders from `values`."""
    if "routing" in values:
        routing = values["routing"]
        options = None
        shadowing = (routing.get("options") or {}).get("shadowing")
        if shadowing:
            options = {"shadowing": {"percentage": 100,
                                     "upstream": {"name": f"shadow-{shadowing['version']}", "namespace": namespace}}}
        routes = []
        for entry in routing.get("routes") or []:
            prefix = str(entry["prefix"]).replace("{{ .Release.Name }}", release)
            routes += _pair(release, namespace, prefix, routing["version"], routing.get("canary"), options)
        return routes
    seed = values["routes"]
    return _pair(release, namespace, f"/{release}", seed["primary"]["version"], seed.get("canary"), None)


def chart_route_table(values: dict[str, Any], release: str = "echo", namespace: str = "echo") -> dict[str, Any]:
    api_group = (values.get("routing") or values.get("routes") or {}).get("apiGroup", "example")
    return {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
            "metadata": {"name": f"{release}-routes", "namespace": namespace, "labels": {"apiGroup": api_group}},
            "spec": {"routes": chart_routes(values, release, namespace)}}


def chart_upstream(release: str = "echo", namespace: str = "echo") -> dict[str, Any]:
    """The charts' Upstream: `servicePort: 8080` for a Service on port 80 (DESIGN.md section 1)."""
    return {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream",
            "metadata": {"name": release, "namespace": namespace},
            "spec": {"kube": {"selector": {"app": release}, "serviceName": release, "serviceNamespace": namespace,
                              "servicePort": 8080, "subsetSpec": {"selectors": [{"keys": ["version"]}]}}}}


def chart_service(release: str = "echo", namespace: str = "echo") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": release, "namespace": namespace},
            "spec": {"ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}], "selector": {"app": release}}}


def chart_deployments(values: dict[str, Any], release: str = "echo", namespace: str = "echo") -> list[dict[str, Any]]:
    """One Deployment RELEASE-VERSION per key of `deployment` (the next chart takes image, replicas, args and
    imagePullPolicy from the version's own config; the seed's chart has none)."""
    result = []
    for version, config in (values.get("deployment") or {}).items():
        config = config or {}
        labels = {"app": release, "version": str(version)}
        args = [str(a).replace("{{ .Release.Name }}", release).strip('"')
                for a in config.get("args") or [f"-text=version:{release}-{version}", "-listen=:8080"]]
        container = {"name": f"{release}-{version}", "image": config.get("image", "hashicorp/http-echo"),
                     "args": args, "imagePullPolicy": config.get("imagePullPolicy", "Always"),
                     "ports": [{"containerPort": 8080}]}
        result.append({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": f"{release}-{version}", "namespace": namespace},
                       "spec": {"replicas": config.get("replicas", 1), "selector": {"matchLabels": labels},
                                "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}}}})
    return result
