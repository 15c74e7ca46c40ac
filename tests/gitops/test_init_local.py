"""`init --local -f DIR`: the init objects go into new files (one per object name), never onto a cluster."""

from __future__ import annotations

from tests.gitops.golden import assert_matches_snapshot, checkout, files_of, mtimes, run


def test_init_writes_new_files_into_a_new_directory(tmp_path):
    deploy = tmp_path / "deploy"
    result = run("init", "echo", "-n", "echo", "--local", "-f", str(deploy))
    assert result.code == 0, result.err
    assert result.out.splitlines()[:4] == [
        "deployment.apps/echo-v1 created",
        "service/echo created",
        "upstream.gloo.solo.io/echo created",
        "routetable.gateway.solo.io/echo-routes created",
    ]
    assert result.out.splitlines()[-1] == "3 file(s) changed"
    assert result.err.splitlines() == [
        "skipped: namespace echo exists (needs the cluster; --check-live checks it there)",
        "skipped: which VirtualServices delegate to the routes (needs the cluster; --check-live checks it there)",
    ]
    assert_matches_snapshot(deploy, "init-gloo/init")

    # The files now hold the app: init again changes nothing, and the rollout runs on them.
    before, times = files_of(deploy), mtimes(deploy)
    again = run("init", "echo", "-n", "echo", "--local", "-f", str(deploy))
    assert again.code == 0, again.err
    assert "echo is already initialised in namespace echo" in again.out
    assert files_of(deploy) == before and mtimes(deploy) == times
    for args in (["header", "echo", "v2"], ["weight", "echo", "50"], ["finish", "echo"]):
        assert run(*args, "--local", "-f", str(deploy)).code == 0
    assert sorted(files_of(deploy)) == ["echo-routes.yaml", "echo-v2.yaml", "echo.yaml"]


def test_init_on_the_gateway_api(tmp_path):
    deploy = tmp_path / "deploy"
    result = run("init", "shop", "-n", "shop", "--router", "gateway-api", "--gateway", "infra/public:http",
                 "--local", "-f", str(deploy))
    assert result.code == 0, result.err
    assert "skipped: gateway infra/public exists (needs the cluster; --check-live checks it there)" in result.err
    assert_matches_snapshot(deploy, "init-gateway-api/init")


def test_init_beside_other_apps_joins_the_kustomization(tmp_path):
    repo = checkout("kustomize", tmp_path)
    result = run("init", "billing", "--local", "-f", str(repo / "base"))
    assert result.code == 0, result.err
    files = files_of(repo / "base")
    assert {"billing-v1.yaml", "billing.yaml", "billing-routes.yaml"} <= set(files)
    kustomization = files["kustomization.yaml"].decode()
    assert kustomization.endswith("  - billing-v1.yaml\n  - billing.yaml\n  - billing-routes.yaml\n"), kustomization
    # kustomize gives the namespace: the new objects leave it to the kustomization, as the others do.
    assert b"namespace:" not in files["billing-routes.yaml"].split(b"spec:")[0]


def test_init_with_a_file_in_the_way_writes_nothing(tmp_path):
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    (deploy / "echo.yaml").write_text("# someone else's\n")
    result = run("init", "echo", "-n", "echo", "--local", "-f", str(deploy))
    assert result.code == 1
    assert result.err.splitlines()[-1] == (
        f"error: cannot write the new objects to {deploy / 'echo.yaml'}: it exists; move it away and run again")
    assert files_of(deploy) == {"echo.yaml": b"# someone else's\n"}
