"""Offline mode on plain manifests (a directory of YAML files): every phase, files byte for byte."""

from __future__ import annotations

import pytest

from tests.gitops.golden import assert_matches_snapshot, checkout, files_of, mtimes, run

ROLLOUT = [
    ("header", ["header", "echo", "v2"]),
    ("weight-10", ["weight", "echo", "10"]),
    ("weight-50", ["weight", "echo", "50"]),
    ("finish", ["finish", "echo"]),
]
ABORTED = [
    ("header", ["header", "echo", "v2"]),
    ("weight-10", ["weight", "echo", "10"]),
    ("abort", ["abort", "echo"]),
]


@pytest.mark.parametrize("name, phases", [("rollout", ROLLOUT), ("aborted", ABORTED)])
def test_every_phase_rewrites_the_files_as_expected(tmp_path, name, phases):
    repo = checkout("plain", tmp_path)
    for phase, args in phases:
        before, times = files_of(repo), mtimes(repo)
        result = run(*args, "--local", "-f", str(repo))
        assert result.code == 0, result.err
        assert_matches_snapshot(repo, f"plain-{name}/{phase}")
        after = files_of(repo)
        # A file the command did not need to change keeps its bytes and its mtime.
        for path in set(before) & set(after):
            if before[path] == after[path]:
                assert mtimes(repo)[path] == times[path], path
    assert files_of(repo)["configmap.yaml"] == files_of(checkout("plain", tmp_path / "again"))["configmap.yaml"]


def test_header_prints_the_diff_and_names_the_skipped_checks(tmp_path):
    repo = checkout("plain", tmp_path)
    run("header", "echo", "v2", "--local", "-f", str(repo))
    result = run("weight", "echo", "50", "--local", "-f", str(repo))
    assert result.code == 0, result.err
    assert result.out.splitlines()[:5] == [
        "routetable.gateway.solo.io/echo-routes configured",
        "echo: 50% to v1, 50% to v2",
        "--- a/gloo.yaml",
        "+++ b/gloo.yaml",
        "@@ -24,7 +24,7 @@",
    ]
    assert result.out.splitlines()[-1] == "1 file(s) changed"
    assert result.err == (
        "skipped: deployment echo-v2 is available (needs the cluster; --check-live checks it there)\n"
    )


def test_diff_prints_without_writing(tmp_path):
    repo = checkout("plain", tmp_path)
    before, times = files_of(repo), mtimes(repo)
    result = run("header", "echo", "v2", "--local", "-f", str(repo), "--diff")
    assert result.code == 0, result.err
    assert "+++ b/echo-v2.yaml" in result.out and "+    - name: echo-canary-header" in result.out
    assert result.out.splitlines()[-1] == "2 file(s) would change; nothing written (--diff)"
    assert files_of(repo) == before and mtimes(repo) == times


def test_a_single_file(tmp_path):
    repo = checkout("plain", tmp_path)
    result = run("header", "echo", "v2", "--local", "-f", str(repo / "gloo.yaml"))
    # The primary Deployment is not in that file: the canary is cloned from it, so it is needed.
    assert result.code == 1
    assert result.err.startswith("error: deployment echo-v1 of the primary version v1 not found")
    assert files_of(repo) == files_of(checkout("plain", tmp_path / "again"))


def test_deleting_the_first_document_keeps_the_files_leading_comment(tmp_path):
    repo = checkout("plain", tmp_path)
    assert run("header", "echo", "v2", "--local", "-f", str(repo)).code == 0
    # The team keeps every Deployment in one file: the canary's joins the primary's there.
    canary = (repo / "echo-v2.yaml").read_text()
    (repo / "deployment.yaml").write_text((repo / "deployment.yaml").read_text() + "---\n" + canary)
    (repo / "echo-v2.yaml").unlink()
    assert run("finish", "echo", "--local", "-f", str(repo)).code == 0
    assert (repo / "deployment.yaml").read_text() == "# echo, the demo app: one Deployment per version.\n" + canary


def test_a_comment_on_a_rewritten_line_goes_with_its_value(tmp_path):
    repo = checkout("plain", tmp_path)
    gloo = repo / "gloo.yaml"
    original = gloo.read_text().replace("          subset: {values: {version: v1}}\n",
                                        "          subset: {values: {version: v1}}  # the stable version\n")
    gloo.write_text(original)
    for args in (["header", "echo", "v2"], ["weight", "echo", "10"]):
        assert run(*args, "--local", "-f", str(repo)).code == 0
    # `single` became `multi`: the comment follows v1's subset into its weighted destination, same gap.
    assert "                subset: {values: {version: v1}}  # the stable version\n" in gloo.read_text()
    assert run("abort", "echo", "--local", "-f", str(repo)).code == 0
    assert gloo.read_text() == original.replace(
        "    apiGroup: 'example'  # selected by the platform's VirtualService\n",
        "    apiGroup: 'example'  # selected by the platform's VirtualService\n"
        "  annotations:\n    kubectl-canary.io/last-transition: abort\n")
