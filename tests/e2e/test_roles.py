"""Roles the way users write them, acted out by a ServiceAccount with a token (not the admin): what each
lets the commands do and what it refuses, with `kubectl auth can-i` agreeing with every request the plugin
made (its -v log). A refusal is one `error: forbidden: ...` line and changes nothing.

The Gloo-only and Gateway-API-only Roles running the commands of their own router are in
test_users_objects.py."""

from __future__ import annotations

import json

import yaml

from tests.e2e.users import GATEWAY_API_ONLY_ROLE, GLOO_ONLY_ROLE, CanI, forbidden_in

GATEWAY = "infra/public:http"


def rbac_user(cluster, ns: str, account: str = "deployer"):
    """ServiceAccount `account` bound to what `kubectl canary rbac APP --serviceaccount` prints."""
    printed = cluster.canary("rbac", "echo", "-n", ns, "--serviceaccount", f"{ns}:{account}").ok().out
    objects = list(yaml.safe_load_all(printed))
    assert [o["kind"] for o in objects] == ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"]
    cluster.kubectl("apply", "-f", "-", stdin=printed).ok()
    cluster.cluster_scoped += [(f"{o['kind'].lower()}s", o["metadata"]["name"]) for o in objects
                               if o["kind"].startswith("Cluster")]
    kubeconfig = cluster.user_kubeconfig(ns, account)
    cluster.wait_bound(ns, account, objects[0]["rules"][0])
    return kubeconfig


def test_the_role_rbac_prints_runs_every_command_on_both_routers(cluster, ns):
    kubeconfig = rbac_user(cluster, ns)
    can_i = CanI(cluster, kubeconfig)

    def as_deployer(*args: str):
        result = cluster.canary(*args, "-v", kubeconfig=kubeconfig).ok()
        can_i.agrees(result)
        return result

    as_deployer("init", "echo")
    as_deployer("header", "echo", "v2")
    cluster.wait_rolled_out(ns)
    as_deployer("weight", "echo", "50")
    as_deployer("shadow", "echo", "v2", "--percent", "10")
    status = json.loads(as_deployer("status", "echo", "-o", "json").out)
    assert (status["phase"], status["canary"]["weight"]) == ("weighted", 50)
    as_deployer("history", "echo")
    as_deployer("finish", "echo")
    assert cluster.gone("deployments", ns, "echo-v1") and cluster.gone("upstreams", ns, "echo-shadow-v2")

    as_deployer("init", "web", "--router", "gateway-api", "--gateway", GATEWAY)
    as_deployer("header", "web", "v2")
    cluster.wait_rolled_out(ns)
    as_deployer("weight", "web", "30")
    as_deployer("status")
    as_deployer("abort", "web")
    assert [r["name"] for r in cluster.rules(ns, "web")] == ["web-primary"]
    assert cluster.gone("deployments", ns, "web-v2") and cluster.gone("services", ns, "web-v2")

    # The Role is the namespace's: the same commands elsewhere are refused, and can-i agrees.
    for command in (("status", "echo", "-n", "default"), ("init", "echo", "-n", "default")):
        refused = cluster.canary(*command, "-v", kubeconfig=kubeconfig)
        verb, resource, namespace = forbidden_in(refused)
        assert namespace == "default"
        assert not can_i(verb, resource, namespace)
        can_i.agrees(refused)
    assert cluster.get("deployments", "default", "echo-v1") is None


def test_a_gloo_only_role_refuses_the_gateway_api(cluster, ns):
    kubeconfig = cluster.user_kubeconfig(ns, "gloo-team", role=GLOO_ONLY_ROLE)
    can_i = CanI(cluster, kubeconfig)
    refused = cluster.canary("init", "web", "--router", "gateway-api", "--gateway", GATEWAY, "-v",
                             kubeconfig=kubeconfig)
    verb, resource, namespace = forbidden_in(refused)
    assert resource == "httproutes.gateway.networking.k8s.io" and namespace == ns
    assert not can_i(verb, resource, namespace)
    can_i.agrees(refused)
    assert cluster.kube.list("deployments", ns)["items"] == []
    assert cluster.kube.list("httproutes", ns)["items"] == []
    for verb in ("get", "create", "patch"):
        assert can_i(verb, "routetables.gateway.solo.io", ns)


def test_a_gateway_api_only_role_refuses_gloo(cluster, ns):
    kubeconfig = cluster.user_kubeconfig(ns, "gateway-team", role=GATEWAY_API_ONLY_ROLE)
    can_i = CanI(cluster, kubeconfig)
    refused = cluster.canary("init", "echo", "-v", kubeconfig=kubeconfig)
    verb, resource, namespace = forbidden_in(refused)
    assert resource == "routetables.gateway.solo.io" and namespace == ns
    assert not can_i(verb, resource, namespace)
    can_i.agrees(refused)
    assert cluster.kube.list("deployments", ns)["items"] == []
    assert cluster.kube.list("routetables", ns)["items"] == []
    for verb in ("get", "create", "patch"):
        assert can_i(verb, "httproutes.gateway.networking.k8s.io", ns)
