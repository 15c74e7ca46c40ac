"""The four phases and abort, in process against the fake API server: the exact routes on the server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.design_routes import FINISHED, PHASE1, STABLE, named, phase2
from tests.seed_charts import chart_deployments, chart_route_table, chart_routes, chart_service, chart_upstream

NS = "echo"
README = Path(__file__).resolve().parents[2] / "README.md"


def routes(api) -> list[dict]:
    return api.get("routetables", NS, "echo-routes")["spec"]["routes"]


def test_init_creates_the_four_objects(api, canary):
    result = canary("init", "echo")
    assert result.code == 0, result.err
    # No VirtualService routes to the new table yet: said, not fatal.
    assert result.err == (
        "warning: no VirtualService delegates to RouteTable echo-routes (by ref, or by a selector matching its "
        "labels apiGroup=example, app.kubernetes.io/managed-by=kubectl-canary): traffic will not reach it\n"
    )
    assert result.out.splitlines() == [
        "deployment.apps/echo-v1 created",
        "service/echo created",
        "upstream.gloo.solo.io/echo created",
        "routetable.gateway.solo.io/echo-routes created",
    ]
    assert routes(api) == named(STABLE)
    route_table = api.get("routetables", NS, "echo-routes")
    assert route_table["metadata"]["labels"]["apiGroup"] == "example"
    deployment = api.get("deployments", NS, "echo-v1")
    assert deployment["spec"]["template"]["metadata"]["labels"] == {"app": "echo", "version": "v1"}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "hashicorp/http-echo"
    assert container["args"] == ["-listen=:8080", "-text=version:echo-$(VERSION)"]
    assert container["env"][0]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.labels['version']"
    service = api.get("services", NS, "echo")
    assert service["spec"]["selector"] == {"app": "echo"}
    assert service["spec"]["ports"][0]["port"] == 80 and service["spec"]["ports"][0]["targetPort"] == 8080
    kube = api.get("upstreams", NS, "echo")["spec"]["kube"]
    assert kube["subsetSpec"] == {"selectors": [{"keys": ["version"]}], "fallbackPolicy": "NO_FALLBACK"}
    # Gloo matches servicePort with the Service's port, not the container's (docs/design.md section 3):
    # 8080 here, as the seed's chart has it, would leave the Upstream without endpoints.
    assert (kube["serviceName"], kube["serviceNamespace"], kube["servicePort"]) == ("echo", NS, 80)


def test_init_again_changes_nothing(api, canary):
    canary("init", "echo")
    before = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in api.list("routetables", NS)}
    result = canary("init", "echo")
    assert result.code == 0
    assert "already initialised" in result.out and "nothing changed" in result.out
    assert {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in api.list("routetables", NS)} == before


def test_four_phases(api, platform, canary):
    assert canary("init", "echo").code == 0

    result = canary("header", "echo", "v2")
    assert result.code == 0, result.err
    assert routes(api) == named(PHASE1)
    canary_deployment = api.get("deployments", NS, "echo-v2")
    assert canary_deployment["spec"]["template"]["metadata"]["labels"] == {"app": "echo", "version": "v2"}
    assert canary_deployment["spec"]["selector"]["matchLabels"] == {"app": "echo", "version": "v2"}
    assert "deployment.apps/echo-v2 created" in result.out

    refused = canary("weight", "echo", "50")
    assert refused.code == 1
    assert refused.err.startswith("error: deployment echo-v2 has 0/1 ready replicas")
    assert "--force" in refused.err
    assert routes(api) == named(PHASE1)

    api.set_deployment_ready(NS, "echo-v2")
    result = canary("weight", "echo", "50")
    assert result.code == 0, result.err
    assert routes(api) == named(phase2(50))

    api.set_deployment_ready(NS, "echo-v1")
    status = canary("status", "echo", "-o", "json")
    assert status.code == 0, status.err
    assert json.loads(status.out) == {
        "app": "echo",
        "namespace": NS,
        "phase": "weighted",
        "primary": {"version": "v1", "ready": 1, "replicas": 1},
        "canary": {
            "version": "v2",
            "ready": 1,
            "replicas": 1,
            "weight": 50,
            "header": {"name": "stage", "value": "canary"},
        },
        "router": "gloo",
        "route": {"kind": "RouteTable", "name": "echo-routes", "state": None},
        "routeTable": {"name": "echo-routes", "state": None},
        "delegatedBy": [{"virtualService": "gloo-system/default", "by": "selector"}],
        "notes": [
            "VirtualService gloo-system/default delegates to RouteTable echo-routes by label selector: Gloo may "
            "sort routes across tables by specificity, and the header route only works while it stays before "
            "the catch-all route (kubectl canary keeps it first within this table)"
        ],
    }

    result = canary("finish", "echo")
    assert result.code == 0, result.err
    assert routes(api) == named(FINISHED)
    assert api.get("deployments", NS, "echo-v1") is None
    assert api.get("deployments", NS, "echo-v2") is not None
    assert "deployment.apps/echo-v1 deleted" in result.out


def test_weight_steps_and_force(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    result = canary("weight", "echo", "10", "--force")
    assert result.code == 0, result.err
    assert routes(api) == named(phase2(10))
    # Back toward the primary: allowed without --force once the primary is available (it gains traffic).
    refused = canary("weight", "echo", "0")
    assert refused.code == 1 and refused.err.startswith("error: deployment echo-v1 has 0/1 ready replicas")
    api.set_deployment_ready(NS, "echo-v1")
    assert canary("weight", "echo", "0").code == 0
    assert routes(api) == named(phase2(0))


def test_abort_restores_the_stable_route_and_removes_the_canary(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    canary("weight", "echo", "30", "--force")
    api.set_deployment_ready(NS, "echo-v1")
    result = canary("abort", "echo")
    assert result.code == 0, result.err
    assert routes(api) == named(STABLE)
    assert api.get("deployments", NS, "echo-v2") is None
    assert api.get("deployments", NS, "echo-v1") is not None


def test_abort_keep_canary(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    assert canary("abort", "echo", "--keep-canary").code == 0
    assert routes(api) == named(STABLE)
    assert api.get("deployments", NS, "echo-v2") is not None


def test_finish_keep_old(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("finish", "echo", "--keep-old").code == 0
    assert routes(api) == named(FINISHED)
    assert api.get("deployments", NS, "echo-v1") is not None


def test_header_again_with_another_header_updates_it(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    result = canary("header", "echo", "v2", "--header", "x-canary=yes")
    assert result.code == 0, result.err
    assert routes(api)[0]["matchers"] == [{"prefix": "/echo", "headers": [{"name": "x-canary", "value": "yes"}]}]
    assert "deployment.apps/echo-v2 unchanged" in result.out


def test_header_image_replaces_the_canary_image(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2", "--image", "ghcr.io/acme/echo:2")
    container = api.get("deployments", NS, "echo-v2")["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/acme/echo:2"
    assert api.get("deployments", NS, "echo-v1")["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "hashicorp/http-echo"
    )


def test_next_rollout_after_finish(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    canary("finish", "echo", "--force")
    assert canary("header", "echo", "v3").code == 0
    api.set_deployment_ready(NS, "echo-v3")
    assert canary("weight", "echo", "100").code == 0
    multi = routes(api)[1]["routeAction"]["multi"]["destinations"]
    assert [(d["destination"]["subset"]["values"]["version"], d["weight"]) for d in multi] == [("v2", 0), ("v3", 100)]


def test_finish_again_says_it_is_done(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("finish", "echo").code == 0
    again = canary("finish", "echo")
    assert (again.code, again.out) == (0, "echo is already finished: all traffic goes to v2\n")
    # An abort right after a finish has nothing to abort.
    assert canary("abort", "echo").err.startswith("error: echo has no canary to abort (stable on v2)")


def test_apps_with_several_routes_as_the_readme_shows(api, canary):
    """README, "Apps with several routes": the chart's table, then each command as written and the routes after it."""
    text = README.read_text()
    section = text[text.index("### Apps with several routes"):text.index("## Walkthrough on the Gateway API")]
    blocks = [yaml.safe_load(b)["routes"] for b in re.findall(r"```yaml\n(.*?)```", section, re.S)]
    commands = re.findall(r"^    kubectl canary (.+)$", section, re.M)
    assert len(blocks) == len(commands) + 1 == 3
    values = {"deployment": {"v1": {}}, "routing": {"version": "v1", "routes": [
        {"prefix": "/{{ .Release.Name }}/foo"}, {"prefix": "/{{ .Release.Name }}/bar"}]}}
    assert blocks[0] == chart_routes(values)  # what the chart renders
    for obj in [chart_service(), chart_upstream(), *chart_deployments(values), chart_route_table(values)]:
        api.create(obj, manager=None)
    api.set_deployment_ready(NS, "echo-v1")
    for command, expected in zip(commands, blocks[1:]):
        result = canary(*command.split())
        assert result.code == 0, (command, result.err)
        assert routes(api) == expected, command
        api.set_deployment_ready(NS, "echo-v2")
