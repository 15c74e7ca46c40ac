"""Traffic shadowing: an Upstream for the version, options.shadowing on the primary route."""

from __future__ import annotations

import json

from tests.design_routes import PHASE1, named, phase2

NS = "echo"


def routes(api) -> list[dict]:
    return api.get("routetables", NS, "echo-routes")["spec"]["routes"]


def shadowing(api) -> dict | None:
    primary = next(r for r in routes(api) if r.get("name") == "echo-primary")
    return (primary.get("options") or {}).get("shadowing")


def test_shadow_on_alongside_header_and_weight_then_off(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    refused = canary("shadow", "echo", "v3", "--percent", "10")
    assert refused.code == 1 and "deployment echo-v3 not found" in refused.err
    assert api.get("upstreams", NS, "echo-shadow-v3") is None

    result = canary("shadow", "echo", "v2", "--percent", "10", "--force")
    assert result.code == 0, result.err
    upstream = api.get("upstreams", NS, "echo-shadow-v2")
    assert upstream["spec"]["kube"]["selector"] == {"app": "echo", "version": "v2"}
    assert upstream["spec"]["kube"]["serviceName"] == "echo"
    assert "subsetSpec" not in upstream["spec"]["kube"]
    assert shadowing(api) == {"upstream": {"name": "echo-shadow-v2", "namespace": NS}, "percentage": 10}
    # The header route is untouched; the rest of the primary route too.
    assert routes(api)[0] == named(PHASE1)[0]

    api.set_deployment_ready(NS, "echo-v1")  # the primary is available, as on a cluster
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("weight", "echo", "40").code == 0
    assert shadowing(api)["percentage"] == 10
    expected = named(phase2(40))
    assert {k: v for k, v in routes(api)[1].items() if k != "options"} == expected[1]

    status = json.loads(canary("status", "echo", "-o", "json").out)
    assert status["shadow"] == {"version": "v2", "percent": 10.0}
    assert "SHADOW" in canary("status", "echo").out

    off = canary("shadow", "echo", "--off")
    assert off.code == 0, off.err
    assert shadowing(api) is None
    assert routes(api) == named(phase2(40))
    assert api.get("upstreams", NS, "echo-shadow-v2") is None
    assert "upstream.gloo.solo.io/echo-shadow-v2 deleted" in off.out


def test_finish_ends_shadowing_and_removes_its_upstream(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    api.set_deployment_ready(NS, "echo-v1")  # the primary is available, as on a cluster
    api.set_deployment_ready(NS, "echo-v2")
    canary("shadow", "echo", "v2", "--percent", "50")
    result = canary("finish", "echo")
    assert result.code == 0, result.err
    assert shadowing(api) is None
    assert api.get("upstreams", NS, "echo-shadow-v2") is None


def test_shadow_arguments(api, canary):
    canary("init", "echo")
    for args, code, message in [
        (["shadow", "echo"], 2, "error: give either VERSION (to start shadowing) or --off"),
        (["shadow", "echo", "v2", "--off"], 2, "error: give either VERSION"),
        (["shadow", "echo", "v2", "--percent", "0"], 2, "error: invalid --percent '0'"),
        (["shadow", "echo", "v2", "--percent", "150"], 2, "error: invalid --percent '150'"),
        (["shadow", "echo", "v1"], 2, "error: v1 is the primary version of echo: shadow another version"),
        (["shadow", "echo", "--off"], 1, "error: echo has no shadowing to turn off"),
    ]:
        result = canary(*args)
        assert (result.code, result.err.startswith(message)) == (code, True), result.err


def test_a_failed_gate_ends_shadowing_and_removes_its_upstream(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    api.set_deployment_ready(NS, "echo-v1")  # the primary is available, as on a cluster
    api.set_deployment_ready(NS, "echo-v2")
    canary("shadow", "echo", "v2", "--percent", "20")
    result = canary("weight", "echo", "50", "--step", "25", "--interval", "0", "--check", "false")
    assert result.code == 1
    assert shadowing(api) is None
    assert api.get("upstreams", NS, "echo-shadow-v2") is None
    assert "upstream.gloo.solo.io/echo-shadow-v2 deleted" in result.out
