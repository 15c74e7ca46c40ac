"""Objects written the ways users write them (shared/DESIGN.md section 8), and what the plugin does with
each on a real API server, whose managedFields are the real thing: `kubectl apply` (client-side and
`--server-side`), `kubectl edit`, `kubectl patch`, a Helm release of the seed's chart, Argo CD's client-side
apply with its tracking annotation.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from tests.design_routes import PHASE1, STABLE, named, phase2
from tests.e2e.conftest import VENV_BIN, Cluster
from tests.e2e.users import GATEWAY_API_ONLY_ROLE, GLOO_ONLY_ROLE, CanI

CHART = Path(__file__).parent / "charts" / "echo"
HELM_VALUES = Path(__file__).parents[1] / "gitops" / "helm"
HEALTHZ = {"name": "healthz", "matchers": [{"exact": "/healthz"}], "directResponseAction": {"status": 200}}
GATEWAY = "infra/public:http"


def in_namespace(obj, ns: str):
    """DESIGN.md's objects use namespace echo; ours run in the test namespace."""
    return json.loads(json.dumps(obj).replace('"namespace": "echo"', f'"namespace": "{ns}"'))


def seed_objects(ns: str, *, argo_app: str | None = None) -> list[dict]:
    """App echo as a team keeps it in files: Deployment echo-v1, Service echo, Upstream echo and the seed's
    RouteTable echo-routes (DESIGN.md section 2, stable, unnamed routes)."""
    labels = {"app": "echo", "version": "v1"}
    table = {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
             "metadata": {"name": "echo-routes", "namespace": ns, "labels": {"apiGroup": "example"}},
             "spec": {"routes": in_namespace(STABLE, ns)}}
    if argo_app:
        table["metadata"]["annotations"] = {
            "argocd.argoproj.io/tracking-id": f"{argo_app}:gateway.solo.io/RouteTable:{ns}/echo-routes"}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "echo-v1", "namespace": ns},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                      {"name": "echo", "image": "hashicorp/http-echo", "args": ["-listen=:8080", "-text=v1"]}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo", "namespace": ns},
         "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": {"name": "echo", "namespace": ns},
         "spec": {"kube": {"serviceName": "echo", "serviceNamespace": ns, "servicePort": 80,
                           "selector": {"app": "echo"},
                           "subsetSpec": {"selectors": [{"keys": ["version"]}], "fallbackPolicy": "NO_FALLBACK"}}}},
        table,
    ]


EDITOR = """\
import sys, yaml
path = sys.argv[1]
with open(path) as f:
    table = yaml.safe_load(f)
table["spec"]["routes"].append({"name": "healthz", "matchers": [{"exact": "/healthz"}],
                                "directResponseAction": {"status": 200}})
with open(path, "w") as f:
    yaml.safe_dump(table, f)
"""


def helm(cluster: Cluster, *args: str) -> None:
    binary = shutil.which("helm", path=str(VENV_BIN)) or shutil.which("helm")
    assert binary, "no helm: scripts/install_kubectl.py installs one into .venv/bin"
    done = cluster.shell(" ".join([binary, *args]), env={"HELM_CACHE_HOME": str(cluster.tmp / "helm-cache"),
                                                         "HELM_CONFIG_HOME": str(cluster.tmp / "helm-config"),
                                                         "HELM_DATA_HOME": str(cluster.tmp / "helm-data")})
    assert done.code == 0, done


def write_table(cluster: Cluster, ns: str, writer: str, tmp_path: Path) -> list[dict]:
    """App echo with its RouteTable last written by `writer`; returns the routes it wrote."""
    files = tmp_path / "manifests.yaml"
    if writer in ("kubectl apply", "kubectl apply --server-side", "argocd"):
        files.write_text(yaml.safe_dump_all(seed_objects(ns, argo_app="echo-prod" if writer == "argocd" else None)))
        args = {"kubectl apply": [], "kubectl apply --server-side": ["--server-side"],
                # Argo CD syncs with client-side apply under its own manager name.
                "argocd": ["--field-manager=argocd-controller"]}[writer]
        cluster.kubectl("apply", *args, "-f", str(files)).ok()
        return in_namespace(STABLE, ns)
    if writer == "helm":
        helm(cluster, "install", "echo", str(CHART), "-n", ns, "-f", str(HELM_VALUES / "values-stable.yaml"),
             "--wait=false")
        return in_namespace(STABLE, ns)
    cluster.canary("init", "echo", "-n", ns).ok()
    if writer == "kubectl edit":
        editor = tmp_path / "editor.py"
        editor.write_text(EDITOR)
        cluster.kubectl("edit", "routetable", "echo-routes", "-n", ns,
                        env={"EDITOR": f"{sys.executable} {editor}", "KUBE_EDITOR": f"{sys.executable} {editor}"}).ok()
    else:
        cluster.kubectl("patch", "routetable", "echo-routes", "-n", ns, "--type=json",
                        "-p", json.dumps([{"op": "add", "path": "/spec/routes/-", "value": HEALTHZ}])).ok()
    return [*in_namespace(named(STABLE), ns), HEALTHZ]


