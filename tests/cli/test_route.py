"""`route`: where requests go on the live routes, per phase, on both routers; --after equals what the verb
then writes; the status problems it shares (a header route canary requests do not reach, shares that
differ by path); bad input; the VirtualService and Gateway in front; offline modes."""

from __future__ import annotations

import copy
import json
import shutil

import pytest

from kubectl_canary.model.style import format_columns
from tests.gitops.golden import REPOS, files_of

NS = "echo"
GW_INIT = ("--router", "gateway-api", "--gateway", "infra/public:http")
HEADERS_ROW = "MATCH         REQUEST                   ROUTE               GOES TO"
GW_NOTE = ("note: HTTPRoute echo attaches to Gateway infra/public (listener http); other HTTPRoutes attached there "
           "also compete for these requests and are not read")
STABLE_NOTE = "note: echo is stable on {}: the canary request shows where header stage=canary goes today"


def table(*rows: str, match: str = "prefix /echo") -> list[str]:
    """The expected table: `route|goes to` of the plain, then of the canary request to /echo."""
    cells = [[match, request, *row.split("|")] for request, row in zip(("GET /echo", "GET /echo, stage: canary"), rows)]
    return format_columns(["MATCH", "REQUEST", "ROUTE", "GOES TO"], cells).splitlines()


def out_lines(result) -> list[str]:
    assert result.code == 0, result.err
    return result.out.splitlines()


def writes(api) -> list[str]:
    return [f"{r.method} {r.path}" for r in api.requests if r.method != "GET"]


# --- the walkthrough's phases --------------------------------------------------------------------------


def test_each_phase_on_gloo(api, platform, canary):
    assert canary("init", "echo").code == 0
    api.set_deployment_ready(NS, "echo-v1")
    assert out_lines(canary("route", "echo")) == [
        *table("echo-primary|v1 100%", "echo-primary|v1 100%"), STABLE_NOTE.format("v1")]
    assert canary("header", "echo", "v2").code == 0
    assert out_lines(canary("route", "echo")) == table("echo-primary|v1 100%", "echo-canary-header|v2 100%")
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("weight", "echo", "30").code == 0
    assert out_lines(canary("route", "echo")) == [
        HEADERS_ROW,
        "prefix /echo  GET /echo                 echo-primary        v1 70%, v2 30%",
        "prefix /echo  GET /echo, stage: canary  echo-canary-header  v2 100%",
    ]
    assert canary("finish", "echo").code == 0
    assert out_lines(canary("route", "echo")) == [
        *table("echo-primary|v2 100%", "echo-primary|v2 100%"), STABLE_NOTE.format("v2")]


def test_each_phase_on_the_gateway_api(api, gateway, canary):
    assert canary("init", "echo", *GW_INIT).code == 0
    api.set_deployment_ready(NS, "echo-v1")
    stable = table("echo-primary|v1 100%", "echo-primary|v1 100%", match="PathPrefix /echo")
    assert out_lines(canary("route", "echo")) == [*stable, GW_NOTE, STABLE_NOTE.format("v1")]
    assert canary("header", "echo", "v2").code == 0
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("weight", "echo", "10").code == 0
    assert out_lines(canary("route", "echo")) == [
        "MATCH             REQUEST                   ROUTE               GOES TO",
        "PathPrefix /echo  GET /echo                 echo-primary        v1 90%, v2 10%",
        "PathPrefix /echo  GET /echo, stage: canary  echo-canary-header  v2 100%",
        GW_NOTE,
    ]
    assert out_lines(canary("route", "echo", "--path", "/echo/a?x=1", "-H", "Stage=canary")) == [
        "request      GET /echo/a?x=1, stage: canary",
        "route        echo-canary-header (HTTPRoute echo/echo)",
        "matched by   PathPrefix /echo, header stage=canary",
        "precedence   PathPrefix of 5 characters, no method, 1 header, 0 query parameters",
        "goes to      v2 100%",
        "passed over  echo-primary: matches, but ranks below echo-canary-header on the number of headers: "
        "PathPrefix of 5 characters, no method, 0 headers, 0 query parameters against PathPrefix of 5 characters, "
        "no method, 1 header, 0 query parameters",
        GW_NOTE,
    ]
    assert out_lines(canary("route", "echo", "--path", "/echoes")) == [
        "request      GET /echoes",
        "route        none (no route: 404)",
        "passed over  echo-canary-header: path /echoes is not under PathPrefix /echo (whole path elements)",
        "             echo-primary: path /echoes is not under PathPrefix /echo (whole path elements)",
        GW_NOTE,
    ]


