"""Guard rails: waiting for readiness, fallback warnings, Gloo's verdict, other owners of the routes."""

from __future__ import annotations

import threading
import time

import pytest

from tests.design_routes import PHASE1, STABLE, named, phase2

NS = "echo"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def routes(api) -> list[dict]:
    return api.get("routetables", NS, "echo-routes")["spec"]["routes"]


def later(seconds: float, action) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.start()
    return timer


def test_header_wait_routes_only_once_ready(api, canary):
    canary("init", "echo")
    timer = later(0.5, lambda: api.set_deployment_ready(NS, "echo-v2"))
    started = time.monotonic()
    result = canary("header", "echo", "v2", "--wait", "--timeout", "20s")
    timer.join()
    assert result.code == 0, result.err
    assert time.monotonic() - started >= 0.5
    assert routes(api) == named(PHASE1)
    # Not a terminal: one progress line per change of readiness, on stderr.
    assert result.err.splitlines() == [
        "waiting for deployment echo-v2: 0/1 ready",
        "waiting for deployment echo-v2: 1/1 ready",
    ]
    watches = [r for r in api.requests if r.query.get("watch") == "true"]
    assert watches and all("/deployments" in r.path for r in watches)
    # A watch, not a busy poll: a handful of reads whatever the wait.
    assert len([r for r in api.requests if r.method == "GET" and "/deployments/echo-v2" in r.path]) <= 2


def test_header_wait_timeout_leaves_no_header_route(api, canary):
    canary("init", "echo")
    started = time.monotonic()
    result = canary("header", "echo", "v2", "--wait", "--timeout", "1s")
    assert result.code == 1
    assert time.monotonic() - started < 5
    assert "error: deployment echo-v2 is not ready after 1s (0/1 ready replicas)" in result.err
    assert routes(api) == named(STABLE)
    # Running it again when the pods are ready finishes the job.
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("header", "echo", "v2", "--wait").code == 0
    assert routes(api) == named(PHASE1)


def test_header_warns_when_fallback_would_hide_a_missing_canary(api, canary):
    canary("init", "echo")
    upstream = api.get("upstreams", NS, "echo")
    del upstream["spec"]["kube"]["subsetSpec"]["fallbackPolicy"]
    api.apply(upstream, manager="kubectl-canary")
    result = canary("header", "echo", "v2")
    assert result.code == 0
    assert "warning: upstream echo has fallbackPolicy ANY_ENDPOINT: while v2 has no ready pods" in result.err


def gloo_reports(api, state: str, reason: str = "") -> None:
    route_table = api.get("routetables", NS, "echo-routes")
    route_table["status"] = {"statuses": {"gloo-system": {"state": state, "reason": reason, "reportedBy": "gateway"}}}
    api.replace(route_table, manager="gloo")


def gloo_after_next_write(api, state: str, reason: str) -> threading.Thread:
    """A stand-in for Gloo: once the plugin has written the routes, report a verdict on them."""

    def react() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if any(r.method == "PATCH" and "/routetables/" in r.path and r.status == 200 for r in api.requests):
                gloo_reports(api, state, reason)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=react)
    thread.start()
    return thread


def test_gloo_rejection_after_a_write_is_an_error_with_its_reason(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    gloo_reports(api, "Accepted")
    api.clear_requests()
    gloo = gloo_after_next_write(api, "Rejected", "route has no matching upstream subset")
    result = canary("weight", "echo", "20", "--force", "--force-conflicts", "--gloo-timeout", "5s")
    gloo.join()
    assert result.code == 1
    assert result.err.startswith(
        "error: Gloo rejected RouteTable echo-routes: route has no matching upstream subset; the routes were written"
    )
    assert "kubectl canary abort echo" in result.err


def test_gloo_warning_is_shown_and_accepted_passes(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    gloo_reports(api, "Accepted")
    gloo = gloo_after_next_write(api, "Warning", "weights are odd")
    result = canary("weight", "echo", "20", "--force", "--force-conflicts", "--gloo-timeout", "5s")
    gloo.join()
    assert result.code == 0, result.err
    assert "warning: Gloo accepted RouteTable echo-routes with a warning: weights are odd" in result.err
    # No news from Gloo within the timeout: its last verdict (Warning -> unchanged here) stands, quickly.
    started = time.monotonic()
    assert canary("weight", "echo", "30", "--force", "--gloo-timeout", "1s").code == 0
    assert time.monotonic() - started < 4


def test_no_gloo_status_means_no_wait(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    api.clear_requests()
    canary("weight", "echo", "20", "--force", "--gloo-timeout", "30s")
    assert not [r for r in api.requests if r.query.get("watch")]


@pytest.mark.parametrize(
    ("manager", "who"),
    [
        ("helm", '"helm"'),
        ("argocd-controller", '"argocd-controller"'),
        ("kustomize-controller", '"kustomize-controller"'),
        ("kubectl-client-side-apply", '"kubectl-client-side-apply"'),
        ("kubectl-edit", '"kubectl-edit"'),
    ],
)
def test_routes_owned_by_gitops_or_hand_edits_are_refused_naming_the_owner(api, canary, manager, who):
    canary("init", "echo")
    canary("header", "echo", "v2")
    route_table = api.get("routetables", NS, "echo-routes")
    route_table["spec"]["routes"] = [
        *route_table["spec"]["routes"],
        {"matchers": [{"exact": "/x"}], "directResponseAction": {"status": 404}},
    ]
    api.replace(route_table, manager=manager)
    before = api.get("routetables", NS, "echo-routes")["metadata"]["resourceVersion"]
    api.clear_requests()
    result = canary("weight", "echo", "20", "--force")
    assert result.code == 1
    prefix = "error: the routes of RouteTable echo-routes"
    if manager.startswith("kubectl"):
        # A hand edit: nothing will revert it, so taking over once is the advice.
        assert result.err.startswith(f"{prefix} were last changed by {who}, a one-off")
    else:
        assert result.err.startswith(f"{prefix} are managed by {who}, which will undo")
    assert "--force-conflicts" in result.err
    assert [r for r in api.requests if r.method in WRITES] == []
    assert api.get("routetables", NS, "echo-routes")["metadata"]["resourceVersion"] == before
    taken = canary("weight", "echo", "20", "--force", "--force-conflicts")
    assert taken.code == 0, taken.err
    assert routes(api)[:2] == named(phase2(20))
    assert routes(api)[2]["matchers"] == [{"exact": "/x"}]
