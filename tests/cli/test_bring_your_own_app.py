"""Apps the plugin did not make: RouteTable `team-a` shared by three apps and foreign routes, the Upstreams
Gloo's discovery made (team-a-APP-80 in gloo-system), Deployments named freely or without a version label."""

from __future__ import annotations

import copy
import json
import os
import shlex
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path

import pytest
import yaml

from kubectl_canary.cli import main
from kubectl_canary.kube.cluster import ConnectionOptions, connect
from kubectl_canary.model.rollout import shift_weight
from kubectl_canary.request_routing.gateway_api import route_request as gateway_route_request
from kubectl_canary.request_routing.gloo import route_request
from kubectl_canary.request_routing.requests import Request
from kubectl_canary.routers import read_rollout
from kubectl_canary.routers.gloo import parse_routes
from kubectl_canary.workflow.route_updates import update_routes
from tests.fake_apiserver import Fault

NS = "team-a"
TEAM = ("-n", NS)
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
PLUGIN = str(Path(sys.executable).parent / "kubectl-canary")


def upstream_ref(app: str) -> dict:
    return {"name": f"team-a-{app}-80", "namespace": "gloo-system"}


def to(app: str, version: str | None = None) -> dict:
    destination: dict = {"upstream": upstream_ref(app)}
    if version:
        destination["subset"] = {"values": {"version": version}}
    return {"single": destination}


HEALTHZ = {"name": "healthz", "matchers": [{"exact": "/healthz"}], "directResponseAction": {"status": 200}}
ECHO = {"name": "echo", "matchers": [{"prefix": "/echo"}], "routeAction": to("echo")}
CART = {"name": "cart", "matchers": [{"prefix": "/cart"}], "routeAction": to("cart", "v1")}
SEARCH = {"matchers": [{"prefix": "/search"}], "routeAction": to("search", "v1")}  # unnamed
LEGACY = {"name": "legacy", "matchers": [{"prefix": "/"}],
          "routeAction": {"single": {"upstream": {"name": "legacy", "namespace": "gloo-system"}}}}
TABLE_ROUTES = [HEALTHZ, ECHO, CART, SEARCH, LEGACY]
CART_FLAGS = ("--route-table", "team-a", "--upstream", "gloo-system/team-a-cart-80", "--deployment", "cart-stable")
SEARCH_FLAGS = ("--route-table", "team-a", "--upstream", "gloo-system/team-a-search-80", "--deployment", "search")
ECHO_FLAGS = ("--route-table", "team-a", "--upstream", "gloo-system/team-a-echo-80", "--deployment", "echo")


def deployment(name: str, labels: dict, selector: dict) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": dict(labels)},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": dict(labels)},
                         "spec": {"containers": [{"name": "app", "image": f"registry.example/{name}:1"}]}},
        },
    }


@pytest.fixture
def team(api) -> None:
    """Namespace team-a as a platform team runs it, with objects made by hand, Helm and Gloo's discovery."""
    api.ensure_namespace(NS)
    api.ensure_namespace("gloo-system")
    for app in ("echo", "cart", "search"):
        api.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "namespace": NS},
                    "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]}})
        api.create({"apiVersion": "gloo.solo.io/v1", "kind": "Upstream",
                    "metadata": {**upstream_ref(app), "labels": {"discovered_by": "kubernetesplugin"}},
                    "spec": {"kube": {"serviceName": app, "serviceNamespace": NS, "servicePort": 80,
                                      "selector": {"app": app}}}}, manager="discovery")
    # echo: pods labelled `app: echo` only; cart: a freely named Deployment; search: named like the app.
    api.create(deployment("echo", {"app": "echo"}, {"app": "echo"}), manager="helm")
    api.create(deployment("cart-stable", {"app": "cart", "version": "v1"}, {"app": "cart", "version": "v1"}))
    api.create(deployment("search", {"app": "search", "version": "v1"}, {"app": "search", "version": "v1"}))
    for name in ("echo", "cart-stable", "search"):
        api.set_deployment_ready(NS, name)
    api.create({"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
                "metadata": {"name": "team-a", "namespace": NS, "labels": {"apiGroup": "example"}},
                "spec": {"routes": copy.deepcopy(TABLE_ROUTES)}}, manager=None)  # written by hand, long ago


def table(api) -> dict:
    return api.get("routetables", NS, "team-a")


def routes(api) -> list[dict]:
    return table(api)["spec"]["routes"]