def test_one_request_through_the_virtual_service_in_front(api, platform, canary):
    """The VirtualService's routes stand before and after the table's (Gloo flattens delegation)."""
    vs = api.get("virtualservices", "gloo-system", "default")
    vs["spec"]["virtualHost"]["routes"].insert(0, {
        "matchers": [{"prefix": "/api"}], "routeAction": {"single": {"upstream": {"name": "api", "namespace": "a"}}}})
    api.replace(vs)
    assert canary("init", "echo").code == 0
    assert canary("header", "echo", "v2").code == 0
    assert out_lines(canary("route", "echo", "--path", "/echo/x", "--method", "post", "-H", "stage=beta")) == [
        "request      POST /echo/x, stage: beta",
        "route        echo-primary (RouteTable echo/echo-routes)",
        "matched by   prefix /echo",
        "goes to      v1 100%",
        "passed over  #1 (unnamed) of VirtualService gloo-system/default: path /echo/x does not start with prefix /api",
        "             echo-canary-header: header stage is 'beta', not 'canary'",
    ]
    assert out_lines(canary("route", "echo", "--path", "/api/echo"))[1] == (
        "route        #1 (unnamed) of VirtualService gloo-system/default (VirtualService gloo-system/default)")
    body = json.loads(canary("route", "echo", "-H", "stage=canary", "-o", "json").out)
    assert body == {
        "app": "echo", "namespace": NS, "router": "gloo",
        "request": {"method": "GET", "path": "/echo", "headers": {"stage": "canary"}, "query": {}},
        "route": "echo-canary-header", "in": "RouteTable echo/echo-routes",
        "matchedBy": "prefix /echo, header stage=canary",
        "destinations": [{"version": "v2", "backend": "upstream echo/echo (version=v2)", "percent": 100}],
        "passedOver": [{"route": "#1 (unnamed) of VirtualService gloo-system/default",
                        "reason": "path /echo does not start with prefix /api"}],
    }


def test_unreadable_virtual_services_and_gateways_are_notes(api, gateway, canary):
    api.forbid("list", "virtualservices")
    assert canary("init", "echo").code == 0
    assert out_lines(canary("route", "echo"))[-2] == (
        "note: VirtualServices not readable: only the routes of RouteTable echo-routes are shown")
    assert canary("init", "web", *GW_INIT).code == 0
    api.forbid("get", "gateways")
    assert out_lines(canary("route", "web"))[-2] == (
        "note: Gateway infra/public not readable: where it listens is not shown")


def test_without_a_virtual_service_the_table_alone_and_a_note(api, canary):
    assert canary("init", "echo").code == 0
    assert out_lines(canary("route", "echo"))[-2] == (
        "note: no VirtualService delegates to RouteTable echo-routes: requests do not reach it (the table's routes "
        "are shown alone)")


# --- --after: what the verb would write, written by nothing ----------------------------------------------


GLOO_STEPS = [("header", "v2"), ("weight", "30"), ("shadow", "v2", "--percent", "5"), ("weight", "100"),
              ("finish",), ("header", "v3", "--header", "x-canary=yes"), ("abort",)]
GW_STEPS = [("header", "v2"), ("weight", "0.1"), ("shadow", "v2", "--percent", "5"), ("shadow", "--off"),
            ("weight", "50"), ("abort",), ("header", "v4"), ("finish",)]


@pytest.mark.parametrize("init, steps", [((), GLOO_STEPS), (GW_INIT, GW_STEPS)], ids=["gloo", "gateway-api"])
def test_after_answers_what_the_verb_then_writes(api, platform, gateway, canary, init, steps):
    assert canary("init", "echo", *init).code == 0
    api.set_deployment_ready(NS, "echo-v1")
    for step in steps:
        for version in ("v2", "v3", "v4"):
            if api.get("deployments", NS, f"echo-{version}") is not None:
                api.set_deployment_ready(NS, f"echo-{version}")
        api.clear_requests()
        predicted = canary("route", "echo", "--after", " ".join(step))
        json_predicted = canary("route", "echo", "--after", " ".join(step), "-o", "json", "-H", "stage=canary")
        assert predicted.code == 0, (step, predicted.err)
        assert predicted.err.endswith(f"after {' '.join(step)}: computed, nothing written\n")
        assert writes(api) == [], step
        done = canary(*step[:1], "echo", *step[1:])
        assert done.code == 0, (step, done.err)
        assert canary("route", "echo").out == predicted.out, step
        assert canary("route", "echo", "-o", "json", "-H", "stage=canary").out == json_predicted.out, step


