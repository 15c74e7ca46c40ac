"""A router the command does not need is not an error: a Role naming only one gateway's kinds (403 on the
other's), or a cluster without the other's CRDs (a plain-text 404), leaves the app's own router working."""

from __future__ import annotations

import copy
import json

import pytest

from tests.design_routes import FINISHED, STABLE, named, phase2
from tests.gateway_api_routes import STABLE as GATEWAY_STABLE

NS = "echo"
WRITES = ("POST", "PUT", "PATCH", "DELETE")
GATEWAY_API = "gateway.networking.k8s.io"
GATEWAY_INIT = ("init", "web", "--router", "gateway-api", "--gateway", "infra/public:http")


def routes(api) -> list[dict]:
    return api.get("routetables", NS, "echo-routes")["spec"]["routes"]


def at_50(api, canary) -> None:
    assert canary("init", "echo").code == 0
    assert canary("header", "echo", "v2").code == 0
    api.set_deployment_ready(NS, "echo-v1")
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("weight", "echo", "50").code == 0


@pytest.mark.parametrize("other", ["forbidden", "not served"])
def test_a_route_table_app_runs_every_command_without_the_gateway_api(api, canary, other):
    at_50(api, canary)
    if other == "forbidden":
        api.forbid("*", "httproutes")  # a Role that names only Gloo's kinds
    else:
        api.unserve(GATEWAY_API)  # the Gateway API CRDs are not installed
    api.clear_requests()
    status = canary("status", "echo", "-o", "json")
    assert (status.code, status.err) == (0, "")
    assert json.loads(status.out)["canary"]["weight"] == 50
    down = canary("weight", "echo", "20")
    assert (down.code, down.err) == (0, "")
    assert routes(api) == named(phase2(20))
    assert canary("abort", "echo", "--keep-canary").code == 0
    assert routes(api) == named(STABLE)
    assert canary("header", "echo", "v2").code == 0
    finished = canary("finish", "echo")
    assert (finished.code, finished.err) == (0, "")
    assert routes(api) == named(FINISHED)
    looked = [r for r in api.requests if "/httproutes" in r.path]
    assert looked and {r.status for r in looked} == {403 if other == "forbidden" else 404}


def test_the_app_s_own_router_forbidden_stays_an_error(api, canary):
    at_50(api, canary)
    api.forbid("get", "routetables")
    result = canary("weight", "echo", "20")
    assert result.code == 1
    assert result.err.startswith("error: forbidden: cannot get routetables.gateway.solo.io in namespace echo; "
                                 "weight needs: ")
    assert routes(api) == named(phase2(50))


def test_an_app_on_no_router_we_may_read_may_be_on_the_other_so_the_403_stays(api, canary):
    api.forbid("*", "httproutes")
    result = canary("weight", "nope", "20")
    assert result.code == 1
    assert result.err.startswith("error: forbidden: cannot get httproutes.gateway.networking.k8s.io in namespace "
                                 "echo; weight needs: ")
    # init knows its router: the other's 403 means no app there.
    assert canary("init", "nope").code == 0


def test_both_routers_exist_asks_for_router_only_where_both_are_readable(api, gateway, canary):
    at_50(api, canary)
    api.create({"apiVersion": f"{GATEWAY_API}/v1", "kind": "HTTPRoute", "metadata": {"name": "echo", "namespace": NS},
                "spec": {"parentRefs": [{"name": "public", "namespace": "infra"}],
                         "rules": copy.deepcopy(GATEWAY_STABLE)}})
    both = canary("weight", "echo", "20")
    assert both.code == 2 and "app echo has routes on two gateways" in both.err
    api.forbid("get", "httproutes")
    api.forbid("list", "httproutes")
    result = canary("weight", "echo", "20")
    assert (result.code, result.err) == (0, "")
    assert routes(api) == named(phase2(20))


def test_status_of_every_app_notes_the_kind_it_could_not_list(api, gateway, canary):
    assert canary("init", "echo").code == 0
    assert canary(*GATEWAY_INIT).code == 0
    api.set_deployment_ready(NS, "echo-v1")
    api.set_deployment_ready(NS, "web-v1")
    api.forbid("list", "httproutes")
    table = canary("status", "--no-color")
    assert table.code == 0
    lines = table.out.splitlines()
    assert [line.split()[0] for line in lines[1:-1] if not line.startswith("note:")] == ["echo"]
    assert lines[-1] == ("note: cannot list httproutes.gateway.networking.k8s.io in namespace echo (forbidden), so "
                         "apps on gateway-api are not shown")
    everywhere = canary("status", "-A", "-o", "json")
    body = json.loads(everywhere.out)
    assert [item["app"] for item in body["items"]] == ["echo"]
    assert body["notes"] == ["cannot list httproutes.gateway.networking.k8s.io at cluster scope (forbidden), so apps "
                             "on gateway-api are not shown"]
    # Neither kind listable: nothing to show is an error, not an empty status.
    api.forbid("list", "routetables")
    refused = canary("status")
    assert refused.code == 1 and refused.err.startswith("error: forbidden: cannot list ")


def test_status_watch_of_every_app_follows_the_kinds_it_may_read(api, canary):
    assert canary("init", "echo").code == 0
    api.forbid("*", "httproutes")
    result = canary("status", "--watch", "--timeout", "1s", "--no-color")
    assert result.code == 1  # echo-v1 is not ready; the watch itself ran to its timeout
    assert "note: cannot list httproutes.gateway.networking.k8s.io in namespace echo (forbidden)" in result.out
    assert not result.err


def test_gateway_api_app_with_a_role_naming_only_gateway_api_kinds(api, gateway, canary):
    assert canary(*GATEWAY_INIT).code == 0
    api.set_deployment_ready(NS, "web-v1")
    api.forbid("*", "routetables")
    api.forbid("*", "upstreams")
    api.clear_requests()
    assert canary("header", "web", "v2").code == 0
    api.set_deployment_ready(NS, "web-v2")
    result = canary("weight", "web", "30")
    assert (result.code, result.err) == (0, "")
    assert [r for r in api.requests if r.method in WRITES and r.status == 403] == []
