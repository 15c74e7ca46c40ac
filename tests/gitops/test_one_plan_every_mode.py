"""--helm-values runs each verb's one plan (model/verb_plans.py) past the cluster commands' guard: the same
refusals as on the cluster, word for word, and what the verb keeps or drops."""

from __future__ import annotations

import shutil

from tests.gitops.golden import HERE, run

SEED = HERE / "helm"
NEXT = HERE / "helm" / "next"
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "echo-v2", "namespace": "echo"},
              "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "echo"}},
                       "template": {"metadata": {"labels": {"app": "echo"}}, "spec": {"containers": []}}}}


def test_shadow_with_check_live_is_guarded_as_on_the_cluster(api, kubeconfig, tmp_path):
    values = tmp_path / "values.yaml"
    shutil.copy(NEXT / "values-weight-10.yaml", values)
    args = ("shadow", "echo", "v2", "--helm-values", str(values), "--check-live", "-n", "echo")
    result = run(*args)
    assert (result.code, result.out, result.err) == (1, "", (
        "error: deployment echo-v2 not found in namespace echo, so v2 has no pods to serve traffic; recreate it "
        "with: kubectl canary header echo v2\n"))
    api.create(DEPLOYMENT)
    result = run(*args)
    assert (result.code, result.out, result.err) == (1, "", (
        "error: deployment echo-v2 has 0/1 ready replicas, so v2 cannot serve traffic yet; wait (kubectl rollout "
        "status deployment/echo-v2) or pass --force\n"))
    assert values.read_bytes() == (NEXT / "values-weight-10.yaml").read_bytes()
    result = run(*args, "--force")
    assert (result.code, result.err) == (0, "")
    assert values.read_bytes() == (NEXT / "values-shadow.yaml").read_bytes()


def test_without_check_live_the_guard_names_what_it_skipped(tmp_path):
    values = tmp_path / "values.yaml"
    shutil.copy(SEED / "values-header.yaml", values)
    result = run("weight", "echo", "10", "--helm-values", str(values))
    assert (result.code, result.err) == (
        0, "skipped: deployment echo-v2 is available (needs the cluster; --check-live checks it there)\n")
    # header: the chart creates the canary's Deployment from the values, as `header` does on a cluster; the
    # header route may reach a canary still starting, so there is nothing to check.
    shutil.copy(SEED / "values-stable.yaml", values)
    result = run("header", "echo", "v2", "--helm-values", str(values))
    assert (result.code, result.err) == (0, "")


def test_finish_and_abort_keep_what_their_flags_keep(tmp_path):
    values = tmp_path / "values.yaml"
    for start, args, end, kept in [
        ("weight-50", ["finish", "echo", "--keep-old"], "finished", "  v1: {}  # one key per running version\n"),
        ("weight-10", ["abort", "echo", "--keep-canary"], "aborted", "  v2: {}\n"),
    ]:
        shutil.copy(SEED / f"values-{start}.yaml", values)
        result = run(*args, "--helm-values", str(values))
        assert result.code == 0, result.err
        # The ended phase's file, the leaving version's Deployment still declared where it was.
        ended = (SEED / f"values-{end}.yaml").read_text()
        if end == "finished":
            assert values.read_text() == ended.replace("deployment:\n", "deployment:\n" + kept)
        else:
            assert values.read_text() == ended.replace("  v1: {}  # one key per running version\n",
                                                       "  v1: {}  # one key per running version\n" + kept)
