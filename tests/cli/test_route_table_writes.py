"""How the RouteTable is written: foreign routes, seed Helm tables, ownership, conflicts, dry runs."""

from __future__ import annotations

import copy
import json
import threading
import time

import yaml

from tests.design_routes import PHASE1, STABLE, named, phase2
from tests.fake_apiserver import Fault

NS = "echo"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
ADMIN = {"name": "admin", "matchers": [{"prefix": "/echo/admin"}], "directResponseAction": {"status": 403}}
HEALTH = {"matchers": [{"exact": "/health"}], "directResponseAction": {"status": 200, "body": "ok"}}


def routes(api) -> list[dict]:
    return api.get("routetables", NS, "echo-routes")["spec"]["routes"]


def seed_helm_app(api, route_list: list[dict]) -> None:
    """What the seed's Helm chart leaves: unnamed routes, every field owned by the manager "helm"."""
    labels = {"app": "echo", "version": "v1"}
    api.create(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "echo-v1", "namespace": NS},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "echo", "image": "hashicorp/http-echo"}]},
                },
            },
        },
        manager="helm",
    )
    api.create(
        {
            "apiVersion": "gloo.solo.io/v1",
            "kind": "Upstream",
            "metadata": {"name": "echo", "namespace": NS},
            "spec": {
                "kube": {
                    "serviceName": "echo",
                    "serviceNamespace": NS,
                    "servicePort": 8080,
                    "selector": {"app": "echo"},
                    "subsetSpec": {"selectors": [{"keys": ["version"]}]},
                }
            },
        },
        manager="helm",
    )
    api.create(
        {
            "apiVersion": "gateway.solo.io/v1",
            "kind": "RouteTable",
            "metadata": {"name": "echo-routes", "namespace": NS, "labels": {"apiGroup": "example"}},
            "spec": {"routes": copy.deepcopy(route_list)},
        },
        manager="helm",
    )


def test_foreign_routes_survive_every_phase_in_place(api, canary):
    canary("init", "echo")
    route_table = api.get("routetables", NS, "echo-routes")
    route_table["spec"]["routes"] = [ADMIN, *route_table["spec"]["routes"], HEALTH]
    api.apply(route_table, manager="kubectl-canary")
    canary("header", "echo", "v2")
    assert routes(api) == [ADMIN, *named(PHASE1), HEALTH]
    api.set_deployment_ready(NS, "echo-v1")  # the primary is available, as on a cluster
    api.set_deployment_ready(NS, "echo-v2")
    canary("weight", "echo", "40")
    assert routes(api) == [ADMIN, *named(phase2(40)), HEALTH]
    canary("abort", "echo")
    assert routes(api) == [ADMIN, *named(STABLE), HEALTH]


def test_our_labels_survive_our_applies(api, canary):
    # Server-side apply deletes fields a manager stops applying: each apply must carry them again.
    canary("init", "echo")
    canary("header", "echo", "v2")
    canary("weight", "echo", "10", "--force")
    labels = api.get("routetables", NS, "echo-routes")["metadata"]["labels"]
    assert labels["apiGroup"] == "example"
    assert api.get("upstreams", NS, "echo")["spec"]["kube"]["serviceName"] == "echo"


def test_seed_helm_table_is_read_and_owner_named(api, canary):
    seed_helm_app(api, phase2(30))
    # The chart deploys every version its routes name (deployment: {v1: {}, v2: {}}), without an app label.
    v2 = api.get("deployments", NS, "echo-v1")
    v2 = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "echo-v2", "namespace": NS},
          "spec": v2["spec"]}
    api.create(v2, manager="helm")
    status = canary("status", "echo", "-o", "json")
    body = json.loads(status.out)
    assert (body["phase"], body["primary"]["version"], body["canary"]["version"], body["canary"]["weight"]) == (
        "weighted",
        "v1",
        "v2",
        30,
    )

    api.clear_requests()
    refused = canary("weight", "echo", "50", "--force")
    assert refused.code == 1
    assert refused.err.startswith('error: the routes of RouteTable echo-routes are managed by "helm"')
    assert "--force-conflicts" in refused.err
    assert [r for r in api.requests if r.method in WRITES] == []

    taken = canary("weight", "echo", "50", "--force", "--force-conflicts")
    assert taken.code == 0, taken.err
    assert routes(api) == named(phase2(50))
    # From now on the plugin owns the routes: no flag needed.
    assert canary("weight", "echo", "60", "--force").code == 0


def test_header_on_a_helm_table_refuses_before_creating_the_deployment(api, canary):
    seed_helm_app(api, STABLE)
    refused = canary("header", "echo", "v2")
    assert refused.code == 1 and '"helm"' in refused.err
    assert api.get("deployments", NS, "echo-v2") is None


