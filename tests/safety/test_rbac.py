"""RBAC: a 403 names what the command needs; `rbac` grants exactly what the commands ask for."""

from __future__ import annotations

import copy
import re
import threading

import pytest
import yaml

from kubectl_canary.commands import all_commands
from kubectl_canary.commands.rbac import rbac_objects
from kubectl_canary.kube.permissions import merged

COMMANDS = all_commands()

NS = "echo"
# /api/v1/namespaces/echo is the namespace itself; /api/v1/namespaces/echo/services/x a namespaced object.
PATH = re.compile(r"^/apis?/(?:[^/]+/)?v1(?:/namespaces/[^/]+(?=/))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?$")


def asked(api) -> set[tuple[str, str]]:
    """(verb, resource) of every request in the log, as the API server's authorizer sees them."""
    found = set()
    for request in api.requests:
        match = PATH.match(request.path)
        assert match, request.path
        plural, name = match["plural"], match["name"]
        if request.method == "GET":
            verb = "watch" if request.query.get("watch") in ("true", "1") else ("get" if name else "list")
        else:
            verb = {"PATCH": "patch", "POST": "create", "PUT": "update", "DELETE": "delete"}[request.method]
        found.add((verb, plural))
        if request.method == "PATCH" and request.status == 201:
            found.add(("create", plural))  # an apply that creates is also checked for create
    return found


def declared(command_name: str) -> set[tuple[str, str]]:
    command = next(c for c in COMMANDS if c.name == command_name)
    return {(verb, p.resource.plural) for p in command.permissions for verb in p.verbs}


def run_and_collect(api, canary, name: str, *args: str) -> set[tuple[str, str]]:
    api.clear_requests()
    result = canary(name, *args)
    assert result.code in (0, 1, 2), result.err
    return asked(api)


def test_every_request_is_declared_and_every_declared_permission_is_used(api, platform, gateway, canary):
    used: dict[str, set[tuple[str, str]]] = {c.name: set() for c in COMMANDS}
    used["init"] |= run_and_collect(api, canary, "init", "echo")
    used["init"] |= run_and_collect(api, canary, "init", "web", "-n", "web", "--create-namespace")
    used["status"] |= run_and_collect(api, canary, "status", "echo")
    used["status"] |= run_and_collect(api, canary, "status", "-A")
    used["route"] |= run_and_collect(api, canary, "route", "echo", "--after", "header v2")
    used["header"] |= run_and_collect(api, canary, "header", "echo", "v2")
    used["route"] |= run_and_collect(api, canary, "route", "echo", "--after", "weight 30 --force")
    used["route"] |= run_and_collect(api, canary, "route", "nope")  # not found: reads the namespace
    later = threading.Timer(0.3, lambda: api.set_deployment_ready(NS, "echo-v2"))
    later.start()
    used["header"] |= run_and_collect(api, canary, "header", "echo", "v2", "--wait", "--header", "x=y")
    later.join()
    # Gloo reports on the table: writes then watch for its verdict.
    route_table = api.get("routetables", NS, "echo-routes")
    route_table["status"] = {"statuses": {"gloo-system": {"state": "Accepted"}}}
    api.replace(route_table, manager="gloo")
    used["weight"] |= run_and_collect(api, canary, "weight", "echo", "30", "--gloo-timeout", "1s", "--force-conflicts")
    used["weight"] |= run_and_collect(api, canary, "weight", "nope", "30")  # not found: reads the namespace
    api.set_deployment_ready(NS, "echo-v1")
    used["shadow"] |= run_and_collect(api, canary, "shadow", "echo", "v1", "--percent", "5")  # refused: primary
    used["shadow"] |= run_and_collect(api, canary, "shadow", "echo", "v2", "--percent", "5", "--force-conflicts")
    used["shadow"] |= run_and_collect(api, canary, "shadow", "echo", "--off")
    used["shadow"] |= run_and_collect(api, canary, "shadow", "echo", "v2", "--percent", "5")
    used["history"] |= run_and_collect(api, canary, "history", "echo")
    migrate = ("migrate", "echo", "--to", "gateway-api", "--gateway", "infra/public:http")
    used["migrate"] |= run_and_collect(api, canary, *migrate, "--dry-run=server")
    used["finish"] |= run_and_collect(api, canary, "finish", "echo", "--keep-old", "--gloo-timeout", "0")
    used["finish"] |= run_and_collect(api, canary, "finish", "echo")  # leftovers: list and delete
    used["route"] |= run_and_collect(api, canary, "route", "echo", "--after", "finish")  # lists the leftovers
    used["header"] |= run_and_collect(api, canary, "header", "echo", "v3")
    api.set_deployment_ready(NS, "echo-v3")
    used["shadow"] |= run_and_collect(api, canary, "shadow", "echo", "v3")
    used["abort"] |= run_and_collect(api, canary, "abort", "echo", "--keep-canary", "--gloo-timeout", "0")
    used["abort"] |= run_and_collect(api, canary, "abort", "echo")
    used["abort"] |= run_and_collect(api, canary, "abort", "nope")

    # The same on the Gateway API router: HTTPRoutes, a Service per version, the Gateway.
    gw = ("-n", "shop")
    used["init"] |= run_and_collect(api, canary, "init", "web", *gw, "--create-namespace", "--router", "gateway-api",
                                    "--gateway", "infra/public:http")
    api.set_deployment_ready("shop", "web-v1")
    used["header"] |= run_and_collect(api, canary, "header", "web", "v2", *gw)
    api.set_deployment_ready("shop", "web-v2")
    used["weight"] |= run_and_collect(api, canary, "weight", "web", "30", *gw, "--gloo-timeout", "5s")
    used["shadow"] |= run_and_collect(api, canary, "shadow", "web", "v3", *gw, "--force")  # no v3: refused
    api.create({**copy.deepcopy(api.get("deployments", "shop", "web-v2")), "metadata": {
        "name": "web-v3", "namespace": "shop", "labels": {"app": "web", "version": "v3"}}})
    api.set_deployment_ready("shop", "web-v3")
    used["shadow"] |= run_and_collect(api, canary, "shadow", "web", "v3", *gw)
    used["shadow"] |= run_and_collect(api, canary, "shadow", "web", "--off", *gw)
    used["status"] |= run_and_collect(api, canary, "status", "web", *gw)
    used["route"] |= run_and_collect(api, canary, "route", "web", *gw, "--after", "finish")
    used["history"] |= run_and_collect(api, canary, "history", "web", *gw)
    used["finish"] |= run_and_collect(api, canary, "finish", "web", *gw)
    used["header"] |= run_and_collect(api, canary, "header", "web", "v4", *gw)
    used["abort"] |= run_and_collect(api, canary, "abort", "web", *gw)

    for name, requests in used.items():
        assert requests <= declared(name), f"{name} asked for undeclared {requests - declared(name)}"
    all_declared = set().union(*(declared(c.name) for c in COMMANDS))
    all_used = set().union(*used.values())
    assert all_declared == all_used