def route_owners(cluster: Cluster, ns: str, table: str = "echo-routes") -> list[str]:
    live = cluster.get("routetables", ns, table)
    return [e["manager"] for e in live["metadata"]["managedFields"] if "f:routes" in e["fieldsV1"].get("f:spec", {})]


@pytest.mark.parametrize(("writer", "manager"), [
    ("kubectl apply", "kubectl-client-side-apply"),
    ("kubectl apply --server-side", "kubectl"),
    ("kubectl edit", "kubectl-edit"),
    ("kubectl patch", "kubectl-patch"),
    ("helm", "helm"),
    ("argocd", "argocd-controller"),
])
def test_routes_last_written_by_another_tool(cluster, ns, tmp_path, writer, manager):
    """Today: refused before any write, naming the manager, until --force-conflicts takes the routes over;
    then every route the plugin does not manage is kept, in order."""
    written = write_table(cluster, ns, writer, tmp_path)
    assert cluster.routes(ns, "echo-routes") == written
    assert route_owners(cluster, ns) == [manager]
    cluster.wait_rolled_out(ns)
    status = json.loads(cluster.canary("status", "echo", "-n", ns, "-o", "json").ok().out)
    assert (status["phase"], status["primary"]) == ("stable", {"version": "v1", "ready": 1, "replicas": 1})
    if writer == "argocd":
        assert any(note.startswith("RouteTable echo-routes is managed by Argo CD (application echo-prod; read from "
                                   "the annotation argocd.argoproj.io/tracking-id)") for note in status["notes"])

    version = cluster.resource_version("routetables", ns, "echo-routes")
    refused = cluster.canary("header", "echo", "v2", "-n", ns)
    assert refused.code == 1
    assert refused.errors == [refused.err.strip()], refused.err
    assert f'"{manager}"' in refused.err and "--force-conflicts" in refused.err
    assert cluster.resource_version("routetables", ns, "echo-routes") == version
    assert cluster.get("deployments", ns, "echo-v2") is None

    cluster.canary("header", "echo", "v2", "-n", ns, "--force-conflicts").ok()
    assert cluster.routes(ns, "echo-routes") == [*in_namespace(named(PHASE1), ns), *written[1:]]
    assert route_owners(cluster, ns) == ["kubectl-canary"]
    if writer == "argocd":
        notes = json.loads(cluster.canary("status", "echo", "-n", ns, "-o", "json").out)["notes"]
        assert ("the live routes differ from what Argo CD last applied (annotation kubectl.kubernetes.io/last-applied-"
                "configuration): Git declares stable on v1, the cluster has v1, header stage=canary to v2") in notes


def test_the_seed_workflow_helm_upgrade_with_the_values_the_plugin_edits(cluster, ns, tmp_path):
    """`--helm-values` changes the chart's values; `helm upgrade` applies them; `status` reads the phase back
    from the cluster: the values dialect and the chart agree, phase by phase."""
    values = tmp_path / "values.yaml"
    shutil.copy(HELM_VALUES / "values-stable.yaml", values)
    helm(cluster, "install", "echo", str(CHART), "-n", ns, "-f", str(values), "--wait=false")

    def upgrade_and_read() -> dict:
        helm(cluster, "upgrade", "echo", str(CHART), "-n", ns, "-f", str(values), "--wait=false")
        cluster.wait_rolled_out(ns)
        return json.loads(cluster.canary("status", "echo", "-n", ns, "-o", "json").ok().out)

    cluster.canary("header", "echo", "v2", "-n", ns, "--helm-values", str(values)).ok()
    assert values.read_text() == (HELM_VALUES / "values-header.yaml").read_text()
    status = upgrade_and_read()
    assert (status["phase"], status["canary"]["version"], status["canary"]["ready"]) == ("header", "v2", 1)
    assert cluster.routes(ns, "echo-routes") == in_namespace(PHASE1, ns)  # the chart's (unnamed) routes

    cluster.canary("weight", "echo", "50", "-n", ns, "--helm-values", str(values)).ok()
    assert values.read_text() == (HELM_VALUES / "values-weight-50.yaml").read_text()
    status = upgrade_and_read()
    assert (status["phase"], status["canary"]["weight"]) == ("weighted", 50)
    assert cluster.routes(ns, "echo-routes") == in_namespace(phase2(50), ns)

    cluster.canary("finish", "echo", "-n", ns, "--helm-values", str(values)).ok()
    assert values.read_text() == (HELM_VALUES / "values-finished.yaml").read_text()
    status = upgrade_and_read()
    assert (status["phase"], status["primary"]["version"], status["canary"]) == ("stable", "v2", None)
    assert cluster.gone("deployments", ns, "echo-v1")  # helm removed the version the values dropped


