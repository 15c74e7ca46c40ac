"""Every README walkthrough, run verbatim through the real kubectl (`kubectl canary` found on PATH) on a
real API server, in the README's own namespaces; after each command, the exact routes on the server are
the YAML the README shows for it, and a shown output is the output.

Commands the README writes without `-n` run with a kubeconfig whose context namespace is the app's, as
they would for the user the README addresses. Between steps the test waits for the Deployments to roll out
(the kubelet stand-in makes pods ready), as a user does before the next step.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml

from tests.e2e import readme
from tests.e2e.conftest import Cluster, Result

GLOO = "Walkthrough (app `echo`, namespace `echo`)"
GATEWAY_API = "Walkthrough on the Gateway API (app `echo`, Gateway `infra/public`)"
MIGRATE = "Moving off Gloo Edge"
YOUR_APP = "Using it on an app you already run"
GITOPS = "GitOps: changing the manifests instead of the cluster"


def verbatim(cluster: Cluster, command: str, *, namespace: str = "echo", cwd: Path | None = None) -> Result:
    return cluster.shell(command, kubeconfig=cluster.admin_kubeconfig_in(namespace), cwd=cwd)


def shown_routes(section: readme.Section, command: str, before: list[dict], key: str = "routes") -> list[dict]:
    """The routes the README shows after `command`: a whole list (`routes:`/`rules:`), or some routes alone
    (then the others stay as they were)."""
    blocks = [b for b in section.after(command) if b.lang == "yaml"]
    assert blocks, f"README shows no routes after {command!r}"
    data = blocks[0].data()
    if isinstance(data, dict):
        return data[key]
    assert isinstance(data, list)
    by_name = {route["name"]: route for route in data}
    assert set(by_name) <= {route.get("name") for route in before}, f"{command!r}: README shows new routes"
    return [by_name.get(route.get("name"), route) for route in before]


def history_rows(text: str) -> list[tuple[str, str]]:
    """(REASON, MESSAGE without ` by WHO`) of each row of a `history` table."""
    rows = []
    for line in text.strip().splitlines()[1:]:
        _, reason, message = re.split(r"\s{2,}", line.strip(), maxsplit=2)
        rows.append((reason, re.sub(r" by \S+$", "", message)))
    return rows


def test_gloo_walkthrough(cluster, readme_namespaces):
    readme_namespaces("echo")
    walk = readme.section(GLOO, subsections=False)  # "Apps with several routes": test_several_routes.py
    commands = walk.commands()
    assert [c.split()[2] for c in commands] == ["init", "header", "weight", "status", "finish"], commands
    init, header, weight, status, finish = commands

    verbatim(cluster, init).ok()
    assert cluster.routes("echo", "echo-routes") == shown_routes(walk, init, [])
    cluster.wait_gloo_verdict("echo", "echo-routes", "Accepted")

    # "Refused until echo-v2 has all its replicas ready": its pods are held back at first.
    cluster.standins.kubelet.hold("echo", "echo-v2", 0)
    verbatim(cluster, header).ok()
    phase1 = shown_routes(walk, header, [])
    assert cluster.routes("echo", "echo-routes") == phase1
    cluster.wait_rolled_out("echo", "echo-v1")
    version = cluster.resource_version("routetables", "echo", "echo-routes")
    refused = verbatim(cluster, weight)
    assert refused.code == 1
    assert refused.errors == [refused.err.strip()], refused.err  # one line
    assert refused.err.startswith("error: deployment echo-v2 has 0/1 ready replicas, so v2 cannot serve traffic yet")
    assert cluster.resource_version("routetables", "echo", "echo-routes") == version  # nothing written

    cluster.standins.kubelet.release("echo", "echo-v2")
    cluster.wait_rolled_out("echo")
    verbatim(cluster, weight).ok()
    assert cluster.routes("echo", "echo-routes") == shown_routes(walk, weight, phase1)

    shown = verbatim(cluster, status).ok()
    [table] = [b for b in walk.after(status) if b.kind == "fenced"]
    assert readme.output_matches(table.text, shown.out), f"README shows:\n{table.text}\nstatus printed:\n{shown.out}"

    verbatim(cluster, finish).ok()
    assert cluster.routes("echo", "echo-routes") == shown_routes(walk, finish, [])
    assert cluster.gone("deployments", "echo", "echo-v1")
    assert not cluster.gone("deployments", "echo", "echo-v2")

    # `kubectl canary history echo` lists every transition: the README's rows, then the finish.
    history = walk.inline("kubectl canary history echo")
    [rows] = [b for b in walk.after(history) if b.kind == "fenced"]
    listed = history_rows(verbatim(cluster, history).ok().out)
    assert listed[:3] == history_rows(rows.text)
    assert [reason for reason, _ in listed[3:]] == ["CanaryFinish"]


# --- Using it on an app you already run ----------------------------------------------------------------

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
SEARCH = {"matchers": [{"prefix": "/search"}], "routeAction": to("search", "v1")}
LEGACY = {"name": "legacy", "matchers": [{"prefix": "/"}],
          "routeAction": {"single": {"upstream": {"name": "legacy", "namespace": "gloo-system"}}}}
TEAM_ROUTES = [HEALTHZ, ECHO, CART, SEARCH, LEGACY]


def header_route(app: str, version: str, prefix: str) -> dict:
    return {"name": f"{app}-canary-header",
            "matchers": [{"prefix": prefix, "headers": [{"name": "stage", "value": "canary"}]}],
            "routeAction": to(app, version)}


def team_a_manifests() -> list[dict]:
    """Namespace team-a as a platform team runs it: Services, the Upstreams Gloo's discovery made,
    Deployment echo (pods labelled `app: echo` only, 2 replicas), cart-stable, search, and RouteTable team-a
    holding the routes of the three apps and foreign routes."""
    objects: list[dict] = []
    for app in ("echo", "cart", "search"):
        objects.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": app, "namespace": "team-a"},
                        "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]}})
        objects.append({"apiVersion": "gloo.solo.io/v1", "kind": "Upstream",
                        "metadata": {**upstream_ref(app), "labels": {"discovered_by": "kubernetesplugin"}},
                        "spec": {"kube": {"serviceName": app, "serviceNamespace": "team-a", "servicePort": 80,
                                          "selector": {"app": app}}}})
    for name, labels in (("echo", {"app": "echo"}), ("cart-stable", {"app": "cart", "version": "v1"}),
                         ("search", {"app": "search", "version": "v1"})):
        objects.append({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "team-a",
                                                                         "labels": dict(labels)},
            "spec": {"replicas": 2, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": [{"name": "app", "image": f"registry.example/{name}:1"}]}}},
        })
    return objects


def team_a_table() -> dict:
    return {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
            "metadata": {"name": "team-a", "namespace": "team-a", "labels": {"apiGroup": "example"}},
            "spec": {"routes": copy.deepcopy(TEAM_ROUTES)}}


def team_a(cluster: Cluster, tmp_path: Path) -> None:
    cluster.create_namespace("team-a")
    manifests = tmp_path / "team-a.yaml"
    manifests.write_text(yaml.safe_dump_all(team_a_manifests()))
    # Gloo's discovery writes Upstreams with its own manager; the rest by hand, the usual way.
    for obj in team_a_manifests():
        if obj["kind"] == "Upstream":
            cluster.kube.apply(obj, "discovery")
    others = yaml.safe_dump_all([o for o in team_a_manifests() if o["kind"] != "Upstream"])
    cluster.kubectl("apply", "-f", "-", stdin=others).ok()
    table = tmp_path / "route-table.yaml"
    table.write_text(yaml.safe_dump(team_a_table()))
    cluster.kubectl("apply", "-f", str(table)).ok()  # the platform team's plain `kubectl apply`
    cluster.wait_rolled_out("team-a")


def record(cluster: Cluster) -> dict:
    return json.loads(cluster.get("routetables", "team-a", "team-a")["metadata"]["annotations"][
        "kubectl-canary.io/apps"])


@pytest.fixture
def discovered_upstreams(cluster):
    yield
    for app in ("echo", "cart", "search"):
        cluster.kube.delete("upstreams", "gloo-system", f"team-a-{app}-80")


def using_it_on_an_app_you_already_run(cluster: Cluster, tmp_path: Path, takeover: bool) -> None:
    """The README's commands on team-a, whose RouteTable the platform team wrote with `kubectl apply`.
    `adopt-with-force-conflicts-first` adds --force-conflicts to the two adopt commands (what today's
    plugin asks for), and runs every other command verbatim."""
    team_a(cluster, tmp_path)
    section = readme.section(YOUR_APP)
    commands = section.commands()
    assert [" ".join(c.split()[:4]) for c in commands] == [
        "kubectl canary adopt echo", "kubectl canary adopt echo", "kubectl delete deployment echo",
        "kubectl canary header echo", "kubectl canary weight echo", "kubectl canary status -A",
        "kubectl canary finish echo", "kubectl canary header cart"], commands
    dry_run, adopt, delete_old, header, weight, status_all, finish, header_cart = commands
    version = cluster.resource_version("routetables", "team-a", "team-a")

    takeover_flag = " --force-conflicts" if takeover else ""
    shown = verbatim(cluster, dry_run + takeover_flag, namespace="team-a").ok()
    items = [o for o in yaml.safe_load_all(shown.out) if o]
    assert [(o["kind"], o["metadata"]["name"]) for o in items] == [
        ("Upstream", "team-a-echo-80"), ("Deployment", "echo-v1"), ("RouteTable", "team-a")]
    assert items[2]["spec"]["routes"] == [HEALTHZ, {**ECHO, "routeAction": to("echo", "v1")}, CART, SEARCH, LEGACY]
    assert cluster.resource_version("routetables", "team-a", "team-a") == version
    assert cluster.get("deployments", "team-a", "echo-v1") is None

    adopted = verbatim(cluster, adopt + takeover_flag, namespace="team-a").ok()
    if not takeover:  # names who wrote the routes before
        assert "kubectl-client-side-apply" in adopted.err, adopted.err
    assert cluster.routes("team-a", "team-a") == [HEALTHZ, {**ECHO, "routeAction": to("echo", "v1")}, CART, SEARCH,
                                                  LEGACY]
    assert record(cluster) == {"echo": {"adoptedFrom": "echo", "routeName": "echo",
                                        "upstream": "gloo-system/team-a-echo-80"}}
    echo_v1 = cluster.get("deployments", "team-a", "echo-v1")
    assert echo_v1["spec"]["selector"]["matchLabels"] == {"app": "echo", "version": "v1"}
    assert echo_v1["spec"]["replicas"] == 2
    assert cluster.get("upstreams", "gloo-system", "team-a-echo-80")["spec"]["kube"]["subsetSpec"] == {
        "selectors": [{"keys": ["version"]}]}

    verbatim(cluster, delete_old, namespace="team-a").ok()
    cluster.kube.wait_for("deployment echo to be gone", lambda: cluster.get("deployments", "team-a", "echo") is None)
    verbatim(cluster, header, namespace="team-a").ok()
    assert cluster.routes("team-a", "team-a")[1:3] == [header_route("echo", "v2", "/echo"),
                                                        {**ECHO, "routeAction": to("echo", "v1")}]
    cluster.wait_rolled_out("team-a")
    verbatim(cluster, weight, namespace="team-a").ok()
    weighted = cluster.routes("team-a", "team-a")
    assert weighted[2]["routeAction"]["multi"]["destinations"] == [
        {"destination": to("echo", "v1")["single"], "weight": 75},
        {"destination": to("echo", "v2")["single"], "weight": 25}]
    assert [weighted[0], *weighted[3:]] == [HEALTHZ, CART, SEARCH, LEGACY]

    listed = verbatim(cluster, status_all, namespace="team-a").ok()
    rows = [re.split(r"\s{2,}", line.strip()) for line in listed.out.splitlines()]
    assert rows[0][:2] == ["NAMESPACE", "APP"], listed.out
    assert ["team-a", "echo", "weighted", "v1 (2/2)", "v2 (2/2)", "25%", "stage=canary"] in [r[:7] for r in rows]

    verbatim(cluster, finish, namespace="team-a").ok()
    assert cluster.routes("team-a", "team-a") == [HEALTHZ, {**ECHO, "routeAction": to("echo", "v2")}, CART, SEARCH,
                                                  LEGACY]
    assert cluster.gone("deployments", "team-a", "echo-v1")  # made by adopt: retired like any version

    verbatim(cluster, header_cart, namespace="team-a").ok()
    assert cluster.routes("team-a", "team-a") == [HEALTHZ, {**ECHO, "routeAction": to("echo", "v2")},
                                                  header_route("cart", "v2", "/cart"), CART, SEARCH, LEGACY]
    assert cluster.get("deployments", "team-a", "cart-v2")["spec"]["template"]["spec"]["containers"][0][
        "image"] == "registry.example/cart-stable:1"


def test_using_it_on_an_app_you_already_run(cluster, readme_namespaces, discovered_upstreams, tmp_path):
    readme_namespaces("team-a", "echo")  # echo: gone first, since the section's `status -A` lists every namespace
    using_it_on_an_app_you_already_run(cluster, tmp_path, takeover=False)


def test_gateway_api_walkthrough(cluster, readme_namespaces):
    readme_namespaces("echo")
    cluster.create_namespace("echo")
    walk = readme.section(GATEWAY_API)
    [init] = walk.commands()

    verbatim(cluster, init).ok()
    stable = shown_routes(walk, init, [], key="rules")
    assert cluster.rules("echo", "echo") == stable
    route = cluster.get("httproutes", "echo", "echo")
    assert route["spec"]["parentRefs"] == [{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                            "namespace": "infra", "name": "public", "sectionName": "http"}]
    v1_service = cluster.get("services", "echo", "echo-v1")
    assert v1_service["spec"]["selector"] == {"app": "echo", "version": "v1"}
    assert [(p["port"], p["targetPort"]) for p in v1_service["spec"]["ports"]] == [(80, 8080)]
    verdict = cluster.wait_gateway_verdict("echo", "echo")
    assert (verdict["Accepted"]["status"], verdict["ResolvedRefs"]["status"]) == ("True", "True")

    # "A re-run reads back exactly what it wrote and changes nothing": the server's defaults are ours.
    generation = route["metadata"]["generation"]
    again = verbatim(cluster, init).ok()
    assert "nothing changed" in again.out
    assert cluster.get("httproutes", "echo", "echo")["metadata"]["generation"] == generation

    header = walk.inline("kubectl canary header echo v2")
    verbatim(cluster, header).ok()
    v2_service = cluster.get("services", "echo", "echo-v2")
    assert v2_service["spec"]["selector"] == {"app": "echo", "version": "v2"}
    assert v2_service["spec"]["ports"] == v1_service["spec"]["ports"]  # cloned: only the version changes
    cluster.wait_rolled_out("echo")

    weight = walk.inline("kubectl canary weight echo 10")
    verbatim(cluster, weight).ok()
    weighted = shown_routes(walk, weight, [], key="rules")
    assert cluster.rules("echo", "echo") == weighted
    assert [r["name"] for r in weighted] == ["echo-canary-header", "echo-primary"]
    # After `header` the header rule came first and the primary was unchanged: the shown rules say both.
    cluster.wait_gateway_verdict("echo", "echo")
    status = json.loads(verbatim(cluster, "kubectl canary status echo -o json").ok().out)
    assert (status["router"], status["route"], status["canary"]["weight"]) == (
        "gateway-api", {"kind": "HTTPRoute", "name": "echo", "state": "Accepted"}, 10)

    # `shadow echo v3 --percent 5` adds a RequestMirror filter to the primary rule towards Service echo-v3.
    walk.inline("shadow echo v3 --percent 5")
    # `finish` leaves one backendRef to echo-v2 and deletes echo-v1 and its Service.
    assert "`finish` leaves one backendRef to `echo-v2`" in " ".join(walk.text.split())
    verbatim(cluster, "kubectl canary finish echo").ok()
    assert cluster.rules("echo", "echo") == [{**stable[0], "backendRefs": [
        {**stable[0]["backendRefs"][0], "name": "echo-v2"}]}]
    assert cluster.gone("deployments", "echo", "echo-v1") and cluster.gone("services", "echo", "echo-v1")
    verdict = cluster.wait_gateway_verdict("echo", "echo")
    assert verdict["ResolvedRefs"]["status"] == "True"  # no rule sends to the deleted Service


def test_using_it_on_an_app_you_already_run_taken_over_first(cluster, readme_namespaces, discovered_upstreams,
                                                             tmp_path):
    readme_namespaces("team-a", "echo")  # echo: gone first, since the section's `status -A` lists every namespace
    using_it_on_an_app_you_already_run(cluster, tmp_path, takeover=True)


def _gloo_rollout_at_50(cluster: Cluster) -> None:
    """The Gloo walkthrough's own commands, up to its weighted phase."""
    init, header, weight = readme.section(GLOO, subsections=False).commands()[:3]
    verbatim(cluster, init).ok()
    verbatim(cluster, header).ok()
    cluster.wait_rolled_out("echo")
    verbatim(cluster, weight).ok()


