"""Offline mode refuses bad manifests with one `error:` line naming the file, and writes nothing."""

from __future__ import annotations

from tests.gitops.golden import checkout, files_of, mtimes, run


def refused(repo, *args: str, code: int = 1) -> str:
    before, times = files_of(repo), mtimes(repo)
    result = run(*args)
    assert result.code == code
    assert result.out == ""
    assert result.err.count("\n") == 1 and result.err.startswith("error: ")
    assert files_of(repo) == before and mtimes(repo) == times
    return result.err.strip()


def test_a_directory_without_the_app(tmp_path):
    repo = checkout("plain", tmp_path)
    err = refused(repo, "header", "billing", "v2", "--local", "-f", str(repo))
    assert err == (
        f"error: app billing not found in {repo}: no RouteTable billing-routes or HTTPRoute billing "
        f"in namespace echo"
    )


def test_two_definitions_of_the_same_object(tmp_path):
    repo = checkout("plain", tmp_path)
    (repo / "zz-copy.yaml").write_text((repo / "service.yaml").read_text())
    err = refused(repo, "header", "echo", "v2", "--local", "-f", str(repo))
    assert err == f"error: Service echo is defined in {repo / 'service.yaml'} and in {repo / 'zz-copy.yaml'}; " \
        "keep one definition"


def test_yaml_that_does_not_parse(tmp_path):
    repo = checkout("plain", tmp_path)
    broken = repo / "service.yaml"
    broken.write_text(broken.read_text().replace("    app: echo", "    app: [echo"))
    err = refused(repo, "weight", "echo", "10", "--local", "-f", str(repo))
    assert err.startswith(f"error: {broken}: YAML does not parse (line ")


def test_a_missing_path(tmp_path):
    err = refused(tmp_path, "abort", "echo", "--local", "-f", str(tmp_path / "nope"))
    assert err == f"error: {tmp_path / 'nope'} not found; -f names a manifest file or a directory of them"


def test_a_refused_transition_writes_nothing(tmp_path):
    repo = checkout("plain", tmp_path)
    err = refused(repo, "weight", "echo", "50", "--local", "-f", str(repo))
    assert "no canary" in err


def test_flags_that_need_each_other(tmp_path):
    repo = checkout("plain", tmp_path)
    assert refused(repo, "header", "echo", "v2", "--local", code=2) == \
        "error: --local needs -f PATH: the manifests to read and change"
    assert refused(repo, "header", "echo", "v2", "-f", str(repo), code=2).startswith(
        "error: -f, --diff and --check-live work with --local")
    assert refused(repo, "header", "echo", "v2", "--wait", "--local", "-f", str(repo), code=2) == \
        "error: offline (--local) nothing runs, so there is nothing to wait for; drop --wait"