def test_after_keeps_the_verbs_guards_and_writes_nothing(api, platform, canary):
    assert canary("init", "echo").code == 0
    assert canary("header", "echo", "v2").code == 0
    before = api.get("routetables", NS, "echo-routes")["metadata"]["resourceVersion"]
    api.clear_requests()
    refused = canary("route", "echo", "--after", "weight 30")
    assert (refused.code, refused.out) == (1, "")
    assert refused.err == (
        "error: weight 30 would be refused: deployment echo-v2 has 0/1 ready replicas, so v2 cannot serve traffic "
        "yet; wait (kubectl rollout status deployment/echo-v2) or pass --force\n")
    assert writes(api) == []
    forced = canary("route", "echo", "--after", "weight echo 30 --force")
    assert forced.code == 0 and "v1 70%, v2 30%" in forced.out
    assert writes(api) == [] and api.get("routetables", NS, "echo-routes")["metadata"]["resourceVersion"] == before
    assert canary("route", "echo", "--after", "abort").code == 0  # would delete echo-v2: does not
    assert writes(api) == [] and api.get("deployments", NS, "echo-v2") is not None
    assert canary("route", "echo", "--after", "header v3").err == (
        "error: header v3 would be refused: echo already has canary v2 in progress; finish or abort it first "
        "(kubectl canary finish|abort echo)\n")