def record(api) -> dict:
    return json.loads(table(api)["metadata"]["annotations"]["kubectl-canary.io/apps"])


def writes(api) -> list:
    return [r for r in api.requests if r.method in WRITES]


def header_route(app: str, version: str, prefix: str, name: str | None = None) -> dict:
    return {"name": name or f"{app}-canary-header",
            "matchers": [{"prefix": prefix, "headers": [{"name": "stage", "value": "canary"}]}],
            "routeAction": to(app, version)}


def test_without_names_an_app_the_plugin_did_not_make_is_not_found(api, team, canary):
    api.clear_requests()
    result = canary("header", "cart", "v2", *TEAM)
    assert result.code == 1
    assert result.err.startswith("error: app cart not found in namespace team-a")
    assert result.err.count("\n") == 1
    assert writes(api) == []


def test_a_freely_named_deployment_in_a_shared_table_rolls_out_and_only_its_routes_move(api, team, canary):
    before = copy.deepcopy(routes(api))
    result = canary("header", "cart", "v2", *TEAM, *CART_FLAGS)
    assert result.code == 0, result.err
    assert routes(api) == [HEALTHZ, ECHO, header_route("cart", "v2", "/cart"), CART, SEARCH, LEGACY]
    assert record(api) == {"cart": {"deployments": {"v1": "cart-stable"}, "routeName": "cart",
                                    "upstream": "gloo-system/team-a-cart-80"}}
    v2 = api.get("deployments", NS, "cart-v2")
    assert v2["spec"]["selector"]["matchLabels"] == {"app": "cart", "version": "v2"}
    assert v2["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/cart-stable:1"
    assert api.get("upstreams", "gloo-system", "team-a-cart-80")["spec"]["kube"]["subsetSpec"] == {
        "selectors": [{"keys": ["version"]}]}

    # Recorded: no flags from now on.
    api.set_deployment_ready(NS, "cart-v2")
    assert canary("weight", "cart", "25", *TEAM).code == 0
    weighted = routes(api)
    assert weighted[3]["routeAction"]["multi"]["destinations"] == [
        {"destination": to("cart", "v1")["single"], "weight": 75},
        {"destination": to("cart", "v2")["single"], "weight": 25},
    ]
    # The routing model: no request of another app (or of no app) goes anywhere else.
    for path in ("/echo", "/echo/x", "/search", "/search/q", "/healthz", "/", "/other"):
        for headers in ({}, {"stage": "canary"}):
            request = Request(path, headers=headers)
            assert route_request(weighted, request) == route_request(before, request), request

    status = json.loads(canary("status", "-A", "-o", "json").out)
    [cart] = [item for item in status["items"] if item["app"] == "cart"]
    assert cart["primary"]["version"] == "v1" and cart["primary"]["ready"] == 2  # read from cart-stable
    assert canary("status", "cart", *TEAM).code == 0

    finished = canary("finish", "cart", *TEAM)
    assert finished.code == 0, finished.err
    assert "deployment cart-stable of v1 takes no traffic" in finished.err
    assert api.get("deployments", NS, "cart-stable") is not None  # theirs: left for them to retire
    assert routes(api) == [HEALTHZ, ECHO, {**CART, "routeAction": to("cart", "v2")}, SEARCH, LEGACY]
    assert record(api) == {"cart": {"routeName": "cart", "upstream": "gloo-system/team-a-cart-80"}}


def test_an_unnamed_route_found_by_its_upstream(api, team, canary):
    result = canary("header", "search", "v2", *TEAM, *SEARCH_FLAGS)
    assert result.code == 0, result.err
    # The unnamed route gets the plugin's name, so it is found by name from now on.
    assert routes(api) == [HEALTHZ, ECHO, CART, header_route("search", "v2", "/search"),
                           {"name": "search-primary", **SEARCH}, LEGACY]
    assert record(api) == {"search": {"deployments": {"v1": "search"}, "upstream": "gloo-system/team-a-search-80"}}
    api.set_deployment_ready(NS, "search-v2")
    assert canary("weight", "search", "50", *TEAM).code == 0
    # Back to the primary: the guard reads the primary's own Deployment (search, not search-v1).
    api.set_deployment_ready(NS, "search", 0)
    refused = canary("abort", "search", *TEAM)
    assert refused.code == 1 and "deployment search" in refused.err, refused.err
    api.set_deployment_ready(NS, "search")
    aborted = canary("abort", "search", *TEAM)
    assert (aborted.code, aborted.err) == (0, "")
    assert routes(api) == [HEALTHZ, ECHO, CART, {"name": "search-primary", **SEARCH}, LEGACY]
    assert api.get("deployments", NS, "search-v2") is None
    assert api.get("deployments", NS, "search") is not None


def _with_admin_route(api) -> dict:
    admin = {"name": "cart-admin", "matchers": [{"prefix": "/cart/admin"}], "routeAction": to("cart", "v1")}
    shared = table(api)
    shared["spec"]["routes"].insert(2, admin)
    api.delete("routetables", NS, "team-a")
    metadata = {"name": "team-a", "namespace": NS}
    api.create({k: shared[k] for k in ("apiVersion", "kind", "spec")} | {"metadata": metadata}, manager=None)
    return admin


def test_every_route_to_the_upstream_is_the_apps_and_moves(api, team, canary):
    admin = _with_admin_route(api)
    result = canary("header", "cart", "v2", *TEAM, *CART_FLAGS)
    assert result.code == 0, result.err
    assert routes(api)[2:6] == [header_route("cart", "v2", "/cart/admin", "cart-admin-canary-header"), admin,
                                header_route("cart", "v2", "/cart", "cart-canary-header"), CART]
    # Found by the recorded upstream, not by a route name: a route added later to it is the app's too.
    assert record(api) == {"cart": {"deployments": {"v1": "cart-stable"}, "upstream": "gloo-system/team-a-cart-80"}}
    assert canary("abort", "cart", *TEAM).code == 0
    assert routes(api) == [HEALTHZ, ECHO, admin, CART, SEARCH, LEGACY]


def test_route_name_limits_the_app_to_that_route(api, team, canary):
    admin = _with_admin_route(api)
    api.clear_requests()
    assert canary("header", "cart", "v2", *TEAM, *CART_FLAGS, "--route-name", "cart").code == 0
    assert routes(api)[2:5] == [admin, header_route("cart", "v2", "/cart"), CART]
    assert record(api)["cart"]["routeName"] == "cart"  # later commands keep to it without the flag
    api.set_deployment_ready(NS, "cart-v2")
    assert canary("weight", "cart", "10", *TEAM).code == 0
    assert routes(api)[2] == admin


def test_a_route_without_version_subsets_asks_for_adopt(api, team, canary):
    api.clear_requests()
    result = canary("header", "echo", "v2", *TEAM, *ECHO_FLAGS)
    assert result.code == 1
    assert result.err == (
        "error: route 'echo' of echo sends traffic to upstream team-a-echo-80 without a version subset, so no "
        "version can be told apart; adopt the app first: kubectl canary adopt echo v1 (see its --help)\n"
    )
    assert writes(api) == []


def test_a_primary_whose_selector_ignores_the_version_is_refused(api, team, canary):
    search = api.get("deployments", NS, "search")
    search["spec"]["selector"] = {"matchLabels": {"app": "search"}}
    api.replace(search, manager=None)
    api.clear_requests()
    result = canary("header", "search", "v2", *TEAM, *SEARCH_FLAGS)
    assert result.code == 1
    assert result.err == (
        "error: deployment search selects its pods without the version label, so it would also select the canary's "
        "pods; give search a Deployment per version first: kubectl canary adopt search v1 --deployment search "
        "--dry-run (shows every object it would touch)\n"
    )
    assert writes(api) == []


@pytest.mark.parametrize("command", [("header", "cart", "v2", *CART_FLAGS), ("adopt", "cart", "v1", *CART_FLAGS)])
def test_a_subset_spec_discovery_would_write_over_ours_is_refused(api, team, canary, command):
    service = api.get("services", NS, "cart")
    config = {"kube": {"subset_spec": {"selectors": [{"keys": ["color"]}]}}}
    service["metadata"]["annotations"] = {"gloo.solo.io/upstream_config": json.dumps(config)}
    api.replace(service)
    api.clear_requests()
    result = canary(*command, *TEAM)
    assert result.code == 1
    assert result.err == (
        "error: Service cart sets a subsetSpec without the version key in its annotation gloo.solo.io/upstream_config, "
        "and Gloo's discovery writes that subsetSpec over upstream team-a-cart-80 on every resync, so routes to a "
        "version would find no pods; add 'version' to the subset keys there first\n"
    )
    assert writes(api) == []


def test_adopt_dry_run_shows_every_object_and_writes_nothing(api, team, canary):
    api.clear_requests()
    result = canary("adopt", "echo", "v1", *TEAM, *ECHO_FLAGS, "--dry-run=client", "-o", "json")
    assert result.code == 0, result.err
    assert writes(api) == []
    items = json.loads(result.out)["items"]
    assert [(i["kind"], i["metadata"]["name"]) for i in items] == [
        ("Upstream", "team-a-echo-80"), ("Deployment", "echo-v1"), ("RouteTable", "team-a")]
    assert items[1]["spec"]["selector"]["matchLabels"] == {"app": "echo", "version": "v1"}
    assert items[2]["spec"]["routes"] == [HEALTHZ, {**ECHO, "routeAction": to("echo", "v1")}, CART, SEARCH, LEGACY]


def test_adopt_then_a_canary_once_the_old_deployment_is_gone(api, team, canary):
    not_ready = canary("adopt", "echo", "v1", *TEAM, *ECHO_FLAGS)
    assert not_ready.code == 1
    assert not_ready.err.startswith("error: deployment echo-v1 has 0/2 ready replicas, so the route still sends")
    assert routes(api) == TABLE_ROUTES  # the guard: no traffic moves to pods that are not ready
    api.set_deployment_ready(NS, "echo-v1")
    adopted = canary("adopt", "echo", "v1", *TEAM, *ECHO_FLAGS)
    assert adopted.code == 0, adopted.err
    assert "deployment echo still runs" in adopted.err
    assert routes(api) == [HEALTHZ, {**ECHO, "routeAction": to("echo", "v1")}, CART, SEARCH, LEGACY]
    assert record(api) == {"echo": {"adoptedFrom": "echo", "routeName": "echo",
                                    "upstream": "gloo-system/team-a-echo-80"}}
    assert api.get("deployments", NS, "echo") is not None

    refused = canary("header", "echo", "v2", *TEAM)
    assert refused.code == 1
    assert refused.err.startswith("error: deployment echo, which echo was adopted from, still exists")
    api.delete("deployments", NS, "echo")
    assert canary("header", "echo", "v2", *TEAM).code == 0
    assert routes(api)[1:3] == [header_route("echo", "v2", "/echo"), {**ECHO, "routeAction": to("echo", "v1")}]
    api.set_deployment_ready(NS, "echo-v2")
    finished = canary("finish", "echo", *TEAM)
    assert (finished.code, finished.err) == (0, "")
    assert api.get("deployments", NS, "echo-v1") is None  # made by adopt: retired as any version the plugin made
    assert routes(api) == [HEALTHZ, {**ECHO, "routeAction": to("echo", "v2")}, CART, SEARCH, LEGACY]


def weigh(kubeconfig, app: str, percent: int) -> None:
    cluster, _ = connect(ConnectionOptions(kubeconfig=str(kubeconfig)), field_manager="kubectl-canary", dry_run="none")
    update_routes(cluster, NS, app, lambda state: shift_weight(state, Fraction(percent)), force=True)


def test_two_apps_of_one_table_changed_at_once_both_land_every_time(api, team, canary, kubeconfig):
    assert canary("header", "cart", "v2", *TEAM, *CART_FLAGS).code == 0
    assert canary("header", "search", "v2", *TEAM, *SEARCH_FLAGS).code == 0
    for round_ in range(20):
        cart, search = 1 + round_, 99 - round_
        # The first write stalls until the other command has read and written: it lands on a table that
        # changed since it was read (409), and must re-read and recompute.
        api.inject_fault(Fault.delay(0.3), method="PATCH", path_contains="/routetables/team-a", times=1)
        threads = [threading.Thread(target=weigh, args=(kubeconfig, app, percent))
                   for app, percent in (("cart", cart), ("search", search))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        live = routes(api)
        assert parse_routes("cart", live, route_name="cart").state.weight == cart, round_
        assert parse_routes("search", live).state.weight == search, round_
        assert [r.get("name") for r in live] == [
            "healthz", "echo", "cart-canary-header", "cart", "search-canary-header", "search-primary", "legacy"]
    conflicts = [r for r in api.requests if r.method == "PATCH" and r.status == 409]
    assert len(conflicts) >= 20, "the writes did not race every round"
    assert set(record(api)) == {"cart", "search"}  # the record too: one annotation, both apps
    cluster, _ = connect(ConnectionOptions(kubeconfig=str(kubeconfig)), field_manager="kubectl-canary", dry_run="none")
    assert read_rollout(cluster, NS, "cart").state.weight == 20


def test_two_processes_on_two_apps_of_one_table_both_land(api, team, canary, kubeconfig):
    """The same through the installed plugin, as two people would run it."""
    assert canary("header", "cart", "v2", *TEAM, *CART_FLAGS).code == 0
    assert canary("header", "search", "v2", *TEAM, *SEARCH_FLAGS).code == 0
    for name in ("cart-v2", "search-v2"):
        api.set_deployment_ready(NS, name)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    for round_ in range(4):
        cart, search = 10 + round_, 90 - round_
        # The first write stalls long enough for the other process to start, read and write.
        api.inject_fault(Fault.delay(0.5), method="PATCH", path_contains="/routetables/team-a", times=1)
        processes = [subprocess.Popen([PLUGIN, "weight", app, str(percent), *TEAM, "--route-table", "team-a"],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for app, percent in (("cart", cart), ("search", search))]
        for process in processes:
            _, err = process.communicate(timeout=60)
            assert process.returncode == 0, err
        live = routes(api)
        assert parse_routes("cart", live, route_name="cart").state.weight == cart, round_
        assert parse_routes("search", live).state.weight == search, round_


def test_requests_of_a_recorded_app(api, team, canary):
    """A recorded app costs two GETs (404: the derived names are asked first) and a LIST of the namespace's
    RouteTables; --route-table saves them."""
    assert canary("header", "cart", "v2", *TEAM, *CART_FLAGS).code == 0
    api.set_deployment_ready(NS, "cart-v2")
    api.clear_requests()
    assert canary("weight", "cart", "25", *TEAM).code == 0
    recorded = [(r.method, r.path.rsplit("/", 2)[-2:]) for r in api.requests]
    # Only the route objects that carry a record are listed, however many RouteTables the namespace has.
    assert api.requests[2].query.get("labelSelector") == "kubectl-canary.io/records-apps=true"
    assert table(api)["metadata"]["labels"]["kubectl-canary.io/records-apps"] == "true"
    api.clear_requests()
    assert canary("weight", "cart", "30", *TEAM, "--route-table", "team-a").code == 0
    named = [(r.method, r.path.rsplit("/", 2)[-2:]) for r in api.requests]
    write = [("GET", ["deployments", "cart-v2"]), ("PATCH", ["routetables", "team-a"]), ("POST", ["team-a", "events"])]
    assert recorded == [("GET", ["routetables", "cart-routes"]), ("GET", ["httproutes", "cart"]),
                        ("GET", ["team-a", "routetables"]), *write]  # 404, 404, then the LIST
    assert named == [("GET", ["routetables", "team-a"]), *write]


def test_history_of_an_app_on_a_shared_table_is_its_own(api, team, canary):
    assert canary("header", "cart", "v2", *TEAM, *CART_FLAGS).code == 0
    assert canary("header", "search", "v2", *TEAM, *SEARCH_FLAGS).code == 0
    rows = json.loads(canary("history", "cart", *TEAM, "-o", "json").out)["items"]
    assert [(r["reason"], r["message"].split(" by ")[0]) for r in rows] == [
        ("CanaryHeader", "stable on v1 -> v1, header stage=canary to v2")]


def test_init_leaves_an_app_recorded_on_a_shared_table_alone(api, team, canary):
    assert canary("header", "cart", "v2", *TEAM, *CART_FLAGS).code == 0
    api.clear_requests()
    result = canary("init", "cart", *TEAM)
    assert (result.code, result.err) == (0, "")
    assert result.out == "cart is already initialised in namespace team-a (RouteTable team-a exists); nothing changed\n"
    assert writes(api) == []


def test_adopt_of_an_app_init_made_changes_nothing(api, canary):
    assert canary("init", "echo").code == 0
    api.set_deployment_ready("echo", "echo-v1")
    before = api.get("routetables", "echo", "echo-routes")
    api.clear_requests()
    result = canary("adopt", "echo", "v1")
    assert (result.code, result.err) == (0, "")
    assert writes(api) == []
    assert api.get("routetables", "echo", "echo-routes") == before


def test_completion_offers_recorded_apps(api, team, canary, capsys):
    assert canary("header", "cart", "v2", *TEAM, *CART_FLAGS).code == 0
    capsys.readouterr()
    assert main(["__complete", "weight", "-n", NS, ""]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "cart\tgloo: header: v2 (primary v1)"
    assert main(["__complete", "header", "-n", NS, "cart", ""]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "v2"


def test_through_kubectl(api, team, kubectl):
    """kubectl hands the new flags to the plugin as they are."""
    result = kubectl("canary", "header", "cart", "v2", *TEAM, *CART_FLAGS)
    assert result.code == 0, result.err
    # A discovered Upstream has no subsetSpec, so Gloo's default fallback: said, not refused.
    assert result.err.startswith("warning: upstream team-a-cart-80 has fallbackPolicy ANY_ENDPOINT")
    assert routes(api)[2:4] == [header_route("cart", "v2", "/cart"), CART]
    status = kubectl("canary", "status", "cart", *TEAM, "-o", "json")
    assert json.loads(status.out)["canary"]["version"] == "v2"


def test_an_httproute_shared_by_two_apps(api, gateway, canary):
    """The Gateway API router: HTTPRoute `shop-public` holds the rules of web and api (--route)."""
    for app in ("web", "api"):
        assert canary("init", app, "--router", "gateway-api", "--gateway", "infra/public:http",
                      "--prefix", f"/{app}").code == 0
        api.set_deployment_ready("echo", f"{app}-v1")
    shared = copy.deepcopy(api.get("httproutes", "echo", "web"))
    shared["metadata"] = {"name": "shop-public", "namespace": "echo"}
    shared["spec"]["rules"] += api.get("httproutes", "echo", "api")["spec"]["rules"]
    shared.pop("status", None)
    for app in ("web", "api"):
        api.delete("httproutes", "echo", app)
    api.create(shared, manager=None)
    api_rules = copy.deepcopy(shared["spec"]["rules"][1:])

    assert canary("header", "web", "v2").code == 1  # not found without the name
    result = canary("header", "web", "v2", "--route", "shop-public")
    assert result.code == 0, result.err
    live = api.get("httproutes", "echo", "shop-public")
    assert json.loads(live["metadata"]["annotations"]["kubectl-canary.io/apps"]) == {"web": {}}
    assert [r["name"] for r in live["spec"]["rules"]] == ["web-canary-header", "web-primary", "api-primary"]
    assert live["spec"]["rules"][2:] == api_rules

    api.set_deployment_ready("echo", "web-v2")
    assert canary("weight", "web", "30").code == 0  # recorded: no flag
    live = api.get("httproutes", "echo", "shop-public")
    assert live["spec"]["rules"][2:] == api_rules
    # The Gateway API's precedence: api's requests (and requests of no app) go where they went.
    for path in ("/api", "/api/x", "/", "/other", "/apix"):
        for headers in ({}, {"stage": "canary"}):
            request = Request(path, headers=headers)
            assert gateway_route_request([live], request) == gateway_route_request([shared], request), request
    assert [ref["weight"] for ref in live["spec"]["rules"][1]["backendRefs"]] == [70, 30]
    status = json.loads(canary("status", "-o", "json").out)
    assert [(i["app"], i["route"]["name"]) for i in status["items"]] == [("web", "shop-public")]
    assert canary("finish", "web").code == 0
    assert api.get("httproutes", "echo", "shop-public")["spec"]["rules"][1:] == api_rules


def test_status_name_prints_the_shared_table_once_and_wide_its_apps(api, team, canary):
    assert canary("header", "cart", "v2", *TEAM, *CART_FLAGS).code == 0
    assert canary("header", "search", "v2", *TEAM, *SEARCH_FLAGS).code == 0
    assert canary("status", *TEAM, "-o", "name").out == "routetable.gateway.solo.io/team-a\n"
    wide = canary("status", *TEAM, "-o", "wide").out.splitlines()
    assert [line.split()[0] for line in wide] == ["APP", "cart", "search"]
    assert [line.split()[-3:] for line in wide[1:]] == [
        ["routetable/team-a", "gloo-system/team-a-cart-80", "<none>"],
        ["routetable/team-a", "gloo-system/team-a-search-80", "<none>"],
    ]


# --- adopt is the take-over ------------------------------------------------------------------------------------

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
README = Path(__file__).resolve().parents[2] / "README.md"
ADOPTED = [HEALTHZ, {**ECHO, "routeAction": to("echo", "v1")}, CART, SEARCH, LEGACY]


def table_body(routes_: list[dict], **metadata: dict) -> dict:
    return {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
            "metadata": {"name": "team-a", "namespace": NS, "labels": {"apiGroup": "example"}, **metadata},
            "spec": {"routes": copy.deepcopy(routes_)}}


def written_by(api, how: str) -> None:
    """RouteTable team-a as each way of writing it by hand leaves it (managedFields as a real server records)."""
    api.delete("routetables", NS, "team-a")
    if how == "kubectl apply":  # client-side: an Update by kubectl-client-side-apply, and the last-applied file
        body = table_body(TABLE_ROUTES)
        body["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(body, sort_keys=True)}
        api.create(body, manager="kubectl-client-side-apply")
    elif how == "kubectl apply --server-side":
        api.apply(table_body(TABLE_ROUTES), manager="kubectl")
    else:  # created by kubectl apply, then a route added with kubectl edit or kubectl patch
        api.create(table_body(TABLE_ROUTES[:-1]), manager="kubectl-client-side-apply")
        live = table(api)
        live["spec"]["routes"] = copy.deepcopy(TABLE_ROUTES)
        api.replace(live, manager={"kubectl edit": "kubectl-edit", "kubectl patch": "kubectl-patch"}[how])


def route_owners(api) -> list[str]:
    from kubectl_canary.model.managed_fields import owners_of

    return owners_of(table(api), ("spec", "routes"))


def route_applies(api) -> list[str | None]:
    return [r.query.get("force") for r in api.requests if r.method == "PATCH" and "/routetables/" in r.path]


@pytest.mark.parametrize(("how", "previous"), [
    ("kubectl apply", '"kubectl-client-side-apply" (kubectl apply)'),
    ("kubectl apply --server-side", '"kubectl" (kubectl apply --server-side)'),
    ("kubectl edit", '"kubectl-edit" (kubectl edit)'),
    ("kubectl patch", '"kubectl-patch" (kubectl patch)'),
])
def test_adopt_takes_over_routes_last_changed_by_hand_and_names_the_edit(api, team, canary, how, previous):
    written_by(api, how)
    assert route_owners(api) != []
    api.clear_requests()
    ready = threading.Timer(0.3, lambda: api.set_deployment_ready(NS, "echo-v1"))
    ready.start()
    result = canary("adopt", "echo", "v1", *TEAM, *ECHO_FLAGS, "--wait")
    ready.join()
    assert result.code == 0, result.err
    assert (f"note: the routes of RouteTable team-a were last changed by {previous}, a one-off edit: adopt takes "
            f"them over (kubectl canary is their field manager from now on; applying the old manifest again would "
            f"put its routes back)") in result.err.splitlines()
    assert "error" not in result.err
    assert routes(api) == ADOPTED
    assert route_owners(api) == ["kubectl-canary"]
    assert route_applies(api) == ["true"]  # forced exactly there: the Upstream and Deployment applies are not
    assert [r.query.get("force") for r in writes(api) if "/routetables/" not in r.path] == [None, None]
    # From now on the plugin owns the routes: the next commands need no flag at all.
    api.delete("deployments", NS, "echo")
    assert canary("header", "echo", "v2", *TEAM).code == 0
    assert routes(api)[1] == header_route("echo", "v2", "/echo")


@pytest.mark.parametrize(("owner", "who"), [
    ("helm", '"helm"'),
    ("argocd", '"argocd-controller", Argo CD (application shop; annotation argocd.argoproj.io/tracking-id)'),
    ("flux", '"kustomize-controller", Flux (Kustomization flux-system/apps; labels kustomize.toolkit.fluxcd.io/name '
             'and /namespace)'),
    ("server-side apply", '"platform-operator"'),
    ("argocd, then kubectl edit", "Argo CD (application shop; label argocd.argoproj.io/instance)"),
    ("helm release, then kubectl patch", "Helm (release team-a; annotation meta.helm.sh/release-name)"),
])
def test_adopt_refuses_routes_something_reconciles_before_any_write(api, team, canary, owner, who):
    api.delete("routetables", NS, "team-a")
    if owner == "helm":
        api.create(table_body(TABLE_ROUTES), manager="helm")
    elif owner == "argocd":
        tracking = {"argocd.argoproj.io/tracking-id": "shop:gateway.solo.io/RouteTable:team-a/team-a"}
        api.create(table_body(TABLE_ROUTES, annotations=tracking), manager="argocd-controller")
    elif owner == "flux":
        body = table_body(TABLE_ROUTES)
        body["metadata"]["labels"].update({"kustomize.toolkit.fluxcd.io/name": "apps",
                                           "kustomize.toolkit.fluxcd.io/namespace": "flux-system"})
        api.apply(body, manager="kustomize-controller")
    elif owner == "server-side apply":
        api.apply(table_body(TABLE_ROUTES), manager="platform-operator")
    else:  # a GitOps controller or Helm wrote it; a person edited the routes since
        body = table_body(TABLE_ROUTES[:-1])
        if owner.startswith("argocd"):
            body["metadata"]["labels"]["argocd.argoproj.io/instance"] = "shop"
        else:
            body["metadata"]["annotations"] = {"meta.helm.sh/release-name": "team-a"}
        api.create(body, manager="argocd-controller" if owner.startswith("argocd") else "helm")
        live = table(api)
        live["spec"]["routes"] = copy.deepcopy(TABLE_ROUTES)
        api.replace(live, manager="kubectl-edit" if owner.startswith("argocd") else "kubectl-patch")
    before = table(api)
    api.set_deployment_ready(NS, "echo")
    api.clear_requests()
    refused = canary("adopt", "echo", "v1", *TEAM, *ECHO_FLAGS, "--wait")
    assert refused.code == 1
    assert refused.err == (
        f"error: the routes of RouteTable team-a are managed by {who}, which will undo changes made here; adopt "
        f"takes over only routes last changed by hand (kubectl apply, edit, patch): change them in Git instead "
        f"(--local -f PATH, GitOps mode), or take them over with --force-conflicts\n")
    assert writes(api) == []
    assert table(api) == before
    assert api.get("deployments", NS, "echo-v1") is None
    # Told to, it takes them over (the owner will put its routes back at its next sync).
    forced = canary("adopt", "echo", "v1", *TEAM, *ECHO_FLAGS, "--force", "--force-conflicts")
    assert forced.code == 0, forced.err
    assert routes(api) == ADOPTED
    assert route_applies(api) == ["true"]


def test_adopt_dry_run_on_a_table_made_with_kubectl_apply_shows_the_take_over_and_writes_nothing(api, team, canary):
    written_by(api, "kubectl apply")
    api.clear_requests()
    result = canary("adopt", "echo", "v1", *TEAM, *ECHO_FLAGS, "--dry-run=client", "-o", "yaml")
    assert result.code == 0, result.err
    assert writes(api) == []
    assert result.err.startswith('note: the routes of RouteTable team-a were last changed by '
                                 '"kubectl-client-side-apply" (kubectl apply), a one-off edit: adopt takes them over')
    assert [d["kind"] for d in yaml.safe_load_all(result.out)] == ["Upstream", "Deployment", "RouteTable"]


def readme_commands() -> list[list[str]]:
    """The commands of the README's section "Using it on an app you already run", as printed there."""
    text = README.read_text().split("## Using it on an app you already run", 1)[1].split("What the flags mean", 1)[0]
    block = [line.strip() for line in text.splitlines() if line.startswith("    ")]
    joined = " ".join(line.split("#", 1)[0].strip() if line.startswith("kubectl delete") else line for line in block
                      if not line.startswith("#")).replace("\\ ", "")
    return [shlex.split("kubectl " + command) for command in joined.split("kubectl ") if command.strip()]


def test_the_readme_section_verbatim_on_a_table_made_with_kubectl_apply(api, team, canary):
    """Every command of the README's section, as printed, on RouteTable team-a as `kubectl apply` left it."""
    commands = readme_commands()
    assert [c[:3] for c in commands] == [
        ["kubectl", "canary", "adopt"], ["kubectl", "canary", "adopt"], ["kubectl", "delete", "deployment"],
        ["kubectl", "canary", "header"], ["kubectl", "canary", "weight"], ["kubectl", "canary", "status"],
        ["kubectl", "canary", "finish"], ["kubectl", "canary", "header"]]
    written_by(api, "kubectl apply")
    for command in commands:
        if command[1] == "delete":
            assert api.delete("deployments", NS, command[3]) is not None
            continue
        pods = threading.Timer(0.3, lambda: api.set_deployment_ready(NS, "echo-v1")) if "--wait" in command else None
        if pods:
            pods.start()
        result = canary(*command[2:])
        if pods:
            pods.join()
        assert result.code == 0, (command, result.err)
        assert "error" not in result.err, (command, result.err)
        if command[2] == "header" and command[3] == "echo":
            api.set_deployment_ready(NS, "echo-v2")  # the kubelet's part: its pods become ready
    assert routes(api) == [HEALTHZ, {**ECHO, "routeAction": to("echo", "v2")}, header_route("cart", "v2", "/cart"),
                           CART, SEARCH, LEGACY]
    assert api.get("deployments", NS, "echo-v1") is None and api.get("deployments", NS, "cart-v2") is not None
