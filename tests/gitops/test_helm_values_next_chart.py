"""--helm-values on the series' next chart (`routing:`), one golden file per phase beside the seed's; and both
dialects rendered by the charts (tests/seed_charts.py) for each phase: the routes the chart renders from a
phase's file are that phase, and route every request as the cluster commands' routes of the same phase do."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from kubectl_canary.gitops.helm_values import state_of
from kubectl_canary.model.rollout import (
    DEFAULT_HEADER,
    RolloutState,
    promote,
    rollback,
    shift_weight,
    start_canary,
    start_shadow,
)
from kubectl_canary.request_routing.gloo import route_request
from kubectl_canary.request_routing.requests import Request
from kubectl_canary.routers.gloo import parse_routes, render_routes
from tests.gitops.golden import HERE, run
from tests.seed_charts import chart_routes

SEED = HERE / "helm"
NEXT = HERE / "helm" / "next"
TRANSITIONS = [
    ("stable", ["header", "echo", "v2"], "header"),
    ("header", ["weight", "echo", "10"], "weight-10"),
    ("weight-10", ["weight", "echo", "50"], "weight-50"),
    ("weight-50", ["finish", "echo"], "finished"),
    ("weight-10", ["abort", "echo"], "aborted"),
    ("header", ["abort", "echo"], "aborted"),
    ("weight-50", ["weight", "echo", "10"], "weight-10"),
]
NEXT_ONLY = [
    ("weight-10", ["shadow", "echo", "v2"], "shadow"),
    ("shadow", ["shadow", "echo", "--off"], "weight-10"),
    ("shadow", ["finish", "echo"], "finished"),
    ("shadow", ["abort", "echo"], "aborted"),
]
PHASES = ["stable", "header", "weight-10", "weight-50", "finished", "aborted"]


@pytest.mark.parametrize("start, args, end", TRANSITIONS + NEXT_ONLY, ids=[f"{s}-{a[0]}" for s, a, _ in
                                                                            TRANSITIONS + NEXT_ONLY])
def test_every_transition_writes_the_next_phase_file(tmp_path, start, args, end):
    values = tmp_path / "values.yaml"
    shutil.copy(NEXT / f"values-{start}.yaml", values)
    result = run(*args, "--helm-values", str(values))
    assert result.code == 0, result.err
    assert values.read_bytes() == (NEXT / f"values-{end}.yaml").read_bytes()
    assert "--- a/values.yaml" in result.out and result.out.splitlines()[-1] == "1 file(s) changed"


def test_an_aborted_rollout_is_the_stable_file_again():
    assert (NEXT / "values-aborted.yaml").read_bytes() == (NEXT / "values-stable.yaml").read_bytes()


def test_header_copies_the_primarys_entry_and_image_sets_the_canarys(tmp_path):
    values = tmp_path / "values.yaml"
    shutil.copy(NEXT / "values-stable.yaml", values)
    result = run("header", "echo", "v2", "--image", "hashicorp/http-echo:1.0", "--helm-values", str(values))
    assert result.code == 0, result.err
    written = yaml.safe_load(values.read_text())["deployment"]
    assert written["v2"] == {**written["v1"], "image": "hashicorp/http-echo:1.0"}
    assert values.read_text().replace("image: hashicorp/http-echo:1.0", "image: hashicorp/http-echo") == (
        NEXT / "values-header.yaml").read_text()


@pytest.mark.parametrize("phase, expected", [
    ("stable", ("stable", "v1", None, None, None)),
    ("header", ("header", "v1", "v2", 0, None)),
    ("weight-10", ("weighted", "v1", "v2", 10, None)),
    ("weight-50", ("weighted", "v1", "v2", 50, None)),
    ("finished", ("stable", "v2", None, None, None)),
    ("shadow", ("weighted", "v1", "v2", 10, {"version": "v2", "percent": 100.0})),
])
def test_status_reads_the_phase_from_the_values(phase, expected):
    result = run("status", "echo", "--helm-values", str(NEXT / f"values-{phase}.yaml"), "-o", "json")
    assert result.code == 0, result.err
    status = json.loads(result.out)
    canary = status["canary"] or {}
    assert (status["phase"], status["primary"]["version"], canary.get("version"), canary.get("weight"),
            status.get("shadow")) == expected
    assert status["primary"]["replicas"] == 1  # read from the version's own config


def refused(values: Path, *args: str, code: int = 1) -> str:
    before = values.read_bytes()
    result = run(*args, "--helm-values", str(values))
    assert (result.code, result.out) == (code, "")
    assert result.err.count("\n") == 1 and result.err.startswith("error: ")
    assert values.read_bytes() == before
    return result.err.strip()


def test_what_the_charts_cannot_say_is_refused(tmp_path):
    values = tmp_path / "values.yaml"
    shutil.copy(NEXT / "values-header.yaml", values)
    assert refused(values, "shadow", "echo", "v2", "--percent", "50") == (
        "error: the chart shadows every request (routing.options.shadowing has no percentage): give --percent 100, "
        "or shadow on the cluster")
    assert refused(values, "shadow", "echo", "v3") == (
        "error: deployment.v3 is not in the values, so v3 has no pods to shadow to; add it first")
    assert refused(values, "header", "echo", "v2", "--header", "x-canary") == (
        "error: the next chart matches headers by exact value only: give x-canary=VALUE")
    seed = tmp_path / "seed.yaml"
    shutil.copy(SEED / "values-header.yaml", seed)
    assert refused(seed, "shadow", "echo", "v2") == (
        "error: the seed's chart has no shadowing: shadow on the cluster, or add it to the chart")
    assert refused(seed, "header", "echo", "v2", "--image", "x", code=2) == (
        "error: --image has no place in the seed chart's values: set the image in the chart")
    values.write_text(values.read_text().replace("  version: v1 ", "  versions: v1 "))
    assert refused(values, "status", "echo") == (
        f"error: {values}: no routing.version; expected the next chart's values (routing.version, routing.canary, "
        "routing.routes)")


# --- both dialects, rendered by the charts -------------------------------------------------------------------

REQUESTS = [Request(path, headers=headers) for path in ("/echo", "/echo/foo", "/echo/bar/x", "/other")
            for headers in ({}, {"stage": "canary"}, {"stage": "beta"})]
COMMANDS: dict[str, Callable[[RolloutState], RolloutState]] = {
    "header": lambda s: start_canary(s, "v2", (DEFAULT_HEADER,)),
    "weight-10": lambda s: shift_weight(s, 10),
    "weight-50": lambda s: shift_weight(s, 50),
    "finish": promote,
    "abort": rollback,
    "shadow": lambda s: start_shadow(s, "v2", 100.0),
}


def _values(directory: Path, phase: str) -> dict:
    return yaml.safe_load((directory / f"values-{phase}.yaml").read_text())


def _versions(routes: list[dict], request: Request) -> dict[str, object]:
    """Where a request goes, by version (the chart's and the plugin's routes name the same destinations)."""
    return {json.loads(key)["destination"]["subset"]["values"]["version"]: share
            for key, share in route_request(routes, request).destinations}


@pytest.mark.parametrize("directory", [SEED, NEXT], ids=["seed", "next"])
@pytest.mark.parametrize("phase", [*PHASES, "shadow"])
def test_the_chart_renders_each_phase_as_the_values_say(directory, phase):
    if not (directory / f"values-{phase}.yaml").exists():
        pytest.skip("the seed's chart has no shadowing")
    values = _values(directory, phase)
    routes = chart_routes(values)
    assert len(routes) == (1 if directory == SEED else 2) * (2 if "canary" in str(values) else 1)
    parsed = parse_routes("echo", routes)
    # The chart writes the header phase as weights 100 and 0 (the same traffic), and shadows to its own
    # Upstream shadow-VERSION, which the plugin leaves alone: that is read from the values only.
    assert replace(parsed.state, weight=parsed.state.weight or None) == replace(
        state_of(values, "echo", directory), shadow=None)
    assert parsed.disagreements == ()


@pytest.mark.parametrize("directory", [SEED, NEXT], ids=["seed", "next"])
@pytest.mark.parametrize("start, command, end", [
    ("stable", "header", "header"), ("header", "weight-10", "weight-10"), ("weight-10", "weight-50", "weight-50"),
    ("weight-50", "finish", "finished"), ("weight-10", "abort", "aborted"), ("weight-10", "shadow", "shadow"),
])
def test_the_values_a_command_writes_route_as_the_cluster_commands_routes(directory, start, command, end):
    """The chart's table for the start phase, moved by the cluster's render, routes every request as the chart's
    table for the values the same command writes."""
    if not (directory / f"values-{end}.yaml").exists():
        pytest.skip("the seed's chart has no shadowing")
    live = chart_routes(_values(directory, start))
    parsed = parse_routes("echo", live)
    on_cluster = render_routes(live, parsed, COMMANDS[command](parsed.state))
    from_values = chart_routes(_values(directory, end))
    for request in REQUESTS:
        assert _versions(on_cluster, request) == _versions(from_values, request), request