@pytest.mark.parametrize("args, error", [
    (["--path", "echo"], "error: invalid --path 'echo': a path starts with / (for example /echo/api)"),
    (["-H", "stage"], "error: invalid -H 'stage': use NAME=VALUE (for example stage=canary)"),
    (["-H", "sta ge=x"], "error: invalid -H 'sta ge=x': use NAME=VALUE (for example stage=canary)"),
    (["--method", "FETCH"], "error: argument --method: invalid choice: 'FETCH' (choose from 'GET', 'HEAD', 'POST', "
                            "'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'); see 'kubectl canary route "
                            "--help'"),
    (["--after", "init"], "error: --after takes a routing verb and its arguments (header, weight, finish, abort, "
                          "shadow), e.g. --after 'weight 30'; not 'init'"),
    (["--after", "weight"], "error: invalid --after 'weight': the following arguments are required: PERCENT; see "
                            "'kubectl canary weight --help'"),
    (["--after", "weight 'x"], "error: invalid --after \"weight 'x\": No closing quotation"),
    (["--after", "weight 10 --step 5"], "error: --after answers for one change: give the final weight, without "
                                        "--step/--steps"),
    (["-f", "deploy/"], "error: -f works with --local (read manifest files, not the cluster)"),
    (["--local"], "error: --local needs -f PATH: the manifests to read"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_sent(api, canary, args, error):
    api.clear_requests()
    result = canary("route", "echo", *args)
    assert (result.code, result.out, result.err) == (2, "", error + "\n")
    assert api.requests == []


def test_the_requests_route_makes(api, platform, canary):
    assert canary("init", "echo").code == 0
    api.clear_requests()
    assert canary("route", "echo", "--router", "gloo").code == 0
    assert [f"{r.method} {r.path}" for r in api.requests] == [
        "GET /apis/gateway.solo.io/v1/namespaces/echo/routetables/echo-routes",
        "GET /apis/gateway.solo.io/v1/virtualservices",
    ]


# --- what status reports from the same model -------------------------------------------------------------


def test_a_foreign_route_before_the_header_route_degrades_status_and_is_named(api, platform, canary):
    """The shared table: team B's catch-all comes first (gloo#9830's failure, by hand)."""
    assert canary("init", "echo").code == 0
    assert canary("header", "echo", "v2").code == 0
    api.set_deployment_ready(NS, "echo-v1")
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("status", "echo").code == 0
    rt = api.get("routetables", NS, "echo-routes")
    rt["spec"]["routes"].insert(0, {"name": "team-b", "matchers": [{"prefix": "/"}],
                                    "routeAction": {"single": {"upstream": {"name": "team-b", "namespace": "b"}}}})
    api.replace(rt)
    problem = ("! echo: requests for prefix /echo with header stage=canary do not reach header route "
               "echo-canary-header: route team-b, before it, takes them (e.g. GET /echo, stage: canary)")
    status = canary("status", "echo")
    assert status.code == 1 and status.out.splitlines()[2] == problem
    assert json.loads(canary("status", "echo", "-o", "json").out)["problems"] == [problem[len("! echo: "):]]
    everyone = canary("status")  # -A and the namespace view flag it too
    assert everyone.code == 1 and problem in everyone.out.splitlines()
    assert problem in canary("route", "echo").out.splitlines()


def test_a_foreign_header_route_only_for_some_requests_is_named_too(api, platform, canary):
    """team B's route takes GET canary requests only: the example request (GET) shows it."""
    assert canary("init", "echo").code == 0
    assert canary("header", "echo", "v2").code == 0
    rt = api.get("routetables", NS, "echo-routes")
    rt["spec"]["routes"].insert(0, {
        "name": "team-b-debug", "matchers": [{"prefix": "/echo", "methods": ["GET"],
                                               "headers": [{"name": "stage", "value": "canary"}]}],
        "routeAction": {"single": {"upstream": {"name": "debug", "namespace": "b"}}}})
    api.replace(rt)
    lines = canary("status", "echo").out.splitlines()
    assert lines[2] == ("! echo: requests for prefix /echo with header stage=canary do not reach header route "
                        "echo-canary-header: route team-b-debug, before it, takes them (e.g. GET /echo, stage: canary)")


def test_an_httproute_rule_of_higher_precedence_degrades_status(api, gateway, canary):
    assert canary("init", "echo", *GW_INIT).code == 0
    assert canary("header", "echo", "v2").code == 0
    route = api.get("httproutes", NS, "echo")
    route["spec"]["rules"].append({
        "name": "team-query",
        "matches": [{"path": {"type": "PathPrefix", "value": "/echo"},
                     "headers": [{"name": "stage", "type": "Exact", "value": "canary"}],
                     "queryParams": [{"name": "debug", "type": "Exact", "value": "1"}]},
                    {"path": {"type": "Exact", "value": "/echo"}}],
        "backendRefs": [{"name": "debug", "port": 80}]})
    api.replace(route)
    status = canary("status", "echo", "-o", "json")
    assert status.code == 1
    assert json.loads(status.out)["problems"][0] == (
        "requests for PathPrefix /echo with header stage=canary do not reach header rule echo-canary-header: rule "
        "team-query outranks it on an Exact path and takes them (e.g. GET /echo, stage: canary)")
    # Where precedence decides, request by request: an Exact path, then the most query parameters.
    lines = canary("route", "echo", "--path", "/echo/a?debug=1", "-H", "stage=canary").out.splitlines()
    assert lines[1:4] == ["route        team-query (HTTPRoute echo/echo)",
                          "matched by   PathPrefix /echo, header stage=canary, query debug=1",
                          "precedence   PathPrefix of 5 characters, no method, 1 header, 1 query parameter"]
    assert canary("route", "echo", "--path", "/echo/a", "-H", "stage=canary").out.splitlines()[1] == (
        "route        echo-canary-header (HTTPRoute echo/echo)")


@pytest.mark.parametrize("router", ["gloo", "gateway-api"])
def test_a_canary_share_that_differs_between_paths_degrades_status(api, platform, gateway, canary, router):
    """A second path of the app, edited by hand to another weight and without its header route: each of the
    app's routes is read, the routes that disagree are named, and where requests then go is said."""
    assert canary("init", "echo", *(GW_INIT if router == "gateway-api" else ())).code == 0
    assert canary("header", "echo", "v2").code == 0
    for version in ("v1", "v2"):
        api.set_deployment_ready(NS, f"echo-{version}")
    assert canary("weight", "echo", "40").code == 0
    if router == "gloo":
        obj = api.get("routetables", NS, "echo-routes")
        obj["spec"]["routes"].append({"name": "echo-admin", "matchers": [{"prefix": "/admin"}], "routeAction": {
            "multi": {"destinations": [
                {"weight": 90, "destination": {"upstream": {"name": "echo", "namespace": NS},
                                               "subset": {"values": {"version": "v1"}}}},
                {"weight": 10, "destination": {"upstream": {"name": "echo", "namespace": NS},
                                               "subset": {"values": {"version": "v2"}}}}]}}})
        match = "prefix"
    else:
        obj = api.get("httproutes", NS, "echo")
        second = copy.deepcopy(obj["spec"]["rules"][1])
        second.update(name="echo-admin", matches=[{"path": {"type": "PathPrefix", "value": "/admin"}}])
        second["backendRefs"] = [{"group": "", "kind": "Service", "name": "echo-v1", "port": 80, "weight": 90},
                                 {"group": "", "kind": "Service", "name": "echo-v2", "port": 80, "weight": 10}]
        obj["spec"]["rules"].append(second)
        match = "PathPrefix"
    api.replace(obj)
    status = canary("status", "echo", "-o", "json")
    assert status.code == 1, status.err
    route = "route" if router == "gloo" else "rule"
    assert json.loads(status.out)["problems"] == [
        f"{route} 'echo-admin' sends 10% to v2, the app's other {route}s 40%",
        f"{route} 'echo-admin' has no header {route} (the app's other {route}s send stage=canary to v2)",
        f"canary v2 gets a different share on each of echo's paths: 40% for {match} /echo (route echo-primary), "
        f"10% for {match} /admin (route echo-admin)",
        f"requests with header stage=canary reach canary v2 on some of echo's paths only: 100% for {match} /echo "
        f"(route echo-canary-header), 10% for {match} /admin (route echo-admin)"]


# --- offline ------------------------------------------------------------------------------------------------


def test_local_manifests_are_read_never_written(tmp_path, canary):
    repo = tmp_path / "plain"
    shutil.copytree(REPOS / "plain", repo)
    before = files_of(repo)
    result = canary("route", "echo", "--local", "-f", str(repo), "--after", "header v2")
    assert out_lines(result) == table("echo-primary|v1 100%", "echo-canary-header|v2 100%")
    assert result.err == ("skipped: which VirtualServices delegate to the routes (needs the cluster; --check-live "
                          "checks it there)\nafter header v2: computed, nothing written\n")
    assert files_of(repo) == before and not (repo / "echo-v2.yaml").exists()


def test_helm_values_render_the_seed_charts_routes(canary):
    from tests.gitops.test_helm_values import HELM

    result = canary("route", "echo", "--helm-values", str(HELM / "values-weight-10.yaml"))
    assert out_lines(result) == [
        "MATCH         REQUEST                   ROUTE         GOES TO",
        "prefix /echo  GET /echo                 #2 (unnamed)  v1 90%, v2 10%",
        "prefix /echo  GET /echo, stage: canary  #1 (unnamed)  v2 100%",
        "note: the routes the seed's chart renders from values-weight-10.yaml for prefix /echo",
    ]
    after = canary("route", "echo", "--helm-values", str(HELM / "values-weight-10.yaml"), "--after", "finish")
    assert out_lines(after)[1:3] == ["prefix /echo  GET /echo                 #1 (unnamed)  v2 100%",
                                     "prefix /echo  GET /echo, stage: canary  #1 (unnamed)  v2 100%"]
    refused = canary("route", "echo", "--helm-values", str(HELM / "values-stable.yaml"), "--after", "shadow v2")
    assert (refused.code, refused.err) == (
        1, "error: the seed's chart has no shadowing: shadow on the cluster, or add it to the chart\n")


def test_completion_offers_the_verb_its_flags_and_the_routing_verbs_after(capsys):
    from kubectl_canary.cli import main

    def complete(*words: str) -> list[str]:
        capsys.readouterr()
        assert main(["__complete", *words]) == 0
        return [line.split("\t")[0] for line in capsys.readouterr().out.splitlines()[:-1]]

    assert "route" in complete("")
    assert {"--path", "--method", "-H", "--after", "--local", "--helm-values"} <= set(complete("route", "echo", "-"))
    assert complete("route", "echo", "--after", "") == ["header", "weight", "finish", "abort", "shadow"]
    assert complete("route", "echo", "--method", "P") == ["POST", "PUT", "PATCH"]