def test_forbidden_names_the_refused_request_and_the_needs(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    api.forbid("patch", "routetables")
    result = canary("weight", "echo", "20", "--force")
    assert result.code == 1
    assert result.err == (
        "error: forbidden: cannot patch routetables.gateway.solo.io in namespace echo; weight needs: "
        "create events; get/list/patch/watch routetables.gateway.solo.io; "
        "get/list/patch/watch httproutes.gateway.networking.k8s.io; get deployments.apps; "
        "delete upstreams.gloo.solo.io; get namespaces "
        "(kubectl canary rbac prints a Role that grants them)\n"
    )


def test_namespace_reads_may_be_forbidden(api, canary):
    api.forbid("get", "namespaces")
    result = canary("init", "echo")
    assert result.code == 0, result.err
    missing = canary("weight", "nope", "10")
    assert missing.err.startswith("error: app nope not found in namespace echo")


def test_virtual_service_list_may_be_forbidden(api, canary):
    api.forbid("list", "virtualservices")
    canary("init", "echo")
    result = canary("status", "echo", "-o", "yaml")
    assert "delegatedBy" not in yaml.safe_load(result.out)


@pytest.mark.parametrize("subject", [[], ["--user", "jane"], ["--group", "ops"], ["--serviceaccount", "ci:deployer"]])
def test_rbac_prints_role_and_binding_from_the_declared_permissions(canary, subject):
    result = canary("rbac", "echo", "-n", "echo", *subject)
    assert result.code == 0, result.err
    objects = list(yaml.safe_load_all(result.out))
    assert [o["kind"] for o in objects] == ["Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"]
    namespaced = {(verb, rule["resources"][0]) for rule in objects[0]["rules"] for verb in rule["verbs"]}
    expected = {
        (v, p.resource.plural) for p in merged([c.permissions for c in COMMANDS]) if not p.cluster_wide for v in p.verbs
    }
    assert namespaced == expected
    assert objects == rbac_objects("echo", "echo", objects[1]["subjects"][0])
    kinds = {"": "ServiceAccount", "--user": "User", "--group": "Group", "--serviceaccount": "ServiceAccount"}
    assert objects[1]["subjects"][0]["kind"] == kinds[subject[0] if subject else ""]


def test_rbac_serviceaccount_must_name_a_namespace(canary):
    result = canary("rbac", "echo", "--serviceaccount", "deployer")
    assert result.code == 2
    assert result.err.startswith("error: invalid --serviceaccount 'deployer': use NAMESPACE:NAME")


def granted_rules(api, canary, *args: str) -> list[dict]:
    """The Role's and ClusterRole's rules `rbac` prints."""
    result = canary("rbac", "echo", "-n", "echo", *args)
    assert result.code == 0, result.err
    objects = list(yaml.safe_load_all(result.out))
    return [*objects[0]["rules"], *objects[2]["rules"]]


def granted(rules: list[dict]) -> set[tuple[str, str]]:
    return {(verb, resource) for rule in rules for resource in rule["resources"] for verb in rule["verbs"]}


GLOO_FLOW = (
    ("init", "echo"), ("init", "web", "-n", "web", "--create-namespace"), ("status", "echo"), ("status", "-A"),
    ("status", "echo", "--watch", "--timeout", "1s"),
    ("header", "echo", "v2", "--wait", "--timeout", "20s"), ("weight", "echo", "30", "--gloo-timeout", "1s"),
    ("weight", "nope", "30"), ("shadow", "echo", "v2", "--percent", "5"), ("shadow", "echo", "--off"),
    ("shadow", "echo", "v2", "--percent", "5"), ("history", "echo"), ("finish", "echo", "--keep-old"),
    ("finish", "echo"), ("header", "echo", "v3"), ("abort", "echo", "--keep-canary"), ("abort", "echo"),
    ("adopt", "echo", "v2"),  # an app init made: adopt only reads, and changes nothing
)
GATEWAY_FLOW = (
    ("init", "web", "-n", "shop", "--create-namespace", "--router", "gateway-api", "--gateway", "infra/public:http"),
    ("status", "web", "-n", "shop"), ("status", "-A"),
    ("header", "web", "v2", "-n", "shop", "--wait", "--timeout", "20s"),
    ("weight", "web", "30", "-n", "shop", "--gloo-timeout", "5s"), ("weight", "nope", "30", "-n", "shop"),
    ("shadow", "web", "v2", "-n", "shop", "--percent", "5"), ("shadow", "web", "--off", "-n", "shop"),
    ("history", "web", "-n", "shop"), ("finish", "web", "-n", "shop"), ("header", "web", "v4", "-n", "shop"),
    ("abort", "web", "-n", "shop"),
)


@pytest.mark.parametrize("router", ["gloo", "gateway-api"])
def test_rbac_for_one_router_grants_exactly_what_its_commands_use(api, platform, gateway, canary, router):
    """Bound to `rbac --router R` alone, every command on an app of R works, and every rule is used; the
    other router's kinds answer 403, which the commands take as "no app there"."""
    from tests.fake_apiserver.kubelet import Kubelet

    rules = granted_rules(api, canary, "--router", router)
    api.grant(rules)
    api.clear_requests()
    with Kubelet(api, delay=0.05):
        for command in GLOO_FLOW if router == "gloo" else GATEWAY_FLOW:
            result = canary(*command)
            if command[1] == "nope":  # on no router it may read: it may be on the other, so its 403 stays
                assert result.code == 1 and result.err.startswith("error: forbidden: cannot get "), result.err
                continue
            assert result.code in ((0, 1) if command[0] == "status" else (0,)), (command, result.err)
            assert "forbidden" not in result.err, (command, result.err)
    other = {"gloo": {"httproutes"}, "gateway-api": {"routetables"}}
    refused = [r for r in api.requests if r.status == 403]
    assert {PATH.match(r.path)["plural"] for r in refused} == other[router]  # the other router's lookups
    assert {r.method for r in refused} == {"GET"}  # never a write
    used = set()
    for request in (r for r in api.requests if r.status != 403):
        match = PATH.match(request.path)
        assert match, request.path
        plural, name = match["plural"], match["name"]
        verb = ("watch" if request.query.get("watch") in ("true", "1") else ("get" if name else "list")) \
            if request.method == "GET" else {"PATCH": "patch", "POST": "create", "DELETE": "delete"}[request.method]
        used.add((verb, plural))
        if request.method == "PATCH" and request.status == 201:
            used.add(("create", plural))
    assert used == granted(rules)


def test_rbac_by_default_grants_what_the_cluster_serves_with_one_discovery_request(api, canary):
    api.clear_requests()
    both = granted_rules(api, canary)
    assert [(r.method, r.path) for r in api.requests] == [("GET", "/apis")]
    assert granted(both) == granted(granted_rules(api, canary, "--router", "gloo")) | granted(
        granted_rules(api, canary, "--router", "gateway-api"))
    assert {"routetables", "httproutes"} <= {resource for _, resource in granted(both)}
    api.unserve("gateway.networking.k8s.io")
    assert granted_rules(api, canary) == granted_rules(api, canary, "--router", "gloo")
    api.clear_requests()
    granted_rules(api, canary, "--router", "gloo")
    assert api.requests == []  # with --router: nothing is sent


def test_rbac_without_a_cluster_grants_both_and_says_so(tmp_path, monkeypatch, capsys):
    from kubectl_canary.cli import main

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["rbac", "echo", "-n", "echo"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith("warning: cannot ask the cluster which gateways it serves (")
    assert err.endswith("the Role grants what both routers need (--router gloo|gateway-api picks one)\n")
    rules = next(iter(yaml.safe_load_all(out)))["rules"]
    assert {"routetables", "httproutes"} <= {resource for rule in rules for resource in rule["resources"]}
