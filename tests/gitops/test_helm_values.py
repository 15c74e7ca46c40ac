"""--helm-values: the seed's chart values, one golden file per phase; every transition byte for byte."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.gitops.golden import HERE, run

HELM = HERE / "helm"
TRANSITIONS = [
    ("stable", ["header", "echo", "v2"], "header"),
    ("header", ["weight", "echo", "10"], "weight-10"),
    ("weight-10", ["weight", "echo", "50"], "weight-50"),
    ("weight-50", ["finish", "echo"], "finished"),
    ("weight-10", ["abort", "echo"], "aborted"),
    ("header", ["abort", "echo"], "aborted"),
    ("weight-50", ["weight", "echo", "10"], "weight-10"),
]


@pytest.mark.parametrize("start, args, end", TRANSITIONS, ids=[f"{s}-{a[0]}" for s, a, _ in TRANSITIONS])
def test_every_transition_writes_the_next_phase_file(tmp_path, start, args, end):
    values = tmp_path / "values.yaml"
    shutil.copy(HELM / f"values-{start}.yaml", values)
    result = run(*args, "--helm-values", str(values))
    assert result.code == 0, result.err
    assert values.read_bytes() == (HELM / f"values-{end}.yaml").read_bytes()
    assert "--- a/values.yaml" in result.out and result.out.splitlines()[-1] == "1 file(s) changed"


def test_an_aborted_rollout_is_the_stable_file_again():
    assert (HELM / "values-aborted.yaml").read_bytes() == (HELM / "values-stable.yaml").read_bytes()


@pytest.mark.parametrize("phase, expected", [
    ("stable", ("stable", "v1", None, None)),
    ("header", ("header", "v1", "v2", 0)),
    ("weight-10", ("weighted", "v1", "v2", 10)),
    ("weight-50", ("weighted", "v1", "v2", 50)),
    ("finished", ("stable", "v2", None, None)),
    ("aborted", ("stable", "v1", None, None)),
])
def test_status_reads_the_phase_from_the_values(phase, expected):
    result = run("status", "echo", "--helm-values", str(HELM / f"values-{phase}.yaml"), "-o", "json")
    assert result.code == 0, result.err
    status = json.loads(result.out)
    canary = status["canary"] or {}
    assert (status["phase"], status["primary"]["version"], canary.get("version"), canary.get("weight")) == expected
    assert status["router"] == "helm-values"
    assert result.err.startswith("skipped: deployment echo-v")


def test_diff_writes_nothing_and_a_header_mismatch_is_refused(tmp_path):
    values = tmp_path / "values.yaml"
    shutil.copy(HELM / "values-stable.yaml", values)
    result = run("header", "echo", "v2", "--helm-values", str(values), "--diff")
    assert result.code == 0 and "+  v2: {}" in result.out
    assert values.read_bytes() == (HELM / "values-stable.yaml").read_bytes()
    result = run("header", "echo", "v2", "--header", "x-canary", "--helm-values", str(values))
    assert (result.code, result.err) == (
        1, "error: the seed's chart matches headers by exact value only: give x-canary=VALUE\n")
    assert values.read_bytes() == (HELM / "values-stable.yaml").read_bytes()


def refused(values, *args: str) -> str:
    before = values.read_bytes()
    result = run(*args, "--helm-values", str(values))
    assert (result.code, result.out) == (1, "")
    assert result.err.count("\n") == 1 and result.err.startswith("error: ")
    assert values.read_bytes() == before
    return result.err.strip()


def test_values_without_routes(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text("deployment:\n  v1: {}\n")
    assert refused(values, "weight", "echo", "10") == (
        f"error: {values}: no routes key; expected the seed's chart values (routes.primary.version, routes.canary)")


def test_a_weight_that_is_not_a_number(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text((HELM / "values-weight-10.yaml").read_text().replace("weight: 10", "weight: ten"))
    assert refused(values, "weight", "echo", "50") == (
        f"error: {values}: routes.canary.weight 'ten' is not a number from 0 to 100; "
        "expected the seed's chart values (routes.primary.version, routes.canary)")
    assert refused(values, "status", "echo").startswith(f"error: {values}: routes.canary.weight 'ten'")


def test_a_refused_transition_and_a_missing_file(tmp_path):
    values = tmp_path / "values.yaml"
    shutil.copy(HELM / "values-stable.yaml", values)
    assert "no canary" in refused(values, "weight", "echo", "10")
    result = run("finish", "echo", "--helm-values", str(tmp_path / "nope.yaml"))
    assert (result.code, result.err) == (
        1, f"error: {tmp_path / 'nope.yaml'} not found; --helm-values names the values file of the seed's chart\n")
    result = run("header", "echo", "v2", "--local", "-f", str(tmp_path), "--helm-values", str(values))
    assert (result.code, result.err) == (2, "error: --helm-values and --local -f are two offline modes: give one\n")


def test_check_live_judges_readiness_on_the_cluster(api, kubeconfig, tmp_path):
    values = tmp_path / "values.yaml"
    shutil.copy(HELM / "values-stable.yaml", values)
    # header: the chart creates the canary's Deployment from these values, so its absence is no refusal.
    result = run("header", "echo", "v2", "--helm-values", str(values), "--check-live", "-n", "echo")
    assert (result.code, result.err) == (0, "")
    assert values.read_bytes() == (HELM / "values-header.yaml").read_bytes()

    # weight: Helm has not run yet, echo-v2 is not on the cluster: no traffic to it.
    result = run("weight", "echo", "10", "--helm-values", str(values), "--check-live", "-n", "echo")
    assert result.code == 1
    assert result.err.startswith("error: deployment echo-v2 not found, so v2 has no pods to serve traffic")
    assert values.read_bytes() == (HELM / "values-header.yaml").read_bytes()

    api.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "echo-v2", "namespace": "echo"},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "echo"}},
                         "template": {"metadata": {"labels": {"app": "echo"}}, "spec": {"containers": []}}}})
    result = run("weight", "echo", "10", "--helm-values", str(values), "--check-live", "-n", "echo")
    assert result.code == 1 and result.err.startswith("error: deployment echo-v2 has 0/2 ready replicas")
    api.set_deployment_ready("echo", "echo-v2")
    result = run("weight", "echo", "10", "--helm-values", str(values), "--check-live", "-n", "echo")
    assert (result.code, result.err) == (0, "")
    assert values.read_bytes() == (HELM / "values-weight-10.yaml").read_bytes()


def test_a_canary_on_the_primary_version(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text((HELM / "values-header.yaml").read_text().replace("    version: v2\n", "    version: v1\n"))
    assert refused(values, "status", "echo") == (
        f"error: {values}: routes.canary.version and routes.primary.version are both v1; "
        "expected the seed's chart values (routes.primary.version, routes.canary)")