# --- what users' clusters hold: Roles of one gateway, a primary mid-incident, one-off edits, oidc ----------


def _gloo_app_at_header(cluster: Cluster, ns: str, app: str = "echo") -> None:
    cluster.canary("init", app, "-n", ns).ok()
    cluster.canary("header", app, "v2", "-n", ns).ok()
    cluster.wait_rolled_out(ns)


def test_a_gloo_only_role_runs_a_routetable_app(cluster, ns):
    _gloo_app_at_header(cluster, ns)
    _gloo_app_at_header(cluster, ns, "shop")
    cluster.canary("weight", "shop", "30", "-n", ns).ok()
    kubeconfig = cluster.user_kubeconfig(ns, "gloo-team", role=GLOO_ONLY_ROLE)
    can_i = CanI(cluster, kubeconfig)

    def as_gloo_team(*args: str):
        result = cluster.canary(*args, "-v", kubeconfig=kubeconfig)
        can_i.agrees(result)
        return result.ok()

    status = json.loads(as_gloo_team("status", "echo", "-o", "json").out)
    assert (status["phase"], status["router"]) == ("header", "gloo")
    as_gloo_team("weight", "echo", "50")
    assert cluster.routes(ns, "echo-routes") == in_namespace(named(phase2(50)), ns)
    as_gloo_team("finish", "echo")
    assert cluster.gone("deployments", ns, "echo-v1")
    as_gloo_team("abort", "shop")
    assert [r["name"] for r in cluster.routes(ns, "shop-routes")] == ["shop-primary"]
    assert cluster.gone("deployments", ns, "shop-v2")


def test_a_gateway_api_only_role_runs_an_httproute_app(cluster, ns):
    cluster.canary("init", "web", "-n", ns, "--router", "gateway-api", "--gateway", GATEWAY).ok()
    cluster.canary("header", "web", "v2", "-n", ns).ok()
    cluster.wait_rolled_out(ns)
    kubeconfig = cluster.user_kubeconfig(ns, "gateway-team", role=GATEWAY_API_ONLY_ROLE)
    can_i = CanI(cluster, kubeconfig)

    def as_gateway_team(*args: str):
        result = cluster.canary(*args, "-v", kubeconfig=kubeconfig)
        can_i.agrees(result)
        return result.ok()

    assert json.loads(as_gateway_team("status", "web", "-o", "json").out)["router"] == "gateway-api"
    as_gateway_team("weight", "web", "50")
    assert [b["weight"] for b in cluster.rules(ns, "web")[1]["backendRefs"]] == [50, 50]
    as_gateway_team("abort", "web")
    assert [r["name"] for r in cluster.rules(ns, "web")] == ["web-primary"]


def test_abort_with_the_primary_at_one_of_two_pods_ready(cluster, ns):
    cluster.canary("init", "echo", "-n", ns, "--replicas", "2").ok()
    cluster.canary("header", "echo", "v2", "-n", ns).ok()
    cluster.wait_rolled_out(ns)
    cluster.canary("weight", "echo", "50", "-n", ns).ok()
    cluster.standins.kubelet.hold(ns, "echo-v1", 1)  # mid-incident: one primary pod is gone
    cluster.wait_available_replicas(ns, "echo-v1", 1)

    aborted = cluster.canary("abort", "echo", "-n", ns)
    assert aborted.code == 0, aborted.err  # the emergency exit, without --force
    warnings = [line for line in aborted.err.splitlines() if line.startswith("warning:")]
    assert any("echo-v1" in w and re.search(r"\b1(/| of )2\b", w) for w in warnings), aborted.err
    assert cluster.routes(ns, "echo-routes") == in_namespace(named(STABLE), ns)
    assert cluster.gone("deployments", ns, "echo-v2")


