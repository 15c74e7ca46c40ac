"""Golden repositories: run offline commands on a copy of a repository under tests/gitops/repos/ and
compare every file, byte for byte, with the snapshot under tests/gitops/expected/.

UPDATE_GOLDEN=1 rewrites the snapshots from what the commands write (read the diff before committing).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from kubectl_canary.cli import main

HERE = Path(__file__).parent
REPOS = HERE / "repos"
EXPECTED = HERE / "expected"


@dataclass
class Result:
    code: int
    out: str
    err: str


def run(*args: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return Result(code, out.getvalue(), err.getvalue())


def checkout(repo: str, into: Path) -> Path:
    """A copy of a test repository, every file dated in the past (so a rewrite shows in its mtime)."""
    target = into / repo
    shutil.copytree(REPOS / repo, target)
    for path in target.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    return target


def files_of(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def mtimes(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime for p in sorted(root.rglob("*")) if p.is_file()}


def assert_matches_snapshot(root: Path, snapshot: str) -> None:
    expected_dir = EXPECTED / snapshot
    if os.environ.get("UPDATE_GOLDEN"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        shutil.copytree(root, expected_dir)
    actual, expected = files_of(root), files_of(expected_dir)
    assert sorted(actual) == sorted(expected)
    for name, content in expected.items():
        assert actual[name].decode() == content.decode(), name
