"""Offline, an app on a shared RouteTable is found as on a cluster: by --route-table, then by the record the
first command writes on the table (routers.read_rollout reads the files' objects with the cluster's code)."""

from __future__ import annotations

from tests.gitops.golden import REPOS, checkout, files_of, mtimes, run
from tests.gitops.test_offline_equals_cluster import assert_same_objects, declared, live

NS = "echo"
REPO = "shared-table"
RECORD = (
    "    apiGroup: example  # selected by the platform's VirtualService\n"
    "    kubectl-canary.io/records-apps: 'true'\n"
    "  annotations:\n"
    "    kubectl-canary.io/apps: '{\"echo\":{\"routeName\":\"echo\"}}'\n"
)
# The header route goes right before echo's own route; cart's route, the labels and comments stay as they are.
HEADER_DIFF = """\
--- a/gloo.yaml
+++ b/gloo.yaml
@@ -23,6 +23,10 @@
   namespace: echo
   labels:
     apiGroup: example  # selected by the platform's VirtualService
+    kubectl-canary.io/records-apps: 'true'
+  annotations:
+    kubectl-canary.io/last-transition: header
+    kubectl-canary.io/apps: '{"echo":{"routeName":"echo"}}'
 spec:
   routes:
     - name: cart
@@ -30,6 +34,12 @@
       routeAction:
         single:
           upstream: {name: cart, namespace: echo}
+    - name: echo-canary-header
+      matchers: [{prefix: /echo, headers: [{name: stage, value: canary}]}]
+      routeAction:
+        single:
+          upstream: {name: echo, namespace: echo}
+          subset: {values: {version: v2}}
     - name: echo
       matchers: [{prefix: /echo}]
       routeAction:
"""
CANARY_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo-v2
  namespace: echo
  labels:
    app: echo
    version: v2
    app.kubernetes.io/managed-by: kubectl-canary
spec:
  replicas: 2
  selector:
    matchLabels:
      app: echo
      version: v2
  template:
    metadata:
      labels:
        app: echo
        version: v2
    spec:
      containers:
        - name: echo
          image: "hashicorp/http-echo:1.0"
          args: ["-listen=:8080", "-text=version:echo-v1"]
          ports:
            - containerPort: 8080
"""


def with_header_route(gloo: str) -> str:
    """The table of the repository with the header route to v2 before echo's route."""
    return gloo.replace(
        "    - name: echo\n",
        "    - name: echo-canary-header\n"
        "      matchers: [{prefix: /echo, headers: [{name: stage, value: canary}]}]\n"
        "      routeAction:\n"
        "        single:\n"
        "          upstream: {name: echo, namespace: echo}\n"
        "          subset: {values: {version: v2}}\n"
        "    - name: echo\n",
    )


def test_header_on_the_table_route_table_names(tmp_path):
    repo = checkout(REPO, tmp_path)
    before = files_of(repo)
    result = run("header", "echo", "v2", "--local", "-f", str(repo), "--route-table", "shared")
    assert result.code == 0, result.err
    assert result.out == (
        "deployment.apps/echo-v2 created\n"
        "routetable.gateway.solo.io/shared configured\n"
        "requests to echo with header stage=canary go to v2\n"
        + HEADER_DIFF
        + "--- /dev/null\n+++ b/echo-v2.yaml\n@@ -0,0 +1,27 @@\n"
        + "".join(f"+{line}\n" for line in CANARY_DEPLOYMENT.splitlines())
        + "2 file(s) changed\n"
    )
    assert result.err == ""  # the header route may reach a canary still starting: nothing to check
    after = files_of(repo)
    assert sorted(after) == sorted([*before, "echo-v2.yaml"])
    assert after["echo-v2.yaml"].decode() == CANARY_DEPLOYMENT
    # The record (the label LISTs select, the names) goes on the table with the routes: later commands need no flag.
    gloo = before["gloo.yaml"].decode()
    assert after["gloo.yaml"].decode() == with_header_route(gloo).replace(
        "    apiGroup: example  # selected by the platform's VirtualService\n",
        "    apiGroup: example  # selected by the platform's VirtualService\n"
        "    kubectl-canary.io/records-apps: 'true'\n"
        "  annotations:\n"
        "    kubectl-canary.io/last-transition: header\n"
        "    kubectl-canary.io/apps: '{\"echo\":{\"routeName\":\"echo\"}}'\n",
    )
    for name in ("deployment.yaml", "service.yaml"):
        assert after[name] == before[name]

    # The next command finds echo by that record alone.
    result = run("weight", "echo", "30", "--local", "-f", str(repo))
    assert result.code == 0, result.err
    assert result.out.splitlines()[:2] == ["routetable.gateway.solo.io/shared configured", "echo: 70% to v1, 30% to v2"]
    assert "weight: 30\n" in (repo / "gloo.yaml").read_text()


