"""`status --local` reads the phase from the files; --check-live makes the readiness checks on the cluster."""

from __future__ import annotations

import json

from tests.gitops.golden import checkout, files_of, run

NS = "echo"


def test_status_shows_the_phase_the_files_describe(tmp_path):
    repo = checkout("plain", tmp_path)
    assert run("header", "echo", "v2", "--local", "-f", str(repo)).code == 0
    assert run("weight", "echo", "10", "--local", "-f", str(repo)).code == 0
    before = files_of(repo)
    result = run("status", "echo", "--local", "-f", str(repo), "-o", "json")
    assert result.code == 0, result.err
    status = json.loads(result.out)
    assert (status["phase"], status["primary"]["version"], status["canary"]["version"]) == ("weighted", "v1", "v2")
    assert (status["canary"]["weight"], status["canary"]["header"]) == (10, {"name": "stage", "value": "canary"})
    assert result.err.splitlines() == [
        "skipped: deployment echo-v1 is available (needs the cluster; --check-live checks it there)",
        "skipped: deployment echo-v2 is available (needs the cluster; --check-live checks it there)",
        "skipped: which VirtualServices delegate to the routes (needs the cluster; --check-live checks it there)",
    ]
    assert files_of(repo) == before  # status never writes


def test_check_live_judges_readiness_on_the_cluster(api, kubeconfig, tmp_path):
    repo = checkout("plain", tmp_path)
    assert run("header", "echo", "v2", "--local", "-f", str(repo)).code == 0
    before = files_of(repo)
    # Git says header, but the GitOps controller has not synced it yet: no echo-v2 on the cluster.
    result = run("weight", "echo", "50", "--local", "-f", str(repo), "--check-live")
    assert result.code == 1
    assert result.err.startswith("error: deployment echo-v2 not found, so v2 has no pods to serve traffic")
    assert files_of(repo) == before

    api.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "echo-v2", "namespace": NS},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "echo"}},
                         "template": {"metadata": {"labels": {"app": "echo"}}, "spec": {"containers": []}}}})
    result = run("weight", "echo", "50", "--local", "-f", str(repo), "--check-live")
    assert result.code == 1
    assert result.err.startswith("error: deployment echo-v2 has 0/2 ready replicas")

    api.set_deployment_ready(NS, "echo-v2")
    result = run("weight", "echo", "50", "--local", "-f", str(repo), "--check-live")
    assert result.code == 0, result.err
    assert result.err == ""  # nothing skipped
    assert files_of(repo) != before
    assert api.get("routetables", NS, "echo-routes") is None  # the cluster was only read


def test_status_name_and_wide_from_the_files(tmp_path):
    repo = checkout("plain", tmp_path)
    assert run("header", "echo", "v2", "--local", "-f", str(repo)).code == 0
    wide = run("status", "echo", "--local", "-f", str(repo), "-o", "wide")
    assert (wide.code, wide.out) == (0, (
        "APP   PHASE   PRIMARY   CANARY    WEIGHT  HEADER        ROUTER  VERDICT  SHADOW  ROUTE                   "
        "BACKENDS   PARENTS\n"
        "echo  header  v1 (2/2)  v2 (2/2)  -       stage=canary  gloo    -        -       routetable/echo-routes  "
        "echo/echo  <unknown>\n"))
    assert "skipped: which VirtualServices delegate to the routes" in wide.err
    for args in (["echo"], [], ["-A"]):
        name = run("status", *args, "--local", "-f", str(repo), "-o", "name")
        assert (name.code, name.out) == (0, "routetable.gateway.solo.io/echo-routes\n"), args
    gateway_api = checkout("gateway-api", tmp_path)
    name = run("status", "--local", "-f", str(gateway_api), "-o", "name")
    assert (name.code, name.out) == (0, "httproute.gateway.networking.k8s.io/echo\n")


def test_status_name_and_wide_from_helm_values():
    """The chart renders RouteTable RELEASE-routes (the release is the app) to Upstream RELEASE."""
    from tests.gitops.test_helm_values import HELM

    values = str(HELM / "values-weight-10.yaml")
    wide = run("status", "echo", "--helm-values", values, "-o", "wide")
    assert (wide.code, wide.out) == (0, (
        "APP   PHASE     PRIMARY   CANARY    WEIGHT  HEADER        ROUTER       VERDICT  SHADOW  "
        "ROUTE                   BACKENDS      PARENTS\n"
        "echo  weighted  v1 (1/1)  v2 (1/1)  10%     stage=canary  helm-values  -        -       "
        "routetable/echo-routes  default/echo  <unknown>\n"))
    name = run("status", "echo", "--helm-values", values, "-o", "name")
    assert (name.code, name.out) == (0, "routetable.gateway.solo.io/echo-routes\n")