def test_adopt_takes_over_a_table_written_with_kubectl_apply(cluster, ns, tmp_path):
    upstream = {"name": f"{ns}-echo-80", "namespace": ns}
    team = [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo", "namespace": ns},
         "spec": {"selector": {"app": "echo"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream", "metadata": upstream,
         "spec": {"kube": {"serviceName": "echo", "serviceNamespace": ns, "servicePort": 80,
                           "selector": {"app": "echo"}}}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "echo", "namespace": ns},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "echo"}},
                  "template": {"metadata": {"labels": {"app": "echo"}},
                               "spec": {"containers": [{"name": "app", "image": "registry.example/echo:1"}]}}}},
        {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
         "metadata": {"name": "team", "namespace": ns, "labels": {"apiGroup": "example"}},
         "spec": {"routes": [HEALTHZ, {"name": "echo", "matchers": [{"prefix": "/echo"}],
                                       "routeAction": {"single": {"upstream": upstream}}}]}},
    ]
    files = tmp_path / "team.yaml"
    files.write_text(yaml.safe_dump_all(team))
    cluster.kubectl("apply", "-f", str(files)).ok()
    cluster.wait_rolled_out(ns)

    adopted = cluster.canary("adopt", "echo", "v1", "-n", ns, "--route-table", "team", "--upstream",
                             f"{ns}/{ns}-echo-80", "--deployment", "echo", "--wait")
    assert adopted.code == 0, adopted.err
    assert "kubectl-client-side-apply" in adopted.err, adopted.err  # names who wrote the routes before
    routes = cluster.routes(ns, "team")
    assert routes == [HEALTHZ, {"name": "echo", "matchers": [{"prefix": "/echo"}], "routeAction": {"single": {
        "upstream": upstream, "subset": {"values": {"version": "v1"}}}}}]
    assert route_owners(cluster, ns, "team") == ["kubectl-canary"]


def test_an_oidc_auth_provider_user_connects_as_with_kubectl(cluster, ns):
    _gloo_app_at_header(cluster, ns)
    account = "oidc-user"
    cluster.user_kubeconfig(ns, account, role=GLOO_ONLY_ROLE | {"metadata": {"name": "oidc"}, "rules": [
        *GLOO_ONLY_ROLE["rules"], {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["httproutes"],
                                   "verbs": ["get", "list"]}]})
    # The id-token is sent as the bearer token: a token this API server accepts stands in for the issuer's
    # (still valid, so neither kubectl nor the plugin has to refresh it).
    kubeconfig = cluster.write_user_kubeconfig(ns, account, {"auth-provider": {"name": "oidc", "config": {
        "client-id": "kubectl-canary-e2e", "idp-issuer-url": "https://issuer.invalid",
        "id-token": cluster.token(ns, account)}}})
    assert cluster.kubectl("get", "routetables", kubeconfig=kubeconfig).ok().out.splitlines()[1].startswith("echo")
    status = cluster.canary("status", "echo", "-o", "json", kubeconfig=kubeconfig)
    assert status.code == 0, status.err
    assert json.loads(status.out)["phase"] == "header"


def test_status_output_name_prints_what_kubectl_takes_back(cluster, ns):
    """kubectl's `-o name` prints KIND.GROUP/NAME; an app's is its route object's, which kubectl takes back."""
    _gloo_app_at_header(cluster, ns)
    cluster.canary("init", "web", "-n", ns, "--router", "gateway-api", "--gateway", GATEWAY).ok()
    one = cluster.canary("status", "echo", "-n", ns, "-o", "name")
    assert (one.code, one.out) == (0, "routetable.gateway.solo.io/echo-routes\n"), one.err
    every = cluster.canary("status", "-n", ns, "-o", "name").ok()
    assert every.out.splitlines() == ["routetable.gateway.solo.io/echo-routes",
                                      "httproute.gateway.networking.k8s.io/web"]
    for name in every.out.split():
        cluster.kubectl("get", name, "-n", ns).ok()


def test_status_output_wide_is_the_table_with_more_columns(cluster, ns):
    """kubectl's `-o wide` is the default table with columns added after: each row starts as the table's."""
    _gloo_app_at_header(cluster, ns)
    table = cluster.canary("status", "-n", ns).ok()
    wide = cluster.canary("status", "-n", ns, "-o", "wide")
    assert wide.code == 0, wide.err

    def rows(text: str) -> list[list[str]]:
        return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line and not line.startswith(
            ("note:", "!"))]
    narrow_rows, wide_rows = rows(table.out), rows(wide.out)
    assert len(wide_rows) == len(narrow_rows)
    for narrow, broad in zip(narrow_rows, wide_rows):
        assert broad[:len(narrow)] == narrow
    assert len(wide_rows[0]) > len(narrow_rows[0])