def test_a_table_that_records_the_app_needs_no_flag(tmp_path):
    repo = checkout(REPO, tmp_path)
    gloo = repo / "gloo.yaml"
    # As an earlier command (or a team keeping the record in Git) left it: the record, no --route-table.
    gloo.write_text(gloo.read_text().replace(
        "    apiGroup: example  # selected by the platform's VirtualService\n", RECORD))
    before = files_of(repo)
    result = run("header", "echo", "v2", "--local", "-f", str(repo))
    assert result.code == 0, result.err
    assert result.out.splitlines()[:4] == [
        "deployment.apps/echo-v2 created",
        "routetable.gateway.solo.io/shared configured",
        "requests to echo with header stage=canary go to v2",
        "--- a/gloo.yaml",
    ]
    after = files_of(repo)
    apps = "    kubectl-canary.io/apps: '{\"echo\":{\"routeName\":\"echo\"}}'\n"
    assert after["gloo.yaml"].decode() == with_header_route(before["gloo.yaml"].decode()).replace(
        apps, apps + "    kubectl-canary.io/last-transition: header\n")
    assert after["echo-v2.yaml"].decode() == CANARY_DEPLOYMENT


def test_a_route_table_that_is_not_in_the_files(tmp_path):
    repo = checkout(REPO, tmp_path)
    before, times = files_of(repo), mtimes(repo)
    for args, code, error in [
        (["--route-table", "shard"], 1, f"error: RouteTable shard not found in {repo} (namespace echo)\n"),
        (["--route-table", "shared", "--router", "gateway-api"], 2,
         "error: --route-table names a Gloo RouteTable; it does not go with --router gateway-api\n"),
    ]:
        result = run("header", "echo", "v2", "--local", "-f", str(repo), *args)
        assert (result.code, result.out, result.err) == (code, "", error)
        assert files_of(repo) == before and mtimes(repo) == times
    # Without the flag or a record, the app's own table is looked for, and is not there.
    result = run("header", "echo", "v2", "--local", "-f", str(repo))
    assert (result.code, result.out, result.err) == (
        1, "", f"error: app echo not found in {repo}: no RouteTable echo-routes or HTTPRoute echo in namespace echo\n")
    assert files_of(repo) == before and mtimes(repo) == times


def test_offline_and_cluster_end_with_the_same_objects(api, canary, tmp_path):
    repo = checkout(REPO, tmp_path)
    for obj in declared(REPOS / REPO).values():
        api.create(obj, manager=None)
    phases = [["header", "echo", "v2", "--route-table", "shared"], ["weight", "echo", "30"], ["finish", "echo"]]
    for args in phases:
        offline = run(*args, "--local", "-f", str(repo))
        assert offline.code == 0, offline.err
        for name in ("echo-v1", "echo-v2"):
            if api.get("deployments", NS, name) is not None:
                api.set_deployment_ready(NS, name)
        online = canary(*args)
        assert online.code == 0, online.err
        assert_same_objects(declared(repo), live(api))
