"""Offline mode on a kustomize base with an overlay: the base's files change, new files join `resources`."""

from __future__ import annotations

import pytest

from tests.gitops.golden import assert_matches_snapshot, checkout, files_of, mtimes, run
from tests.gitops.test_plain_manifests import ABORTED, ROLLOUT


@pytest.mark.parametrize("name, phases", [("rollout", ROLLOUT), ("aborted", ABORTED)])
def test_every_phase_through_the_overlay(tmp_path, name, phases):
    repo = checkout("kustomize", tmp_path)
    for phase, args in phases:
        before, times = files_of(repo), mtimes(repo)
        result = run(*args, "--local", "-f", str(repo / "overlays" / "prod"))
        assert result.code == 0, result.err
        assert_matches_snapshot(repo, f"kustomize-{name}/{phase}")
        after, now = files_of(repo), mtimes(repo)
        for path in set(before) & set(after):
            if before[path] == after[path]:
                assert now[path] == times[path], path
    # The overlay itself never changes: the objects are the base's.
    assert files_of(repo)["overlays/prod/kustomization.yaml"] == b"apiVersion: kustomize.config.k8s.io/v1beta1\n" \
        b"kind: Kustomization\nresources:\n  - ../../base\n"


def test_the_diff_names_files_from_the_repository(tmp_path):
    repo = checkout("kustomize", tmp_path)
    result = run("header", "echo", "v2", "--local", "-f", str(repo / "overlays" / "prod"), "--diff")
    assert result.code == 0, result.err
    assert [line for line in result.out.splitlines() if line.startswith(("---", "+++"))] == [
        "--- a/base/kustomization.yaml", "+++ b/base/kustomization.yaml",
        "--- a/base/routetable.yaml", "+++ b/base/routetable.yaml",
        "--- /dev/null", "+++ b/base/echo-v2.yaml",
    ]


def test_a_resource_that_is_not_there(tmp_path):
    repo = checkout("kustomize", tmp_path)
    (repo / "base" / "upstream.yaml").unlink()
    before = files_of(repo)
    result = run("header", "echo", "v2", "--local", "-f", str(repo / "overlays" / "prod"))
    assert (result.code, result.out) == (1, "")
    assert result.err == f"error: {repo / 'base' / 'kustomization.yaml'}: resource upstream.yaml not found\n"
    assert files_of(repo) == before