def test_moving_off_gloo_edge(cluster, readme_namespaces):
    readme_namespaces("echo")
    _gloo_rollout_at_50(cluster)
    gloo_routes = cluster.routes("echo", "echo-routes")
    gloo_version = cluster.resource_version("routetables", "echo", "echo-routes")
    move = readme.section(MIGRATE)
    dry_run, migrate = move.commands()

    printed = verbatim(cluster, dry_run).ok()
    objects = [o for o in yaml.safe_load_all(printed.out) if o]
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Service", "echo-v1"), ("Service", "echo-v2"), ("HTTPRoute", "echo")]
    assert cluster.get("httproutes", "echo", "echo") is None and cluster.get("services", "echo", "echo-v1") is None

    verbatim(cluster, migrate).ok()
    rules = cluster.rules("echo", "echo")
    # The same phase, rendered by the Gateway API router: the header rule, then 50/50.
    assert rules == objects[2]["spec"]["rules"]
    assert [r["name"] for r in rules] == ["echo-canary-header", "echo-primary"]
    assert [(b["name"], b["weight"]) for b in rules[1]["backendRefs"]] == [("echo-v1", 50), ("echo-v2", 50)]
    assert rules[0]["matches"] == [{"path": {"type": "PathPrefix", "value": "/echo"},
                                    "headers": [{"name": "stage", "type": "Exact", "value": "canary"}]}]
    for version in ("v1", "v2"):
        assert cluster.get("services", "echo", f"echo-{version}")["spec"]["selector"] == {
            "app": "echo", "version": version}
    # The Gloo objects are not touched: both gateways serve the same split.
    assert cluster.resource_version("routetables", "echo", "echo-routes") == gloo_version
    assert cluster.routes("echo", "echo-routes") == gloo_routes
    verdict = cluster.wait_gateway_verdict("echo", "echo")
    assert (verdict["Accepted"]["status"], verdict["ResolvedRefs"]["status"]) == ("True", "True")

    # While both exist, commands ask which to drive.
    with_router = move.inline("kubectl canary weight echo 50 --router gateway-api")
    asked = verbatim(cluster, with_router.replace(" --router gateway-api", ""))
    assert asked.code == 2 and "--router gloo|gateway-api" in asked.err, asked.err
    verbatim(cluster, with_router.replace("50", "60")).ok()
    assert [b["weight"] for b in cluster.rules("echo", "echo")[1]["backendRefs"]] == [40, 60]
    assert cluster.routes("echo", "echo-routes") == gloo_routes

    # Once the traffic arrives through the Gateway API, delete the Gloo objects: no flag needed any more.
    verbatim(cluster, move.inline("kubectl delete routetable/echo-routes upstream/echo service/echo")).ok()
    verbatim(cluster, "kubectl canary weight echo 50").ok()
    assert [b["weight"] for b in cluster.rules("echo", "echo")[1]["backendRefs"]] == [50, 50]


