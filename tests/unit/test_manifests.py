"""The objects init and header create."""

from __future__ import annotations

from kubectl_canary.model.manifests import (
    AppSpec,
    canary_deployment,
    deployment,
    init_manifests,
    upstream_selects_versions,
    upstream_version_subsets,
)

SPEC = AppSpec(app="echo", namespace="echo")


def test_init_writes_the_route_table_last():
    assert [m["kind"] for m in init_manifests(SPEC)] == ["Deployment", "Service", "Upstream", "RouteTable"]


def test_custom_image_gets_no_http_echo_arguments():
    container = deployment(AppSpec("web", "ns", image="nginx", port=80))["spec"]["template"]["spec"]["containers"][0]
    assert "args" not in container
    assert container["ports"] == [{"name": "http", "containerPort": 80}]


def test_route_prefix_defaults_to_the_app():
    assert AppSpec("echo", "ns").route_prefix == "/echo"
    assert AppSpec("echo", "ns", prefix="/api/echo").route_prefix == "/api/echo"


def test_canary_is_a_clone_with_its_own_version():
    primary = deployment(SPEC)
    primary["metadata"]["annotations"] = {"deployment.kubernetes.io/revision": "4", "team": "a"}
    primary["metadata"]["resourceVersion"] = "17"
    clone = canary_deployment(primary, "echo", "v2", None)
    assert clone["metadata"]["name"] == "echo-v2"
    assert clone["metadata"]["labels"]["version"] == "v2"
    assert clone["metadata"]["annotations"] == {"team": "a"}
    assert "resourceVersion" not in clone["metadata"]
    assert clone["spec"]["selector"]["matchLabels"] == {"app": "echo", "version": "v2"}
    assert clone["spec"]["template"]["metadata"]["labels"] == {"app": "echo", "version": "v2"}
    assert clone["spec"]["template"]["spec"] == primary["spec"]["template"]["spec"]
    # The primary is not modified.
    assert primary["spec"]["template"]["metadata"]["labels"]["version"] == "v1"


def test_canary_image_replaces_the_app_container_image():
    primary = deployment(SPEC)
    primary["spec"]["template"]["spec"]["containers"].insert(0, {"name": "sidecar", "image": "envoy"})
    clone = canary_deployment(primary, "echo", "v2", "echo:2")
    assert [c["image"] for c in clone["spec"]["template"]["spec"]["containers"]] == ["envoy", "echo:2"]


def test_upstream_subsets():
    upstream = init_manifests(SPEC)[2]
    assert upstream_selects_versions(upstream)
    upstream["spec"]["kube"]["subsetSpec"] = {"selectors": [{"keys": ["color"]}]}
    assert not upstream_selects_versions(upstream)
    assert upstream_version_subsets(upstream) == {"selectors": [{"keys": ["color"]}, {"keys": ["version"]}]}


def test_the_canary_copies_rollout_settings_but_not_ownership_of_helm_argo_or_flux():
    primary = {
        "metadata": {
            "name": "echo-v1",
            "namespace": "echo",
            "labels": {
                "app": "echo",
                "version": "v1",
                "app.kubernetes.io/instance": "echo",
                "helm.sh/chart": "echo-0.1.0",
                "kustomize.toolkit.fluxcd.io/name": "apps",
                "team": "a",
            },
            "annotations": {
                "meta.helm.sh/release-name": "echo",
                "argocd.argoproj.io/tracking-id": "echo:apps/Deployment:echo/echo-v1",
                "deployment.kubernetes.io/revision": "3",
                "owner": "team-a",
            },
        },
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "echo", "version": "v1"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
            "minReadySeconds": 10,
            "progressDeadlineSeconds": 120,
            "revisionHistoryLimit": 2,
            "template": {
                "metadata": {"labels": {"app": "echo", "version": "v1"}},
                "spec": {"containers": [{"name": "echo", "image": "e:1"}]},
            },
        },
    }
    canary = canary_deployment(primary, "echo", "v2", None)
    assert canary["metadata"]["labels"] == {
        "app": "echo",
        "version": "v2",
        "team": "a",
        "app.kubernetes.io/managed-by": "kubectl-canary",
    }
    assert canary["metadata"]["annotations"] == {"owner": "team-a"}
    for key in ("strategy", "minReadySeconds", "progressDeadlineSeconds", "revisionHistoryLimit", "replicas"):
        assert canary["spec"][key] == primary["spec"][key]
