"""Guard rails: waiting for readiness, fallback warnings, Gloo's verdict, other owners of the routes."""

from __future__ import annotations

import threading
import time

import pytest

from tests.design_routes import FINISHED, PHASE1, STABLE, named, phase2

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


BELOW_MINIMUM = ("warning: deployment echo-v1 has 1/2 ready replicas, fewer than the 2 its Deployment needs to be "
                 "available; the traffic goes back to v1 anyway (its ready pods serve): check them with kubectl "
                 "rollout status deployment/echo-v1\n")


@pytest.fixture
def two_replicas_at_50(api, canary):
    """echo at 50% on a v2 that is available; both versions run 2 replicas."""
    assert canary("init", "echo", "--replicas", "2").code == 0
    assert canary("header", "echo", "v2").code == 0
    api.set_deployment_ready(NS, "echo-v1")
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("weight", "echo", "50").code == 0
    return api


def test_abort_goes_back_to_a_primary_with_one_of_two_pods_ready_and_says_so(two_replicas_at_50, canary):
    api = two_replicas_at_50
    api.set_deployment_ready(NS, "echo-v1", 1)  # mid-incident: one of the primary's pods is gone
    status = canary("status", "echo")
    assert status.code == 1
    assert ("! echo: primary v1 receives 50% of the traffic but is below its minimum availability (1/2 ready, its "
            "Deployment needs 2)") in status.out.splitlines()
    result = canary("abort", "echo")
    assert (result.code, result.err) == (0, BELOW_MINIMUM)
    assert routes(api) == named(STABLE)
    assert api.get("deployments", NS, "echo-v2") is None


def test_abort_toward_a_primary_without_an_available_pod_needs_force(two_replicas_at_50, canary):
    api = two_replicas_at_50
    api.set_deployment_ready(NS, "echo-v1", 0)
    api.clear_requests()
    refused = canary("abort", "echo")
    assert refused.code == 1
    assert refused.err == ("error: deployment echo-v1 has 0/2 ready replicas, so v1 cannot serve traffic yet; wait "
                           "(kubectl rollout status deployment/echo-v1) or pass --force\n")
    assert [r for r in api.requests if r.method in WRITES] == []
    assert routes(api) == named(phase2(50))
    forced = canary("abort", "echo", "--force")
    assert forced.code == 0 and routes(api) == named(STABLE)


def test_weight_down_and_a_failed_gate_go_back_below_the_minimum_with_a_warning(two_replicas_at_50, canary):
    api = two_replicas_at_50
    api.set_deployment_ready(NS, "echo-v1", 1)
    down = canary("weight", "echo", "10")
    assert (down.code, down.err) == (0, BELOW_MINIMUM)
    assert routes(api) == named(phase2(10))
    # Up again toward the available canary, then a failing gate sends everything back to the primary.
    failed = canary("weight", "echo", "60", "--step", "25", "--interval", "0", "--check", "exit 1")
    assert failed.code == 1
    assert failed.err.startswith(BELOW_MINIMUM)
    assert failed.err.splitlines()[-1].startswith("error: gate failed at 35%")
    assert routes(api) == named(STABLE)


def test_finish_needs_the_canary_available_at_its_current_generation(two_replicas_at_50, canary):
    api = two_replicas_at_50
    api.set_deployment_status(NS, "echo-v2", updated=1, ready=0, old=2)  # a new image rolling out
    refused = canary("finish", "echo")
    assert refused.code == 1
    assert refused.err.startswith("error: deployment echo-v2 has 2/2 ready replicas, but its rollout is in progress "
                                  "(1 of 2 replicas updated, 2 old still running)")
    assert routes(api) == named(phase2(50))
    api.set_deployment_status(NS, "echo-v2", updated=1, ready=0, old=2, stuck=True)
    assert (
        "! echo: canary v2 receives 50% of the traffic but is stuck: its rollout exceeded its progress deadline "
        "(ProgressDeadlineExceeded)") in canary("status", "echo").out.splitlines()
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("finish", "echo").code == 0
    assert routes(api) == named(FINISHED)