# --- GitOps --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("router", ["gloo", "gateway-api"])
def test_gitops_files_applied_with_kubectl_apply_k(cluster, ns, tmp_path, router):
    """The files `init --local -f deploy/` writes, changed by the README's `--local -f deploy/` commands,
    applied by `kubectl apply --server-side -k deploy/` (what a GitOps controller does with them), and read
    back from the cluster by `status`. The section names no namespace: the kustomization gives the test's."""
    section = readme.section(GITOPS)
    assert section.inline("kubectl canary status APP")
    header, weight_diff, status_local = section.commands()[:3]
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "kustomization.yaml").write_text(f"namespace: {ns}\nresources: []\n")
    init = "kubectl canary init echo --local -f deploy/"
    if router == "gateway-api":
        init += " --router gateway-api --gateway infra/public:http"
    verbatim(cluster, init, namespace=ns, cwd=tmp_path).ok()

    def apply_and_status(phase: str) -> dict:
        verbatim(cluster, "kubectl apply --server-side -k deploy/", namespace=ns, cwd=tmp_path).ok()
        cluster.wait_rolled_out(ns)
        local = json.loads(verbatim(cluster, f"{status_local.split('#')[0].strip()} -o json", namespace=ns,
                                    cwd=tmp_path).ok().out)
        live = json.loads(verbatim(cluster, "kubectl canary status echo -o json", namespace=ns).ok().out)
        assert (local["phase"], live["phase"]) == (phase, phase)
        assert live["router"] == router
        for key in ("primary", "canary"):
            if local[key] is None:
                assert live[key] is None
            else:
                assert {k: live[key][k] for k in ("version", "weight") if k in local[key]} == {
                    k: local[key][k] for k in ("version", "weight") if k in local[key]}
        return live

    stable = apply_and_status("stable")
    assert stable["primary"] == {"version": "v1", "ready": 1, "replicas": 1}

    changed = verbatim(cluster, header, namespace=ns, cwd=tmp_path).ok()
    assert "+++" in changed.out  # the diff
    live = apply_and_status("header")
    assert live["canary"]["version"] == "v2" and live["canary"]["ready"] == 1

    files = {p.name: p.read_bytes() for p in deploy.iterdir()}
    diff = verbatim(cluster, weight_diff, namespace=ns, cwd=tmp_path).ok()
    assert "+++" in diff.out
    assert {p.name: p.read_bytes() for p in deploy.iterdir()} == files  # --diff writes nothing

    verbatim(cluster, weight_diff.replace(" --diff", "").split("#")[0], namespace=ns, cwd=tmp_path).ok()
    live = apply_and_status("weighted")
    assert live["canary"]["weight"] == 25
    if router == "gloo":
        destinations = cluster.routes(ns, "echo-routes")[1]["routeAction"]["multi"]["destinations"]
        assert [d["weight"] for d in destinations] == [75, 25]
    else:
        assert [b["weight"] for b in cluster.rules(ns, "echo")[1]["backendRefs"]] == [75, 25]
