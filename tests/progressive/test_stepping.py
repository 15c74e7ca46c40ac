"""Stepped rollouts with gates: a failing gate ends with all traffic on the primary."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubectl_canary.errors import UsageError
from kubectl_canary.model.stepping import parse_steps, plan_steps
from tests.design_routes import STABLE, named, phase2
from tests.fake_apiserver import Fault
from tests.progressive.fake_prometheus import FakePrometheus

NS = "echo"


def routes(api) -> list[dict]:
    return api.get("routetables", NS, "echo-routes")["spec"]["routes"]


def reasons(api) -> list[str]:
    events = sorted(api.list("events", NS), key=lambda e: int(e["metadata"]["resourceVersion"]))
    return [e["reason"] for e in events]


@pytest.fixture
def rollout(api, canary):
    """echo in the header phase with v2 ready."""
    canary("init", "echo")
    canary("header", "echo", "v2")
    api.set_deployment_ready(NS, "echo-v1")  # the primary is available, as on a cluster
    api.set_deployment_ready(NS, "echo-v2")
    return api


@pytest.mark.parametrize(
    ("current", "target", "step", "steps", "expected"),
    [
        (0, 100, 10, None, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]),
        (0, 100, 30, None, [30, 60, 90, 100]),
        (25, 100, 25, None, [50, 75, 100]),
        (0, 100, None, [1, 5, 25, 50, 100], [1, 5, 25, 50, 100]),
        (0, 60, None, [1, 5, 25, 50, 100], [1, 5, 25, 50, 60]),
        (20, 100, None, [50, 5, 25], [25, 50, 100]),
        (80, 20, 25, None, [55, 30, 20]),
        (50, 50, 10, None, []),
    ],
)
def test_plan_steps(current, target, step, steps, expected):
    assert plan_steps(current, target, step=step, steps=steps) == expected


@pytest.mark.parametrize("text", ["", "a,b", "1,200", "-1"])
def test_bad_steps(text):
    with pytest.raises(UsageError):
        parse_steps(text)


def test_steps_without_gates_reach_the_target(rollout, canary):
    result = canary("weight", "echo", "100", "--step", "40", "--interval", "0")
    assert result.code == 0, result.err
    assert routes(rollout) == named(phase2(100))
    assert [line for line in result.out.splitlines() if line.startswith("step")] == [
        "step 1/3: 40% to v2",
        "step 2/3: 80% to v2",
        "step 3/3: 100% to v2",
    ]
    assert reasons(rollout)[-3:] == ["CanaryWeight"] * 3


def test_passing_check_runs_between_steps_with_the_rollout_in_its_environment(rollout, canary, tmp_path):
    log = tmp_path / "checks"
    check = f'echo "$CANARY_APP $CANARY_VERSION $CANARY_WEIGHT" >> {log}'
    result = canary("weight", "echo", "100", "--steps", "10,50", "--interval", "0", "--check", check)
    assert result.code == 0, result.err
    assert log.read_text().splitlines() == ["echo v2 10", "echo v2 50"]
    assert routes(rollout) == named(phase2(100))


def test_failing_check_returns_all_traffic_to_the_primary(rollout, canary, tmp_path):
    counter = tmp_path / "n"
    check = (
        f'n=$(cat {counter} 2>/dev/null || echo 0); echo $((n+1)) > {counter}; [ "$n" -lt 1 ] || '
        '{ echo "smoke test: 3 of 10 requests failed" >&2; exit 3; }'
    )
    result = canary("weight", "echo", "100", "--step", "20", "--interval", "0", "--check", check)
    assert result.code == 1
    assert result.err.splitlines()[-1] == (
        "error: gate failed at 40%: check '" + check + "' exited 3: smoke test: 3 of 10 requests failed; "
        "all traffic is back on v1; deployment echo-v2 is kept for inspection (delete it with: kubectl canary "
        "abort echo)"
    )
    assert routes(rollout) == named(STABLE)
    assert rollout.get("deployments", NS, "echo-v2") is not None
    assert reasons(rollout)[-4:] == ["CanaryWeight", "CanaryWeight", "CanaryGateFailed", "CanaryAbort"]
    # The leftover canary goes with an abort.
    assert canary("abort", "echo").code == 0
    assert rollout.get("deployments", NS, "echo-v2") is None


def test_pause_returns_to_the_last_good_step(rollout, canary):
    result = canary(
        "weight",
        "echo",
        "100",
        "--steps",
        "10,30",
        "--interval",
        "0",
        "--check",
        '[ "$CANARY_WEIGHT" -lt 30 ]',
        "--on-failure",
        "pause",
    )
    assert result.code == 1
    assert "gate failed at 30%" in result.err and "paused at 10% (the last good step)" in result.err
    assert routes(rollout) == named(phase2(10))


def test_prometheus_gates_pass_then_fail(rollout, canary):
    def answer(query: str) -> float | None:
        if "histogram_quantile" in query:
            return 120.0
        errors_seen = len([q for q in prometheus.queries if "response_code_class" in q])
        return 0.002 if errors_seen <= 1 else 0.05

    with FakePrometheus(answer) as prometheus:
        result = canary(
            "weight",
            "echo",
            "100",
            "--steps",
            "10,20",
            "--interval",
            "0",
            "--prometheus",
            prometheus.url,
            "--max-error-rate",
            "1%",
            "--max-p99",
            "500ms",
        )
    assert result.code == 1
    assert "ok: error rate 0.20% <= 1.00%" in result.out
    assert "ok: p99 latency 120ms <= 500ms" in result.out
    assert "gate failed at 20%: error rate 5.00% > 1.00%" in result.err
    assert routes(rollout) == named(STABLE)
    # The documented default queries, with the variables filled in.
    assert prometheus.queries[0] == (
        'sum(rate(envoy_cluster_upstream_rq_xx{envoy_cluster_name="echo_echo",envoy_response_code_class="5"}[60s]))'
        ' / sum(rate(envoy_cluster_upstream_rq_xx{envoy_cluster_name="echo_echo"}[60s]))'
    )


def test_prometheus_without_data_fails_closed_and_queries_can_be_overridden(rollout, canary):
    with FakePrometheus(lambda query: None) as prometheus:
        result = canary(
            "weight",
            "echo",
            "50",
            "--step",
            "25",
            "--interval",
            "0",
            "--prometheus",
            prometheus.url,
            "--max-error-rate",
            "0.01",
            "--query-error-rate",
            'my_errors{version="$canary",app="$app"}',
        )
    assert result.code == 1
    assert "no data for the error rate query" in result.err
    assert prometheus.queries == ['my_errors{version="v2",app="echo"}']
    assert routes(rollout) == named(STABLE)


def test_unreachable_prometheus_fails_the_gate(rollout, canary):
    result = canary(
        "weight",
        "echo",
        "50",
        "--step",
        "25",
        "--interval",
        "0",
        "--prometheus",
        "http://127.0.0.1:9",
        "--max-p99",
        "1s",
    )
    assert result.code == 1
    assert "cannot query Prometheus at http://127.0.0.1:9" in result.err
    assert routes(rollout) == named(STABLE)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--check", "true"], "error: gates run between steps: add --step N or --steps LIST"),
        (["--step", "10", "--max-error-rate", "1%"], "error: --max-error-rate and --max-p99 need --prometheus URL"),
        (["--step", "10", "--prometheus", "http://p"], "error: --prometheus needs a threshold"),
        (["--step", "10", "--prometheus", "http://p", "--max-error-rate", "200%"], "error: invalid --max-error-rate"),
        (["--step", "10", "--interval", "soon"], "error: invalid --interval 'soon'"),
        (["--step", "10", "--steps", "1,2"], "error: argument --steps: not allowed with argument --step"),
        (["--step", "0"], "error: invalid --step 0"),
    ],
)
def test_bad_stepping_arguments_change_nothing(rollout, canary, args, message):
    before = rollout.get("routetables", NS, "echo-routes")["metadata"]["resourceVersion"]
    result = canary("weight", "echo", "100", *args)
    assert result.code == 2
    assert result.err.startswith(message), result.err
    assert rollout.get("routetables", NS, "echo-routes")["metadata"]["resourceVersion"] == before


def test_lost_connection_says_where_the_routes_are_and_rerun_resumes(rollout, canary):
    rollout.inject_fault(Fault.drop(), method="PATCH", path_contains="/routetables/", nth=2)
    result = canary("weight", "echo", "60", "--step", "20", "--interval", "0")
    assert result.code == 1
    assert "echo is at 20% (the last applied step); run the same command again to resume" in result.err
    assert routes(rollout) == named(phase2(20))
    again = canary("weight", "echo", "60", "--step", "20", "--interval", "0")
    assert again.code == 0, again.err
    assert [line for line in again.out.splitlines() if line.startswith("step")] == [
        "step 1/2: 40% to v2",
        "step 2/2: 60% to v2",
    ]
    assert routes(rollout) == named(phase2(60))


def test_ctrl_c_leaves_the_last_applied_step(rollout, kubeconfig):
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    plugin = str(Path(sys.executable).parent / "kubectl-canary")
    rollout.clear_requests()
    process = subprocess.Popen(
        [plugin, "weight", "echo", "100", "--step", "10", "--interval", "30s"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not any(r.method == "PATCH" and r.status == 200 for r in rollout.requests):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert err.splitlines()[-1] == (
        "error: interrupted: echo is at 10% (the last applied step); run the same command again to resume"
    )
    assert routes(rollout) == named(phase2(10))


def test_history_lists_every_transition(rollout, canary):
    canary("weight", "echo", "30")
    canary("finish", "echo")
    result = canary("history", "echo", "-o", "json")
    body = json.loads(result.out)
    assert [i["reason"] for i in body["items"]] == ["CanaryInit", "CanaryHeader", "CanaryWeight", "CanaryFinish"]
    assert body["items"][2]["message"].startswith(
        "v1, header stage=canary to v2 -> v1 70% / v2 30%, header stage=canary by "
    )
    table = canary("history", "echo")
    assert table.out.splitlines()[0].split() == ["TIME", "REASON", "MESSAGE"]
    assert len(table.out.splitlines()) == 5


def test_failing_to_record_an_event_never_fails_the_command(rollout, canary):
    rollout.forbid("create", "events")
    result = canary("weight", "echo", "30")
    assert result.code == 0
    assert "warning: could not record the CanaryWeight event: forbidden: cannot create events" in result.err
    assert routes(rollout) == named(phase2(30))


def test_dry_run_shows_the_steps_without_waiting_or_writing(rollout, canary):
    before = rollout.get("routetables", NS, "echo-routes")["metadata"]["resourceVersion"]
    started = time.monotonic()
    result = canary("weight", "echo", "100", "--step", "50", "--interval", "1h", "--check", "false", "--dry-run")
    assert result.code == 0, result.err
    assert time.monotonic() - started < 10
    assert [line for line in result.out.splitlines() if line.startswith("step")] == [
        "step 1/2: 50% to v2", "step 2/2: 100% to v2"]
    assert rollout.get("routetables", NS, "echo-routes")["metadata"]["resourceVersion"] == before