def test_stale_write_is_recomputed_and_retried(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    api.clear_requests()
    api.inject_fault(
        Fault.status(409, reason="Conflict", message="the object has been modified"),
        method="PATCH",
        path_contains="/routetables/",
    )
    result = canary("weight", "echo", "20", "--force")
    assert result.code == 0, result.err
    assert routes(api) == named(phase2(20))
    rt_requests = [(r.method, r.status) for r in api.requests if "/routetables/" in r.path]
    assert rt_requests == [("GET", 200), ("PATCH", 409), ("GET", 200), ("PATCH", 200)]


def test_retries_are_bounded(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    api.inject_fault(
        Fault.status(409, reason="Conflict", message="modified"), method="PATCH", path_contains="/routetables/", times=5
    )
    result = canary("weight", "echo", "20", "--force")
    assert result.code == 1
    assert result.err.startswith("error: RouteTable echo-routes changed 5 times while it was being updated")
    assert routes(api) == named(PHASE1)


def test_a_concurrent_foreign_edit_is_not_lost(api, canary):
    """Someone adds a route between our read and our write: our write is refused (409), redone on the
    new object, and the other route is kept."""
    canary("init", "echo")
    canary("header", "echo", "v2")
    api.set_deployment_ready(NS, "echo-v1")  # the primary is available, as on a cluster
    api.set_deployment_ready(NS, "echo-v2")
    api.clear_requests()
    # Our apply is held for a second; meanwhile, right after our reads, another writer edits the table.
    api.inject_fault(Fault.delay(1.0), method="PATCH", path_contains="/routetables/")

    def other_writer() -> None:
        deadline = time.monotonic() + 10
        while not any("/deployments/echo-v2" in r.path for r in api.requests) and time.monotonic() < deadline:
            time.sleep(0.005)
        route_table = api.get("routetables", NS, "echo-routes")
        route_table["spec"]["routes"] = [*route_table["spec"]["routes"], HEALTH]
        api.replace(route_table, manager="kubectl-edit")

    writer = threading.Thread(target=other_writer)
    writer.start()
    # kubectl edit took the (atomic) routes list; taking it back needs --force-conflicts.
    result = canary("weight", "echo", "20", "--force-conflicts")
    writer.join()
    assert result.code == 0, result.err
    assert routes(api) == [*named(phase2(20)), HEALTH]
    assert [r.status for r in api.requests if r.method == "PATCH"] == [409, 200]


def test_client_dry_run_writes_nothing_and_prints_the_result(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    api.clear_requests()
    result = canary("weight", "echo", "30", "--force", "--dry-run=client", "-o", "yaml")
    assert result.code == 0, result.err
    assert [r for r in api.requests if r.method in WRITES] == []
    printed = yaml.safe_load(result.out)
    assert printed["kind"] == "RouteTable"
    assert printed["spec"]["routes"] == named(phase2(30))
    assert routes(api) == named(PHASE1)


def test_server_dry_run_sends_dry_run_writes(api, canary):
    canary("init", "echo")
    api.clear_requests()
    result = canary("header", "echo", "v2", "--dry-run=server")
    assert result.code == 0, result.err
    writes = [r for r in api.requests if r.method in WRITES]
    assert writes and all(r.query.get("dryRun") == "All" for r in writes)
    assert "routetable.gateway.solo.io/echo-routes configured (server dry run)" in result.out
    assert api.get("deployments", NS, "echo-v2") is None
    assert routes(api) == named(STABLE)


def test_output_json_prints_the_written_objects(api, canary):
    canary("init", "echo")
    result = canary("header", "echo", "v2", "-o", "json")
    printed = json.loads(result.out)
    assert printed["kind"] == "List"
    assert [i["kind"] for i in printed["items"]] == ["Deployment", "RouteTable"]
    assert printed["items"][1]["spec"]["routes"] == named(PHASE1)


def test_init_client_dry_run_needs_no_cluster(tmp_path, monkeypatch, capsys):
    from kubectl_canary.cli import main

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    assert main(["init", "echo", "--dry-run=client", "-o", "yaml"]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["kind"] for d in documents] == ["Deployment", "Service", "Upstream", "RouteTable"]
    assert {d["metadata"]["namespace"] for d in documents} == {"default"}
    assert main(["init", "echo", "-n", "echo", "--dry-run=client", "-o", "yaml"]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert documents[3]["spec"]["routes"] == named(STABLE)


def test_upstream_without_version_subsets_gets_them(api, canary):
    canary("init", "echo")
    upstream = api.get("upstreams", NS, "echo")
    upstream["spec"]["kube"]["subsetSpec"] = {"selectors": [{"keys": ["color"]}], "fallbackPolicy": "NO_FALLBACK"}
    api.apply(upstream, manager="kubectl-canary")
    result = canary("header", "echo", "v2")
    assert result.code == 0, result.err
    assert "upstream.gloo.solo.io/echo configured" in result.out
    kube = api.get("upstreams", NS, "echo")["spec"]["kube"]
    assert kube["subsetSpec"]["selectors"] == [{"keys": ["color"]}, {"keys": ["version"]}]
    assert kube["serviceName"] == "echo"


def test_unchanged_weight_writes_nothing(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    canary("weight", "echo", "30", "--force")
    api.clear_requests()
    result = canary("weight", "echo", "30", "--force")
    assert result.code == 0
    assert "routetable.gateway.solo.io/echo-routes unchanged" in result.out
    assert [r for r in api.requests if r.method in WRITES] == []
