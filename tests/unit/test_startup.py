"""The command's start (kubectl_canary/startup.py): dataclasses' compiled methods kept between commands give
the same classes, and a cache file that is not right is never run."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubectl_canary.startup import CompiledSources, cache_file

ROOT = Path(__file__).resolve().parents[2]


def make_classes(sources: CompiledSources) -> tuple[type, type]:
    dataclasses.exec = sources.exec  # type: ignore[attr-defined]
    try:

        @dataclasses.dataclass(frozen=True)
        class Point:
            x: int
            y: int = 0
            tags: tuple[str, ...] = dataclasses.field(default=(), compare=False)

        @dataclasses.dataclass
        class Box:
            items: list[int] = dataclasses.field(default_factory=list)

    finally:
        del dataclasses.exec  # type: ignore[attr-defined]
    return Point, Box


def behaviour(point: type, box: type) -> list[object]:
    p = point(1, tags=("a",))
    frozen = False
    try:
        p.x = 2
    except dataclasses.FrozenInstanceError:
        frozen = True
    return [repr(p), p == point(1), hash(p) == hash(point(1, 0)), frozen, repr(box()), box().items is not box().items,
            repr(dataclasses.replace(p, y=5)), vars(point)["__init__"].__code__.co_filename]


def test_classes_from_the_cache_behave_as_compiled_ones(tmp_path: Path) -> None:
    path = str(tmp_path / "cache" / "kubectl-canary" / "dataclasses.marshal")
    first = CompiledSources(path)
    compiled = behaviour(*make_classes(first))
    assert first.added
    first.save()
    assert (os.stat(path).st_mode & 0o777, os.stat(os.path.dirname(path)).st_mode & 0o777) == (0o600, 0o700)
    second = CompiledSources(path)
    cached = behaviour(*make_classes(second))
    assert not second.added  # every method came from the file
    assert cached == compiled
    assert str(compiled[0]).endswith(".Point(x=1, y=0, tags=('a',))") and compiled[1:4] == [True, True, True]


@pytest.mark.parametrize("spoil", ["garbage", "group-writable", "other-version"])
def test_a_cache_file_that_is_not_right_is_not_used(tmp_path: Path, spoil: str) -> None:
    path = str(tmp_path / "dataclasses.marshal")
    sources = CompiledSources(path)
    make_classes(sources)
    sources.save()
    if spoil == "garbage":
        Path(path).write_bytes(b"\x00not marshal")
    elif spoil == "group-writable":
        os.chmod(path, 0o664)
    else:
        import marshal

        _, codes = marshal.loads(Path(path).read_bytes())
        Path(path).write_bytes(marshal.dumps(("2.7.18", codes)))
    again = CompiledSources(path)
    assert again.codes == {}
    assert str(behaviour(*make_classes(again))[0]).endswith(".Point(x=1, y=0, tags=('a',))")
    assert again.added


def test_the_file_is_in_kubectls_cache_directory() -> None:
    assert cache_file({"KUBECACHEDIR": "/c"}).startswith("/c/kubectl-canary/dataclasses-")
    assert cache_file({"HOME": "/h"}).startswith("/h/.kube/cache/kubectl-canary/dataclasses-")


def test_the_command_runs_the_same_with_and_without_the_cache(tmp_path: Path) -> None:
    env = {**os.environ, "KUBECACHEDIR": str(tmp_path), "KUBECONFIG": str(tmp_path / "none")}
    command = [sys.executable, "-c", "import sys; from kubectl_canary.startup import main; sys.exit(main())",
               "weight", "--help"]
    runs = [subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT) for _ in range(2)]
    assert Path(cache_file(env)).exists()
    assert [(r.returncode, r.stdout, r.stderr) for r in runs] == [(0, runs[0].stdout, "")] * 2
    assert "PERCENT" in runs[0].stdout
