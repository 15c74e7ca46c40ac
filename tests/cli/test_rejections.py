"""Bad input: one `error:` line naming the next step, exit 2 (arguments) or 1, and no write at all."""

from __future__ import annotations

import pytest

NS = "echo"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
RESOURCES = ("deployments", "services", "upstreams", "routetables", "namespaces")


def versions(api) -> dict[tuple[str, str, str], str]:
    return {
        (resource, o["metadata"].get("namespace", ""), o["metadata"]["name"]): o["metadata"]["resourceVersion"]
        for resource in RESOURCES
        for o in api.list(resource)
    }


def set_up(api, canary, phase: str) -> None:
    assert canary("init", "echo").code == 0
    if phase in ("header", "weighted"):
        assert canary("header", "echo", "v2").code == 0
    if phase == "weighted":
        assert canary("weight", "echo", "20", "--force").code == 0
    if phase == "broken":
        route_table = api.get("routetables", NS, "echo-routes")
        route_table["spec"]["routes"] = [
            {
                "name": "other",
                "matchers": [{"prefix": "/x"}],
                "routeAction": {"single": {"upstream": {"name": "x", "namespace": NS}}},
            }
        ]
        api.replace(route_table)


CASES = [
    (
        "stable",
        ["weight", "echo", "50"],
        1,
        "error: echo has no canary to shift traffic to (stable on v1); "
        "start one with: kubectl canary header echo VERSION",
    ),
    ("stable", ["finish", "echo"], 1, "error: echo has no canary to finish (stable on v1)"),
    ("stable", ["abort", "echo"], 1, "error: echo has no canary to abort (stable on v1)"),
    (
        "header",
        ["weight", "echo", "101"],
        2,
        "error: invalid weight '101': give a percentage from 0 to 100, with at most 3 decimals",
    ),
    ("header", ["weight", "echo", "abc"], 2, "error: invalid weight 'abc'"),
    ("header", ["weight", "echo", "2.5555"], 2, "error: invalid weight '2.5555'"),
    ("header", ["weight", "echo", "-5"], 2, "error: invalid weight '-5'"),
    ("stable", ["header", "echo", "V2"], 2, "error: invalid version 'V2'"),
    ("stable", ["header", "echo", "v2", "--header", "stage="], 2, "error: invalid header 'stage='"),
    ("stable", ["header", "echo", "v1"], 2, "error: v1 is already the primary version of echo"),
    ("header", ["header", "echo", "v3"], 1, "error: echo already has canary v2 in progress; finish or abort it first"),
    (
        "stable",
        ["weight", "nope", "10"],
        1,
        "error: app nope not found in namespace echo (no RouteTable nope-routes or HTTPRoute nope); "
        "create it with: kubectl canary init nope",
    ),
    ("stable", ["weight", "echo", "10", "-n", "missing"], 1, "error: namespace missing not found"),
    ("stable", ["weight", "echo", "10", "-n", "Bad_NS"], 2, "error: invalid namespace 'Bad_NS'"),
    ("header", ["weight", "echo", "10"], 1, "error: deployment echo-v2 has 0/1 ready replicas"),
    ("weighted", ["finish", "echo"], 1, "error: deployment echo-v2 has 0/1 ready replicas"),
    ("stable", ["frobnicate"], 2, "error: argument COMMAND: invalid choice: 'frobnicate'"),
    ("stable", ["weight", "echo"], 2, "error: the following arguments are required: PERCENT"),
    ("stable", ["init", "Echo"], 2, "error: invalid app name 'Echo'"),
    ("stable", ["init", "web", "--prefix", "web"], 2, "error: invalid --prefix 'web'"),
    (
        "stable",
        ["init", "web", "-n", "nowhere"],
        1,
        "error: namespace nowhere not found; create it or pass --create-namespace",
    ),
    ("stable", ["status", "echo", "-A"], 1, "error: give either APP or -A"),
    ("broken", ["weight", "echo", "10"], 1, "error: cannot read the routes of echo in RouteTable echo-routes"),
    ("broken", ["header", "echo", "v2"], 1, "error: cannot read the routes of echo in RouteTable echo-routes"),
]


@pytest.mark.parametrize(
    ("phase", "args", "code", "message"), CASES, ids=[" ".join(c[1]) + f" [{c[0]}]" for c in CASES]
)
def test_rejected_without_any_write(api, canary, phase, args, code, message):
    set_up(api, canary, phase)
    before = versions(api)
    api.clear_requests()

    result = canary(*args)

    assert result.code == code
    assert result.err.startswith(message), result.err
    assert len(result.err.splitlines()) == 1
    assert result.out == ""
    assert [r for r in api.requests if r.method in WRITES] == []
    assert versions(api) == before


def test_usage_error_sends_no_request(api, canary):
    set_up(api, canary, "header")
    api.clear_requests()
    assert canary("weight", "echo", "500").code == 2
    assert api.requests == []


def test_init_without_gloo_crds_refuses_before_any_write(api, canary):
    """A cluster without Gloo answers 404 for the whole API, without naming an object (as a real API server
    does for a group it does not serve): that is no Gloo, not "no RouteTable yet"."""
    from tests.fake_apiserver import Fault

    api.ensure_namespace(NS)
    api.inject_fault(
        Fault.status(404, reason="NotFound", message="the server could not find the requested resource"),
        path_contains="/apis/gateway.solo.io/",
        times=10,
    )
    api.clear_requests()
    result = canary("init", "echo")
    assert result.code == 1
    assert result.err == (
        "error: the API server does not serve routetables.gateway.solo.io (gateway.solo.io/v1); install Gloo "
        "Edge and its CRDs (e.g. helm install gloo gloo/gloo -n gloo-system --create-namespace)\n"
    )
    assert [r for r in api.requests if r.method in WRITES] == []
