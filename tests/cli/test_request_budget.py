"""Request budget: how many API requests each command makes, and which, counted in the fake server's log.

Counting is deterministic, so it is tested here; time is not (bench/ measures it, side by side with
kubectl). The budgets are the issue's: `weight` reads the RouteTable and the canary Deployment (readiness
guard) and applies; `header` at most 6; `status APP` at most 3; `status` of a namespace or `-A` one LIST per
kind whatever the number of apps. `finish` and `abort` are pinned at what they do.

Every command that finds an app also asks for its HTTPRoute (ROUTER_LOOKUP): an app whose routes exist on
two gateways at once (Gloo and the Gateway API, while a migration is under way) must not be driven on the
wrong one silently, so each budget carries that one GET more; `--router` saves it.

Each transition also records an Event (best effort: a failure only warns). The budgets count the requests
that do the command's work; the Event POST comes on top, at most EVENT_POSTS of them. That allowance is a
decision, not a measurement: at 0 the commands are held to the issue's figures literally.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

NS = "echo"
EVENT_POSTS = 1
ROUTER_LOOKUP = 1

RT = f"/apis/gateway.solo.io/v1/namespaces/{NS}/routetables/echo-routes"
HTTPROUTE = f"/apis/gateway.networking.k8s.io/v1/namespaces/{NS}/httproutes/echo"
ALL_HTTPROUTES = "/apis/gateway.networking.k8s.io/v1/httproutes"
EVENTS = f"/api/v1/namespaces/{NS}/events"
UPSTREAM = f"/apis/gloo.solo.io/v1/namespaces/{NS}/upstreams/echo"
SERVICE = f"/api/v1/namespaces/{NS}/services/echo"
DEPLOYMENTS = f"/apis/apps/v1/namespaces/{NS}/deployments"
ALL_ROUTE_TABLES = "/apis/gateway.solo.io/v1/routetables"
ALL_DEPLOYMENTS = "/apis/apps/v1/deployments"
VIRTUAL_SERVICES = "/apis/gateway.solo.io/v1/virtualservices"


def deployment(name: str) -> str:
    return f"{DEPLOYMENTS}/{name}"


def requests_of(api, canary, *args: str, code: int = 0) -> list[tuple[str, str]]:
    """Run one command; the (method, path) of every request it made, in order."""
    api.clear_requests()
    result = canary(*args)
    assert result.code == code, result.err
    return [(r.method, r.path) for r in api.requests]


def within_budget(requests: list[tuple[str, str]], budget: int, events: str = EVENTS) -> list[tuple[str, str]]:
    """Check the count against the budget (plus the Event allowance); returns the requests doing the work."""
    work = [r for r in requests if r != ("POST", events)]
    posted = len(requests) - len(work)
    assert posted <= EVENT_POSTS, f"{posted} Event POSTs, allowed {EVENT_POSTS}: {requests}"
    assert len(work) <= budget, f"{len(work)} requests, budget {budget}: {work}"
    return work


@pytest.fixture
def rollout(api, platform, canary):
    """App `echo` in the header phase, v1 and v2 ready."""
    assert canary("init", "echo").code == 0
    assert canary("header", "echo", "v2").code == 0
    api.set_deployment_ready(NS, "echo-v1")
    api.set_deployment_ready(NS, "echo-v2")


def test_weight_reads_the_route_table_and_the_canary_then_applies(api, canary, rollout):
    requests = requests_of(api, canary, "weight", "echo", "50")
    assert within_budget(requests, 3 + ROUTER_LOOKUP) == [
        ("GET", RT), ("GET", HTTPROUTE), ("GET", deployment("echo-v2")), ("PATCH", RT)]


def test_router_flag_saves_the_lookup(api, canary, rollout):
    requests = requests_of(api, canary, "weight", "echo", "50", "--router", "gloo")
    assert within_budget(requests, 3) == [("GET", RT), ("GET", deployment("echo-v2")), ("PATCH", RT)]


def test_weight_refused_by_the_readiness_guard_writes_nothing(api, canary, rollout):
    api.set_deployment_ready(NS, "echo-v2", 0)
    requests = requests_of(api, canary, "weight", "echo", "50", code=1)
    assert requests == [("GET", RT), ("GET", HTTPROUTE), ("GET", deployment("echo-v2"))]


def test_weight_already_there_writes_nothing(api, canary, rollout):
    assert canary("weight", "echo", "30").code == 0
    requests = requests_of(api, canary, "weight", "echo", "30")
    assert requests == [("GET", RT), ("GET", HTTPROUTE)]  # the guards read the Deployments of versions gaining


def test_header(api, platform, canary):
    assert canary("init", "echo").code == 0
    requests = requests_of(api, canary, "header", "echo", "v2")
    assert within_budget(requests, 7 + ROUTER_LOOKUP) == [
        ("GET", RT),
        ("GET", HTTPROUTE),
        ("GET", deployment("echo-v1")),  # the primary, cloned
        ("GET", UPSTREAM),  # subsets keyed by version?
        ("GET", SERVICE),  # is the Upstream's servicePort a port of the Service?
        ("GET", deployment("echo-v2")),  # the canary, kept if it exists
        ("PATCH", deployment("echo-v2")),
        ("PATCH", RT),
    ]


def test_status_of_one_app(api, canary, rollout):
    api.clear_requests()
    result = canary("status", "echo")
    assert result.code == 0, result.err
    requests = [(r.method, r.path) for r in api.requests]
    assert len(requests) <= 5 + ROUTER_LOOKUP, requests
    assert requests == [
        ("GET", RT),
        ("GET", HTTPROUTE),
        ("GET", DEPLOYMENTS),
        ("GET", UPSTREAM),
        ("GET", SERVICE),
        ("GET", VIRTUAL_SERVICES),
    ]
    # One LIST, not a GET per version, and no label selector: Deployments are found by name (APP-VERSION),
    # as the seed's Helm chart writes them without an `app` label.
    assert api.requests[2].query.get("labelSelector") is None


def test_finish(api, canary, rollout):
    requests = requests_of(api, canary, "finish", "echo")
    assert within_budget(requests, 4 + ROUTER_LOOKUP) == [
        ("GET", RT),
        ("GET", HTTPROUTE),
        ("GET", deployment("echo-v2")),  # readiness of the new primary
        ("PATCH", RT),
        ("DELETE", deployment("echo-v1")),
    ]


def test_abort(api, canary, rollout):
    requests = requests_of(api, canary, "abort", "echo")
    # The guards read the primary (it gains traffic) before the routes move back to it.
    assert within_budget(requests, 4 + ROUTER_LOOKUP) == [
        ("GET", RT),
        ("GET", HTTPROUTE),
        ("GET", deployment("echo-v1")),
        ("PATCH", RT),
        ("DELETE", deployment("echo-v2")),
    ]


def seed_apps(api, canary, count: int) -> list[str]:
    """`count` apps over up to four namespaces, every third one with a canary (more Deployments than apps)."""
    api.auto_ready = True
    apps = []
    for i in range(count):
        app, namespace = f"app{i}", f"team{i % 4}"
        assert canary("init", app, "-n", namespace, "--create-namespace").code == 0
        if i % 3 == 0:
            assert canary("header", app, "v2", "-n", namespace).code == 0
        apps.append(app)
    return apps


def lists_made(api: Any) -> list[Any]:
    """The LISTs: the Deployments' first, then the route objects' on two connections at once (Cluster.read_ahead),
    in no fixed order (sorted here)."""
    made = [(r.method, r.path) for r in api.requests]
    return made[:1] + sorted(made[1:])


@pytest.mark.parametrize("count", [1, 3, 20])
def test_status_is_one_list_per_kind_whatever_the_number_of_apps(api, platform, canary, count):
    apps = seed_apps(api, canary, count)

    api.clear_requests()
    result = canary("status", "-A", "-o", "json")
    assert result.code == 0, result.err
    assert lists_made(api) == [("GET", ALL_DEPLOYMENTS), *sorted([("GET", ALL_ROUTE_TABLES), ("GET", ALL_HTTPROUTES)])]
    assert sorted(item["app"] for item in json.loads(result.out)["items"]) == sorted(apps)

    api.clear_requests()
    result = canary("status", "-n", "team0", "-o", "json")
    assert result.code == 0, result.err
    assert lists_made(api) == [
        ("GET", "/apis/apps/v1/namespaces/team0/deployments"),
        *sorted([("GET", "/apis/gateway.solo.io/v1/namespaces/team0/routetables"),
                 ("GET", "/apis/gateway.networking.k8s.io/v1/namespaces/team0/httproutes")]),
    ]
    assert len(json.loads(result.out)["items"]) == len(range(0, count, 4))


def test_the_budget_check_fails_over_budget():
    within_budget([("GET", RT), ("PATCH", RT), ("POST", EVENTS)], 2)
    with pytest.raises(AssertionError):
        within_budget([("GET", RT), ("GET", RT), ("PATCH", RT)], 2)
    with pytest.raises(AssertionError):
        within_budget([("GET", RT), ("PATCH", RT)] + [("POST", EVENTS)] * (EVENT_POSTS + 1), 2)
